"""The demo registry seed (governance.embedded.demo_registry): two deployed demo versions, idempotent."""

from __future__ import annotations

from pathlib import Path

from governance.cards import load_card
from governance.embedded.demo_registry import DEMO_ACTOR, DEMO_DEPLOYED, DEMO_REASON, demo_version, seed_demo_registry
from governance.lifecycle import ModelStatus
from tests.support.nightly import demo_card_file, include, sqlite_store

__all__ = ["include", "sqlite_store"]  # pytest fixtures of tests.support.nightly


def test_seed_demo_registry_deploys_two_demo_versions_idempotently(sqlite_store, include):
    first = seed_demo_registry(store=sqlite_store, include_dir=include)
    events = sqlite_store.audit.count()
    again = seed_demo_registry(store=sqlite_store, include_dir=include)
    assert sqlite_store.audit.count() == events  # nothing written the second time
    assert [m["model_id"] for m in again] == [m["model_id"] for m in first]
    assert all(m["registered"] for m in first) and not any(m["registered"] for m in again)

    by_name = {m["name"]: m for m in again}
    assert set(by_name) == {"clinical-triage", "credit-scorer", "doc-tagger", "product-recommender"}
    for name, m in by_name.items():
        card = load_card(include / "model_cards" / demo_card_file(name))
        assert m["version"] == f"{card.version}-demo"
        assert m["status"] == ("DEPLOYED" if name in DEMO_DEPLOYED else "DEVELOPMENT")
    credit = sqlite_store.get(by_name["credit-scorer"]["model_id"])
    assert credit.owner == "owner" and credit.approved_by == [DEMO_ACTOR] and credit.status_reason == DEMO_REASON
    moves = [
        (e.details["to"], e.actor, e.details.get("reason"))
        for e in sqlite_store.audit.query(model_id=credit.id, event_type="model.status_changed").events
    ]
    assert moves == [(s, DEMO_ACTOR, DEMO_REASON) for s in ("REVIEW_PENDING", "APPROVED", "DEPLOYED")]
    for name in DEMO_DEPLOYED:
        assert Path(by_name[name]["predictions"]).is_file()

    # the demo user submits the very same cards: their versions are free
    for card_file in (include / "model_cards").glob("*.yaml"):
        sqlite_store.register(load_card(card_file), owner="owner")


def test_demo_version():
    assert demo_version("1.2.0") == "1.2.0-demo"
    assert demo_version("1.2.0-rc.1") == "1.2.0-rc.1.demo"
    assert demo_version("1.2.0+b7") == "1.2.0-demo+b7"
    assert demo_version("1.2.0", suffix="-e2e") == "1.2.0-e2e"


def test_seed_leaves_a_retired_demo_model_alone(sqlite_store, include):
    seeded = {
        m["name"]: m for m in seed_demo_registry(store=sqlite_store, include_dir=include, write_predictions=False)
    }
    pid = seeded["product-recommender"]["model_id"]
    sqlite_store.transition(pid, ModelStatus.DEPRECATED, actor="owner")
    seed_demo_registry(store=sqlite_store, include_dir=include, write_predictions=False)
    assert sqlite_store.get(pid).status == ModelStatus.DEPRECATED
