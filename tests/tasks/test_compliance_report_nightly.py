"""The compliance_report_nightly task (governance.tasks.compliance_report_nightly): the day's report, its trend, reruns."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from governance.store import GovernanceStore, nightly_reports
from governance.tasks import compliance_report_nightly
from tests.checks.conftest import INCLUDE
from tests.compliance.conftest import deploy
from tests.support.nightly import DAY, NEXT_DAY, audit_events, include, reports, seed, sqlite_store

__all__ = ["include", "reports", "sqlite_store"]  # pytest fixtures of tests.support.nightly


def test_compliance_report_trend_idempotency_andevents(sqlite_store, include, reports):
    seeded = seed(sqlite_store, include)
    run = {"store": sqlite_store, "reports": reports, "include_dir": include, "evidence_encrypted_at_rest": True}
    first = compliance_report_nightly.compliance_report(requested_date="2026-11-27", **run)
    assert first["outcome"] == nightly_reports.OUTCOME_RECORDED and first["models"] == 2 and first["events"] == 2
    snapshot = json.loads(reports.get("compliance/2026-11-27/report.json"))
    assert snapshot["report_date"] == "2026-11-27" and snapshot["trend"]["baseline"] is None
    assert {m["model"] for m in snapshot["models"]} == {"credit-scorer 1.2.0-demo", "product-recommender 2.1.0-demo"}
    html = reports.get("compliance/2026-11-27/report.html").decode()
    assert "credit-scorer 1.2.0-demo" in html and "models fail compliance" in html
    credit_id = seeded["credit-scorer"]["model_id"]
    recorded = audit_events(sqlite_store, nightly_reports.EVENT_COMPLIANCE_RECORDED)
    assert {e.model_id for e in recorded} == {credit_id, seeded["product-recommender"]["model_id"]}
    credit_event = next(e for e in recorded if e.model_id == credit_id)
    assert credit_event.details["passed"] is False and "EU_AI_ACT/EU-AIA-10" in credit_event.details["failing"]

    events = sqlite_store.audit.count()
    stored = reports.get("compliance/2026-11-27/report.json")
    again = compliance_report_nightly.compliance_report(requested_date="2026-11-27", **run)
    assert again["outcome"] == nightly_reports.OUTCOME_UNCHANGED and again["events"] == 0
    assert sqlite_store.audit.count() == events and reports.get("compliance/2026-11-27/report.json") == stored

    # the next day reads yesterday's JSON for the trend
    nxt = compliance_report_nightly.compliance_report(logical_date=datetime(2026, 11, 28, tzinfo=UTC), **run)
    assert nxt["report_date"] == "2026-11-28" and nxt["outcome"] == nightly_reports.OUTCOME_RECORDED
    trend = json.loads(reports.get("compliance/2026-11-28/report.json"))["trend"]
    assert trend["baseline"] == snapshot["generated_at"]
    assert trend["models"][credit_id]["trend"] == "still failing"

    # a changed result the same day: same keys and row, "updated" events for the models that changed
    events = sqlite_store.audit.count()
    changed = compliance_report_nightly.compliance_report(
        requested_date="2026-11-28", **{**run, "evidence_encrypted_at_rest": False}
    )
    assert changed["outcome"] == nightly_reports.OUTCOME_UPDATED and changed["events"] == 2
    updated = audit_events(sqlite_store, nightly_reports.EVENT_COMPLIANCE_UPDATED)
    assert {e.model_id for e in updated} == {credit_id, seeded["product-recommender"]["model_id"]}
    assert all("GDPR/GDPR-32-ENCRYPTION" in e.details["failing"] for e in updated)
    assert all("GDPR/GDPR-32-ENCRYPTION" not in e.details["previous"]["failing"] for e in updated)
    assert sqlite_store.audit.count() == events + 2
    assert [r["report_date"] for r in nightly_reports.list_compliance_reports(store=sqlite_store)] == [DAY, NEXT_DAY]
    assert reports.list("compliance/") == [
        "compliance/2026-11-27/report.html",
        "compliance/2026-11-27/report.json",
        "compliance/2026-11-28/report.html",
        "compliance/2026-11-28/report.json",
    ]
    assert sqlite_store.audit.verify().ok


def test_compliance_report_without_deployed_models_and_with_unreadable_yesterday(sqlite_store, include, reports):
    reports.put("compliance/2026-11-26/report.json", b"{not json", "application/json")
    out = compliance_report_nightly.compliance_report(
        requested_date="2026-11-27", store=sqlite_store, reports=reports, include_dir=include
    )
    assert out["models"] == 0 and out["events"] == 0 and out["outcome"] == nightly_reports.OUTCOME_RECORDED
    assert sqlite_store.audit.count() == 0  # nothing about any model to record
    html = reports.get("compliance/2026-11-27/report.html").decode()
    assert "No model in scope" in html and "no previous report" in html
    (row,) = nightly_reports.list_compliance_reports(store=sqlite_store)
    assert row["models"] == 0 and row["outcomes"] == {}


def test_nightly_report_with_default_workflow(sqlite_store: GovernanceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    workflows = pytest.importorskip("governance.workflows")
    monkeypatch.setenv("GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST", "true")
    deploy(sqlite_store, "critical_clinical_triage.yaml")
    data, html = compliance_report_nightly.nightly_compliance_report(store=sqlite_store, include_dir=INCLUDE)
    encryption = next(
        c for c in data["models"][0]["requirements"]["HIPAA"]["checks"] if c["id"] == "HIPAA-164.312(a)(2)(iv)"
    )
    assert encryption["passed"] and encryption["evidence"]["declared"] is True
    model = data["models"][0]
    assert model["workflow_steps"] == list(workflows.load_workflows().tiers["critical"])
    assert data["summary"]["models"] == 1
    assert "clinical-triage 3.0.0" in html
