"""A review task that ends without a reviewer's answer (marked success / failed / skipped by
hand, or failed) is never explained as something else: the decision's reason says so in
those words, and one audit event records it, with the user who did it when the API server
saw the change."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from governance.lifecycle import ModelStatus
from governance.orchestration import answer_capture
from governance.orchestration.answer_capture import HITLAnswerCapture, state_changes
from governance.tasks import model_approval


def _automated_passed(store, model_id: str, run_id: str) -> None:
    store.record_evidence(
        model_id,
        step="automated_checks",
        kind="result",
        passed=True,
        details={"reasons": []},
        actor="governance",
        run_id=run_id,
    )


def _fake_airflow(status_code: int = 200) -> TestClient:
    """Airflow's state routes (single, by map index, bulk, dry run) answering ``status_code``."""
    from fastapi.responses import JSONResponse

    app = FastAPI()
    prefix = "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"

    @app.patch(prefix + "/{task_id}")
    @app.patch(prefix + "/{task_id}/dry_run")
    @app.patch(prefix + "/{task_id}/{map_index}")
    @app.patch(prefix)
    def patch(body: dict, dag_id: str, run_id: str, task_id: str = "", map_index: int = -1):
        return JSONResponse(status_code=status_code, content={"task_instances": [], "total_entries": 0})

    return TestClient(HITLAnswerCapture(app))


@pytest.fixture
def as_owner(monkeypatch):
    async def user(_scope):
        return "owner"

    monkeypatch.setattr(answer_capture, "request_user", user)


def _unanswered_events(store, model_id: str) -> list:
    return [
        e
        for e in store.audit.query(model_id=model_id, event_type="model.evidence_recorded", limit=1000).events
        if e.details["kind"] == model_approval.ENDED_UNANSWERED
    ]


def test_marked_success_by_the_owner_is_the_reason_and_one_event(pending_medium, as_owner):
    store, model_id = pending_medium
    run_id = f"approval__{model_id}__manual__1"
    _automated_passed(store, model_id, run_id)
    client = _fake_airflow()
    path = f"/api/v2/dags/model_approval_medium/dagRuns/{run_id}/taskInstances/security_review"
    assert client.patch(path, json={"new_state": "success"}).status_code == 200
    assert client.patch(path, json={"new_state": "success"}).status_code == 200  # a second click: no new event
    [event] = _unanswered_events(store, model_id)
    assert (event.actor, event.details["step"], event.details["passed"]) == ("owner", "security_review", False)
    out = model_approval.record_decision(model_id=model_id, run_id=run_id, tier="medium")
    how = model_approval.REASON_SET_BY_HAND.format(state="success", user="owner")
    why = model_approval.REASON_UNANSWERED.format(task_id="security_review", how=how)
    assert out["reasons"] == [why]
    model = store.get(model_id)
    assert model.status == ModelStatus.DEVELOPMENT
    assert model.status_reason == f"security_review: {why}"
    assert "ended without a reviewer's answer" in model.status_reason and "distinct approvers" not in why
    assert len(_unanswered_events(store, model_id)) == 1  # record_decision added none


def test_bulk_and_map_index_routes_are_seen_dry_runs_and_refusals_are_not(pending_medium, as_owner):
    store, model_id = pending_medium
    base = f"/api/v2/dags/model_approval_medium/dagRuns/approval__{model_id}__r"
    client = _fake_airflow()
    client.patch(f"{base}/taskInstances/security_review/dry_run", json={"new_state": "success"})
    client.patch(f"{base}/taskInstances/automated_checks", json={"new_state": "success"})  # not a review task
    client.patch(f"{base}/taskInstances/security_review", json={"note": "only a note"})
    assert _unanswered_events(store, model_id) == []
    _fake_airflow(409).patch(f"{base}/taskInstances/security_review", json={"new_state": "failed"})
    assert _unanswered_events(store, model_id) == []
    bulk = {"actions": [{"action": "update", "entities": [{"task_id": "security_review", "new_state": "failed"}]}]}
    assert client.patch(f"{base}/taskInstances", json=bulk).status_code == 200
    [event] = _unanswered_events(store, model_id)
    assert event.actor == "owner"
    evidence = next(e for e in store.list_evidence(model_id) if e["kind"] == model_approval.ENDED_UNANSWERED)
    assert (evidence["details"]["state"], evidence["details"]["by"]) == ("failed", "owner")


def test_state_changes_reads_single_and_bulk_bodies():
    assert state_changes({"new_state": "success"}, "security_review") == [("security_review", "success")]
    assert state_changes({"note": "x"}, "security_review") == []
    body = {
        "actions": [
            {"action": "update", "entities": [{"task_id": "a", "new_state": "failed"}, {"task_id": "b"}]},
            {"action": "delete", "entities": ["c"]},
        ]
    }
    assert state_changes(body, None) == [("a", "failed")]


def test_an_answered_review_marked_by_hand_keeps_its_answer(pending_medium, as_owner):
    store, model_id = pending_medium
    run_id = f"approval__{model_id}__r2"
    _automated_passed(store, model_id, run_id)
    model_approval.record_answer(
        model_id=model_id,
        run_id=run_id,
        step="security_review",
        task_id="security_review",
        kind="review",
        chosen_options=["Pass"],
        comment="fine",
        responder="security",
    )
    _fake_airflow().patch(
        f"/api/v2/dags/model_approval_medium/dagRuns/{run_id}/taskInstances/security_review",
        json={"new_state": "success"},
    )
    assert _unanswered_events(store, model_id) == []
    assert model_approval.record_decision(model_id=model_id, run_id=run_id, tier="medium")["status"] == "APPROVED"


def test_unanswered_without_a_witness_says_so_and_records_one_event(pending_medium):
    """Nobody was seen setting the state (the task failed, or the change bypassed the API
    server): the reason says no answer was given, and record_decision writes the one event."""
    store, model_id = pending_medium
    run_id = f"approval__{model_id}__r3"
    _automated_passed(store, model_id, run_id)
    out = model_approval.record_decision(model_id=model_id, run_id=run_id, tier="medium")
    why = model_approval.REASON_UNANSWERED.format(
        task_id="security_review", how=model_approval.REASON_NO_ANSWER_UNKNOWN
    )
    assert out["reasons"] == [why]
    [event] = _unanswered_events(store, model_id)
    assert event.actor == model_approval.SYSTEM_ACTOR
    assert (
        model_approval.record_decision(model_id=model_id, run_id=run_id, tier="medium")["note"]
        == "decision already recorded"
    )
    assert len(_unanswered_events(store, model_id)) == 1


def test_a_rejection_is_still_a_rejection(pending_medium):
    """A negative answer is not reported as 'unanswered', and records no such event."""
    store, model_id = pending_medium
    run_id = f"approval__{model_id}__r4"
    _automated_passed(store, model_id, run_id)
    model_approval.record_answer(
        model_id=model_id,
        run_id=run_id,
        step="security_review",
        task_id="security_review",
        kind="review",
        chosen_options=["Fail"],
        comment="no",
        responder="security",
    )
    out = model_approval.record_decision(model_id=model_id, run_id=run_id, tier="medium")
    assert out["reasons"] == ["rejected by security: no"]
    assert _unanswered_events(store, model_id) == []
