"""Nightly bias audits and compliance reports: what the two nightly DAGs' tasks call.

``bias_audit_nightly``: :func:`models_to_audit` lists every DEPLOYED model version whose card
declares a ``predictions_location`` and ``protected_attributes``; one mapped task per entry
calls :func:`audit_model`. ``compliance_report_nightly`` calls :func:`compliance_report`.
Both are plain functions: they run the same without Airflow.

Conventions
-----------
* **Prediction logs** are Parquet (one file or a folder of files, local or ``s3://``) at the
  card's ``predictions_location``, with the columns ``label`` (true outcome, 0/1),
  ``prediction`` (the model's decision, 0/1, 1 = favourable) and the card's protected
  attributes; optional ``score`` (adds each group's mean score) and ``timestamp`` (its min/max
  become the report's time window) are used when present. The whole location is audited.
* **Where a relative ``predictions_location`` points**: like every other URI of a card
  (``evaluation.dataset_uri``, ``artifact.uri``), it is relative to the include folder
  (``GOVERNANCE_INCLUDE_DIR``) and must stay inside it; ``s3://``, ``file://`` and absolute
  paths are used as they are.
* **The report date** is the UTC day of the run's logical date (the scheduled ``@daily`` run
  at midnight is that day's report), else of the moment a manual run was triggered
  (``run_after``), unless the run asks for a ``report_date`` (``YYYY-MM-DD``).
* **Report keys** in the report store (:func:`governance.reports.s3_store.report_store_from_config`):
  ``bias/<name>/<version>/<date>/report.{json,html}`` and ``compliance/<date>/report.{json,html}``
  (the S3 store keeps them under ``s3://<bucket>/reports/``, the local one under
  ``<GOVERNANCE_DATA_DIR>/reports/``). A model is name *and* version: two deployed versions of
  one model get two reports.
* **Idempotent per model and date** (bias) **and per date** (compliance): a rerun recomputes
  the result and compares its fingerprint (SHA-256 of the outcome, without timings and
  generation times) with the stored row. Same outcome and both report objects present:
  nothing is written. A different outcome (say, more predictions arrived since the morning)
  overwrites the same two keys, updates the one row, and writes one ``…updated`` audit event
  saying what it was before. There is never a second row, object or event for one outcome.
* **Audit events**: ``bias_audit.recorded`` / ``bias_audit.updated`` per model and date, naming
  each flagged attribute with its groups; ``compliance_report.recorded`` /
  ``compliance_report.updated`` per model in the report whose outcome is new or changed
  (passed, failing checks, trend), so ``governance audit query --model-id`` shows a model's
  nightly history. A report with no model in scope is stored (row and objects) without event.
* **Notification**: when an audit raises the screening flag for a new or changed outcome,
  ``notify(message)`` is called before the row is committed (at least once: a crash between
  the two repeats the notification on the retry, never loses it). The DAG wires it to an
  Airflow notifier.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.errors import GovernanceError
from governance.lifecycle import ModelStatus
from governance.store import nightly_reports
from governance.store.nightly_reports import (
    EVENT_BIAS_RECORDED,
    EVENT_BIAS_UPDATED,
    EVENT_COMPLIANCE_RECORDED,
    EVENT_COMPLIANCE_UPDATED,
    OUTCOME_RECORDED,
    OUTCOME_UNCHANGED,
    OUTCOME_UPDATED,
    list_bias_audits,
    list_compliance_reports,
)

if TYPE_CHECKING:
    from governance.reports.store import ReportStore
    from governance.store.repository import GovernanceStore, ModelRecord

log = logging.getLogger("governance.nightly")

ACTOR = "governance:nightly"
LABEL_COLUMN = "label"
PREDICTION_COLUMN = "prediction"
SCORE_COLUMN = "score"
TIMESTAMP_COLUMN = "timestamp"
MIN_GROUP_SIZE = 30

__all__ = [
    "ACTOR",
    "EVENT_BIAS_RECORDED",
    "EVENT_BIAS_UPDATED",
    "EVENT_COMPLIANCE_RECORDED",
    "EVENT_COMPLIANCE_UPDATED",
    "LABEL_COLUMN",
    "OUTCOME_RECORDED",
    "OUTCOME_UNCHANGED",
    "OUTCOME_UPDATED",
    "PREDICTION_COLUMN",
    "SCORE_COLUMN",
    "TIMESTAMP_COLUMN",
    "audit_model",
    "bias_report_keys",
    "compliance_report",
    "compliance_report_keys",
    "list_bias_audits",
    "list_compliance_reports",
    "models_to_audit",
    "predictions_source",
    "report_day",
]

ERR_BAD_DATE = "report_date={value!r} is not a date (expected YYYY-MM-DD, e.g. 2026-11-27)"
ERR_NOT_AUDITABLE = "{model} ({model_id}) cannot be bias-audited: {why}"
WHY_NO_LOCATION = "its card declares no predictions_location (where production predictions are kept)"
WHY_NO_PROTECTED = "its card declares no protected_attributes to group the predictions by"
ERR_AUDIT_FAILED = "bias audit of {model} ({model_id}), predictions_location {location!r}: {problem}"
MSG_BIAS_FLAG = "bias audit of {model} ({model_id}) for {date}: screening flag raised for {flags}. Report: {html}"


# --------------------------------------------------------------------------- shared


def report_day(
    *,
    requested: str | date | None = None,
    logical_date: datetime | None = None,
    run_after: datetime | None = None,
) -> date:
    """The day a run reports on: ``requested`` (YYYY-MM-DD), else the UTC day of the logical
    date, else of ``run_after``, else today (UTC)."""
    if isinstance(requested, date):
        return requested
    if requested is not None and str(requested).strip():
        try:
            return date.fromisoformat(str(requested).strip())
        except ValueError:
            raise GovernanceError(ERR_BAD_DATE.format(value=requested)) from None
    for moment in (logical_date, run_after):
        if moment is not None:
            aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return aware.astimezone(UTC).date()
    return datetime.now(UTC).date()


def bias_report_keys(*, name: str, version: str, day: date) -> tuple[str, str]:
    """(JSON key, HTML key) of a model version's bias report for ``day``."""
    prefix = f"bias/{name}/{version}/{day.isoformat()}"
    return f"{prefix}/report.json", f"{prefix}/report.html"


