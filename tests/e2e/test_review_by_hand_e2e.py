"""On the real Airflow: the model's owner marks the security review of their own model
"success" over the REST API (what the UI's "Mark as success" calls). Governance is not
bypassed, and the record says what happened: the review ended without a reviewer's answer,
marked success by hand by the owner, in the reason and in one audit event."""

from __future__ import annotations

import urllib.parse

import pytest

from governance.lifecycle import ModelStatus
from governance.tasks import model_approval
from tests.e2e.helpers import demo_card, submit_and_get_model, wait_for_decision, wait_for_review

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_owner_marking_their_review_success_is_recorded_as_such(as_user, gov_store):
    owner, admin = as_user("owner"), as_user("admin")
    model_id = submit_and_get_model(owner, demo_card("medium", suffix="by-hand"))["model_id"]
    req = wait_for_review(admin, model_id, "security_review")
    run = urllib.parse.quote(req["run_id"], safe="")
    owner._request(
        "PATCH",
        f"/api/v2/dags/{req['dag_id']}/dagRuns/{run}/taskInstances/security_review",
        {"new_state": "success"},
    )
    decided = wait_for_decision(admin, model_id, "medium")
    assert decided["run"]["state"] == "success"
    model = gov_store.get(model_id)
    how = model_approval.REASON_SET_BY_HAND.format(state="success", user="owner")
    why = model_approval.REASON_UNANSWERED.format(task_id="security_review", how=how)
    assert model.status == ModelStatus.DEVELOPMENT and model.approved_by is None
    assert model.status_reason == f"security_review: {why}"
    assert gov_store.list_decisions(model_id) == []  # nobody answered
    events = [
        e
        for e in gov_store.audit.query(model_id=model_id, limit=1000).events
        if e.event_type == "model.evidence_recorded" and e.details["kind"] == model_approval.ENDED_UNANSWERED
    ]
    assert [(e.actor, e.details["step"]) for e in events] == [("owner", "security_review")]
    assert gov_store.audit.verify().ok
