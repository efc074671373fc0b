"""What the ``audit_archive`` DAG's tasks do: ``governance.tasks.audit_archive.<task>`` (``archive``,
``validate``), Airflow-free.

A DAG run's data interval says which day it is about. With ``schedule="@daily"`` Airflow 3
uses ``CronTriggerTimetable`` by default, whose interval is a single point (start == end ==
midnight that starts the *next* day); with ``CronDataIntervalTimetable`` it spans the day. Both
mean: archive every closed day before the day of ``data_interval_end``, and validate the
day(s) from the interval's start (or the day before its end) to the last closed day. A manual
run without an interval archives and validates up to the start of the current UTC day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from governance._util import as_utc
from governance.archive import AuditArchive, closed_until, parse_day
from governance.errors import GovernanceError
from governance.s3 import AIRFLOW_CONN_ID

log = logging.getLogger("governance.archive")

ERR_INVALID = "the audit archive of {first}..{last} does not validate: {summary}\n{problems}"


class ArchiveValidationError(GovernanceError):
    """The archive of a DAG run's days has problems (listed in the message)."""


@dataclass(frozen=True, kw_only=True)
class IntervalDays:
    until: date  # first day not archived (days before it are closed)
    first: date  # first day to validate
    last: date  # last day to validate


def interval_days(
    *, data_interval_start: datetime | None, data_interval_end: datetime | None, now: datetime | None = None
) -> IntervalDays:
    """The closed days a run with this data interval is about (see the module docstring)."""
    now = now or datetime.now(UTC)
    end = data_interval_end or now
    until = closed_until(end, today=now.astimezone(UTC).date())
    last = until - timedelta(days=1)
    first = last
    if data_interval_start is not None:
        first = min(as_utc(data_interval_start).date(), last)
    return IntervalDays(until=until, first=first, last=last)


@contextmanager
def _archive(airflow_conn_id: str | None) -> Iterator[AuditArchive]:
    """The configured archive; its database engine is disposed afterwards."""
    from governance.store import make_engine

    engine = make_engine()
    try:
        yield AuditArchive.from_config(engine=engine, airflow_conn_id=airflow_conn_id, progress=log.info)
    finally:
        engine.dispose()


def archive(
    *,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    airflow_conn_id: str | None = AIRFLOW_CONN_ID,
) -> dict[str, Any]:
    """Task ``archive``: archive every closed day up to the run's interval; recheck the run's own day(s)."""
    days = interval_days(data_interval_start=data_interval_start, data_interval_end=data_interval_end)
    with _archive(airflow_conn_id) as audit_archive:
        result = audit_archive.archive(until=days.until, recheck_from=days.first)
    log.info("%s", result.summary())
    out = result.to_dict()
    out.update(validate_from=days.first.isoformat(), validate_to=days.last.isoformat())
    return out


def validate(summary: Mapping[str, Any], *, airflow_conn_id: str | None = AIRFLOW_CONN_ID) -> dict[str, Any]:
    """Task ``validate``: validate the days :func:`archive` reported; raise on any problem."""
    first = parse_day(str(summary["validate_from"]), name="validate_from")
    last = parse_day(str(summary["validate_to"]), name="validate_to")
    with _archive(airflow_conn_id) as audit_archive:
        report = audit_archive.validate(from_day=first, to_day=last)
    for problem in report.problems:
        log.error("%s", problem.line())
    if not report.ok:
        raise ArchiveValidationError(
            ERR_INVALID.format(
                first=first,
                last=last,
                summary=report.summary(),
                problems="\n".join(p.line() for p in report.problems),
            )
        )
    log.info("%s", report.summary())
    return report.to_dict()
