"""governance.archive.export: reading a day of the audit trail from the database, checking it,
and storing its parts in the bucket (:class:`DayExporter`, also what worker processes run).

Every event is checked before it is archived (nothing tampered with is shipped): ids follow
each other, each event links to the one before it and re-hashes to its stored hash, and its
timestamp lies inside the day. Small days are read here while threads compress and upload
earlier parts; big days are read, checked, compressed and uploaded part by part in worker
processes, and the links between parts are checked afterwards, in order. The day's digest
and the order of days are :mod:`governance.archive.archiver`'s.
"""

from __future__ import annotations

import gzip
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from governance.archive.bucket import ERR_OBJECT_CONFLICT, ArchiveBucket
from governance.archive.layout import (
    GZIP_LEVEL,
    PARALLEL_MIN_EVENTS,
    PART_CONTENT_TYPE,
    ArchiveConflictError,
    ArchiveError,
    ChainPoint,
    DayExport,
    PartInfo,
    day_bounds,
    event_line,
    part_key,
    sha256_hex,
)
from governance.archive.pool import WorkerPool
from governance.audit import TS_FORMAT, compute_hash
from governance.s3 import endpoint_name
from governance.store.engine import read_connection

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy import Connection, Engine

    from governance.config import S3Settings

READ_CHUNK = 20_000

ERR_DB_CHAIN = (
    "cannot archive {day}: event {event_id} in the database {problem}; run `governance audit verify` "
    "and investigate before archiving"
)
PROBLEM_GAP = "comes where event {expected} was expected (events are missing)"
PROBLEM_LINK = "does not link to the event before it (prev_hash {found}, expected {expected})"
PROBLEM_ALTERED = "does not match its hash (its fields were altered)"
PROBLEM_EARLIER = "has timestamp {ts}, before the day, but comes after event {after} (timestamps go backwards)"
PROBLEM_LATER = (
    "has timestamp {ts}, after the day's end {end}, but comes before events of the day (timestamps go backwards)"
)
PROBLEM_MISSING = "is missing (expected events up to {last})"


# ----------------------------------------------------------------------------- database


def first_event_day(conn: Connection, after_id: int) -> date | None:
    """The UTC day of the first event after ``after_id`` (None: no such event)."""
    from sqlalchemy import select

    from governance.store.tables import audit_events

    ts = conn.execute(
        select(audit_events.c.timestamp).where(audit_events.c.id > after_id).order_by(audit_events.c.id).limit(1)
    ).scalar()
    return None if ts is None else datetime.strptime(str(ts), TS_FORMAT).date()


def first_id_from(conn: Connection, ts: str) -> int | None:
    """The smallest id whose timestamp is >= ``ts`` (timestamps never go back along ids)."""
    from sqlalchemy import func, select

    from governance.store.tables import audit_events

    first_ts = select(func.min(audit_events.c.timestamp)).where(audit_events.c.timestamp >= ts).scalar_subquery()
    found = conn.execute(select(func.min(audit_events.c.id)).where(audit_events.c.timestamp == first_ts)).scalar()
    return None if found is None else int(found)


def rows(conn: Connection, *, after_id: int, before_id: int | None) -> Iterator[tuple[Any, ...]]:
    """Event rows after ``after_id`` (and before ``before_id``), in id order, read in chunks."""
    from sqlalchemy import select

    from governance.store.tables import audit_events as t

    cols = (t.c.id, t.c.timestamp, t.c.event_type, t.c.model_id, t.c.actor, t.c.details, t.c.prev_hash, t.c.hash)
    last = after_id
    while True:
        stmt = select(*cols).where(t.c.id > last)
        if before_id is not None:
            stmt = stmt.where(t.c.id < before_id)
        rows = conn.execute(stmt.order_by(t.c.id).limit(READ_CHUNK)).all()
        if not rows:
            return
        yield from rows
        last = int(rows[-1][0])


def last_id_before(conn: Connection, ts: str) -> int | None:
    """The largest id whose timestamp is before ``ts`` (timestamps never go back along ids)."""
    from sqlalchemy import func, select

    from governance.store.tables import audit_events

    after = first_id_from(conn, ts)
    if after is not None:
        return after - 1
    return conn.execute(select(func.max(audit_events.c.id))).scalar()


# ----------------------------------------------------------------------------- export


