"""governance.usage.retention: the daily purge of kept payloads and spent quota counters
(:func:`purge_expired`, run by the ``usage_retention`` DAG).

A data_retention policy with ``payload_retention_days: N`` keeps the PII-free inputs and outputs
of its models in ``usage_payloads`` with ``expires_at`` = stored + N days. The purge deletes every
row whose ``expires_at`` is at or before now, and the ``usage_quota`` counters of windows that
ended at least :data:`QUOTA_KEEP` (two days) ago (nothing reads a closed window's count again),
in one transaction together with ONE audit event :data:`EVENT_PAYLOADS_PURGED`. The event holds
counts, expiry times and the number of decisions concerned, never a payload's text or a decision
id. When nothing expired, nothing is written: a rerun purges nothing and appends no event.

The statements are SQLAlchemy Core on the tables of :mod:`governance.store.tables`, so the
times compare right on both databases (SQLite keeps naive UTC text, PostgreSQL ``timestamptz``).
``DELETE … RETURNING`` reports exactly the rows this transaction removed, so two purges running
at once never count a row twice (the second one finds nothing left and writes no event).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete

from governance._util import as_utc
from governance.audit.append import append_many_in
from governance.audit.chain import NewEvent
from governance.errors import GovernanceError
from governance.store.tables import usage_payloads, usage_quota

EVENT_PAYLOADS_PURGED = "usage.payloads_purged"
DEFAULT_ACTOR = "governance"
"""Actor of the purge event when the pipeline runs it (the tasks' ``SYSTEM_ACTOR``)."""

QUOTA_KEEP = timedelta(days=2)
"""A quota window's counter is deleted once the window ended at least this long ago."""

QUOTA_PERIODS: dict[str, tuple[timedelta, str]] = {
    "hour": (timedelta(hours=1), "%Y-%m-%dT%H"),
    "day": (timedelta(days=1), "%Y-%m-%d"),
}
"""Length and ``window_start`` format of each quota period (as
:func:`governance.usage.quotas.window` writes them: ``2026-12-02T10``, ``2026-12-02``)."""

ERR_NO_ACTOR = "an actor is required: the user or service purging (the pipeline uses {default!r})"


class RetentionError(GovernanceError):
    """The purge could not be made; nothing was deleted."""


def _ts(t: datetime | None) -> str | None:
    return as_utc(t).isoformat(timespec="microseconds").replace("+00:00", "Z") if t is not None else None


@dataclass(frozen=True, kw_only=True)
class PurgeResult:
    """What one purge deleted (all zero when nothing had expired)."""

    now: datetime
    payloads: dict[str, int] = field(default_factory=dict)
    """Deleted payload rows per kind (``input``, ``output``)."""
    decisions: int = 0
    """Number of distinct decisions whose payloads were deleted."""
    oldest_expiry: datetime | None = None
    newest_expiry: datetime | None = None
    quota_windows: dict[str, int] = field(default_factory=dict)
    """Deleted quota counter rows per period (``hour``, ``day``)."""
    quota_before: dict[str, str] = field(default_factory=dict)
    """Per period, the last ``window_start`` whose counters were deleted (inclusive)."""
    event_id: int | None = None
    """Id of the :data:`EVENT_PAYLOADS_PURGED` event, None when nothing was deleted."""

    @property
    def payloads_deleted(self) -> int:
        return sum(self.payloads.values())

    @property
    def quota_rows_deleted(self) -> int:
        return sum(self.quota_windows.values())

    @property
    def purged(self) -> bool:
        return self.payloads_deleted > 0 or self.quota_rows_deleted > 0

    def event_details(self) -> dict[str, Any]:
        """The details of the audit event: counts and times only."""
        return {
            "purged_at": _ts(self.now),
            "payloads": dict(sorted(self.payloads.items())),
            "payloads_deleted": self.payloads_deleted,
            "decisions": self.decisions,
            "oldest_expiry": _ts(self.oldest_expiry),
            "newest_expiry": _ts(self.newest_expiry),
            "quota_windows": dict(sorted(self.quota_windows.items())),
            "quota_windows_through": dict(sorted(self.quota_before.items())),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.event_details(), "event_id": self.event_id}

    def summary(self) -> str:
        if not self.purged:
            return f"nothing to purge at {_ts(self.now)}: no payload expired, no quota window to drop"
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.payloads.items())) or "none"
        return (
            f"purged {self.payloads_deleted} payloads ({kinds}) of {self.decisions} decisions, expired "
            f"{_ts(self.oldest_expiry)}..{_ts(self.newest_expiry)}, and {self.quota_rows_deleted} quota "
            f"counters; recorded as audit event {self.event_id}"
        )


def quota_cutoffs(now: datetime) -> dict[str, str]:
    """Per period, the last ``window_start`` of a window that ended at least :data:`QUOTA_KEEP`
    before ``now``: a window starting at S ends at S + length, and S is aligned, so
    S + length <= now - keep exactly when S <= floor(now - keep - length)."""
    edge = as_utc(now) - QUOTA_KEEP
    return {period: (edge - length).strftime(fmt) for period, (length, fmt) in QUOTA_PERIODS.items()}


def _db_time(t: datetime, conn: Connection) -> datetime:
    # SQLite keeps naive UTC text: bind a naive UTC time (SQLAlchemy's SQLite DateTime would
    # format an aware one's wall clock, whatever its zone); PostgreSQL compares timestamptz.
    return t.replace(tzinfo=None) if conn.dialect.name == "sqlite" else t


def purge_expired(engine: Engine, *, now: datetime | None = None, actor: str = DEFAULT_ACTOR) -> PurgeResult:
    """Delete the payloads expired at ``now`` (default: the current time) and the quota counters
    of windows that ended two days before it, with one audit event; see the module docstring."""
    if not actor or not actor.strip():
        raise RetentionError(ERR_NO_ACTOR.format(default=DEFAULT_ACTOR))
    now = as_utc(now) if now is not None else datetime.now(UTC)
    cutoffs = quota_cutoffs(now)
    p, q = usage_payloads.c, usage_quota.c
    with engine.begin() as conn:
        gone = conn.execute(
            delete(usage_payloads)
            .where(p.expires_at <= _db_time(now, conn))
            .returning(p.decision_id, p.kind, p.expires_at)
        )
        kinds: Counter[str] = Counter()
        decisions: set[str] = set()
        oldest: datetime | None = None
        newest: datetime | None = None
        for decision_id, kind, expires_at in gone:
            kinds[str(kind)] += 1
            decisions.add(str(decision_id))
            expiry = as_utc(expires_at)
            oldest = expiry if oldest is None or expiry < oldest else oldest
            newest = expiry if newest is None or expiry > newest else newest
        windows: dict[str, int] = {}
        for period, last_start in cutoffs.items():
            deleted = conn.execute(
                delete(usage_quota).where(and_(q.period == period, q.window_start <= last_start))
            ).rowcount
            if deleted:
                windows[period] = int(deleted)
        result = PurgeResult(
            now=now,
            payloads=dict(kinds),
            decisions=len(decisions),
            oldest_expiry=oldest,
            newest_expiry=newest,
            quota_windows=windows,
            quota_before=cutoffs,
        )
        if not result.purged:
            return result  # nothing deleted: the transaction commits nothing, no event
        (event,) = append_many_in(
            conn, [NewEvent(event_type=EVENT_PAYLOADS_PURGED, actor=actor, details=result.event_details())]
        )
    return replace(result, event_id=event.id)
