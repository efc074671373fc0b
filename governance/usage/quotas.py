"""governance.usage.quotas: exact request quotas, counted and decided in one database statement.

A quota is a count per (policy, model, end user, UTC window). Admitting a request is one upsert
that increments the window's row only while it is below the limit and returns the new count
(``INSERT … ON CONFLICT DO UPDATE SET count = count + 1 WHERE count < limit RETURNING count``,
the same statement on SQLite and PostgreSQL): no row back means the quota is used up. There is
no read-then-write, so concurrent requests from any number of processes cannot overshoot, and
the counts survive restarts because they are the database's. A request that passes several
windows (hour, then day) takes them in order; when a later one is full, the earlier increments
are taken back in the same transaction, so a refused request consumes nothing.

Windows are fixed and UTC-aligned (hour ``2026-12-02T10``, day ``2026-12-02``): a user can spend
a full hour's quota at 10:59 and another at 11:00, up to twice the hourly limit within minutes
(the window-edge burst of fixed windows; the daily limit still holds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from governance.store.engine import dbapi_sql
from governance.usage.policies import UsageQuotaPolicy
from governance.usage.results import QuotaWindow, Violation

REASON_QUOTA = "the {period}ly quota of {limit} requests for this user and model is used up; it resets at {resets_at}"

_SQL_ADMIT = (
    "INSERT INTO usage_quota (policy_id, model_id, end_user, period, window_start, count) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, 1) "
    "ON CONFLICT (policy_id, model_id, end_user, period, window_start) "
    "DO UPDATE SET count = usage_quota.count + 1 WHERE usage_quota.count < {p} RETURNING count"
)
_SQL_TAKE_BACK = (
    "UPDATE usage_quota SET count = count - 1 "
    "WHERE policy_id = {p} AND model_id = {p} AND end_user = {p} AND period = {p} AND window_start = {p}"
)
_SQL_COUNT = (
    "SELECT count FROM usage_quota "
    "WHERE policy_id = {p} AND model_id = {p} AND end_user = {p} AND period = {p} AND window_start = {p}"
)


@dataclass(frozen=True)
class Window:
    period: str
    start: str
    resets_at: str


def window(period: str, now: datetime) -> Window:
    """The UTC window of ``now`` for ``hour`` or ``day``."""
    day = f"{now.year:04d}-{now.month:02d}-{now.day:02d}"
    if period == "hour":
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return Window(period, f"{day}T{now.hour:02d}", _iso(end))
    end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return Window(period, day, _iso(end))


def _iso(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:00:00Z"


@dataclass
class QuotaOutcome:
    admitted: bool
    violation: Violation | None
    windows: dict[str, QuotaWindow]


def admit(
    cur: Any, dialect: str, *, policies: list[UsageQuotaPolicy], model_id: str, user: str, now: datetime, consume: bool
) -> QuotaOutcome:
    """Count this request against every quota policy (``consume``), or only read the counts.

    Runs on a DBAPI cursor inside the caller's transaction. Returns whether the request was
    admitted, the violation when it was not, and per period the tightest window left.
    """
    taken: list[tuple[Any, ...]] = []
    counts: list[tuple[str, int, int, str, bool]] = []  # period, limit, used, resets_at, taken by us
    violation: Violation | None = None
    for p in policies:
        for period, limit in p.config.limits():
            w = window(period, now)
            key = (p.id, model_id, user, period, w.start)
            if consume and violation is None:
                cur.execute(dbapi_sql(_SQL_ADMIT, dialect), (*key, limit))
                row = cur.fetchone()
                if row is None:
                    violation = Violation(
                        policy_id=p.id,
                        policy_name=p.name,
                        type=p.type,
                        severity=p.severity,
                        reason=REASON_QUOTA.format(period=period, limit=limit, resets_at=w.resets_at),
                    )
                    counts.append((period, limit, limit, w.resets_at, False))
                else:
                    taken.append(key)
                    counts.append((period, limit, int(row[0]), w.resets_at, True))
            else:
                cur.execute(dbapi_sql(_SQL_COUNT, dialect), key)
                row = cur.fetchone()
                counts.append((period, limit, int(row[0]) if row else 0, w.resets_at, False))
    if violation is not None:
        for key in taken:  # a refused request consumes nothing
            cur.execute(dbapi_sql(_SQL_TAKE_BACK, dialect), key)
    windows: dict[str, QuotaWindow] = {}
    for period, limit, used, resets_at, ours in counts:
        if ours and violation is not None:
            used -= 1
        left = QuotaWindow(limit=limit, remaining=max(limit - used, 0), resets_at=resets_at)
        if period not in windows or left.remaining < windows[period].remaining:
            windows[period] = left
    return QuotaOutcome(admitted=violation is None, violation=violation, windows=windows)
