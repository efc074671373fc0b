"""The audit trail archived to S3, one closed UTC day at a time, with a digest chain.

Layout in the bucket::

    audit/events/date=YYYY-MM-DD/part-NNNN.jsonl.gz   the day's events, PART_SIZE per part
    audit/digests/YYYY-MM-DD.json                     the day's digest

A part holds one JSON object per line with the event's columns exactly as stored (sorted
keys; ``details`` is the canonical JSON *text* the event's hash covers, so the archive can be
re-hashed byte for byte forever), gzip-compressed deterministically (``mtime=0``).

A digest names each part with its SHA-256 and size (and the SHA-256 of its uncompressed
content), the day's first and last event ids and hashes, the chain position before and
after the day (``chain_start`` / ``chain_end``, so the database chain and the archive link),
and the SHA-256 of the previous day's digest (``previous_digest``; ``null`` for the first
digest, whose ``chain_start`` is the genesis of the chain). Every day from the first event's
day on gets a digest, with or without events, so the digest chain has no holes.

Order: parts first, the digest last. A part without a digest does not count as archived; a
rerun finds the parts already there (same content), keeps them, and writes the digest. No
object is ever overwritten: writes are conditional (``If-None-Match: *``) and an existing
object or digest with different content is a conflict. When the bucket has Object Lock, every
object carries COMPLIANCE retention for ``GOVERNANCE_OBJECT_LOCK_DAYS``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from json.encoder import encode_basestring as _q
from typing import TYPE_CHECKING, Any

from governance.audit import GENESIS_HASH, TS_FORMAT, compute_hash, format_ts, parse_time
from governance.errors import GovernanceError
from governance.s3 import (
    check_bucket,
    endpoint_name,
    error_code,
    is_not_found,
    object_lock_enabled,
    resolve_settings,
    s3_errors,
)
from governance.store.engine import read_connection

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from governance.archive_validate import ValidationReport
    from governance.config import S3Settings

AUDIT_PREFIX = "audit/"
EVENTS_PREFIX = "audit/events/"
DIGESTS_PREFIX = "audit/digests/"
PART_SIZE = 100_000
READ_CHUNK = 20_000
GZIP_LEVEL = 3  # ~2x faster than 6 on event JSON for ~6% more bytes (hashes do not compress)
UPLOAD_WORKERS = 4
PARALLEL_MIN_EVENTS = 200_000
MAX_PROCESSES = 4
DIGEST_FORMAT = "governance-audit-digest/1"
LOCK_MODE = "COMPLIANCE"
PART_CONTENT_TYPE = "application/gzip"
DIGEST_CONTENT_TYPE = "application/json"

PART_KEY_RE = re.compile(r"^audit/events/date=(\d{4}-\d{2}-\d{2})/part-(\d{4,})\.jsonl\.gz$")
DIGEST_KEY_RE = re.compile(r"^audit/digests/(\d{4}-\d{2}-\d{2})\.json$")

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
ERR_OBJECT_CONFLICT = (
    "{key} already exists in bucket {bucket!r} with different content than the database's events; "
    "archived objects are never overwritten: run `governance audit validate-archive` and investigate"
)
ERR_DIGEST_CONFLICT = (
    "digest {key} already exists in bucket {bucket!r} and differs from what the database gives for "
    "{day} ({detail}); archived digests are never overwritten: run `governance audit "
    "validate-archive` and investigate"
)
ERR_BAD_DIGEST = "digest {key} in bucket {bucket!r} is unreadable ({error}); run `governance audit validate-archive`"
ERR_PURGED_NO_ARCHIVE = (
    "the database's chain starts after event {base_id} (older events were purged) but bucket {bucket!r} at "
    "{endpoint} holds no digests: point GOVERNANCE_S3_BUCKET / GOVERNANCE_S3_ENDPOINT_URL at the archive"
)
ERR_PART_SIZE = "part_size must be at least 1, got {value}"
ERR_BAD_DATE = "{name}={value!r} is not a date (expected YYYY-MM-DD, e.g. 2026-11-26)"

Progress = Callable[[str], None]


class ArchiveError(GovernanceError):
    """The archive could not be written or read as it should be."""


class ArchiveConflictError(ArchiveError):
    """An archived object or digest exists with content the database does not reproduce."""


# ----------------------------------------------------------------------------- layout


def part_key(day: date, index: int) -> str:
    return f"{EVENTS_PREFIX}date={day.isoformat()}/part-{index:04d}.jsonl.gz"


def day_prefix(day: date) -> str:
    return f"{EVENTS_PREFIX}date={day.isoformat()}/"


def digest_key(day: date) -> str:
    return f"{DIGESTS_PREFIX}{day.isoformat()}.json"


def parse_digest_key(key: str) -> date | None:
    m = DIGEST_KEY_RE.match(key)
    return _date_or_none(m.group(1)) if m else None


def parse_part_key(key: str) -> tuple[date, int] | None:
    m = PART_KEY_RE.match(key)
    if not m:
        return None
    day = _date_or_none(m.group(1))
    return (day, int(m.group(2))) if day else None


def _date_or_none(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_day(value: str | date, *, name: str = "date") -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ArchiveError(ERR_BAD_DATE.format(name=name, value=value)) from None


def day_bounds(day: date) -> tuple[str, str]:
    """The day as ``[start, end)`` in the audit trail's timestamp format."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return format_ts(start), format_ts(start + timedelta(days=1))


