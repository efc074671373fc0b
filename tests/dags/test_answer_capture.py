"""Answers are recorded when Airflow accepts them, and a retried review task reuses them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient

from governance.orchestration.answer_capture import HITLAnswerCapture, model_id_from_run
from governance.tasks import model_approval

REPO = Path(__file__).resolve().parents[2]


def _fake_airflow(status_code: int) -> TestClient:
    app = FastAPI()

    @app.patch("/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails")
    def patch(dag_id: str, run_id: str, task_id: str, map_index: int, body: dict):
        from fastapi.responses import JSONResponse

        return JSONResponse(
            status_code=status_code,
            content={
                "responded_by": {"id": "security", "name": "security"},
                "responded_at": datetime.now(UTC).isoformat(),
                "chosen_options": body["chosen_options"],
                "params_input": body["params_input"],
            },
        )

    return TestClient(HITLAnswerCapture(app))


def test_accepted_answer_is_recorded_at_once(pending_medium):
    store, model_id = pending_medium
    run_id = f"approval__{model_id}__manual__2026-11-27T10:00:00+00:00"
    assert model_id_from_run(run_id) == model_id
    client = _fake_airflow(200)
    r = client.patch(
        f"/api/v2/dags/model_approval_medium/dagRuns/{run_id}/taskInstances/security_review/-1/hitlDetails",
        json={"chosen_options": ["Pass"], "params_input": {"comment": "ok"}},
    )
    assert r.status_code == 200 and r.json()["chosen_options"] == ["Pass"]
    [d] = store.list_decisions(model_id)
    assert (d["run_id"], d["step"], d["actor"], d["decision"], d["comment"]) == (
        run_id,
        "security_review",
        "security",
        "approve",
        "ok",
    )
    assert (
        model_approval.recorded_answer(model_id=model_id, run_id=run_id, task_id="security_review")["actor"]
        == "security"
    )


def test_refused_answer_is_not_recorded(pending_medium):
    store, model_id = pending_medium
    client = _fake_airflow(403)
    r = client.patch(
        f"/api/v2/dags/model_approval_medium/dagRuns/approval__{model_id}__x/taskInstances/security_review/-1/hitlDetails",
        json={"chosen_options": ["Pass"], "params_input": {}},
    )
    assert r.status_code == 403
    assert store.list_decisions(model_id) == []


def test_other_dags_are_ignored(pending_medium):
    store, model_id = pending_medium
    client = _fake_airflow(200)
    client.patch(
        f"/api/v2/dags/some_other_dag/dagRuns/approval__{model_id}__x/taskInstances/security_review/-1/hitlDetails",
        json={"chosen_options": ["Pass"], "params_input": {}},
    )
    assert store.list_decisions(model_id) == []


def test_retried_review_task_reuses_the_recorded_answer(pending_medium):
    """After Airflow failed the parked task, try 2 finds the answer and does not ask again."""
    from governance.orchestration.operators import GovernanceReviewOperator

    store, model_id = pending_medium
    run_id = f"approval__{model_id}__r"
    model_approval.record_answer(
        model_id=model_id,
        run_id=run_id,
        step="security_review",
        task_id="security_review",
        kind="review",
        chosen_options=["Pass"],
        comment="given before the race",
        responder="security",
    )
    op = GovernanceReviewOperator(
        task_id="security_review",
        step="security_review",
        kind="review",
        group="security",
        tier="medium",
        positive="Pass",
        negative="Fail",
    )
    # Airflow may rerun a stale workload of the failed try as try 1, or start try 2: both reuse it
    for try_number in (1, 2):
        ti = SimpleNamespace(
            dag_id="model_approval_medium", run_id=run_id, task_id="security_review", try_number=try_number
        )
        out = op.execute({"params": {"model_id": model_id}, "run_id": run_id, "ti": ti, "task_instance": ti})
        assert out["responded_by_user"]["id"] == "security"
        assert out["chosen_options"] == ["Pass"]
        assert len(store.list_decisions(model_id)) == 1
    assert model_approval.step_for_task("stakeholder_review_2")[0] == "stakeholder_review"
    assert model_approval.step_for_task("compliance_check_confirm")[0] == "compliance_check"