def compliance_report_keys(day: date) -> tuple[str, str]:
    """(JSON key, HTML key) of the compliance report for ``day``."""
    return f"compliance/{day.isoformat()}/report.json", f"compliance/{day.isoformat()}/report.html"


@contextmanager
def _opened(store: GovernanceStore | None) -> Iterator[GovernanceStore]:
    """The given store, or one on the configured database that is disposed afterwards."""
    if store is not None:
        yield store
        return
    from governance import config
    from governance.store.repository import GovernanceStore

    opened = GovernanceStore.from_url(config.db_url())
    try:
        yield opened
    finally:
        opened.engine.dispose()


def _reports(reports: ReportStore | None) -> ReportStore:
    if reports is not None:
        return reports
    from governance.reports.s3_store import report_store_from_config

    return report_store_from_config()


def _fingerprint(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def _label(model: ModelRecord) -> str:
    return f"{model.name} {model.version}"


# --------------------------------------------------------------------------- bias audits


def _not_auditable(card: Mapping[str, Any]) -> str | None:
    if not card.get("predictions_location"):
        return WHY_NO_LOCATION
    if not card.get("protected_attributes"):
        return WHY_NO_PROTECTED
    return None


def models_to_audit(
    *,
    requested_date: str | date | None = None,
    logical_date: datetime | None = None,
    run_after: datetime | None = None,
    store: GovernanceStore | None = None,
) -> list[dict[str, str]]:
    """One entry per DEPLOYED model version the nightly bias audit covers (the mapped tasks' input).

    Deployed versions without ``predictions_location`` or ``protected_attributes`` are skipped
    (and logged): there is nothing to audit.
    """
    day = report_day(requested=requested_date, logical_date=logical_date, run_after=run_after)
    entries = []
    with _opened(store) as s:
        for model in s.list_models(status=ModelStatus.DEPLOYED):
            why = _not_auditable(model.card)
            if why is not None:
                log.info("%s", ERR_NOT_AUDITABLE.format(model=_label(model), model_id=model.id, why=why))
                continue
            entries.append(
                {"model_id": model.id, "name": model.name, "version": model.version, "report_date": day.isoformat()}
            )
    log.info("bias audit of %s: %d deployed model version(s) to audit", day, len(entries))
    return entries


def predictions_source(location: str, *, include_dir: Path | None = None) -> str:
    """The path or ``s3://`` URI to read for a card's ``predictions_location`` (see the module docstring)."""
    from governance.checks.base import resolve_uri

    source = resolve_uri(location, field="card.predictions_location", include_dir=include_dir)
    if source.is_s3:
        return location
    assert source.path is not None
    return str(source.path)


def _optional_columns(source: str, protected: list[str]) -> tuple[str | None, str | None]:
    """(score column, timestamp column) when the predictions have them."""
    from governance.bias._source import open_source

    names = set(open_source(source, dictionary_columns=protected).schema.names)
    return (SCORE_COLUMN if SCORE_COLUMN in names else None, TIMESTAMP_COLUMN if TIMESTAMP_COLUMN in names else None)


def _attribute_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "bias_detected",
        "disparate_impact",
        "demographic_parity_difference",
        "equalized_odds_difference",
        "reference_group",
        "flagged_groups",
        "small_groups",
    )
    return {name: {k: attr.get(k) for k in keys} for name, attr in (report.get("attributes") or {}).items()}