def utc_today() -> date:
    return datetime.now(UTC).date()


def closed_until(until: datetime | date | str | None, *, today: date | None = None) -> date:
    """First day *not* to archive: days before it are closed. Never later than today (UTC)."""
    today = today or utc_today()
    if until is None:
        return today
    if isinstance(until, str):
        until = datetime.strptime(parse_time(until, name="until"), TS_FORMAT).replace(tzinfo=UTC)
    if isinstance(until, datetime):
        aware = until if until.tzinfo else until.replace(tzinfo=UTC)
        until = aware.astimezone(UTC).date()  # floor: a day is closed when its end <= until
    return min(until, today)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_encode_line = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_LINE = '{"actor":%s,"details":%s,"event_type":%s,"hash":%s,"id":%d,"model_id":%s,"prev_hash":%s,"timestamp":%s}'
"""An event line spelled out: ``_q`` is the C string quoter ``json.dumps(ensure_ascii=False)``
uses, so the text equals ``json.dumps(event, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``, only several times faster."""


def event_line(
    event_id: int, timestamp: str, event_type: str, model_id: str | None, actor: str, details: str, prev: str, h: str
) -> str:
    """One event as a JSON line with sorted keys, compact, UTF-8 (not ASCII-escaped)."""
    if (
        type(event_id) is int
        and type(timestamp) is str
        and type(event_type) is str
        and (model_id is None or type(model_id) is str)
        and type(actor) is str
        and type(details) is str
        and type(prev) is str
        and type(h) is str
    ):
        return _LINE % (
            _q(actor),
            _q(details),
            _q(event_type),
            _q(h),
            event_id,
            "null" if model_id is None else _q(model_id),
            _q(prev),
            _q(timestamp),
        )
    return _encode_line(  # keys in sorted order, as above
        {
            "actor": actor,
            "details": details,
            "event_type": event_type,
            "hash": h,
            "id": event_id,
            "model_id": model_id,
            "prev_hash": prev,
            "timestamp": timestamp,
        }
    )


def digest_bytes(doc: dict[str, Any]) -> bytes:
    """The canonical bytes of a digest (what the next day's ``previous_digest`` hashes)."""
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, kw_only=True)
class ChainPoint:
    """A position in the chain: an event id and its hash (id 0 = genesis)."""

    id: int
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "hash": self.hash}


GENESIS = ChainPoint(id=0, hash=GENESIS_HASH)


