"""What the ``compliance_report_nightly`` DAG's task calls: :func:`compliance_report` (task
``compliance_report``), Airflow-free.

The report covers every DEPLOYED model for one day: the snapshot of
:func:`governance.compliance.snapshot.build_compliance_snapshot` with the trend against
yesterday's JSON and the day's usage section (key ``usage``,
:func:`governance.compliance.usage.build_usage_section`), rendered by
:func:`governance.reports.compliance_html.render_compliance_html` (:func:`nightly_compliance_report`).

* **Usage findings** (a model that served requests while not DEPLOYED, one finding per model and
  status at request time) are failed checks of the report: ``summary.failed_checks`` (and the
  row's ``failed_checks``) counts the models' failed checks and blockers plus the findings,
  ``summary.usage_findings`` the findings alone. The models' own results (``passed``, ``failed``,
  ``failing``, trend) are unchanged by them. In the row's ``outcomes`` a model with findings
  carries ``usage_findings`` (their check names, ``usage/served-while-<STATUS>``); a model
  outside the report's scope (e.g. DEPRECATED) gets an entry of its own with its name, its
  current status and its findings, so its nightly history shows them too.

* **Report keys** in the report store (:func:`governance.reports.s3_store.report_store_from_config`):
  ``compliance/<date>/report.{json,html}`` (:func:`compliance_report_keys`; the S3 store keeps them
  under ``s3://<bucket>/reports/``, the local one under ``<GOVERNANCE_DATA_DIR>/reports/``).
  Tomorrow's trend reads today's JSON.
* **Idempotent per date** (see :mod:`governance.tasks._nightly` for the report date and the
  fingerprint): the same results write nothing; changed ones replace the day's report, update the
  one row and write ``compliance_report.updated`` events for the models whose result changed.
* **Audit events**: ``compliance_report.recorded`` / ``compliance_report.updated`` per model in the
  report whose outcome is new or changed (passed, failing checks, trend, usage findings), so
  ``governance audit query --model-id`` shows a model's nightly history. A report with no model
  in scope and no usage finding is stored (row and objects) without event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.store import nightly_reports
from governance.store.nightly_reports import OUTCOME_UNCHANGED
from governance.tasks._nightly import (
    ACTOR,
    all_present,
    fingerprint,
    json_bytes,
    opened_store,
    report_day,
    report_store,
)

if TYPE_CHECKING:
    from governance.reports.store import ReportStore
    from governance.store.repository import GovernanceStore, ModelRecord

log = logging.getLogger("governance.nightly")


def compliance_report_keys(day: date) -> tuple[str, str]:
    """(JSON key, HTML key) of the compliance report for ``day``."""
    return f"compliance/{day.isoformat()}/report.json", f"compliance/{day.isoformat()}/report.html"


def nightly_compliance_report(
    *,
    store: GovernanceStore,
    previous: Mapping[str, Any] | None = None,
    models: Sequence[ModelRecord] | None = None,
    workflow_steps: Mapping[str, Sequence[str]] | None = None,
    evidence_encrypted_at_rest: bool | None = None,
    include_dir: Path | None = None,
    day: date | None = None,
) -> tuple[dict[str, Any], str]:
    """``(snapshot JSON, HTML)`` of the nightly compliance report; see
    :func:`governance.compliance.snapshot.build_compliance_snapshot`, plus the usage section of
    ``day`` (default: today, UTC) for the same models and its findings counted in the summary.

    ``evidence_encrypted_at_rest`` defaults to the platform's declaration in configuration
    (:func:`governance.config.evidence_encrypted_at_rest`).
    """
    from governance.compliance.snapshot import build_compliance_snapshot
    from governance.compliance.usage import build_usage_section
    from governance.reports.compliance_html import render_compliance_html

    if evidence_encrypted_at_rest is None:
        from governance import config

        evidence_encrypted_at_rest = config.evidence_encrypted_at_rest()
    snapshot = build_compliance_snapshot(
        store=store,
        models=models,
        workflow_steps=workflow_steps,
        evidence_encrypted_at_rest=evidence_encrypted_at_rest,
        include_dir=include_dir,
        previous=previous,
    )
    usage = build_usage_section(
        store.engine, day=day or report_day(), model_ids=[m["model_id"] for m in snapshot["models"]]
    ).to_dict()
    snapshot["usage"] = usage
    snapshot["summary"]["usage_findings"] = len(usage["findings"])
    snapshot["summary"]["failed_checks"] += len(usage["findings"])
    return snapshot, render_compliance_html(snapshot)


def report_outcomes(snapshot: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Model id → outcome for the ``compliance_reports`` row and the audit events: each model's
    (:func:`governance.compliance.snapshot.model_outcomes`), with its usage findings' check names
    under ``usage_findings``; a model outside the report's scope with findings gets an entry
    ``{model, status, usage_findings}`` (``status``: its status now, ``model``: ``name:version``)."""
    from governance.compliance.snapshot import model_outcomes

    outcomes = model_outcomes(snapshot)
    for finding in (snapshot.get("usage") or {}).get("findings") or []:
        entry = outcomes.get(finding["model_id"])
        if entry is None:
            entry = outcomes[finding["model_id"]] = {
                "model": finding["model"],
                "status": finding["current_status"],
            }
        entry["usage_findings"] = sorted({*entry.get("usage_findings", []), finding["check"]})
    return outcomes


