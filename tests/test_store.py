"""The model registry (GovernanceStore): registration, look-ups, evidence, decisions, and
name + version uniqueness under 20 concurrent threads and processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from governance.cards import load_card
from governance.errors import AlreadyRegisteredError, GovernanceError, ModelNotFoundError
from governance.lifecycle import ModelStatus
from governance.store import GovernanceStore
from governance.store.engine import ERR_BAD_URL, DatabaseURLError, make_engine, normalise_url
from governance.store.repository import (
    ERR_ALREADY_REGISTERED,
    ERR_EMPTY_ACTOR,
    ERR_NOT_FOUND,
    EVENT_DECISION,
    EVENT_EVIDENCE,
    EVENT_REGISTERED,
)
from governance.store.tables import model_versions
from tests.support.fragments import assert_mentions
from tests.support.workers import register_card

CONTENDERS = 20


def _events(store: GovernanceStore) -> list:
    return store.audit.query(limit=1000).events


def _rows(store: GovernanceStore) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model_versions)).scalar_one()


def test_register_writes_the_model_and_exactly_one_event(store, demo_card_path: Path) -> None:
    reg = store.register(load_card(demo_card_path), owner="alice", run_id="manual__1")
    m = reg.model
    assert (m.name, m.version, m.status, m.owner, m.owner_team) == (
        "credit-scorer",
        "1.2.0",
        ModelStatus.DEVELOPMENT,
        "alice",
        "credit-risk-ml",
    )
    assert m.id.startswith("m-") and m.risk_level == reg.risk.level.value == "HIGH"
    assert m.card["artifact"]["sha256"] == load_card(demo_card_path).artifact.sha256
    assert m.created_at.tzinfo is not None and m.approved_by is None
    events = _events(store)
    assert [(e.event_type, e.model_id, e.actor) for e in events] == [(EVENT_REGISTERED, m.id, "alice")]
    assert events[0].details["run_id"] == "manual__1" and events[0].details["risk"]["level"] == "HIGH"
    assert m.to_dict()["risk"]["level"] == "HIGH"


def test_register_twice_is_refused_and_writes_nothing(store, demo_card_path: Path) -> None:
    card = load_card(demo_card_path)
    first = store.register(card, owner="alice")
    with pytest.raises(AlreadyRegisteredError) as exc:
        store.register(card, owner="bob")
    assert_mentions(str(exc.value), ERR_ALREADY_REGISTERED)
    assert first.model.id in str(exc.value)
    assert _rows(store) == 1 and len(_events(store)) == 1
    assert store.audit.verify().ok


def test_register_needs_an_owner(store, demo_card_path: Path) -> None:
    for owner in ("", "   "):
        with pytest.raises(GovernanceError) as exc:
            store.register(load_card(demo_card_path), owner=owner)
        assert str(exc.value) == ERR_EMPTY_ACTOR
    assert _rows(store) == 0 and _events(store) == []


def test_lookups(store, demo_card_path: Path) -> None:
    card = load_card(demo_card_path)
    old = store.register(card, owner="alice").model
    new = store.register(card.model_copy(update={"version": "1.3.0"}), owner="alice").model
    assert store.get(old.id) == old
    assert store.find(old.id) == old
    assert store.find("credit-scorer:1.2.0") == old
    assert store.find(" credit-scorer ") == new  # the latest version
    assert [m.version for m in store.list_models()] == ["1.2.0", "1.3.0"]
    store.transition(new.id, "REVIEW_PENDING", actor="alice")
    assert [m.id for m in store.list_models(status="review_pending")] == [new.id]
    assert store.count_models() == 2
    for ref in ("credit-scorer:9.9.9", "nope", "m-000000000000"):
        with pytest.raises(ModelNotFoundError) as exc:
            store.find(ref)
        assert_mentions(str(exc.value), ERR_NOT_FOUND)
    with pytest.raises(ModelNotFoundError):
        store.get("m-000000000000")


def test_evidence_and_decisions_are_idempotent_and_audited(store, demo_card_path: Path) -> None:
    m = store.register(load_card(demo_card_path), owner="alice").model
    ev = {"model_id": m.id, "step": "automated_checks", "kind": "metrics", "actor": "airflow", "run_id": "r1"}
    assert store.record_evidence(passed=True, details={"auc": 0.91}, **ev) is True
    assert store.record_evidence(passed=False, details={"auc": 0.1}, **ev) is False  # rerun: no change
    assert store.record_evidence(passed=True, details={}, **{**ev, "run_id": "r2"}) is True
    assert [(e["run_id"], e["passed"], e["details"]) for e in store.list_evidence(m.id)] == [
        ("r1", True, {"auc": 0.91}),
        ("r2", True, {}),
    ]
    dec = {"step": "security_review", "decision": "approve", "comment": "ok", "run_id": "r1"}
    assert store.record_decision(m.id, actor="sec1", **dec) is True
    assert store.record_decision(m.id, actor="sec1", **dec) is False
    assert store.record_decision(m.id, actor="sec2", **dec) is True
    assert [d["actor"] for d in store.list_decisions(m.id)] == ["sec1", "sec2"]
    kinds = [e.event_type for e in _events(store)]
    assert kinds == [EVENT_REGISTERED, EVENT_EVIDENCE, EVENT_EVIDENCE, EVENT_DECISION, EVENT_DECISION]
    with pytest.raises(GovernanceError):
        store.record_decision(m.id, actor=" ", **dec)
    with pytest.raises(ModelNotFoundError):
        store.record_evidence(passed=True, details={}, **{**ev, "model_id": "m-000000000000"})
    assert len(_events(store)) == 5 and store.audit.verify().ok


def _assert_one_winner(store, outcomes: list[tuple[str, str]]) -> None:
    assert sorted(kind for kind, _ in outcomes) == ["already"] * (CONTENDERS - 1) + ["ok"], outcomes
    for kind, message in outcomes:
        if kind == "already":
            assert_mentions(message, ERR_ALREADY_REGISTERED)
    assert _rows(store) == 1
    events = _events(store)
    assert [e.event_type for e in events] == [EVENT_REGISTERED]
    result = store.audit.verify()
    assert result.ok and result.count == 1


def test_twenty_threads_register_the_same_card(store, db_url: str, demo_card_path: Path) -> None:
    card = load_card(demo_card_path)
    barrier = threading.Barrier(CONTENDERS)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def contender(i: int) -> None:
        s = GovernanceStore.from_url(db_url)  # each thread its own engine and connection
        try:
            barrier.wait(60)
            s.register(card, owner=f"user{i}")
            result = ("ok", "")
        except AlreadyRegisteredError as exc:
            result = ("already", str(exc))
        except Exception as exc:  # reported in the assertion
            result = ("error", repr(exc))
        finally:
            s.engine.dispose()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(CONTENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _assert_one_winner(store, outcomes)


@pytest.mark.slow
def test_twenty_processes_register_the_same_card(store, db_url: str, demo_card_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=register_card, args=(db_url, str(demo_card_path), f"user{i}", start, results))
        for i in range(CONTENDERS)
    ]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * CONTENDERS
    _assert_one_winner(store, outcomes)


def test_database_urls() -> None:
    assert normalise_url("postgresql://u:p@h:5432/db").startswith("postgresql+psycopg://u:p@h:5432/db")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    for bad in ("mysql://u@h/db", "not a url"):
        with pytest.raises(DatabaseURLError) as exc:
            make_engine(bad)
        assert_mentions(str(exc.value), ERR_BAD_URL)


def test_a_prohibited_practice_is_never_approved_or_deployed_by_any_path(store, demo_card_path: Path) -> None:
    """The store itself refuses: an Art. 5 model cannot reach APPROVED (nor DEPLOYED), whatever
    calls ``transition`` (the workflow, the CLI, a script); nothing is written on refusal."""
    from governance.cards import ProhibitedPractice
    from governance.errors import ProhibitedPracticeError
    from governance.risk import ERR_PROHIBITED_PRACTICE

    card = load_card(demo_card_path).model_copy(update={"prohibited_practices": [ProhibitedPractice.SOCIAL_SCORING]})
    m = store.register(card, owner="alice").model
    store.transition(m.id, ModelStatus.REVIEW_PENDING, actor="alice")
    before = store.audit.count()
    with pytest.raises(ProhibitedPracticeError) as err:
        store.transition(m.id, ModelStatus.APPROVED, actor="governance", approved_by=["bob"])
    assert str(err.value) == f"model {m.id}: " + ERR_PROHIBITED_PRACTICE.format(practices="social_scoring")
    assert store.get(m.id).status == ModelStatus.REVIEW_PENDING and store.get(m.id).approved_by is None
    assert store.audit.count() == before
    # sending it back is still allowed (that is the rejection)
    assert store.transition(m.id, ModelStatus.DEVELOPMENT, actor="governance").status == ModelStatus.DEVELOPMENT