@dataclass(frozen=True, kw_only=True)
class PartInfo:
    key: str
    sha256: str
    size: int
    content_sha256: str
    events: int
    first_id: int
    last_id: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "sha256": self.sha256,
            "size": self.size,
            "content_sha256": self.content_sha256,
            "events": self.events,
            "first_id": self.first_id,
            "last_id": self.last_id,
        }


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


@dataclass(frozen=True, kw_only=True)
class _DayExport:
    parts: list[PartInfo]
    first: dict[str, Any] | None
    last: dict[str, Any] | None
    chain_end: ChainPoint

    @property
    def events(self) -> int:
        return sum(p.events for p in self.parts)


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


_WORKER_ARCHIVES: dict[_WorkerSpec, AuditArchive] = {}


def _export_range_job(spec: _WorkerSpec, day: date, index: int, lo: int, hi: int, upload: bool) -> _RangeResult:
    """Worker process: export one part (a fresh engine and S3 client per worker process)."""
    archive = _WORKER_ARCHIVES.get(spec)
    if archive is None:
        from governance.s3 import make_client
        from governance.store import make_engine

        archive = AuditArchive(
            engine=make_engine(spec.db_url),
            client=make_client(spec.settings),
            bucket=spec.settings.bucket,
            endpoint=endpoint_name(spec.settings),
            object_lock_days=spec.settings.object_lock_days,
            part_size=spec.part_size,
            processes=1,
        )
        archive._lock_supported = spec.lock_supported
        _WORKER_ARCHIVES[spec] = archive
    return archive._export_range(day, index, lo, hi, upload=upload)


def build_digest(
    *,
    day: date,
    part_size: int,
    chain_start: ChainPoint,
    export: _DayExport,
    previous: tuple[str, str] | None,
) -> dict[str, Any]:
    start, end = day_bounds(day)
    return {
        "format": DIGEST_FORMAT,
        "date": day.isoformat(),
        "interval": {"start": start, "end": end},
        "events": export.events,
        "part_size": part_size,
        "chain_start": chain_start.to_dict(),
        "chain_end": export.chain_end.to_dict(),
        "first_event": export.first,
        "last_event": export.last,
        "objects": [p.to_dict() for p in export.parts],
        "previous_digest": {"key": previous[0], "sha256": previous[1]} if previous else None,
    }


# ----------------------------------------------------------------------------- the archive


