"""What the task modules of the two nightly DAGs (:mod:`.bias_audit_nightly`,
:mod:`.compliance_report_nightly`) share: which UTC day a run reports on, the store and report store
a task uses, and how a rerun recognises an outcome it has already written.

* **The report date** is the UTC day of the run's logical date (the scheduled ``@daily`` run
  at midnight is that day's report), else of the moment a manual run was triggered
  (``run_after``), unless the run asks for a ``report_date`` (``YYYY-MM-DD``).
* **Idempotent**: a rerun recomputes the result and compares its :func:`fingerprint` (SHA-256 of
  the outcome, without timings and generation times) with the stored row
  (:mod:`governance.store.nightly_reports`). Same outcome and both report objects present:
  nothing is written. A different outcome overwrites the same two keys, updates the one row,
  and writes ``…updated`` audit events saying what it was before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from governance._util import as_utc
from governance.errors import GovernanceError

if TYPE_CHECKING:
    from governance.reports.store import ReportStore
    from governance.store.repository import GovernanceStore

ACTOR = "governance:nightly"
"""Actor of the nightly reports' rows and audit events."""

ERR_BAD_DATE = "report_date={value!r} is not a date (expected YYYY-MM-DD, e.g. 2026-11-27)"


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
            return as_utc(moment).date()
    return datetime.now(UTC).date()


@contextmanager
def opened_store(store: GovernanceStore | None) -> Iterator[GovernanceStore]:
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


def report_store(reports: ReportStore | None) -> ReportStore:
    """The given report store, or the configured one (S3 or local)."""
    if reports is not None:
        return reports
    from governance.reports.s3_store import report_store_from_config

    return report_store_from_config()


def fingerprint(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON (the ``fingerprint`` of a nightly report row)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def json_bytes(value: Any) -> bytes:
    """A report's JSON object, indented, as stored."""
    return (json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def all_present(reports: ReportStore, *keys: str) -> bool:
    """Whether every one of ``keys`` is in the report store."""
    return all(reports.exists(k) for k in keys)