class DayExporter(ArchiveBucket):
    """Exports days from the database into the bucket (:class:`~governance.archive.AuditArchive`
    and the worker processes)."""

    engine: Engine
    part_size: int
    processes: int = 1
    parallel_min_events: int = PARALLEL_MIN_EVENTS
    settings: S3Settings | None = None
    _workers: WorkerPool | None = None

    def export_day(
        self, day: date, chain_start: ChainPoint, *, upload: bool, part_size: int | None = None
    ) -> DayExport:
        """Read, check and (when ``upload``) store the day's parts, ``part_size`` ids each.

        Small days: parts are read and checked here while earlier parts are compressed and
        uploaded by threads. Big days (``parallel_min_events``): each part is read, checked,
        compressed and uploaded by a worker process. Either way the links between parts are
        checked here, in order, and nothing is kept from a day that fails.
        """
        _start_ts, end_ts = day_bounds(day)
        size = part_size or self.part_size
        with read_connection(self.engine, snapshot=True) as conn:
            upper = last_id_before(conn, end_ts)
            if upper is None or upper <= chain_start.id:
                return DayExport(parts=[], first=None, last=None, chain_end=chain_start)
            ranges = [
                (index, lo, min(lo + size - 1, upper))
                for index, lo in enumerate(range(chain_start.id + 1, upper + 1, size))
            ]
            pool = self._process_pool(upper - chain_start.id)
            if pool is not None:
                spec = self._worker_spec()
                futures = [pool.submit(_export_range_job, spec, day, i, lo, hi, upload) for i, lo, hi in ranges]
                results = [f.result() for f in futures]
            else:
                results = self._export_ranges_here(conn, day, ranges, upload=upload)
        prev = chain_start.hash
        for r in results:
            if r.first[2] != prev:
                raise ArchiveError(
                    ERR_DB_CHAIN.format(
                        day=day, event_id=r.first[0], problem=PROBLEM_LINK.format(found=r.first[2], expected=prev)
                    )
                )
            prev = r.last[1]
        first, last = results[0].first, results[-1].last
        return DayExport(
            parts=[r.part for r in results],
            first={"id": first[0], "hash": first[1], "prev_hash": first[2], "timestamp": first[3]},
            last={"id": last[0], "hash": last[1], "timestamp": last[2]},
            chain_end=ChainPoint(id=last[0], hash=last[1]),
        )

    def _export_ranges_here(
        self, conn: Connection, day: date, ranges: list[tuple[int, int, int]], *, upload: bool
    ) -> list[_RangeResult]:
        window = self.upload_workers
        with ThreadPoolExecutor(max_workers=self.upload_workers) as pool:
            pending: list[tuple[Future[PartInfo], tuple[Any, ...], tuple[Any, ...]]] = []
            for index, lo, hi in ranges:
                content, first, last = self._read_range(conn, day, lo, hi)
                future = pool.submit(
                    self._store_part,
                    part_key(day, index),
                    content,
                    events=hi - lo + 1,
                    first_id=lo,
                    last_id=hi,
                    upload=upload,
                )
                pending.append((future, first, last))
                if len(pending) > window:
                    pending[-window - 1][0].result()  # at most `window` parts in memory at once
            return [_RangeResult(part=f.result(), first=first, last=last) for f, first, last in pending]

    def _export_range(self, day: date, index: int, lo: int, hi: int, *, upload: bool) -> _RangeResult:
        """One part, read, checked and stored on its own (what a worker process runs)."""
        with read_connection(self.engine, snapshot=True) as conn:
            content, first, last = self._read_range(conn, day, lo, hi)
        part = self._store_part(
            part_key(day, index), content, events=hi - lo + 1, first_id=lo, last_id=hi, upload=upload
        )
        return _RangeResult(part=part, first=first, last=last)

    def _read_range(
        self, conn: Connection, day: date, lo: int, hi: int
    ) -> tuple[bytes, tuple[int, str, str, str], tuple[int, str, str]]:
        """Events ``lo..hi`` as JSON lines, each checked: the next id, linked to the one before
        it (within the range), re-hashed, inside the day. Returns the content, the first event
        (id, hash, prev_hash, timestamp) and the last (id, hash, timestamp)."""
        start_ts, end_ts = day_bounds(day)
        expect, prev = lo, ""
        lines: list[str] = []
        first: tuple[int, str, str, str] | None = None
        last: tuple[int, str, str] = (0, "", "")

        def bad(event_id: int, problem: str) -> ArchiveError:
            return ArchiveError(ERR_DB_CHAIN.format(day=day, event_id=event_id, problem=problem))

        for eid, ts, etype, mid, actor, details, ph, h in rows(conn, after_id=lo - 1, before_id=hi + 1):
            if eid != expect:
                raise bad(eid, PROBLEM_GAP.format(expected=expect))
            if first is not None and ph != prev:
                raise bad(eid, PROBLEM_LINK.format(found=ph, expected=prev))
            if ts < start_ts:
                raise bad(eid, PROBLEM_EARLIER.format(ts=ts, after=lo - 1))
            if ts >= end_ts:
                raise bad(eid, PROBLEM_LATER.format(ts=ts, end=end_ts))
            if compute_hash(eid, ts, etype, mid, actor, details, ph) != h:
                raise bad(eid, PROBLEM_ALTERED)
            if first is None:
                first = (eid, h, ph, ts)
            lines.append(event_line(eid, ts, etype, mid, actor, details, ph, h))
            last = (eid, h, ts)
            expect, prev = eid + 1, h
        if first is None or expect != hi + 1:
            raise bad(expect, PROBLEM_MISSING.format(last=hi))
        return ("\n".join(lines) + "\n").encode(), first, last

    def _process_pool(self, events: int) -> ProcessPoolExecutor | None:
        if self._workers is None:
            self._workers = WorkerPool(processes=self.processes, parallel_min_events=self.parallel_min_events)
        return self._workers.for_events(events)

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._workers is not None:
            self._workers.close()
            self._workers = None

    def _worker_spec(self) -> _WorkerSpec:
        assert self.settings is not None
        return _WorkerSpec(
            db_url=self.engine.url.render_as_string(hide_password=False),
            settings=self.settings,
            part_size=self.part_size,
            lock_supported=self.lock_supported(),
        )

    def _store_part(
        self, key: str, content: bytes, *, events: int, first_id: int, last_id: int, upload: bool
    ) -> PartInfo:
        content_sha = sha256_hex(content)
        info = PartInfo(
            key=key, sha256="", size=0, content_sha256=content_sha, events=events, first_id=first_id, last_id=last_id
        )
        if not upload:
            return info
        body = gzip.compress(content, compresslevel=GZIP_LEVEL, mtime=0)
        existing = self.put_new(key, body, content_type=PART_CONTENT_TYPE)
        if existing is not None:
            try:
                same = sha256_hex(gzip.decompress(existing)) == content_sha
            except (OSError, EOFError):
                same = False
            if not same:
                raise ArchiveConflictError(ERR_OBJECT_CONFLICT.format(key=key, bucket=self.bucket))
            self.say(f"  {key}: already stored with the same events, kept")
            body = existing
        return PartInfo(
            key=key,
            sha256=sha256_hex(body),
            size=len(body),
            content_sha256=content_sha,
            events=events,
            first_id=first_id,
            last_id=last_id,
        )


