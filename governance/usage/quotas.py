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

_COLS = "policy_id, model_id, end_user, period, window_start"
_KEY = "(policy_id = {p} AND period = {p} AND window_start = {p})"


def _sql_admit(n: int) -> str:
    """One upsert for ``n`` windows: each row increments only below its own limit (the CASE
    picks the row's limit by policy and period); the rows that come back were admitted."""
    values = ", ".join(["({p}, {p}, {p}, {p}, {p}, 1)"] * n)
    case = " ".join(["WHEN usage_quota.policy_id = {p} AND usage_quota.period = {p} THEN {p}"] * n)
    return (
        f"INSERT INTO usage_quota ({_COLS}, count) VALUES {values} "
        f"ON CONFLICT ({_COLS}) DO UPDATE SET count = usage_quota.count + 1 "
        f"WHERE usage_quota.count < CASE {case} END RETURNING policy_id, period, count"
    )


def _sql_where(n: int) -> str:
    return "model_id = {p} AND end_user = {p} AND (" + " OR ".join([_KEY] * n) + ")"


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

    Runs on a DBAPI cursor inside the caller's transaction: one upsert over every window of
    every policy (and, when a window was full, one update taking the others back). Returns
    whether the request was admitted, the violation when it was not, and per period the
    tightest window left.
    """
    slots = [(p, period, limit, window(period, now)) for p in policies for period, limit in p.config.limits()]
    if not slots:
        return QuotaOutcome(admitted=True, violation=None, windows={})
    keys = [v for p, period, _, w in slots for v in (p.id, period, w.start)]
    violation: Violation | None = None
    if consume:
        rows = [v for p, period, _, w in slots for v in (p.id, model_id, user, period, w.start)]
        limits = [v for p, period, limit, _ in slots for v in (p.id, period, limit)]
        cur.execute(dbapi_sql(_sql_admit(len(slots)), dialect), (*rows, *limits))
        used = {(str(r[0]), str(r[1])): int(r[2]) for r in cur.fetchall()}
        full = [(p, period, limit, w) for p, period, limit, w in slots if (p.id, period) not in used]
        if full:
            p, period, limit, w = full[0]
            violation = Violation(
                policy_id=p.id,
                policy_name=p.name,
                type=p.type,
                severity=p.severity,
                reason=REASON_QUOTA.format(period=period, limit=limit, resets_at=w.resets_at),
            )
            taken = [(p, period, w) for p, period, _, w in slots if (p.id, period) in used]
            if taken:  # a refused request consumes nothing
                back = [v for p, period, w in taken for v in (p.id, period, w.start)]
                cur.execute(
                    dbapi_sql("UPDATE usage_quota SET count = count - 1 WHERE " + _sql_where(len(taken)), dialect),
                    (model_id, user, *back),
                )
                used = {k: n - 1 for k, n in used.items()}
            for p, period, limit, _ in full:
                used[(p.id, period)] = limit
    else:
        cur.execute(
            dbapi_sql("SELECT policy_id, period, count FROM usage_quota WHERE " + _sql_where(len(slots)), dialect),
            (model_id, user, *keys),
        )
        used = {(str(r[0]), str(r[1])): int(r[2]) for r in cur.fetchall()}
    windows: dict[str, QuotaWindow] = {}
    for p, period, limit, w in slots:
        left = QuotaWindow(limit=limit, remaining=max(limit - used.get((p.id, period), 0), 0), resets_at=w.resets_at)
        if period not in windows or left.remaining < windows[period].remaining:
            windows[period] = left
    return QuotaOutcome(admitted=violation is None, violation=violation, windows=windows)
