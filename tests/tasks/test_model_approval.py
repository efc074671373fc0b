"""Rules of the approval workflow that no workflow file can drop: a prohibited practice is
rejected by ``record_decision`` itself, and a failed compliance report's blockers are the
step's reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.cards import ProhibitedPractice, load_card
from governance.lifecycle import ModelStatus
from governance.risk import ERR_PROHIBITED_PRACTICE
from governance.store import GovernanceStore, migrate
from governance.tasks import model_approval
from governance.workflows import StepDefinition, StepKind, WorkflowDefinition

CARDS = Path(__file__).resolve().parents[2] / "include" / "model_cards"


@pytest.fixture
def gov(tmp_path, monkeypatch) -> GovernanceStore:
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("GOVERNANCE_DB_URL", url)
    monkeypatch.setenv("GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST", "true")
    store = GovernanceStore.from_url(url)
    migrate(store.engine)
    return store


def _pending(gov: GovernanceStore, file: str, **changes: object) -> str:
    card = load_card(CARDS / file).model_copy(update=changes)
    model = gov.register(card, owner="owner").model
    gov.transition(model.id, ModelStatus.REVIEW_PENDING, actor="owner")
    return model.id


def _passed(gov: GovernanceStore, model_id: str, step: str) -> None:
    gov.record_evidence(
        model_id, step=step, kind="result", passed=True, details={"reasons": []}, actor="governance", run_id="r1"
    )


def test_record_decision_rejects_a_prohibited_practice_whatever_the_workflow_says(gov) -> None:
    """An edited workflow whose only step is a renamed automated step that passed: the model is
    still rejected, by ``record_decision`` itself, naming Art. 5 and the practice."""
    model_id = _pending(gov, "low_doc_tagger.yaml", prohibited_practices=[ProhibitedPractice.SOCIAL_SCORING])
    lenient = WorkflowDefinition(
        version=1,
        steps={"smoke": StepDefinition(kind=StepKind.AUTOMATED, title="Smoke test")},
        tiers={tier: ["smoke"] for tier in ("low", "medium", "high", "critical")},
    )
    _passed(gov, model_id, "smoke")
    out = model_approval.record_decision(model_id=model_id, run_id="r1", tier="low", workflow=lenient)
    why = ERR_PROHIBITED_PRACTICE.format(practices="social_scoring")
    assert out == {
        "model_id": model_id,
        "status": "DEVELOPMENT",
        "failed_step": model_approval.EU_AI_ACT_STEP,
        "reasons": [why],
    }
    model = gov.get(model_id)
    assert model.status == ModelStatus.DEVELOPMENT and model.approved_by is None
    assert model.status_reason == f"{model_approval.EU_AI_ACT_STEP}: {why}"
    events = gov.audit.query(model_id=model_id, event_type="model.status_changed", order="desc", limit=1).events
    assert events[0].details["reasons"] == [why] and events[0].actor == model_approval.SYSTEM_ACTOR


def test_the_same_workflow_approves_a_model_without_prohibited_practice(gov) -> None:
    """The control case of the test above: the lenient workflow itself approves."""
    model_id = _pending(gov, "low_doc_tagger.yaml")
    lenient = WorkflowDefinition(
        version=1,
        steps={"smoke": StepDefinition(kind=StepKind.AUTOMATED, title="Smoke test")},
        tiers={tier: ["smoke"] for tier in ("low", "medium", "high", "critical")},
    )
    _passed(gov, model_id, "smoke")
    assert (
        model_approval.record_decision(model_id=model_id, run_id="r1", tier="low", workflow=lenient)["status"]
        == "APPROVED"
    )


def test_the_automated_step_fails_a_prohibited_practice_so_no_reviewer_is_asked(gov) -> None:
    model_id = _pending(
        gov, "medium_product_recommender.yaml", prohibited_practices=[ProhibitedPractice.SOCIAL_SCORING]
    )
    out = model_approval.automated_checks(model_id=model_id, run_id="r1", tier="medium")
    assert out["passed"] is False
    assert out["reasons"][0] == ERR_PROHIBITED_PRACTICE.format(practices="social_scoring")


def test_compliance_blockers_are_the_step_reasons(gov) -> None:
    """A card that declares a requirement nobody defined fails the compliance report on a
    blocker; the step result carries that blocker as its reason (empty before), and so does
    the decision."""
    from sqlalchemy import update

    from governance.compliance.report import ERR_UNDEFINED_REQUIREMENT
    from governance.store.tables import model_versions

    model_id = _pending(gov, "high_credit_scorer.yaml")
    # the card declares a requirement the requirements file does not define
    card = {**gov.get(model_id).card, "compliance_requirements": ["GDPR", "ISO_42001"]}
    with gov.engine.begin() as conn:
        conn.execute(update(model_versions).where(model_versions.c.id == model_id).values(card=card))
    _passed(gov, model_id, "automated_checks")
    out = model_approval.compliance_check(model_id=model_id, run_id="r1", tier="high")
    blocker = ERR_UNDEFINED_REQUIREMENT.format(name="ISO_42001")
    assert out["passed"] is False
    assert out["reasons"][0] == blocker
    result = next(e for e in gov.list_evidence(model_id) if e["step"] == "compliance_check" and e["kind"] == "result")
    assert result["details"]["reasons"][0] == blocker
    gov.record_decision(
        model_id, step="security_review", actor="security", decision="approve", comment=None, run_id="r1"
    )
    decided = model_approval.record_decision(model_id=model_id, run_id="r1", tier="high")
    assert decided["failed_step"] == "compliance_check"
    assert decided["reasons"][0] == blocker
    assert gov.get(model_id).status_reason.startswith(f"compliance_check: {blocker}")


def test_compliance_reasons_are_the_reports_own(gov) -> None:
    """One derivation: the step's reasons equal ``ComplianceReport.reasons`` of the report on record."""
    from governance.compliance.report import ComplianceReport

    model_id = _pending(gov, "high_credit_scorer.yaml", prohibited_practices=[ProhibitedPractice.SOCIAL_SCORING])
    _passed(gov, model_id, "automated_checks")
    out = model_approval.compliance_check(model_id=model_id, run_id="r1", tier="high")
    report = next(e for e in gov.list_evidence(model_id) if e["kind"] == "compliance_report")
    assert out["passed"] is False
    assert out["reasons"] == ComplianceReport.from_dict(report["details"]).reasons
    assert any("Art. 5" in r for r in out["reasons"])