class AuditArchive:
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
        self.engine = engine
        self.client = client
        self.bucket = bucket
        self.endpoint = endpoint
        self.object_lock_days = object_lock_days
        self.part_size = part_size
        self.upload_workers = max(1, upload_workers)
        self.progress = progress
        self.settings = settings
        self.processes = processes if processes is not None else min(os.cpu_count() or 1, MAX_PROCESSES)
        self.parallel_min_events = parallel_min_events
        self._lock_supported: bool | None = None
        self._pool: ProcessPoolExecutor | None = None

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

    # ------------------------------------------------------------------ helpers

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def errors(self, action: str, key: str | None = None) -> Any:
        return s3_errors(endpoint=self.endpoint, bucket=self.bucket, action=action, key=key)

    def check(self) -> None:
        """Fail early, naming endpoint and bucket, when the bucket is missing or access is refused."""
        check_bucket(self.client, bucket=self.bucket, endpoint=self.endpoint)

    def lock_supported(self) -> bool:
        if self._lock_supported is None:
            self._lock_supported = object_lock_enabled(self.client, bucket=self.bucket, endpoint=self.endpoint)
        return self._lock_supported

    def _lock_kwargs(self) -> dict[str, Any]:
        if self.object_lock_days <= 0 or not self.lock_supported():
            return {}
        until = datetime.now(UTC) + timedelta(days=self.object_lock_days)
        return {"ObjectLockMode": LOCK_MODE, "ObjectLockRetainUntilDate": until}

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Current keys under ``prefix`` (latest versions that are not delete markers)."""
        paginator = self.client.get_paginator("list_objects_v2")
        with self.errors("ListObjectsV2"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []) or []:
                    yield str(obj["Key"])

    def digest_days(self) -> list[date]:
        return sorted(d for d in (parse_digest_key(k) for k in self.list_keys(DIGESTS_PREFIX)) if d is not None)

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self.errors("GetObject", key):
            try:
                return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            except ClientError as exc:
                if is_not_found(exc):
                    return None
                raise

    def read_digest(self, day: date) -> tuple[dict[str, Any], bytes] | None:
        key = digest_key(day)
        raw = self.get_bytes(key)
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != DIGEST_FORMAT:
                raise ValueError(f"not a {DIGEST_FORMAT} document")
            ChainPoint(**doc["chain_end"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(ERR_BAD_DIGEST.format(key=key, bucket=self.bucket, error=exc)) from None
        return doc, raw

    def put_new(self, key: str, body: bytes, *, content_type: str) -> bytes | None:
        """Write ``key`` unless it exists; return None when written, else the existing bytes.

        Never overwrites: a HEAD first, then a conditional PUT (``If-None-Match: *``) with the
        body's SHA-256 checked by the server and Object Lock retention when enabled.
        """
        from botocore.exceptions import ClientError

        digest = hashlib.sha256(body)
        with self.errors("HeadObject", key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
                exists = True
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
                exists = False
        if not exists:
            with self.errors("PutObject", key):
                try:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=body,
                        ContentType=content_type,
                        ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
                        IfNoneMatch="*",
                        Metadata={"sha256": digest.hexdigest()},
                        **self._lock_kwargs(),
                    )
                    return None
                except ClientError as exc:
                    if error_code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                        raise
        existing = self.get_bytes(key)
        if existing is None:  # deleted between HEAD/PUT and GET: report, never overwrite
            raise ArchiveConflictError(ERR_OBJECT_CONFLICT.format(key=key, bucket=self.bucket))
        return existing

    # ------------------------------------------------------------------ database side

    def _head(self) -> dict[str, Any]:
        from governance.audit import AuditTrail

        return AuditTrail(self.engine).head()

    def first_event_day(self, conn: Connection, after_id: int) -> date | None:
        from sqlalchemy import select

        from governance.store.tables import audit_events

        ts = conn.execute(
            select(audit_events.c.timestamp).where(audit_events.c.id > after_id).order_by(audit_events.c.id).limit(1)
        ).scalar()
        return None if ts is None else datetime.strptime(str(ts), TS_FORMAT).date()

    def _first_id_from(self, conn: Connection, ts: str) -> int | None:
        """The smallest id whose timestamp is >= ``ts`` (timestamps never go back along ids)."""
        from sqlalchemy import func, select

        from governance.store.tables import audit_events

        first_ts = select(func.min(audit_events.c.timestamp)).where(audit_events.c.timestamp >= ts).scalar_subquery()
        found = conn.execute(select(func.min(audit_events.c.id)).where(audit_events.c.timestamp == first_ts)).scalar()
        return None if found is None else int(found)

    def _rows(self, conn: Connection, *, after_id: int, before_id: int | None) -> Iterator[tuple[Any, ...]]:
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

    def _export_day(self, day: date, chain_start: ChainPoint, *, upload: bool) -> _DayExport:
        """Read, check and (when ``upload``) store the day's parts, ``part_size`` ids each.

        Small days: parts are read and checked here while earlier parts are compressed and
        uploaded by threads. Big days (``parallel_min_events``): each part is read, checked,
        compressed and uploaded by a worker process. Either way the links between parts are
        checked here, in order, and nothing is kept from a day that fails.
        """
        _start_ts, end_ts = day_bounds(day)
        with read_connection(self.engine, snapshot=True) as conn:
            upper = self._last_id_before(conn, end_ts)
            if upper is None or upper <= chain_start.id:
                return _DayExport(parts=[], first=None, last=None, chain_end=chain_start)
            ranges = [
                (index, lo, min(lo + self.part_size - 1, upper))
                for index, lo in enumerate(range(chain_start.id + 1, upper + 1, self.part_size))
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
        return _DayExport(
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

        for eid, ts, etype, mid, actor, details, ph, h in self._rows(conn, after_id=lo - 1, before_id=hi + 1):
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

    def _last_id_before(self, conn: Connection, ts: str) -> int | None:
        """The largest id whose timestamp is before ``ts`` (timestamps never go back along ids)."""
        from sqlalchemy import func, select

        from governance.store.tables import audit_events

        after = self._first_id_from(conn, ts)
        if after is not None:
            return after - 1
        return conn.execute(select(func.max(audit_events.c.id))).scalar()

    def _process_pool(self, events: int) -> ProcessPoolExecutor | None:
        if (
            self.settings is None
            or self.processes < 2
            or events < self.parallel_min_events
            or multiprocessing.current_process().daemon  # daemonic processes may not have children
        ):
            return None
        if self._pool is None:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=ctx)
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

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
            self._say(f"  {key}: already stored with the same events, kept")
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
            self._say("Object Lock retention off (GOVERNANCE_OBJECT_LOCK_DAYS=0): objects are not locked")
        elif self.lock_supported():
            self._say(f"Object Lock: {LOCK_MODE} retention for {self.object_lock_days} days on every object")
        else:
            self._say(f"bucket {self.bucket!r} has no Object Lock: objects are not locked")
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
                first_day = self.first_event_day(conn, base.id)
            if first_day is None:
                self._say("nothing to archive: the audit trail has no events yet")
                return result
            day, chain, previous = first_day, base, None
        while day < until_day:
            day_result, doc, raw = self._archive_day(day, chain_start=chain, previous=previous)
            result.days.append(day_result)
            self._say(day_result.line())
            chain = ChainPoint(**doc["chain_end"])
            previous = (day_result.digest_key, day_result.digest_sha256)
            day += timedelta(days=1)
        return result

    def _archive_day(
        self, day: date, *, chain_start: ChainPoint, previous: tuple[str, str] | None
    ) -> tuple[DayResult, dict[str, Any], bytes]:
        self._say(f"{day}: exporting events after {chain_start.id} …")
        export = self._export_day(day, chain_start, upload=True)
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
        common = {
            "day": day,
            "events": int(doc.get("events", 0)),
            "objects": len(doc.get("objects", [])),
            "bytes": sum(int(o.get("size", 0)) for o in doc.get("objects", [])),
            "digest_key": key,
            "digest_sha256": sha256_hex(raw),
        }
        if chain_start.id < base.id:
            self._say(f"{day}: archived; its events were purged from the database, not rechecked")
            return DayResult(status="purged", **common)
        previous: tuple[str, str] | None = None
        if doc.get("previous_digest"):
            prev_key = str(doc["previous_digest"]["key"])
            prev_raw = self.get_bytes(prev_key)
            previous = (prev_key, sha256_hex(prev_raw) if prev_raw is not None else "")
        export = self._export_day(day, chain_start, upload=False)
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
        export = _DayExport(parts=parts, first=export.first, last=export.last, chain_end=export.chain_end)
        expected = build_digest(
            day=day,
            part_size=int(doc.get("part_size", self.part_size)),
            chain_start=chain_start,
            export=export,
            previous=previous,
        )
        if expected != doc:
            diff = sorted(k for k in set(expected) | set(doc) if expected.get(k) != doc.get(k))
            raise ArchiveConflictError(
                ERR_DIGEST_CONFLICT.format(key=key, bucket=self.bucket, day=day, detail="fields " + ", ".join(diff))
            )
        self._say(f"{day}: already archived, digest matches the database")
        return DayResult(status="unchanged", **common)

    # ------------------------------------------------------------------ validation

    def validate(
        self, *, from_day: date | None = None, to_day: date | None = None, check_db: bool = True
    ) -> ValidationReport:
        """Recompute everything from S3 (see :mod:`governance.archive_validate`)."""
        from governance.archive_validate import validate_archive

        return validate_archive(
            self,
            from_day=from_day,
            to_day=to_day,
            engine=self.engine if check_db else None,
            parallel_min_events=self.parallel_min_events,
            processes=self.processes,
        )