def _flags(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "attribute": name,
            "groups": list(a.get("flagged_groups") or []),
            "reference_group": a.get("reference_group"),
            "disparate_impact": a.get("disparate_impact"),
        }
        for name, a in attributes.items()
        if a.get("bias_detected") is True
    ]


def _flag_text(flags: list[dict[str, Any]]) -> str:
    parts = []
    for f in flags:
        di = f["disparate_impact"]
        groups = ", ".join(f["groups"]) or "no single group (the overall ratio)"
        ratio = f"{di:.2f}" if isinstance(di, int | float) else "n/a"
        parts.append(
            f"{f['attribute']} (groups {groups}; disparate impact {ratio}, reference group {f['reference_group']})"
        )
    return "; ".join(parts)


def _bias_fingerprint(report: Mapping[str, Any]) -> str:
    stable = {k: v for k, v in report.items() if k != "timings"}
    stable["provenance"] = {k: v for k, v in (report.get("provenance") or {}).items() if k != "generated_at"}
    return _fingerprint(stable)


def audit_model(
    *,
    model: Mapping[str, Any],
    store: GovernanceStore | None = None,
    reports: ReportStore | None = None,
    include_dir: Path | None = None,
    notify: Callable[[str], None] | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    actor: str = ACTOR,
) -> dict[str, Any]:
    """Audit one model version's predictions for one day (an entry of :func:`models_to_audit`).

    Writes the JSON and HTML reports, the ``bias_audits`` row and the audit event (idempotent,
    see the module docstring) and returns a summary: ``outcome`` is ``recorded``, ``updated``
    or ``unchanged``; ``flagged`` lists each flagged attribute with its groups.
    """
    from governance.bias import audit
    from governance.checks.base import SourceError
    from governance.reports.bias_html import render_bias_html

    day = report_day(requested=str(model["report_date"]))
    reports = _reports(reports)
    with _opened(store) as s:
        record = s.get(str(model["model_id"]))
        label = _label(record)
        why = _not_auditable(record.card)
        if why is not None:
            raise GovernanceError(ERR_NOT_AUDITABLE.format(model=label, model_id=record.id, why=why))
        location = str(record.card["predictions_location"])
        protected = [str(p) for p in record.card["protected_attributes"]]
        try:
            source = predictions_source(location, include_dir=include_dir)
            score, timestamp = _optional_columns(source, protected)
            result = audit(
                source,
                label=LABEL_COLUMN,
                prediction=PREDICTION_COLUMN,
                protected=protected,
                score=score,
                timestamp=timestamp,
                min_group_size=min_group_size,
            )
        except (SourceError, ValueError) as exc:  # AuditInputError is a ValueError
            raise GovernanceError(
                ERR_AUDIT_FAILED.format(model=label, model_id=record.id, location=location, problem=exc)
            ) from exc
        report = result.to_dict()
        report["provenance"].update(
            model_id=record.id,
            model_name=record.name,
            model_version=record.version,
            report_date=day.isoformat(),
            predictions_location=location,
        )
        fingerprint = _bias_fingerprint(report)
        attributes = _attribute_summary(report)
        flags = _flags(attributes)
        json_key, html_key = bias_report_keys(name=record.name, version=record.version, day=day)

        stored = nightly_reports.bias_audit_row(s, model_id=record.id, day=day)
        if stored is not None and stored["fingerprint"] == fingerprint and _present(reports, json_key, html_key):
            return _bias_summary(record, day, stored, OUTCOME_UNCHANGED)

        json_uri = reports.put(json_key, _json_bytes(report), "application/json")
        html_uri = reports.put(
            html_key, render_bias_html(report, provenance=report["provenance"]).encode(), "text/html"
        )
        changed = stored is None or stored["fingerprint"] != fingerprint
        if changed and result.bias_detected and notify is not None:
            notify(
                MSG_BIAS_FLAG.format(model=label, model_id=record.id, date=day, flags=_flag_text(flags), html=html_uri)
            )
        values = {
            "rows": result.rows,
            "bias_detected": result.bias_detected,
            "attributes": attributes,
            "json_uri": json_uri,
            "html_uri": html_uri,
            "fingerprint": fingerprint,
        }
        details = {
            "report_date": day.isoformat(),
            "model": label,
            "rows": result.rows,
            "bias_detected": result.bias_detected,
            "flagged": flags,
            "not_assessed": [n for n, a in attributes.items() if a["bias_detected"] is None],
            "predictions_location": location,
            "report_json": json_uri,
            "report_html": html_uri,
        }
        row, outcome = nightly_reports.save_bias_audit(
            s, model_id=record.id, day=day, values=values, details=details, actor=actor
        )
    return _bias_summary(record, day, row, outcome)


