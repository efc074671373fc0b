"""Submit a model of each tier as `owner` to a real Airflow and answer its reviews over HTTP."""

from __future__ import annotations

import pytest

from governance.airflow_client import AirflowAPIError
from governance.lifecycle import ModelStatus
from tests.e2e.helpers import demo_card, submit_and_get_model, wait_for_decision, wait_for_review

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _events(gov_store, model_id):
    return gov_store.audit.query(model_id=model_id, limit=1000).events


def test_refused_conf_is_rejected_at_trigger_time(as_user, gov_store):
    card = demo_card("low")
    card["version"] = 7  # not a string: the trigger form's schema refuses it
    before = gov_store.count_models()
    with pytest.raises(AirflowAPIError) as err:
        as_user("owner").submit(card)
    assert err.value.status == 400
    assert "version" in err.value.detail
    assert gov_store.count_models() == before


def test_card_naming_another_owner_is_refused_and_writes_nothing(as_user, gov_store):
    card = demo_card("low")
    card["owner"] = "approver1"
    before_models, before_events = gov_store.count_models(), gov_store.audit.count()
    run = as_user("owner").submit(card)
    done = as_user("owner").wait_run("model_submission", run["dag_run_id"], timeout=240)
    assert done["state"] == "failed"
    tis = {t["task_id"]: t["state"] for t in as_user("admin").task_instances("model_submission", run["dag_run_id"])}
    assert tis["validate_card"] == "failed"
    assert gov_store.count_models() == before_models
    assert gov_store.audit.count() == before_events


def test_low_tier_is_approved_by_automated_checks(as_user, gov_store):
    assessed = submit_and_get_model(as_user("owner"), demo_card("low"))
    assert assessed["tier"] == "low"
    result = wait_for_decision(as_user("admin"), assessed["model_id"], "low")
    assert result["decision"]["status"] == "APPROVED"
    model = gov_store.get(assessed["model_id"])
    assert model.status == ModelStatus.APPROVED
    assert model.owner == "owner"
    assert model.approved_by == ["governance:automated_checks"]
    types = [e.event_type for e in _events(gov_store, model.id)]
    assert types[0] == "model.registered"
    assert types.count("model.status_changed") == 2  # → REVIEW_PENDING → APPROVED
    assert gov_store.audit.verify().ok


def test_medium_tier_security_pass_approves(as_user, gov_store):
    assessed = submit_and_get_model(as_user("owner"), demo_card("medium"))
    model_id = assessed["model_id"]
    req = wait_for_review(as_user("security"), model_id, "security_review")
    assert req["assigned_users"] == ["security"]
    as_user("security").review(model_id, approve=True, comment="no blocking finding")
    result = wait_for_decision(as_user("admin"), model_id, "medium")
    assert result["decision"]["status"] == "APPROVED"
    model = gov_store.get(model_id)
    assert model.approved_by == ["security"]
    decisions = gov_store.list_decisions(model_id)
    assert [(d["step"], d["actor"], d["decision"], d["comment"]) for d in decisions] == [
        ("security_review", "security", "approve", "no blocking finding")
    ]


def test_reject_sends_model_back_to_development_with_reasons(as_user, gov_store):
    assessed = submit_and_get_model(as_user("owner"), demo_card("medium"))
    model_id = assessed["model_id"]
    wait_for_review(as_user("security"), model_id, "security_review")
    as_user("security").review(model_id, approve=False, comment="pickle artifact must be converted to safetensors")
    result = wait_for_decision(as_user("admin"), model_id, "medium")
    assert result["decision"]["status"] == "DEVELOPMENT"
    assert result["decision"]["failed_step"] == "security_review"
    model = gov_store.get(model_id)
    assert model.status == ModelStatus.DEVELOPMENT
    assert "rejected by security: pickle artifact must be converted to safetensors" in model.status_reason
    assert model.approved_by is None


def test_high_tier_needs_security_and_compliance(as_user, gov_store):
    assessed = submit_and_get_model(as_user("owner"), demo_card("high"))
    model_id = assessed["model_id"]
    wait_for_review(as_user("security"), model_id, "security_review")
    as_user("security").review(model_id, approve=True)
    req = wait_for_review(as_user("compliance"), model_id, "compliance_check_confirm")
    assert req["assigned_users"] == ["compliance"]
    assert "GDPR" in (req["body"] or "")
    as_user("compliance").review(model_id, approve=True, comment="GDPR and EU AI Act evidence complete")
    result = wait_for_decision(as_user("admin"), model_id, "high")
    assert result["decision"]["status"] == "APPROVED"
    assert gov_store.get(model_id).approved_by == ["security", "compliance"]


