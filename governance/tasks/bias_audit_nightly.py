"""What the ``bias_audit_nightly`` DAG's tasks call: one function per task, Airflow-free.

:func:`list_models` (task ``list_models``) lists every DEPLOYED model version whose card declares
a ``predictions_location`` and ``protected_attributes``; one mapped task per entry calls
:func:`audit_model` (task ``audit_model``), which audits the version's whole prediction log for
one day with :func:`governance.bias.audit` (the log's columns and where a card's location points:
:func:`governance.bias.predictions_source` and the ``*_COLUMN`` names of :mod:`governance.bias`).

* **Report keys** in the report store (:func:`governance.reports.s3_store.report_store_from_config`):
  ``bias/<name>/<version>/<date>/report.{json,html}`` (:func:`bias_report_keys`; the S3 store keeps
  them under ``s3://<bucket>/reports/``, the local one under ``<GOVERNANCE_DATA_DIR>/reports/``). A
  model is name *and* version: two deployed versions of one model get two reports.
* **Idempotent per model and date** (see :mod:`governance.tasks._nightly` for the report date and
  the fingerprint): the same outcome writes nothing; a different one (say, more predictions
  arrived since the morning) overwrites the two keys, updates the one row and writes one
  ``bias_audit.updated`` event. There is never a second row, object or event for one outcome.
* **Audit events**: ``bias_audit.recorded`` / ``bias_audit.updated`` per model and date, naming
  each flagged attribute with its groups, so ``governance audit query --model-id`` shows a
  model's nightly history.
* **Notification**: when an audit raises the screening flag for a new or changed outcome,
  ``notify(message)`` is called before the row is committed (at least once: a crash between
  the two repeats the notification on the retry, never loses it). The DAG wires it to an
  Airflow notifier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.bias import (
    LABEL_COLUMN,
    PREDICTION_COLUMN,
    attribute_summary,
    flag_text,
    flagged_attributes,
    optional_columns,
    predictions_source,
    report_outcome,
    why_not_auditable,
)
from governance.errors import GovernanceError
from governance.lifecycle import ModelStatus
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

MIN_GROUP_SIZE = 30
"""Groups with fewer predictions are listed as small, not compared."""

ERR_NOT_AUDITABLE = "{model} ({model_id}) cannot be bias-audited: {why}"
ERR_AUDIT_FAILED = "bias audit of {model} ({model_id}), predictions_location {location!r}: {problem}"
MSG_BIAS_FLAG = "bias audit of {model} ({model_id}) for {date}: screening flag raised for {flags}. Report: {html}"


def bias_report_keys(*, name: str, version: str, day: date) -> tuple[str, str]:
    """(JSON key, HTML key) of a model version's bias report for ``day``."""
    prefix = f"bias/{name}/{version}/{day.isoformat()}"
    return f"{prefix}/report.json", f"{prefix}/report.html"


def _label(model: ModelRecord) -> str:
    return f"{model.name} {model.version}"


def list_models(
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
    with opened_store(store) as s:
        for model in s.list_models(status=ModelStatus.DEPLOYED):
            why = why_not_auditable(model.card)
            if why is not None:
                log.info("%s", ERR_NOT_AUDITABLE.format(model=_label(model), model_id=model.id, why=why))
                continue
            entries.append(
                {"model_id": model.id, "name": model.name, "version": model.version, "report_date": day.isoformat()}
            )
    log.info("bias audit of %s: %d deployed model version(s) to audit", day, len(entries))
    return entries


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
    """Audit one model version's predictions for one day (an entry of :func:`list_models`).

    Writes the JSON and HTML reports, the ``bias_audits`` row and the audit event (idempotent,
    see the module docstring) and returns a summary: ``outcome`` is ``recorded``, ``updated``
    or ``unchanged``; ``flagged`` lists each flagged attribute with its groups.
    """
    from governance.bias import audit
    from governance.checks.base import SourceError
    from governance.reports.bias_html import render_bias_html

    day = report_day(requested=str(model["report_date"]))
    reports = report_store(reports)
    with opened_store(store) as s:
        record = s.get(str(model["model_id"]))
        label = _label(record)
        why = why_not_auditable(record.card)
        if why is not None:
            raise GovernanceError(ERR_NOT_AUDITABLE.format(model=label, model_id=record.id, why=why))
        location = str(record.card["predictions_location"])
        protected = [str(p) for p in record.card["protected_attributes"]]
        try:
            source = predictions_source(location, include_dir=include_dir)
            score, timestamp = optional_columns(source, protected)
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
        outcome_fingerprint = fingerprint(report_outcome(report))
        attributes = attribute_summary(report)
        flags = flagged_attributes(attributes)
        json_key, html_key = bias_report_keys(name=record.name, version=record.version, day=day)

        stored = nightly_reports.bias_audit_row(s, model_id=record.id, day=day)
        if (
            stored is not None
            and stored["fingerprint"] == outcome_fingerprint
            and all_present(reports, json_key, html_key)
        ):
            return _bias_summary(record, day, stored, OUTCOME_UNCHANGED)

        json_uri = reports.put(json_key, json_bytes(report), "application/json")
        html_uri = reports.put(
            html_key, render_bias_html(report, provenance=report["provenance"]).encode(), "text/html"
        )
        changed = stored is None or stored["fingerprint"] != outcome_fingerprint
        if changed and result.bias_detected and notify is not None:
            notify(
                MSG_BIAS_FLAG.format(model=label, model_id=record.id, date=day, flags=flag_text(flags), html=html_uri)
            )
        values = {
            "rows": result.rows,
            "bias_detected": result.bias_detected,
            "attributes": attributes,
            "json_uri": json_uri,
            "html_uri": html_uri,
            "fingerprint": outcome_fingerprint,
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


def _bias_summary(record: ModelRecord, day: date, row: Mapping[str, Any], outcome: str) -> dict[str, Any]:
    return {
        "model_id": record.id,
        "model": record.name,
        "version": record.version,
        "report_date": day.isoformat(),
        "rows": int(row["rows"]),
        "bias_detected": bool(row["bias_detected"]),
        "flagged": flagged_attributes(row["attributes"]),
        "report_json": row["json_uri"],
        "report_html": row["html_uri"],
        "outcome": outcome,
    }
