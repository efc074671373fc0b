"""governance.archive.purge: the archive's purge step, deleting old audit events from the
database once their days are archived and the archive validates (:func:`purge_archived`).

Events older than N days may leave the database only when every day they belong to has a
digest in S3 and the archive of those days validates right now, against S3 *and* against the
database (:mod:`governance.archive.validate`), and the database chain itself verifies. The
purge is one transaction: delete the events up to the end of the last purged day, move
``audit_head.base_id`` / ``base_hash`` to that event (so ``governance audit verify`` starts
there), and append an ``audit.purged`` event saying what went and where it is archived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from governance.archive.layout import ChainPoint, digest_key, sha256_hex, utc_today
from governance.errors import GovernanceError

if TYPE_CHECKING:
    from governance.archive.archiver import AuditArchive

EVENT_PURGED = "audit.purged"
MAX_LISTED_PROBLEMS = 20

ERR_BAD_DAYS = "--older-than-days must be at least 1 (only closed, archived days can be purged), got {days}"
ERR_NOT_ARCHIVED = (
    "cannot purge events before {cutoff}: {day} is not archived (no digest {key} in bucket {bucket!r} at "
    "{endpoint}); run `governance audit archive` first"
)
ERR_INVALID_ARCHIVE = (
    "cannot purge events before {cutoff}: the archive of {first}..{last} does not validate "
    "({count} problem(s)):\n{problems}\nrun `governance audit validate-archive` and fix the archive first"
)
ERR_DB_CHAIN = "cannot purge: the database's audit chain does not verify ({summary}); run `governance audit verify`"
ERR_DB_DIFFERS = (
    "cannot purge: event {id} has hash {db} in the database but {archive} in digest {key}; "
    "the database and the archive disagree"
)
ERR_NO_ACTOR = "an actor (the user purging) is required"
ERR_MOVED = "cannot purge: the audit chain's base moved during the purge (a concurrent purge?); run it again"


class PurgeRefusedError(GovernanceError):
    """The purge would lose events that are not safely archived; nothing was deleted."""


@dataclass(frozen=True, kw_only=True)
class PurgeResult:
    cutoff: date
    through_day: date | None
    deleted: int
    base: ChainPoint
    event_id: int | None
    dry_run: bool

    def summary(self) -> str:
        if self.through_day is None:
            return f"nothing to purge: the database holds no events from before {self.cutoff}"
        verb = "would purge" if self.dry_run else "purged"
        tail = f"; recorded as audit event {self.event_id}" if self.event_id is not None else ""
        return (
            f"{verb} {self.deleted} events up to the end of {self.through_day} (through event {self.base.id}); "
            f"the database's chain now starts after event {self.base.id}{tail}"
        )


def purge_archived(
    archive: AuditArchive,
    *,
    older_than_days: int,
    actor: str,
    today: date | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete events of the days before ``today - older_than_days`` (UTC) from the database."""
    from sqlalchemy import delete, select, update

    from governance.audit import AuditTrail
    from governance.store.engine import read_connection
    from governance.store.tables import audit_events, audit_head

    if older_than_days < 1:
        raise PurgeRefusedError(ERR_BAD_DAYS.format(days=older_than_days))
    if not actor:
        raise PurgeRefusedError(ERR_NO_ACTOR)
    engine = archive.engine
    cutoff = (today or utc_today()) - timedelta(days=older_than_days)
    last_day = cutoff - timedelta(days=1)
    trail = AuditTrail(engine)
    head = trail.head()
    base = ChainPoint(id=int(head["base_id"]), hash=str(head["base_hash"]))
    nothing = PurgeResult(cutoff=cutoff, through_day=None, deleted=0, base=base, event_id=None, dry_run=dry_run)
    with read_connection(engine) as conn:
        first_day = archive.first_event_day(conn, base.id)
    if first_day is None or first_day >= cutoff:
        return nothing

    archive.check()
    found = archive.read_digest(last_day)
    if found is None:
        raise PurgeRefusedError(
            ERR_NOT_ARCHIVED.format(
                cutoff=cutoff, day=last_day, key=digest_key(last_day), bucket=archive.bucket, endpoint=archive.endpoint
            )
        )
    doc, raw = found
    boundary = ChainPoint(**doc["chain_end"])
    if boundary.id <= base.id:
        return nothing
    verified = trail.verify()
    if not verified.ok:
        raise PurgeRefusedError(ERR_DB_CHAIN.format(summary=verified.summary()))
    report = archive.validate(from_day=first_day, to_day=last_day, check_db=True)
    if not report.ok:
        listed = "\n".join(f"  {p.line()}" for p in report.problems[:MAX_LISTED_PROBLEMS])
        raise PurgeRefusedError(
            ERR_INVALID_ARCHIVE.format(
                cutoff=cutoff, first=first_day, last=last_day, count=len(report.problems), problems=listed
            )
        )
    if dry_run:
        return PurgeResult(
            cutoff=cutoff,
            through_day=last_day,
            deleted=boundary.id - base.id,
            base=boundary,
            event_id=None,
            dry_run=True,
        )

    details: dict[str, Any] = {
        "older_than_days": older_than_days,
        "cutoff": cutoff.isoformat(),
        "through_date": last_day.isoformat(),
        "first_id": base.id + 1,
        "last_id": boundary.id,
        "last_hash": boundary.hash,
        "digest_key": digest_key(last_day),
        "digest_sha256": sha256_hex(raw),
        "bucket": archive.bucket,
        "endpoint": archive.endpoint,
    }
    with engine.begin() as conn:
        lock = select(audit_head.c.base_id).where(audit_head.c.id == 1)
        if conn.dialect.name == "postgresql":
            lock = lock.with_for_update()
        if conn.execute(lock).scalar_one() != base.id:
            raise PurgeRefusedError(ERR_MOVED)
        db_hash = conn.execute(select(audit_events.c.hash).where(audit_events.c.id == boundary.id)).scalar()
        if db_hash != boundary.hash:
            raise PurgeRefusedError(
                ERR_DB_DIFFERS.format(id=boundary.id, db=db_hash, archive=boundary.hash, key=digest_key(last_day))
            )
        deleted = conn.execute(delete(audit_events).where(audit_events.c.id <= boundary.id)).rowcount
        details["deleted_events"] = int(deleted)
        conn.execute(
            update(audit_head).where(audit_head.c.id == 1).values(base_id=boundary.id, base_hash=boundary.hash)
        )
        event = trail.append_in(conn, event_type=EVENT_PURGED, actor=actor, details=details)
    return PurgeResult(
        cutoff=cutoff, through_day=last_day, deleted=int(deleted), base=boundary, event_id=event.id, dry_run=False
    )
