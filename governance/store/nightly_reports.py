"""Rows of the nightly reports: ``bias_audits`` (one per model version and day) and
``compliance_reports`` (one per day), each written with its audit events in one transaction.

A save is an upsert keyed by (model, day) or by day, decided under the audit chain lock (which
serialises every writer on SQLite and PostgreSQL): a new key inserts and writes ``…recorded``
events, a different ``fingerprint`` updates and writes ``…updated`` events (saying what the
outcome was before), the same fingerprint writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update

from governance.audit import NewEvent, lock_head, utc_now
from governance.store.repository import GovernanceStore
from governance.store.tables import bias_audits, compliance_reports

EVENT_BIAS_RECORDED = "bias_audit.recorded"
EVENT_BIAS_UPDATED = "bias_audit.updated"
EVENT_COMPLIANCE_RECORDED = "compliance_report.recorded"
EVENT_COMPLIANCE_UPDATED = "compliance_report.updated"

OUTCOME_RECORDED = "recorded"
OUTCOME_UPDATED = "updated"
OUTCOME_UNCHANGED = "unchanged"


def _first(store: GovernanceStore, stmt: Select[Any], conn: Connection | None) -> dict[str, Any] | None:
    if conn is None:
        with store.engine.connect() as c:
            row = c.execute(stmt).mappings().first()
    else:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


# --------------------------------------------------------------------------- bias_audits


def bias_audit_row(
    store: GovernanceStore, *, model_id: str, day: date, conn: Connection | None = None
) -> dict[str, Any] | None:
    """The stored bias audit of ``model_id`` for ``day``, if any."""
    stmt = select(bias_audits).where(bias_audits.c.model_id == model_id, bias_audits.c.report_date == day)
    return _first(store, stmt, conn)


def save_bias_audit(
    store: GovernanceStore,
    *,
    model_id: str,
    day: date,
    values: Mapping[str, Any],
    details: Mapping[str, Any],
    actor: str,
) -> tuple[dict[str, Any], str]:
    """Insert or update the (model, day) row and append its event; returns (row, outcome).

    ``values`` are the row's columns (with ``fingerprint``); ``details`` the event's details.
    """
    with store.engine.begin() as conn:
        lock_head(conn)  # serialises writers: the check below cannot race
        stored = bias_audit_row(store, model_id=model_id, day=day, conn=conn)
        if stored is not None and stored["fingerprint"] == values["fingerprint"]:
            return stored, OUTCOME_UNCHANGED
        now = utc_now()
        if stored is None:
            conn.execute(
                insert(bias_audits).values(model_id=model_id, report_date=day, created_at=now, updated_at=now, **values)
            )
            event, outcome = EVENT_BIAS_RECORDED, OUTCOME_RECORDED
        else:
            conn.execute(update(bias_audits).where(bias_audits.c.id == stored["id"]).values(updated_at=now, **values))
            details = {**details, "previous": {"rows": stored["rows"], "bias_detected": stored["bias_detected"]}}
            event, outcome = EVENT_BIAS_UPDATED, OUTCOME_UPDATED
        store.audit.append_in(conn, event_type=event, actor=actor, model_id=model_id, details=details)
        row = bias_audit_row(store, model_id=model_id, day=day, conn=conn)
    assert row is not None
    return row, outcome


def list_bias_audits(
    *, store: GovernanceStore, model_id: str | None = None, report_date: date | None = None
) -> list[dict[str, Any]]:
    """Stored bias audit summaries (rows of ``bias_audits``), oldest day first."""
    stmt = select(bias_audits).order_by(bias_audits.c.report_date, bias_audits.c.id)
    if model_id is not None:
        stmt = stmt.where(bias_audits.c.model_id == model_id)
    if report_date is not None:
        stmt = stmt.where(bias_audits.c.report_date == report_date)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


# --------------------------------------------------------------------------- compliance_reports


def compliance_report_row(
    store: GovernanceStore, *, day: date, conn: Connection | None = None
) -> dict[str, Any] | None:
    """The stored compliance report summary of ``day``, if any."""
    return _first(store, select(compliance_reports).where(compliance_reports.c.report_date == day), conn)


def save_compliance_report(
    store: GovernanceStore, *, day: date, values: Mapping[str, Any], actor: str
) -> tuple[dict[str, Any], str, int]:
    """Insert or update the day's row; one event per model whose outcome is new or changed.

    ``values["outcomes"]`` maps model id → that model's outcome (compared as a whole with the
    stored one). Returns (row, outcome, number of events written).
    """
    with store.engine.begin() as conn:
        lock_head(conn)
        stored = compliance_report_row(store, day=day, conn=conn)
        if stored is not None and stored["fingerprint"] == values["fingerprint"]:
            return stored, OUTCOME_UNCHANGED, 0
        before: Mapping[str, Any] = (stored or {}).get("outcomes") or {}
        events = []
        for model_id, outcome_now in values["outcomes"].items():
            then = before.get(model_id)
            if then == outcome_now:
                continue
            details: dict[str, Any] = {
                "report_date": day.isoformat(),
                **outcome_now,
                "report_json": values["json_uri"],
                "report_html": values["html_uri"],
            }
            if then is not None:
                details["previous"] = then
            event = EVENT_COMPLIANCE_RECORDED if then is None else EVENT_COMPLIANCE_UPDATED
            events.append(NewEvent(event_type=event, actor=actor, model_id=model_id, details=details))
        now = utc_now()
        if stored is None:
            conn.execute(insert(compliance_reports).values(report_date=day, created_at=now, updated_at=now, **values))
            outcome = OUTCOME_RECORDED
        else:
            conn.execute(
                update(compliance_reports)
                .where(compliance_reports.c.id == stored["id"])
                .values(updated_at=now, **values)
            )
            outcome = OUTCOME_UPDATED
        store.audit.append_many_in(conn, events)
        row = compliance_report_row(store, day=day, conn=conn)
    assert row is not None
    return row, outcome, len(events)


def list_compliance_reports(*, store: GovernanceStore, report_date: date | None = None) -> list[dict[str, Any]]:
    """Stored compliance report summaries (rows of ``compliance_reports``), oldest day first."""
    stmt = select(compliance_reports).order_by(compliance_reports.c.report_date)
    if report_date is not None:
        stmt = stmt.where(compliance_reports.c.report_date == report_date)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]
