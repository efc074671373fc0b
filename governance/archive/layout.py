"""governance.archive.layout: the archive's keys and days, its line and digest formats, its records.

Layout::

    audit/events/date=YYYY-MM-DD/part-NNNN.jsonl.gz   the day's events, PART_SIZE per part
    audit/digests/YYYY-MM-DD.json                     the day's digest

A part holds one JSON object per line with the event's columns exactly as stored (sorted
keys; ``details`` is the canonical JSON *text* the event's hash covers, so the archive can be
re-hashed byte for byte forever), gzip-compressed deterministically (``mtime=0``).

A digest names each part with its SHA-256 and size (and the SHA-256 of its uncompressed
content), the day's first and last event ids and hashes, the chain position before and
after the day (``chain_start`` / ``chain_end``, so the database chain and the archive link),
and the SHA-256 of the previous day's digest (``previous_digest``; ``null`` for the first
digest, whose ``chain_start`` is the genesis of the chain).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from json.encoder import encode_basestring as _q
from typing import Any

from governance._util import as_utc
from governance.audit import GENESIS_HASH, TS_FORMAT, format_ts, parse_time
from governance.errors import GovernanceError

AUDIT_PREFIX = "audit/"
EVENTS_PREFIX = "audit/events/"
DIGESTS_PREFIX = "audit/digests/"
PART_SIZE = 100_000
GZIP_LEVEL = 3  # ~2x faster than 6 on event JSON for ~6% more bytes (hashes do not compress)
DIGEST_FORMAT = "governance-audit-digest/1"
PARALLEL_MIN_EVENTS = 200_000
"""Days with at least this many events are exported / validated by worker processes."""
MAX_PROCESSES = 4
LOCK_MODE = "COMPLIANCE"
PART_CONTENT_TYPE = "application/gzip"
DIGEST_CONTENT_TYPE = "application/json"

PART_KEY_RE = re.compile(r"^audit/events/date=(\d{4}-\d{2}-\d{2})/part-(\d{4,})\.jsonl\.gz$")
DIGEST_KEY_RE = re.compile(r"^audit/digests/(\d{4}-\d{2}-\d{2})\.json$")

ERR_BAD_DATE = "{name}={value!r} is not a date (expected YYYY-MM-DD, e.g. 2026-11-26)"


class ArchiveError(GovernanceError):
    """The archive could not be written or read as it should be."""


class ArchiveConflictError(ArchiveError):
    """An archived object or digest exists with content the database does not reproduce."""


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
        until = as_utc(until).date()  # floor: a day is closed when its end <= until
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
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class DayExport:
    parts: list[PartInfo]
    first: dict[str, Any] | None
    last: dict[str, Any] | None
    chain_end: ChainPoint

    @property
    def events(self) -> int:
        return sum(p.events for p in self.parts)


def parse_digest(raw: bytes) -> dict[str, Any]:
    """A digest document as written by :func:`build_digest`; ValueError / KeyError / TypeError
    when it is not one (unreadable JSON, wrong format, missing chain points or object list)."""
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("format") != DIGEST_FORMAT:
        raise ValueError(f"not a {DIGEST_FORMAT} document")
    ChainPoint(**doc["chain_start"])
    ChainPoint(**doc["chain_end"])
    if not isinstance(doc.get("objects"), list):
        raise ValueError("objects is not a list")
    return doc


def build_digest(
    *,
    day: date,
    part_size: int,
    chain_start: ChainPoint,
    export: DayExport,
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
