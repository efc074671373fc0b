"""governance.audit.chain: the audit trail's hash format and its events.

Each event is ``{id, timestamp, event_type, model_id, actor, details, prev_hash, hash}``.
``hash`` is the SHA-256 of the canonical serialisation (:func:`canonical_bytes`) of the
event's fields and ``prev_hash``: the UTF-8 bytes of the compact JSON array
``[id, timestamp, event_type, model_id, actor, details, prev_hash]`` (``details`` is itself
canonical JSON text, see :func:`canonical_details`). The first event's ``prev_hash`` is
:data:`GENESIS_HASH`; timestamps are UTC text in :data:`TS_FORMAT`.

Also here: the event dataclasses (:class:`AuditEvent`, a stored event; :class:`NewEvent`, one
to append), the stored row's columns and its conversion to an event (:func:`tuple_to_event`),
and :data:`ERR_NO_HEAD`, raised by every part of the trail that finds no ``audit_head`` row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring as quote  # C-accelerated JSON string quoting, no ASCII escaping
from typing import Any

from governance._util import as_utc
from governance.errors import GovernanceError

GENESIS_HASH = "0" * 64
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

ERR_NO_HEAD = "audit trail is not initialised; run `governance init` first"
ERR_BAD_TIME = "{name}={value!r} is not an ISO 8601 time (expected e.g. 2026-11-27T09:30:00Z)"

COLUMNS = "id, timestamp, event_type, model_id, actor, details, prev_hash, hash"
"""The columns of ``audit_events`` in the order :func:`tuple_to_event` and the scans read them."""

EVENT_FORMAT = "[%d,%s,%s,%s,%s,%s,%s]"
"""The JSON array of :func:`canonical_bytes`, spelled out: ``%d`` is how JSON writes an int and
:func:`quote` is the C string quoter ``json.dumps(..., ensure_ascii=False)`` uses, so the bytes
are identical to ``json.dumps([...], ensure_ascii=False, separators=(",", ":"))``, only faster.
The append and verify hot loops format it directly."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(ts: datetime) -> str:
    return as_utc(ts).strftime(TS_FORMAT)


def parse_time(value: str | datetime, *, name: str = "time") -> str:
    """Parse an ISO 8601 time (date, or date-time with optional zone; naive = UTC)."""
    if isinstance(value, datetime):
        return format_ts(value)
    text = value.strip()
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise GovernanceError(ERR_BAD_TIME.format(name=name, value=value)) from None
    return format_ts(ts)


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """Details as canonical JSON: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        dict(details or {}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_ts(value)
    if hasattr(value, "value") and isinstance(value.value, str | int):  # enums
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def canonical_bytes(
    event_id: int,
    timestamp: str,
    event_type: str,
    model_id: str | None,
    actor: str,
    details: str,
    prev_hash: str,
) -> bytes:
    """The exact bytes an event's hash covers: a JSON array of its fields in fixed order.

    ``json.dumps([event_id, timestamp, event_type, model_id, actor, details, prev_hash],
    ensure_ascii=False, separators=(",", ":")).encode("utf-8")``.
    """
    if (
        type(event_id) is int
        and type(timestamp) is str
        and type(event_type) is str
        and (model_id is None or type(model_id) is str)
        and type(actor) is str
        and type(details) is str
        and type(prev_hash) is str
    ):
        return (
            EVENT_FORMAT
            % (
                event_id,
                quote(timestamp),
                quote(event_type),
                "null" if model_id is None else quote(model_id),
                quote(actor),
                quote(details),
                quote(prev_hash),
            )
        ).encode()
    # anything else (only a tampered row can hold it) is serialised by the general encoder
    return _encode([event_id, timestamp, event_type, model_id, actor, details, prev_hash]).encode()


def compute_hash(
    event_id: int,
    timestamp: str,
    event_type: str,
    model_id: str | None,
    actor: str,
    details: str,
    prev_hash: str,
) -> str:
    return hashlib.sha256(
        canonical_bytes(event_id, timestamp, event_type, model_id, actor, details, prev_hash)
    ).hexdigest()


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    id: int
    timestamp: str
    event_type: str
    model_id: str | None
    actor: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "event_type": self.event_type,
            "model_id": self.model_id,
            "actor": self.actor,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, kw_only=True)
class NewEvent:
    """An event to append; id, timestamp and hashes are assigned by the trail."""

    event_type: str
    actor: str
    model_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def tuple_to_event(r: Sequence[Any]) -> AuditEvent:
    """An event from a row of :data:`COLUMNS` (``details`` still JSON text)."""
    eid, ts, et, mid, actor, det, ph, h = r
    return AuditEvent(
        id=int(eid),
        timestamp=ts,
        event_type=et,
        model_id=mid,
        actor=actor,
        details=json.loads(det),
        prev_hash=ph,
        hash=h,
    )
