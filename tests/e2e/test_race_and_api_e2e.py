"""Fast answers lose no decision; the governance API answers inside Airflow's API server."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest

from governance.cards import load_card
from governance.lifecycle import ModelStatus
from tests.e2e.helpers import CARDS

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
FAST_RUNS = 10


def test_fast_answers_lose_no_decision(as_user, gov_store):
    """Answer each security review the moment it parks (the window of Airflow 3.3's race)."""
    admin, security = as_user("admin"), as_user("security")
    card = load_card(CARDS / "medium_product_recommender.yaml")
    stamp = int(time.time())
    runs: dict[str, str] = {}
    for i in range(FAST_RUNS):
        m = gov_store.register(card.model_copy(update={"version": f"{stamp}.{i}.9"}), owner="owner").model
        gov_store.transition(m.id, ModelStatus.REVIEW_PENDING, actor="owner")
        runs[admin.trigger("model_approval_medium", {"model_id": m.id}, run_id=f"fast__{m.id}")["dag_run_id"]] = m.id
    answered: set[str] = set()
    errors: list[str] = []
    stop = threading.Event()

    def answer_fast() -> None:
        while not stop.is_set() and answered != set(runs):
            try:
                for req in security.pending_reviews():
                    if req["run_id"] in runs and req["run_id"] not in answered:
                        security.answer(
                            dag_id=req["dag_id"],
                            run_id=req["run_id"],
                            task_id=req["task_id"],
                            option="Pass",
                            comment="fast",
                        )
                        answered.add(req["run_id"])
            except Exception as exc:
                errors.append(str(exc))
            time.sleep(0.1)

    t = threading.Thread(target=answer_fast, daemon=True)
    t.start()
    try:
        for run_id in runs:
            admin.wait_run("model_approval_medium", run_id, timeout=600)
    finally:
        stop.set()
        t.join(timeout=10)
    assert answered == set(runs), errors
    for run_id, model_id in runs.items():
        model = gov_store.get(model_id)
        assert model.status == ModelStatus.APPROVED, (model_id, model.status, model.status_reason)
        assert model.approved_by == ["security"]
        assert [d["actor"] for d in gov_store.list_decisions(model_id) if d["run_id"] == run_id] == ["security"]


def test_governance_api_requires_login_and_serves_the_registry(airflow, as_user, gov_store):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{airflow.url}/governance/models", timeout=10)
    assert err.value.code in (401, 403)
    models = as_user("admin").get("/governance/models")
    assert {m["id"] for m in models} == {m.id for m in gov_store.list_models()}
    verify = as_user("admin").get("/governance/audit/verify")
    assert verify["ok"] is True
    assert verify["events"] == gov_store.audit.count()
    with pytest.raises(Exception) as missing:
        as_user("admin").get("/governance/models/no-such-model")
    assert getattr(missing.value, "status", None) == 404
