"""The usage section of the nightly compliance report (governance.compliance.usage): its figures
from ``usage_decisions`` rows, the finding of a model that served while not DEPLOYED, its HTML
(escaped end-user ids) and the nightly task that stores it (failed checks, outcomes, reruns).

Rows are inserted directly, the way the usage governor writes them."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from governance.compliance import usage as cu
from governance.compliance.trend import failing_checks
from governance.lifecycle import ModelStatus
from governance.reports import LocalReportStore
from governance.reports import compliance_html as ch
from governance.store import GovernanceStore, nightly_reports
from governance.store.tables import usage_decisions
from governance.tasks import compliance_report_nightly as crn
from tests.checks.conftest import INCLUDE
from tests.compliance.conftest import deploy

DAY = date(2026, 11, 27)
TIERS = {
    "low": ["automated_checks"],
    "medium": ["automated_checks", "security_review"],
    "high": ["automated_checks", "security_review", "compliance_check"],
    "critical": ["automated_checks", "security_review", "compliance_check", "stakeholder_review"],
}
HASHED = "sha256:" + hashlib.sha256(b"jane@example.com").hexdigest()
EVIL = '<script>alert("x")</script>'
_ids = itertools.count(1)


def insert_decisions(
    engine: Engine,
    model_id: str,
    *,
    day: date = DAY,
    n: int = 1,
    user: str = "u-1",
    status: str = "DEPLOYED",
    compliant: bool = True,
    policies: str = "",
    pii: str = "",
    categories: str = "",
    completed: bool = False,
    output_compliant: bool = True,
    output_policies: str = "",
    output_pii: str = "",
    output_categories: str = "",
) -> None:
    """``n`` rows of ``usage_decisions`` for ``model_id`` on ``day``, as the usage governor writes them."""
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    rows = []
    for _ in range(n):
        row: dict[str, Any] = {
            "id": f"d{next(_ids):031d}",
            "created_at": at,
            "day": day.isoformat(),
            "model_id": model_id,
            "model_status": status,
            "end_user": user,
            "caller": "gateway",
            "compliant": compliant,
            "policy_ids": policies,
            "warning_ids": "access-control" if status == "DEPRECATED" else "",
            "pii_kinds": pii,
            "content_categories": categories,
            "input_sha256": "0" * 64,
            "input_bytes": 10,
            "policy_sha256": "1" * 64,
        }
        if completed:
            row.update(
                completed_at=at + timedelta(seconds=1),
                output_compliant=output_compliant,
                output_policy_ids=output_policies,
                output_pii_kinds=output_pii,
                output_categories=output_categories,
                output_sha256="2" * 64,
            )
        rows.append(row)
    with engine.begin() as conn:
        conn.execute(insert(usage_decisions), rows)


@pytest.fixture
def registry(sqlite_store: GovernanceStore) -> dict[str, str]:
    return register(sqlite_store)


def register(store: GovernanceStore) -> dict[str, str]:
    """Model ids: credit and triage DEPLOYED, recommender DEPRECATED (deployed, then deprecated),
    tagger RETIRED. None has automated-check evidence (quicker; the usage section does not look at
    it, and the report's figures are compared with the models' own failing checks)."""
    credit = deploy(store, "high_credit_scorer.yaml", evidence=False)
    triage = deploy(store, "critical_clinical_triage.yaml", evidence=False)
    recommender = deploy(store, "medium_product_recommender.yaml", evidence=False)
    store.transition(recommender.id, ModelStatus.DEPRECATED, actor="platform")
    tagger = deploy(store, "low_doc_tagger.yaml", evidence=False)
    store.transition(tagger.id, ModelStatus.DEPRECATED, actor="platform")
    store.transition(tagger.id, ModelStatus.RETIRED, actor="platform")
    return {"credit": credit.id, "triage": triage.id, "recommender": recommender.id, "tagger": tagger.id}


def seed_usage(engine: Engine, ids: dict[str, str]) -> None:
    credit, rec, tagger = ids["credit"], ids["recommender"], ids["tagger"]
    # credit scorer, DEPLOYED
    insert_decisions(engine, credit, n=2, user="u-1", pii="email", categories="finance", completed=True)
    insert_decisions(
        engine,
        credit,
        user="u-1",
        completed=True,
        output_compliant=False,
        output_policies="content-filter",
        output_pii="phone",
        output_categories="violence",
    )
    insert_decisions(engine, credit, user="u-2", compliant=False, policies="access-control,pii-guard", pii="ssn")
    insert_decisions(engine, credit, user="u-2", compliant=False, policies="access-control")
    insert_decisions(engine, credit, user=HASHED, categories="finance,legal")
    for i in range(12):  # 14 users in all: the section lists the top 10
        insert_decisions(engine, credit, user=f"u-x{i:02d}")
    # product recommender: served while DEPLOYED (no finding), then while DEPRECATED (finding)
    insert_decisions(engine, rec, n=2, user="u-3")
    insert_decisions(engine, rec, n=3, user="u-3", status="DEPRECATED", completed=True)
    insert_decisions(engine, rec, n=2, user="u-4", status="DEPRECATED")
    insert_decisions(engine, rec, user="u-4", status="DEPRECATED", compliant=False, policies="usage-quota")
    # doc tagger: refused while RETIRED (no finding: refused), served while APPROVED (finding)
    insert_decisions(engine, tagger, user="u-5", status="RETIRED", compliant=False, policies="access-control")
    insert_decisions(engine, tagger, user="u-5", status="APPROVED", completed=True)
    # other days: ignored
    for other in (DAY - timedelta(days=1), DAY + timedelta(days=1)):
        insert_decisions(engine, credit, day=other, n=5, user="u-1", compliant=False, policies="old")
        insert_decisions(engine, rec, day=other, n=4, user="u-9", status="DEPRECATED", completed=True)


def test_section_figures_per_model_and_findings(store: GovernanceStore) -> None:
    """On SQLite and PostgreSQL (the grouped query, booleans and the completed flag)."""
    registry = register(store)
    seed_usage(store.engine, registry)
    section = cu.build_usage_section(store.engine, day=DAY).to_dict()
    assert json.loads(json.dumps(section, allow_nan=False)) == section
    assert section["day"] == "2026-11-27" and section["top_users"] == cu.TOP_USERS == 10
    # the models DEPLOYED now, by name (the recommender is DEPRECATED, the tagger RETIRED)
    assert [m["model"] for m in section["models"]] == ["clinical-triage:3.0.0", "credit-scorer:1.2.0"]
    triage, credit = (dict(m) for m in section["models"])
    assert triage == cu.ModelUsage(model_id=registry["triage"], model="clinical-triage:3.0.0").to_dict()
    assert triage["requests"] == 0 and triage["top_users"] == [] and triage["pii_detections"]["input"] == {}
    top = credit.pop("top_users")
    assert credit == {
        "model_id": registry["credit"],
        "model": "credit-scorer:1.2.0",
        "requests": 18,
        "compliant": 16,
        "refused": 2,
        "refused_by_policy": {"access-control": 2, "pii-guard": 1},
        "users": 15,
        "pii_detections": {"input": {"email": 2, "ssn": 1}, "output": {"phone": 1}},
        "content_filter_hits": {"input": {"finance": 3, "legal": 1}, "output": {"violence": 1}},
        "completed": 3,
        "outputs_refused": 1,
        "outputs_refused_by_policy": {"content-filter": 1},
    }
    assert len(top) == 10
    assert top[:3] == [
        {"user": "u-1", "requests": 3, "compliant": 3, "refused": 0},
        {"user": "u-2", "requests": 2, "compliant": 0, "refused": 2},
        {"user": HASHED, "requests": 1, "compliant": 1, "refused": 0},  # as stored, hashes sort before "u-x"
    ]
    assert [u["user"] for u in top[3:]] == [f"u-x{i:02d}" for i in range(7)]
    assert section["findings"] == [
        {
            "check": "usage/served-while-APPROVED",
            "model_id": registry["tagger"],
            "model": "doc-tagger:1.0.0",
            "status": "APPROVED",
            "current_status": "RETIRED",
            "requests": 1,
            "completed": 1,
            "reason": "doc-tagger:1.0.0 served 1 request(s) while APPROVED, not DEPLOYED (1 completed inference(s))",
        },
        {
            "check": "usage/served-while-DEPRECATED",
            "model_id": registry["recommender"],
            "model": "product-recommender:2.1.0",
            "status": "DEPRECATED",
            "current_status": "DEPRECATED",
            "requests": 5,
            "completed": 3,
            "reason": (
                "product-recommender:2.1.0 served 5 request(s) while DEPRECATED, not DEPLOYED "
                "(3 completed inference(s))"
            ),
        },
    ]
    assert section["totals"] == {
        "requests": 18 + 8 + 2,
        "compliant": 16 + 7 + 1,
        "refused": 2 + 1 + 1,
        "completed": 3 + 3 + 1,
        "outputs_refused": 1,
        "models": 3,
        "users": 15 + 2 + 1,
    }
    # the same rows, the same section; an explicit scope; another day has its own rows
    assert cu.build_usage_section(store.engine, day="2026-11-27").to_dict() == section
    scoped = cu.build_usage_section(store.engine, day=DAY, model_ids=[registry["recommender"]]).to_dict()
    assert [(m["model"], m["requests"], m["completed"]) for m in scoped["models"]] == [
        ("product-recommender:2.1.0", 8, 3)
    ]
    before = cu.build_usage_section(store.engine, day=DAY - timedelta(days=1)).to_dict()
    assert before["models"][1]["refused_by_policy"] == {"old": 5}
    assert [(f["model"], f["requests"]) for f in before["findings"]] == [("product-recommender:2.1.0", 4)]
    with pytest.raises(ValueError, match="is not a date"):
        cu.build_usage_section(store.engine, day="27/11/2026")


def test_no_usage_is_zeros_and_no_finding(sqlite_store: GovernanceStore, registry: dict[str, str]) -> None:
    section = cu.build_usage_section(sqlite_store.engine, day=DAY)
    assert section.findings == [] and section.totals["requests"] == 0
    assert [(m.model_id, m.requests, m.completed) for m in section.models] == [
        (registry["triage"], 0, 0),
        (registry["credit"], 0, 0),
    ]


def _report(store: GovernanceStore) -> tuple[dict[str, Any], str]:
    return crn.nightly_compliance_report(
        store=store, workflow_steps=TIERS, evidence_encrypted_at_rest=True, include_dir=INCLUDE, day=DAY
    )


def test_json_and_html_carry_the_section_escaped_and_flag_the_finding(
    sqlite_store: GovernanceStore, registry: dict[str, str]
) -> None:
    seed_usage(sqlite_store.engine, registry)
    insert_decisions(sqlite_store.engine, registry["credit"], n=20, user=EVIL, pii="email")
    snapshot, html = _report(sqlite_store)
    usage = snapshot["usage"]
    assert usage == json.loads(json.dumps(cu.build_usage_section(sqlite_store.engine, day=DAY).to_dict()))
    assert usage["models"][1]["top_users"][0] == {"user": EVIL, "requests": 20, "compliant": 20, "refused": 0}
    model_checks = sum(len(failing_checks(m)) for m in snapshot["models"])
    assert snapshot["summary"]["usage_findings"] == 2
    assert snapshot["summary"]["failed_checks"] == model_checks + 2
    # the models' own results are not changed by the findings
    assert (snapshot["summary"]["models"], snapshot["summary"]["failed"]) == (
        2,
        sum(1 for m in snapshot["models"] if not m["passed"]),
    )

    assert '<h2 id="usage">Usage on 2026-11-27 (UTC)</h2>' in html
    assert "<script" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert f'title="{HASHED}">{HASHED[:19]}\u2026</span>' in html and f">{HASHED}<" not in html
    assert '<div class="finding" id="usage-findings">' in html
    assert "product-recommender:2.1.0 served 5 request(s) while DEPRECATED" in html
    assert "usage/served-while-DEPRECATED" in html and "; 2 usage finding(s)</h2>" in html
    assert "email 22, ssn 1" in html  # the credit scorer's input PII detections
    assert '<a href="#usage-' + registry["triage"] + '">clinical-triage:3.0.0</a></td><td class="num">0</td>' in html


def test_finding_alone_flags_the_verdict() -> None:
    snapshot = {
        "generated_at": "2026-11-27T00:00:00Z",
        "summary": {"models": 0, "passed": 0, "failed": 0},
        "audit_chain": {"ok": True, "summary": "ok"},
        "models": [],
        "usage": {
            "day": "2026-11-27",
            "totals": {"requests": 1, "compliant": 1, "models": 1, "users": 1},
            "models": [],
            "findings": [
                {
                    "check": "usage/served-while-DEPRECATED",
                    "model_id": "m1",
                    "model": "<i>m</i>:1",
                    "status": "DEPRECATED",
                    "requests": 1,
                    "completed": 0,
                    "reason": "<i>m</i>:1 served 1 request(s) while DEPRECATED",
                }
            ],
        },
    }
    html = ch.render_compliance_html(snapshot)
    assert '<div class="verdict flagged">' in html and "No DEPLOYED model in scope." in html
    assert "<i>" not in html and "&lt;i&gt;m&lt;/i&gt;:1 served 1 request(s)" in html
    clear = ch.render_compliance_html({**snapshot, "usage": {**snapshot["usage"], "findings": []}})
    assert '<div class="verdict clear">' in clear and "usage-findings" not in clear


def test_nightly_task_counts_findings_records_them_and_reruns_idempotently(
    sqlite_store: GovernanceStore, registry: dict[str, str], tmp_path
) -> None:
    reports = LocalReportStore(tmp_path / "reports")
    seed_usage(sqlite_store.engine, registry)
    run = {
        "requested_date": "2026-11-27",
        "store": sqlite_store,
        "reports": reports,
        "include_dir": INCLUDE,
        "workflow_steps": TIERS,
        "evidence_encrypted_at_rest": True,
    }
    first = crn.compliance_report(**run)
    stored = json.loads(reports.get("compliance/2026-11-27/report.json"))
    model_checks = sum(len(failing_checks(m)) for m in stored["models"])
    assert first["outcome"] == nightly_reports.OUTCOME_RECORDED and first["usage_findings"] == 2
    assert first["failed_checks"] == model_checks + 2 == stored["summary"]["failed_checks"]
    assert [f["model"] for f in stored["usage"]["findings"]] == ["doc-tagger:1.0.0", "product-recommender:2.1.0"]
    (row,) = nightly_reports.list_compliance_reports(store=sqlite_store)
    assert row["outcomes"][registry["recommender"]] == {
        "model": "product-recommender:2.1.0",
        "status": "DEPRECATED",
        "usage_findings": ["usage/served-while-DEPRECATED"],
    }
    assert "usage_findings" not in row["outcomes"][registry["credit"]]
    # one event per model of the report: the two DEPLOYED ones and the two that served while not DEPLOYED
    assert first["events"] == 4
    recorded = sqlite_store.audit.query(
        event_type=nightly_reports.EVENT_COMPLIANCE_RECORDED, model_id=registry["tagger"]
    ).events
    assert [e.details["usage_findings"] for e in recorded] == [["usage/served-while-APPROVED"]]
    assert '<div class="finding" id="usage-findings">' in reports.get("compliance/2026-11-27/report.html").decode()

    # rerun with the same rows: the same fingerprint, nothing written
    events = sqlite_store.audit.count()
    again = crn.compliance_report(**run)
    assert again["outcome"] == nightly_reports.OUTCOME_UNCHANGED and again["usage_findings"] == 2
    assert sqlite_store.audit.count() == events
    assert nightly_reports.list_compliance_reports(store=sqlite_store)[0]["fingerprint"] == row["fingerprint"]

    # more requests that day: the report is rewritten; no model's outcome moved, so no event
    insert_decisions(sqlite_store.engine, registry["credit"], n=4, user="u-late")
    later = crn.compliance_report(**run)
    assert later["outcome"] == nightly_reports.OUTCOME_UPDATED and later["events"] == 0
    assert json.loads(reports.get("compliance/2026-11-27/report.json"))["usage"]["models"][1]["requests"] == 22

    # a DEPLOYED model served while DEPRECATED (deprecated, then deployed again): its outcome moves
    insert_decisions(sqlite_store.engine, registry["triage"], user="u-6", status="DEPRECATED")
    moved = crn.compliance_report(**run)
    assert moved["events"] == 1 and moved["usage_findings"] == 3 and moved["failed_checks"] == model_checks + 3
    (updated,) = sqlite_store.audit.query(event_type=nightly_reports.EVENT_COMPLIANCE_UPDATED).events
    assert updated.model_id == registry["triage"]
    assert updated.details["usage_findings"] == ["usage/served-while-DEPRECATED"]
    assert "usage_findings" not in updated.details["previous"]
    assert updated.details["passed"] == updated.details["previous"]["passed"]  # its compliance result is its own
