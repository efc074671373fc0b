"""An unanswered review expires as a rejection "timed out", fires the notifier, and the
model goes back to DEVELOPMENT with that reason.

The scheduler's timeout sweep resumes the task with the request's defaults and no
responder (Airflow 3.3, ``check_awaiting_input_timeouts``); this drives the operator's
resume path with exactly that event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from governance.tasks import model_approval

REPO = Path(__file__).resolve().parents[2]


def _automated_checks_passed(store, model_id: str) -> None:
    store.record_evidence(
        model_id,
        step="automated_checks",
        kind="result",
        passed=True,
        details={"reasons": []},
        actor="governance",
        run_id="run-1",
    )


def _operator():
    from governance.orchestration.operators import GovernanceReviewOperator

    return GovernanceReviewOperator(
        task_id="security_review",
        step="security_review",
        kind="review",
        group="security",
        tier="medium",
        positive="Pass",
        negative="Fail",
        response_timeout=timedelta(seconds=30),
    )


def _context(model_id: str) -> dict:
    ti = SimpleNamespace(dag_id="model_approval_medium", run_id="run-1", task_id="security_review", try_number=1)
    return {"params": {"model_id": model_id}, "run_id": "run-1", "ti": ti, "task_instance": ti}


def test_timeout_is_a_rejection_with_notification(pending_medium, caplog, capfd):
    from airflow.sdk.exceptions import AirflowSkipException

    store, model_id = pending_medium
    _automated_checks_passed(store, model_id)
    op = _operator()
    assert op.defaults == ["Fail"]  # the scheduler applies the negative answer on timeout
    timeout_event = {
        "chosen_options": ["Fail"],
        "params_input": {"comment": ""},
        "responded_at": datetime.now(UTC),
        "responded_by_user": None,
        "timedout": True,
    }
    with caplog.at_level(logging.WARNING, logger="governance.notifications"):
        with pytest.raises(AirflowSkipException) as skipped:
            op.execute_complete(_context(model_id), event=timeout_event)
    assert model_approval.TIMED_OUT in str(skipped.value)
    logged = [r.getMessage() for r in caplog.records] + capfd.readouterr().out.splitlines()
    assert any("governance notification" in line and "timed out" in line and model_id in line for line in logged)
    [decision] = store.list_decisions(model_id)
    assert (decision["actor"], decision["decision"], decision["comment"]) == (
        model_approval.TIMEOUT_ACTOR,
        "timeout",
        model_approval.TIMED_OUT,
    )
    result = model_approval.record_decision(model_id=model_id, run_id="run-1", tier="medium")
    assert result["status"] == "DEVELOPMENT"
    model = store.get(model_id)
    assert model.status_reason == "security_review: timed out"


def test_answer_is_recorded_with_the_responder_from_the_event(pending_medium):
    store, model_id = pending_medium
    _automated_checks_passed(store, model_id)
    op = _operator()
    event = {
        "chosen_options": ["Pass"],
        "params_input": {"comment": "fine"},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": "security", "name": "security"},
    }
    out = op.execute_complete(_context(model_id), event=event)
    assert out["responded_by_user"]["id"] == "security"
    [decision] = store.list_decisions(model_id)
    assert (decision["actor"], decision["decision"], decision["comment"]) == ("security", "approve", "fine")
    # a rerun of the same resume never duplicates the decision
    op.execute_complete(_context(model_id), event=event)
    assert len(store.list_decisions(model_id)) == 1
    assert model_approval.record_decision(model_id=model_id, run_id="run-1", tier="medium")["approved_by"] == [
        "security"
    ]


def test_owner_answer_never_counts(pending_medium):
    from airflow.sdk.exceptions import AirflowSkipException

    store, model_id = pending_medium
    event = {
        "chosen_options": ["Pass"],
        "params_input": {},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": "owner", "name": "owner"},
    }
    with pytest.raises(AirflowSkipException):
        _operator().execute_complete(_context(model_id), event=event)
    assert model_approval.record_decision(model_id=model_id, run_id="run-1", tier="medium")["status"] == "DEVELOPMENT"