def test_critical_needs_two_distinct_approvers_never_the_owner(as_user, gov_store):
    owner, admin = as_user("owner"), as_user("admin")
    assessed = submit_and_get_model(owner, demo_card("critical"))
    model_id = assessed["model_id"]
    assert assessed["tier"] == "critical"
    req = wait_for_review(as_user("security"), model_id, "security_review")
    # the owner cannot answer anything about their own model; nor can someone outside the group
    for outsider in ("owner", "approver1"):
        with pytest.raises(AirflowAPIError) as err:
            as_user(outsider).answer(dag_id=req["dag_id"], run_id=req["run_id"], task_id=req["task_id"], option="Pass")
        assert err.value.status == 403
    as_user("security").review(model_id, approve=True)
    wait_for_review(as_user("compliance"), model_id, "compliance_check_confirm")
    as_user("compliance").review(model_id, approve=True)
    first = wait_for_review(as_user("approver1"), model_id, "stakeholder_review_1")
    assert sorted(first["assigned_users"]) == ["approver1", "approver2"]
    with pytest.raises(AirflowAPIError) as err:
        owner.answer(dag_id=first["dag_id"], run_id=first["run_id"], task_id=first["task_id"], option="Approve")
    assert err.value.status == 403
    as_user("approver1").review(model_id, approve=True, comment="benefits outweigh residual risk")
    second = wait_for_review(as_user("approver2"), model_id, "stakeholder_review_2")
    assert second["assigned_users"] == ["approver2"]  # the first approver is excluded
    with pytest.raises(AirflowAPIError) as err:  # one approver cannot give both approvals
        as_user("approver1").answer(
            dag_id=second["dag_id"], run_id=second["run_id"], task_id=second["task_id"], option="Approve"
        )
    assert err.value.status == 403
    assert gov_store.get(model_id).status == ModelStatus.REVIEW_PENDING
    as_user("approver2").review(model_id, approve=True)
    result = wait_for_decision(admin, model_id, "critical")
    assert result["decision"]["status"] == "APPROVED"
    model = gov_store.get(model_id)
    assert model.approved_by == ["security", "compliance", "approver1", "approver2"]
    events = _events(gov_store, model_id)
    decision_events = [e for e in events if e.event_type == "model.decision_recorded"]
    assert [(e.actor, e.details["step"]) for e in decision_events] == [
        ("security", "security_review"),
        ("compliance", "compliance_check_confirm"),
        ("approver1", "stakeholder_review_1"),
        ("approver2", "stakeholder_review_2"),
    ]
    assert events[-1].details["approved_by"] == model.approved_by
    assert gov_store.audit.verify().ok


def test_cli_submit_reviews_and_review(as_user, airflow, gov_store, monkeypatch, capsys):
    """The CLI drives the same REST API: submit as owner, list and answer as security."""
    import yaml

    from governance.cli import main

    card = demo_card("medium", suffix="cli")
    path = airflow.data_dir / "cli-card.yaml"
    path.write_text(yaml.safe_dump(card))
    monkeypatch.setenv("GOVERNANCE_AIRFLOW_URL", airflow.url)
    monkeypatch.setenv("GOVERNANCE_USER", "owner")
    monkeypatch.setenv("GOVERNANCE_PASSWORD", "owner")
    assert main(["submit", str(path)]) == 0
    assert "submitted product-recommender-cli" in capsys.readouterr().out
    model = None
    for _ in range(240):
        try:
            model = gov_store.find(f"{card['name']}:{card['version']}")
            break
        except Exception:
            import time

            time.sleep(1)
    assert model is not None
    wait_for_review(as_user("security"), model.id, "security_review")
    monkeypatch.setenv("GOVERNANCE_USER", "security")
    monkeypatch.setenv("GOVERNANCE_PASSWORD", "security")
    assert main(["reviews"]) == 0
    assert model.id in capsys.readouterr().out
    assert main(["review", model.id, "--approve", "--comment", "ok from the CLI"]) == 0
    result = wait_for_decision(as_user("admin"), model.id, "medium")
    assert result["decision"]["status"] == "APPROVED"
    monkeypatch.setenv("GOVERNANCE_PASSWORD", "wrong")
    assert main(["reviews"]) == 2
    assert "refused the login of user 'security'" in capsys.readouterr().err
