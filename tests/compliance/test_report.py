"""The compliance tracker on registered demo models, against real evidence and audit events."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import make_url

from governance.compliance import evaluators as cc
from governance.compliance import report as comp
from governance.compliance import requirements as reqs
from governance.store import GovernanceStore, ModelRecord
from governance.store.tables import evidence, model_versions
from tests.checks.conftest import INCLUDE, REVIEWERS, submit

HIGH_STEPS = ["automated_checks", "security_review", "compliance_check"]
CRITICAL_STEPS = [*HIGH_STEPS, "stakeholder_review"]


def evaluate(store: GovernanceStore, model: ModelRecord, steps: list[str] = HIGH_STEPS, **kwargs: Any):
    kwargs.setdefault("reviewers", REVIEWERS)
    kwargs.setdefault("evidence_encrypted_at_rest", True)
    kwargs.setdefault("include_dir", INCLUDE)
    return comp.evaluate_compliance(model=model, store=store, workflow_steps=steps, **kwargs)


def check_of(report: comp.ComplianceReport, requirement: str, check_id: str) -> comp.ComplianceCheck:
    return next(c for c in report.requirements[requirement].checks if c.id == check_id)


# --------------------------------------------------------------------------- pass paths


def test_high_risk_demo_model_passes(store: GovernanceStore) -> None:
    model = submit(store, "high_credit_scorer.yaml")
    report = evaluate(store, model)
    assert report.passed, report.reasons
    assert list(report.requirements) == ["GDPR", "SOC2", "EU_AI_ACT"]
    assert report.not_evaluated == ["HIPAA"]
    assert report.scope_note == comp.NOTE_NOT_DECLARED.format(declared="GDPR, SOC2, EU_AI_ACT", others="HIPAA")
    audit = check_of(report, "SOC2", "SOC2-CC7.2")
    assert audit.status == comp.STATUS_PASSED
    assert audit.evidence["chain_ok"] is True
    # registration, status change, five evidence rows
    assert audit.evidence["audit_events"] == 7
    art14 = check_of(report, "EU_AI_ACT", "EU-AIA-14")
    assert art14.passed and art14.evidence["autonomous"] is False
    # not autonomous: GDPR Art. 22 does not apply, and says why
    gdpr22 = check_of(report, "GDPR", "GDPR-22")
    assert gdpr22.status == comp.STATUS_NOT_APPLICABLE
    assert gdpr22.reasons == [
        comp.NOTE_NOT_APPLICABLE.format(why=comp.NOTE_UNMET.format(condition=reqs.CONDITIONS["autonomous"]))
    ]
    data_gov = check_of(report, "EU_AI_ACT", "EU-AIA-10")
    assert data_gov.passed and data_gov.evidence["rows"] == 600
    change = check_of(report, "SOC2", "SOC2-CC8.1")
    assert change.evidence["audited_history"] == ["DEVELOPMENT", "REVIEW_PENDING"]


def test_critical_autonomous_model_passes_with_its_full_workflow(store: GovernanceStore) -> None:
    model = submit(store, "critical_clinical_triage.yaml")
    report = evaluate(store, model, CRITICAL_STEPS)
    assert report.passed, report.reasons
    assert report.requirements["HIPAA"].applicable
    assert check_of(report, "GDPR", "GDPR-22").status == comp.STATUS_PASSED


# --------------------------------------------------------------------------- fail paths


def test_autonomous_model_without_oversight_step_fails_art14(store: GovernanceStore) -> None:
    model = submit(store, "critical_clinical_triage.yaml")
    report = evaluate(store, model, ["automated_checks"], reviewers={})
    assert not report.passed
    art14 = check_of(report, "EU_AI_ACT", "EU-AIA-14")
    assert art14.status == comp.STATUS_FAILED
    assert art14.reasons == [cc.ERR_NO_OVERSIGHT_STEP.format(steps="automated_checks")]
    assert not check_of(report, "GDPR", "GDPR-22").passed
    assert "EU_AI_ACT EU-AIA-14: " + art14.reasons[0] in report.reasons


def test_oversight_statement_is_required_for_high_risk(sqlite_store: GovernanceStore) -> None:
    model = submit(sqlite_store, "high_credit_scorer.yaml", human_oversight=None, evidence=False)
    art14 = check_of(evaluate(sqlite_store, model), "EU_AI_ACT", "EU-AIA-14")
    assert art14.reasons == [cc.ERR_NO_OVERSIGHT_TEXT]


def test_encryption_rule_on_sqlite(sqlite_store: GovernanceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVERNANCE_S3_ENDPOINT_URL", raising=False)
    model = submit(sqlite_store, "high_credit_scorer.yaml", evidence=False)
    check = check_of(evaluate(sqlite_store, model, evidence_encrypted_at_rest=None), "GDPR", "GDPR-32-ENCRYPTION")
    database = make_url(str(sqlite_store.engine.url)).database
    assert check.reasons == [cc.ERR_ENC_SQLITE.format(database=database)]
    assert check.evidence["source"] == "inferred from the database URL and S3 settings"
    check = check_of(evaluate(sqlite_store, model, evidence_encrypted_at_rest=False), "GDPR", "GDPR-32-ENCRYPTION")
    assert check.reasons == [cc.ERR_ENC_DECLARED_NO]
    check = check_of(evaluate(sqlite_store, model, evidence_encrypted_at_rest=True), "GDPR", "GDPR-32-ENCRYPTION")
    assert check.passed and check.evidence["declared"] is True


@pytest.mark.parametrize(
    ("url", "endpoint", "expected"),
    [
        ("sqlite+pysqlcipher://:key@/gov.db", None, []),
        (
            "sqlite+pysqlcipher://:key@/gov.db",
            "http://127.0.0.1:8333",
            [cc.ERR_ENC_S3.format(endpoint="http://127.0.0.1:8333")],
        ),
        ("postgresql+psycopg://u@db/gov", None, [cc.ERR_ENC_POSTGRES]),
    ],
)
def test_encryption_rule_from_configuration(
    monkeypatch: pytest.MonkeyPatch, url: str, endpoint: str | None, expected: list[str]
) -> None:
    if endpoint:
        monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", endpoint)
    else:
        monkeypatch.delenv("GOVERNANCE_S3_ENDPOINT_URL", raising=False)
    store = SimpleNamespace(engine=SimpleNamespace(url=make_url(url)))
    ctx = SimpleNamespace(store=store, encrypted_at_rest=None)
    outcome = cc.encryption_at_rest(ctx)  # type: ignore[arg-type]
    assert outcome.reasons == expected
    assert outcome.passed is (not expected)


def test_hipaa_applies_only_to_health_data(sqlite_store: GovernanceStore) -> None:
    doc_changes = {"compliance_requirements": ["GDPR", "HIPAA"]}
    model = submit(sqlite_store, "high_credit_scorer.yaml", **doc_changes)
    report = evaluate(sqlite_store, model)
    hipaa = report.requirements["HIPAA"]
    assert not hipaa.applicable and hipaa.passed
    assert hipaa.note and "protected health information" in hipaa.note
    assert {c.status for c in hipaa.checks} == {comp.STATUS_NOT_APPLICABLE}


def test_tampered_audit_chain_fails(store: GovernanceStore) -> None:
    model = submit(store, "high_credit_scorer.yaml")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 2"))
    report = evaluate(store, model)
    assert not report.passed
    audit = check_of(report, "SOC2", "SOC2-CC7.2")
    assert audit.evidence["chain_ok"] is False and audit.evidence["first_bad_event"] == 2
    assert audit.reasons[0].startswith("the audit chain does not verify: event 2 (altered)")
    assert not check_of(report, "EU_AI_ACT", "EU-AIA-12").passed


def test_no_automated_evidence_fails_data_governance_and_accuracy(sqlite_store: GovernanceStore) -> None:
    model = submit(sqlite_store, "high_credit_scorer.yaml", evidence=False)
    report = evaluate(sqlite_store, model)
    assert check_of(report, "EU_AI_ACT", "EU-AIA-10").reasons == [cc.ERR_NO_EVIDENCE.format(kind="evaluation_data")]
    assert check_of(report, "EU_AI_ACT", "EU-AIA-15").reasons == [cc.ERR_NO_EVIDENCE.format(kind="evaluation_metrics")]
    security = check_of(report, "EU_AI_ACT", "EU-AIA-15-SECURITY")
    assert security.reasons == [
        cc.ERR_NO_EVIDENCE.format(kind="artifact_integrity"),
        cc.ERR_NO_EVIDENCE.format(kind="pickle_scan"),
    ]


def test_latest_failed_evidence_fails_with_its_reasons(sqlite_store: GovernanceStore) -> None:
    model = submit(sqlite_store, "high_credit_scorer.yaml")
    sqlite_store.record_evidence(
        model.id,
        step="automated_checks",
        kind="evaluation_data",
        passed=False,
        details={"reasons": ["evaluation data: 50 rows; at least 100 are required"], "details": {}},
        actor="governance",
        run_id="run-2",
    )
    check = check_of(evaluate(sqlite_store, model), "EU_AI_ACT", "EU-AIA-10")
    assert check.reasons == [
        cc.ERR_EVIDENCE_FAILED.format(
            kind="evaluation_data", run_id="run-2", reasons="evaluation data: 50 rows; at least 100 are required"
        )
    ]


def test_metrics_below_threshold_fail_accuracy(sqlite_store: GovernanceStore) -> None:
    evaluation = {
        "dataset_uri": "demo/eval/credit-scorer.csv",
        "metrics": {"accuracy": {"value": 0.86, "threshold": 0.8}, "auc": {"value": 0.81, "threshold": 0.85}},
    }
    model = submit(sqlite_store, "high_credit_scorer.yaml", evaluation=evaluation)
    check = check_of(evaluate(sqlite_store, model), "EU_AI_ACT", "EU-AIA-15")
    assert not check.passed
    assert cc.ERR_METRIC_BELOW.format(metric="auc", value=0.81, threshold=0.85) in check.reasons
    assert check.reasons[0].startswith("the latest evaluation_metrics evidence (run 'run-1') failed: ")


def test_prohibited_model_is_blocked_even_without_eu_ai_act(sqlite_store: GovernanceStore) -> None:
    model = submit(
        sqlite_store,
        "low_doc_tagger.yaml",
        evidence=False,
        prohibited_practices=["social_scoring"],
        compliance_requirements=["SOC2"],
    )
    report = evaluate(sqlite_store, model)
    assert not report.passed
    assert report.blockers == [cc.ERR_PROHIBITED.format(rationale=model.eu_ai_act_rationale)]
    model = submit(
        sqlite_store,
        "low_doc_tagger.yaml",
        evidence=False,
        version="1.0.1",
        prohibited_practices=["social_scoring"],
        compliance_requirements=["EU_AI_ACT"],
    )
    art5 = check_of(evaluate(sqlite_store, model), "EU_AI_ACT", "EU-AIA-5")
    assert art5.status == comp.STATUS_FAILED and "Art. 5" in art5.reasons[0]


def test_unaudited_status_change_fails_change_management(sqlite_store: GovernanceStore) -> None:
    model = submit(sqlite_store, "high_credit_scorer.yaml", evidence=False)
    with sqlite_store.engine.begin() as conn:
        conn.execute(update(model_versions).where(model_versions.c.id == model.id).values(status="APPROVED"))
    model = sqlite_store.get(model.id)
    check = check_of(evaluate(sqlite_store, model), "SOC2", "SOC2-CC8.1")
    assert check.reasons == [cc.ERR_STATUS_DRIFT.format(current="APPROVED", audited="REVIEW_PENDING")]


def test_evidence_without_audit_event_fails_record_keeping(sqlite_store: GovernanceStore) -> None:
    from governance.audit import utc_now

    model = submit(sqlite_store, "high_credit_scorer.yaml")
    with sqlite_store.engine.begin() as conn:
        conn.execute(
            evidence.insert().values(
                model_id=model.id,
                run_id="sneaky",
                step="automated_checks",
                kind="evaluation_data",
                passed=True,
                details={},
                created_at=utc_now(),
            )
        )
    check = check_of(evaluate(sqlite_store, model), "EU_AI_ACT", "EU-AIA-12")
    assert check.reasons == [
        cc.ERR_EVIDENCE_UNAUDITED.format(
            step="automated_checks", kind="evaluation_data", run_id="sneaky", event="model.evidence_recorded"
        )
    ]


def test_access_control(sqlite_store: GovernanceStore) -> None:
    model = submit(sqlite_store, "low_doc_tagger.yaml", evidence=False)
    low = check_of(evaluate(sqlite_store, model, ["automated_checks"]), "SOC2", "SOC2-CC6.1")
    assert low.reasons == [cc.ERR_NO_HUMAN_STEP.format(steps="automated_checks")]
    only_owner = {"security_review": ["alice"]}
    check = check_of(
        evaluate(sqlite_store, model, ["automated_checks", "security_review"], reviewers=only_owner),
        "SOC2",
        "SOC2-CC6.1",
    )
    assert check.reasons == [cc.ERR_NO_REVIEWER.format(step="security_review", owner="alice")]
    ok = check_of(evaluate(sqlite_store, model, ["automated_checks", "security_review"]), "SOC2", "SOC2-CC6.1")
    assert ok.passed and ok.evidence["reviewers"] == {"security_review": ["sec1"]}


def test_reviewers_default_to_the_workflow_definition(sqlite_store: GovernanceStore) -> None:
    workflows = pytest.importorskip("governance.workflows")
    groups = workflows.load_groups()
    definition = workflows.load_workflows(groups=groups)
    model = submit(sqlite_store, "high_credit_scorer.yaml", evidence=False)
    steps = list(definition.tiers["high"])
    report = comp.evaluate_compliance(
        model=model, store=sqlite_store, workflow_steps=steps, evidence_encrypted_at_rest=True, include_dir=INCLUDE
    )
    access = check_of(report, "SOC2", "SOC2-CC6.1")
    human = [s for s in steps if definition.steps[s].is_human]
    assert access.evidence["human_steps"] == human
    for step in human:
        assert access.evidence["reviewers"][step] == groups.members(definition.steps[step].group, exclude={"alice"})
    assert access.passed == all(access.evidence["reviewers"][s] for s in human)


def test_missing_explainability_file_fails(sqlite_store: GovernanceStore) -> None:
    model = submit(sqlite_store, "high_credit_scorer.yaml", evidence=False, explainability_uri="demo/shap/none.html")
    check = check_of(evaluate(sqlite_store, model), "EU_AI_ACT", "EU-AIA-13-EXPLAIN")
    assert not check.passed and check.evidence["exists"] is False
    assert check.reasons[0].startswith("explainability_uri: 'demo/shap/none.html' does not exist")


def test_only_declared_requirements_are_evaluated(sqlite_store: GovernanceStore) -> None:
    model = submit(sqlite_store, "low_doc_tagger.yaml")
    report = evaluate(sqlite_store, model, ["automated_checks", "security_review"])
    assert list(report.requirements) == ["SOC2"]
    assert report.not_evaluated == ["GDPR", "HIPAA", "EU_AI_ACT"]
    model = submit(sqlite_store, "low_doc_tagger.yaml", evidence=False, version="1.0.1", compliance_requirements=[])
    report = evaluate(sqlite_store, model)
    assert report.requirements == {} and report.scope_note == comp.NOTE_NOTHING_DECLARED and report.passed


def test_report_markdown_and_round_trip(sqlite_store: GovernanceStore) -> None:
    model = submit(sqlite_store, "critical_clinical_triage.yaml")
    report = evaluate(sqlite_store, model, ["automated_checks"], reviewers={})
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["passed"] is False
    assert comp.ComplianceReport.from_dict(data).to_dict() == data
    md = report.to_markdown()
    assert md.startswith(f"### Compliance: clinical-triage 3.0.0 (`{model.id}`): **FAILED**")
    assert "#### EU_AI_ACT: EU Artificial Intelligence Act: FAILED" in md
    assert "| **EU-AIA-14** Human oversight (EU AI Act Art. 14) | FAIL: " in md
    assert "autonomous=true; human_oversight=A triage nurse" in md  # evidence shown as compact JSON values


def test_incomplete_card_fails_documentation_and_transparency(sqlite_store: GovernanceStore) -> None:
    evaluation = {
        "dataset_uri": "demo/eval/credit-scorer.csv",
        "metrics": {"accuracy": {"value": 0.86, "threshold": 0.8}, "auc": {"value": 0.91}},
    }
    model = submit(sqlite_store, "high_credit_scorer.yaml", evidence=False, evaluation=evaluation)
    report = evaluate(sqlite_store, model)
    transparency = check_of(report, "EU_AI_ACT", "EU-AIA-13")
    requirement = "a threshold for every metric (missing for: auc)"
    assert transparency.reasons == [
        cc.ERR_TRANSPARENCY_MISSING.format(field="evaluation.metrics", requirement=requirement)
    ]
    documentation = check_of(report, "EU_AI_ACT", "EU-AIA-11")
    assert documentation.evidence["missing"] == ["evaluation.metrics"]
    assert documentation.reasons[0].startswith("card.evaluation.metrics: missing " + requirement)