def _present(reports: ReportStore, *keys: str) -> bool:
    return all(reports.exists(k) for k in keys)


def _bias_summary(record: ModelRecord, day: date, row: Mapping[str, Any], outcome: str) -> dict[str, Any]:
    return {
        "model_id": record.id,
        "model": record.name,
        "version": record.version,
        "report_date": day.isoformat(),
        "rows": int(row["rows"]),
        "bias_detected": bool(row["bias_detected"]),
        "flagged": _flags(row["attributes"]),
        "report_json": row["json_uri"],
        "report_html": row["html_uri"],
        "outcome": outcome,
    }


# --------------------------------------------------------------------------- compliance report


def _read_previous(reports: ReportStore, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(reports.get(key))
    except KeyError:
        return None
    except ValueError as exc:
        log.warning("previous compliance report %s is not JSON (%s): no trend shown", key, exc)
        return None
    return data if isinstance(data, dict) else None


def _failing(model: Mapping[str, Any]) -> list[str]:
    ids = [
        f"{req}/{check['id']}"
        for req, body in (model.get("requirements") or {}).items()
        for check in body.get("checks") or []
        if not check.get("passed")
    ]
    return sorted(ids + [f"blocker/{b}" for b in model.get("blockers") or []])


def _outcomes(snapshot: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    trends = (snapshot.get("trend") or {}).get("models") or {}
    return {
        m["model_id"]: {
            "model": m["model"],
            "passed": bool(m["passed"]),
            "failing": _failing(m),
            "trend": (trends.get(m["model_id"]) or {}).get("trend"),
        }
        for m in snapshot.get("models") or []
    }


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
    from governance.reports.compliance_html import nightly_compliance_report

    day = report_day(requested=requested_date, logical_date=logical_date, run_after=run_after)
    reports = _reports(reports)
    json_key, html_key = compliance_report_keys(day)
    previous = _read_previous(reports, compliance_report_keys(day - timedelta(days=1))[0])
    with _opened(store) as s:
        snapshot, html = nightly_compliance_report(
            store=s,
            previous=previous,
            workflow_steps=workflow_steps,
            evidence_encrypted_at_rest=evidence_encrypted_at_rest,
            include_dir=include_dir,
        )
        snapshot["report_date"] = day.isoformat()
        outcomes = _outcomes(snapshot)
        trend = snapshot.get("trend") or {}
        fingerprint = _fingerprint(
            {
                "outcomes": outcomes,
                "summary": snapshot["summary"],
                "audit_chain_ok": snapshot["audit_chain"]["ok"],
                "baseline": trend.get("baseline"),
                "removed": trend.get("removed"),
            }
        )
        stored = nightly_reports.compliance_report_row(s, day=day)
        if stored is not None and stored["fingerprint"] == fingerprint and _present(reports, json_key, html_key):
            return _compliance_summary(day, stored, OUTCOME_UNCHANGED, events=0)
        json_uri = reports.put(json_key, _json_bytes(snapshot), "application/json")
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
            "fingerprint": fingerprint,
        }
        row, outcome, events = nightly_reports.save_compliance_report(s, day=day, values=values, actor=actor)
    return _compliance_summary(day, row, outcome, events=events)


def _compliance_summary(day: date, row: Mapping[str, Any], outcome: str, *, events: int) -> dict[str, Any]:
    return {
        "report_date": day.isoformat(),
        "models": int(row["models"]),
        "passed": int(row["passed"]),
        "failed": int(row["failed"]),
        "failed_checks": int(row["failed_checks"]),
        "audit_chain_ok": bool(row["audit_chain_ok"]),
        "report_json": row["json_uri"],
        "report_html": row["html_uri"],
        "outcome": outcome,
        "events": events,
    }