def _read_previous(reports: ReportStore, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(reports.get(key))
    except KeyError:
        return None
    except ValueError as exc:
        log.warning("previous compliance report %s is not JSON (%s): no trend shown", key, exc)
        return None
    return data if isinstance(data, dict) else None


def compliance_report(
    *,
    requested_date: str | date | None = None,
    logical_date: datetime | None = None,
    run_after: datetime | None = None,
    store: GovernanceStore | None = None,
    reports: ReportStore | None = None,
    include_dir: Path | None = None,
    workflow_steps: Mapping[str, list[str]] | None = None,
    evidence_encrypted_at_rest: bool | None = None,
    actor: str = ACTOR,
) -> dict[str, Any]:
    """The nightly compliance report over every DEPLOYED model for one day.

    Reads yesterday's JSON from the report store for the trend, writes
    ``compliance/<date>/report.{json,html}``, the ``compliance_reports`` row and one audit event
    per model whose outcome is new or changed (idempotent, see the module docstring).
    """
    day = report_day(requested=requested_date, logical_date=logical_date, run_after=run_after)
    reports = report_store(reports)
    json_key, html_key = compliance_report_keys(day)
    previous = _read_previous(reports, compliance_report_keys(day - timedelta(days=1))[0])
    with opened_store(store) as s:
        snapshot, html = nightly_compliance_report(
            store=s,
            previous=previous,
            workflow_steps=workflow_steps,
            evidence_encrypted_at_rest=evidence_encrypted_at_rest,
            include_dir=include_dir,
            day=day,
        )
        snapshot["report_date"] = day.isoformat()
        outcomes = report_outcomes(snapshot)
        trend = snapshot.get("trend") or {}
        outcome_fingerprint = fingerprint(
            {
                "outcomes": outcomes,
                "summary": snapshot["summary"],
                "audit_chain_ok": snapshot["audit_chain"]["ok"],
                "baseline": trend.get("baseline"),
                "removed": trend.get("removed"),
                "usage": snapshot["usage"],
            }
        )
        stored = nightly_reports.compliance_report_row(s, day=day)
        if (
            stored is not None
            and stored["fingerprint"] == outcome_fingerprint
            and all_present(reports, json_key, html_key)
        ):
            return _compliance_summary(day, stored, OUTCOME_UNCHANGED, events=0, totals=snapshot["summary"])
        json_uri = reports.put(json_key, json_bytes(snapshot), "application/json")
        html_uri = reports.put(html_key, html.encode(), "text/html")
        summary = snapshot["summary"]
        values = {
            "models": summary["models"],
            "passed": summary["passed"],
            "failed": summary["failed"],
            "failed_checks": summary["failed_checks"],
            "audit_chain_ok": bool(snapshot["audit_chain"]["ok"]),
            "outcomes": outcomes,
            "json_uri": json_uri,
            "html_uri": html_uri,
            "fingerprint": outcome_fingerprint,
        }
        row, outcome, events = nightly_reports.save_compliance_report(s, day=day, values=values, actor=actor)
    return _compliance_summary(day, row, outcome, events=events, totals=summary)


def _compliance_summary(
    day: date, row: Mapping[str, Any], outcome: str, *, events: int, totals: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "report_date": day.isoformat(),
        "models": int(row["models"]),
        "passed": int(row["passed"]),
        "failed": int(row["failed"]),
        "failed_checks": int(row["failed_checks"]),
        "usage_findings": int(totals.get("usage_findings", 0)),
        "audit_chain_ok": bool(row["audit_chain_ok"]),
        "report_json": row["json_uri"],
        "report_html": row["html_uri"],
        "outcome": outcome,
        "events": events,
    }