class _WorkerArchive(DayExporter):
    """What a worker process exports parts with: its own engine and S3 client."""


@dataclass(frozen=True, kw_only=True)
class _RangeResult:
    part: PartInfo
    first: tuple[int, str, str, str]  # id, hash, prev_hash, timestamp
    last: tuple[int, str, str]  # id, hash, timestamp


@dataclass(frozen=True, kw_only=True)
class _WorkerSpec:
    """What a worker process needs to rebuild the archive (hashable: workers cache by it)."""

    db_url: str = field(repr=False)
    settings: S3Settings
    part_size: int
    lock_supported: bool


_WORKER_ARCHIVES: dict[_WorkerSpec, _WorkerArchive] = {}


def _export_range_job(spec: _WorkerSpec, day: date, index: int, lo: int, hi: int, upload: bool) -> _RangeResult:
    """Worker process: export one part (a fresh engine and S3 client per worker process)."""
    archive = _WORKER_ARCHIVES.get(spec)
    if archive is None:
        from governance.s3 import make_client
        from governance.store import make_engine

        archive = _WorkerArchive(
            client=make_client(spec.settings),
            bucket=spec.settings.bucket,
            endpoint=endpoint_name(spec.settings),
            object_lock_days=spec.settings.object_lock_days,
            lock_supported=spec.lock_supported,
        )
        archive.engine = make_engine(spec.db_url)
        archive.part_size = spec.part_size
        _WORKER_ARCHIVES[spec] = archive
    return archive._export_range(day, index, lo, hi, upload=upload)
