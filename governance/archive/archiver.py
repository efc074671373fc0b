"""governance.archive.archiver: :class:`AuditArchive`, which archives closed days in order.

It is the archive of one governance database in one S3 bucket: it ships every closed day not
archived yet (its parts through :mod:`~governance.archive.export`, then the day's digest),
rechecks archived days against the database, and validates through
:mod:`~governance.archive.validate`. :class:`DayResult` / :class:`ArchiveResult` say what a
run did.

Order: parts first, the digest last. A part without a digest does not count as archived; a
rerun finds the parts already there (same content), keeps them, and writes the digest. No
object is ever overwritten: writes are conditional (``If-None-Match: *``) and an existing
object or digest with different content is a conflict. Every day from the first event's day
on gets a digest, with or without events, so the digest chain has no holes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from governance.archive.bucket import ERR_BAD_DIGEST, UPLOAD_WORKERS, Progress
from governance.archive.export import DayExporter, first_event_day
from governance.archive.layout import (
    DIGEST_CONTENT_TYPE,
    LOCK_MODE,
    PARALLEL_MIN_EVENTS,
    PART_SIZE,
    ArchiveConflictError,
    ArchiveError,
    ChainPoint,
    DayExport,
    PartInfo,
    build_digest,
    closed_until,
    digest_bytes,
    digest_key,
    sha256_hex,
)
from governance.archive.pool import default_processes
from governance.archive.validate import ValidationReport, validate_archive
from governance.s3 import endpoint_name, resolve_settings
from governance.store.engine import read_connection

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from governance.config import S3Settings

ERR_DIGEST_CONFLICT = (
    "digest {key} already exists in bucket {bucket!r} and differs from what the database gives for "
    "{day} ({detail}); archived digests are never overwritten: run `governance audit "
    "validate-archive` and investigate"
)
ERR_PURGED_NO_ARCHIVE = (
    "the database's chain starts after event {base_id} (older events were purged) but bucket {bucket!r} at "
    "{endpoint} holds no digests: point GOVERNANCE_S3_BUCKET / GOVERNANCE_S3_ENDPOINT_URL at the archive"
)
ERR_PART_SIZE = "part_size must be at least 1, got {value}"


@dataclass(frozen=True, kw_only=True)
class DayResult:
    day: date
    status: str  # "archived" (written now), "unchanged" (rechecked, already archived), "purged" (not rechecked)
    events: int
    objects: int
    bytes: int
    digest_key: str
    digest_sha256: str

    def line(self) -> str:
        return (
            f"{self.day}: {self.status}, {self.events} events in {self.objects} object(s), "
            f"{self.bytes} bytes, digest {self.digest_key} sha256 {self.digest_sha256[:12]}…"
        )


@dataclass(frozen=True, kw_only=True)
class ArchiveResult:
    until: date
    days: list[DayResult] = field(default_factory=list)

    @property
    def written(self) -> list[DayResult]:
        return [d for d in self.days if d.status == "archived"]

    def summary(self) -> str:
        written = self.written
        events = sum(d.events for d in written)
        if not written:
            return f"archive up to date: no closed day before {self.until} left to archive"
        return (
            f"archived {len(written)} day(s) {written[0].day}..{written[-1].day}: {events} events, "
            f"{sum(d.objects for d in written)} object(s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "until": self.until.isoformat(),
            "days": [
                {
                    "day": d.day.isoformat(),
                    "status": d.status,
                    "events": d.events,
                    "objects": d.objects,
                    "digest_key": d.digest_key,
                    "digest_sha256": d.digest_sha256,
                }
                for d in self.days
            ],
        }


class AuditArchive(DayExporter):
    """The audit trail of one governance database, archived in one S3 bucket."""

    def __init__(
        self,
        *,
        engine: Engine,
        client: Any,
        bucket: str,
        endpoint: str,
        object_lock_days: int,
        part_size: int = PART_SIZE,
        upload_workers: int = UPLOAD_WORKERS,
        progress: Progress | None = None,
        settings: S3Settings | None = None,
        processes: int | None = None,
        parallel_min_events: int = PARALLEL_MIN_EVENTS,
    ) -> None:
        """``settings`` (what ``client`` was made from) lets worker processes make their own
        client: days of ``parallel_min_events`` events or more are then exported and validated
        by ``processes`` processes (default: one per CPU, at most 4)."""
        if part_size < 1:
            raise ArchiveError(ERR_PART_SIZE.format(value=part_size))
        super().__init__(
            client=client,
            bucket=bucket,
            endpoint=endpoint,
            object_lock_days=object_lock_days,
            upload_workers=upload_workers,
            progress=progress,
        )
        self.engine = engine
        self.part_size = part_size
        self.settings = settings
        self.processes = default_processes(processes)
        self.parallel_min_events = parallel_min_events

    @classmethod
    def from_settings(
        cls, *, engine: Engine, settings: S3Settings, progress: Progress | None = None, part_size: int = PART_SIZE
    ) -> AuditArchive:
        from governance.s3 import make_client

        return cls(
            engine=engine,
            client=make_client(settings),
            bucket=settings.bucket,
            endpoint=endpoint_name(settings),
            object_lock_days=settings.object_lock_days,
            part_size=part_size,
            progress=progress,
            settings=settings,
        )

    @classmethod
    def from_config(
        cls, *, engine: Engine | None = None, airflow_conn_id: str | None = None, progress: Progress | None = None
    ) -> AuditArchive:
        """Database from ``GOVERNANCE_DB_URL``, S3 from the environment (or the Airflow connection)."""
        from governance.store import make_engine

        return cls.from_settings(
            engine=engine or make_engine(),
            settings=resolve_settings(airflow_conn_id=airflow_conn_id),
            progress=progress,
        )

    def _head(self) -> dict[str, Any]:
        from governance.audit import AuditTrail

        return AuditTrail(self.engine).head()

    def first_event_day(self, conn: Any, after_id: int) -> date | None:
        """The UTC day of the first event after ``after_id`` in the database (None: none)."""
        return first_event_day(conn, after_id)

    # ------------------------------------------------------------------ archiving

    def archive(self, *, until: datetime | date | str | None = None, recheck_from: date | None = None) -> ArchiveResult:
        """Archive every closed day not archived yet, up to (not including) ``until``'s day.

        Default ``until``: the start of the current UTC day. Days already archived from
        ``recheck_from`` on are recomputed from the database (while it still holds their events)
        and compared with their digest: equal is a no-op, different an :class:`ArchiveConflictError`.
        """
        try:
            return self._archive(until_day=closed_until(until), recheck_from=recheck_from)
        finally:
            self.close()

    def _archive(self, *, until_day: date, recheck_from: date | None) -> ArchiveResult:
        self.check()
        if self.object_lock_days <= 0:
            self.say("Object Lock retention off (GOVERNANCE_OBJECT_LOCK_DAYS=0): objects are not locked")
        elif self.lock_supported():
            self.say(f"Object Lock: {LOCK_MODE} retention for {self.object_lock_days} days on every object")
        else:
            self.say(f"bucket {self.bucket!r} has no Object Lock: objects are not locked")
        result = ArchiveResult(until=until_day)
        head = self._head()
        base = ChainPoint(id=int(head["base_id"]), hash=str(head["base_hash"]))
        archived = self.digest_days()
        if archived:
            if recheck_from is not None:
                for day in archived:
                    if recheck_from <= day < until_day:
                        result.days.append(self._recheck_day(day, base=base))
            last = self.read_digest(archived[-1])
            if last is None:
                raise ArchiveError(
                    ERR_BAD_DIGEST.format(key=digest_key(archived[-1]), bucket=self.bucket, error="vanished")
                )
            day = archived[-1] + timedelta(days=1)
            chain = ChainPoint(**last[0]["chain_end"])
            previous: tuple[str, str] | None = (digest_key(archived[-1]), sha256_hex(last[1]))
        else:
            if base.id > 0:
                raise ArchiveError(
                    ERR_PURGED_NO_ARCHIVE.format(base_id=base.id, bucket=self.bucket, endpoint=self.endpoint)
                )
            with read_connection(self.engine) as conn:
                first_day = first_event_day(conn, base.id)
            if first_day is None:
                self.say("nothing to archive: the audit trail has no events yet")
                return result
            day, chain, previous = first_day, base, None
        while day < until_day:
            day_result, doc, raw = self._archive_day(day, chain_start=chain, previous=previous)
            result.days.append(day_result)
            self.say(day_result.line())
            chain = ChainPoint(**doc["chain_end"])
            previous = (day_result.digest_key, day_result.digest_sha256)
            day += timedelta(days=1)
        return result

    def _archive_day(
        self, day: date, *, chain_start: ChainPoint, previous: tuple[str, str] | None
    ) -> tuple[DayResult, dict[str, Any], bytes]:
        self.say(f"{day}: exporting events after {chain_start.id} …")
        export = self.export_day(day, chain_start, upload=True)
        doc = build_digest(day=day, part_size=self.part_size, chain_start=chain_start, export=export, previous=previous)
        raw = digest_bytes(doc)
        key = digest_key(day)
        existing = self.put_new(key, raw, content_type=DIGEST_CONTENT_TYPE)
        if existing is not None and existing != raw:
            raise ArchiveConflictError(
                ERR_DIGEST_CONFLICT.format(key=key, bucket=self.bucket, day=day, detail="written concurrently")
            )
        return (
            DayResult(
                day=day,
                status="archived",
                events=export.events,
                objects=len(export.parts),
                bytes=sum(p.size for p in export.parts),
                digest_key=key,
                digest_sha256=sha256_hex(raw),
            ),
            doc,
            raw,
        )

    def _recheck_day(self, day: date, *, base: ChainPoint) -> DayResult:
        """Recompute an archived day from the database and compare it with its digest."""
        key = digest_key(day)
        found = self.read_digest(day)
        if found is None:
            raise ArchiveError(ERR_BAD_DIGEST.format(key=key, bucket=self.bucket, error="vanished"))
        doc, raw = found
        chain_start = ChainPoint(**doc["chain_start"])
        common: dict[str, Any] = {
            "day": day,
            "events": int(doc.get("events", 0)),
            "objects": len(doc.get("objects", [])),
            "bytes": sum(int(o.get("size", 0)) for o in doc.get("objects", [])),
            "digest_key": key,
            "digest_sha256": sha256_hex(raw),
        }
        if chain_start.id < base.id:
            self.say(f"{day}: archived; its events were purged from the database, not rechecked")
            return DayResult(status="purged", **common)
        previous: tuple[str, str] | None = None
        if doc.get("previous_digest"):
            prev_key = str(doc["previous_digest"]["key"])
            prev_raw = self.get_bytes(prev_key)
            previous = (prev_key, sha256_hex(prev_raw) if prev_raw is not None else "")
        part_size = int(doc.get("part_size") or self.part_size)
        export = self.export_day(day, chain_start, upload=False, part_size=part_size)
        stored = {o.get("key"): o for o in doc.get("objects", []) if isinstance(o, dict)}
        parts = []
        for p in export.parts:
            old = stored.get(p.key, {})
            same = old.get("content_sha256") == p.content_sha256
            parts.append(
                PartInfo(
                    key=p.key,
                    sha256=str(old.get("sha256", "")) if same else "",
                    size=int(old.get("size", 0)) if same else 0,
                    content_sha256=p.content_sha256,
                    events=p.events,
                    first_id=p.first_id,
                    last_id=p.last_id,
                )
            )
        export = DayExport(parts=parts, first=export.first, last=export.last, chain_end=export.chain_end)
        expected = build_digest(
            day=day,
            part_size=part_size,
            chain_start=chain_start,
            export=export,
            previous=previous,
        )
        if expected != doc:
            diff = sorted(k for k in set(expected) | set(doc) if expected.get(k) != doc.get(k))
            raise ArchiveConflictError(
                ERR_DIGEST_CONFLICT.format(key=key, bucket=self.bucket, day=day, detail="fields " + ", ".join(diff))
            )
        self.say(f"{day}: already archived, digest matches the database")
        return DayResult(status="unchanged", **common)

    # ------------------------------------------------------------------ validation

    def validate(
        self, *, from_day: date | None = None, to_day: date | None = None, check_db: bool = True
    ) -> ValidationReport:
        """Recompute everything from S3 (see :mod:`governance.archive.validate`)."""
        return validate_archive(
            self,
            from_day=from_day,
            to_day=to_day,
            engine=self.engine if check_db else None,
            parallel_min_events=self.parallel_min_events,
            processes=self.processes,
        )
