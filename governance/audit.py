"""Append-only, hash-chained audit trail.

Each event is ``{id, timestamp, event_type, model_id, actor, details, prev_hash, hash}``.
``hash`` is the SHA-256 of the canonical serialisation (:func:`canonical_bytes`) of the
event's fields and ``prev_hash``, so altering, deleting, inserting or reordering any event
breaks the chain, and :meth:`AuditTrail.verify` names the first event where it breaks.

Appends are serialised through the one-row ``audit_head`` table (``SELECT … FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): the chain never forks, whatever the number of
concurrent writers.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update

from governance.errors import AuditChainError, GovernanceError
from governance.store.tables import audit_events, audit_head

GENESIS_HASH = "0" * 64
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_QUERY_LIMIT = 10_000
VERIFY_CHUNK = 20_000

ERR_NO_HEAD = "audit trail is not initialised; run `governance init` first"
ERR_BAD_CURSOR = "cursor {cursor!r} is not a cursor returned by a previous query"
ERR_BAD_LIMIT = "limit must be between 1 and {max}, got {value}"
ERR_BAD_TIME = "{name}={value!r} is not an ISO 8601 time (expected e.g. 2026-11-27T09:30:00Z)"

# verify() problem kinds and texts
PROBLEM_ALTERED = "altered"
PROBLEM_DELETED = "deleted"
PROBLEM_INSERTED = "inserted"
PROBLEM_REORDERED = "reordered"
PROBLEM_TRUNCATED = "truncated"
MSG_ALTERED = "content altered: stored hash {stored} but the fields hash to {computed}"
MSG_GAP = "events {first}..{last} are missing before it (deleted)"
MSG_LINK = (
    "prev_hash {prev} does not match the hash of the event before it (id {before}): an event "
    "was deleted, inserted or reordered here"
)
MSG_REORDERED = "timestamp {ts} is earlier than the event before it ({prev_ts}): events were reordered"
MSG_START = "the chain should start after event {base_id} with prev_hash {base_hash}"
MSG_TRUNCATED = "the chain ends at event {last} but its recorded head is event {head}: events were removed from the end"
MSG_BEYOND_HEAD = "event lies beyond the recorded chain head {head}: it was inserted"
MSG_EMPTY_BUT_HEAD = "no events, but the recorded head is event {head}: events were removed"


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime(TS_FORMAT)


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
    """The exact bytes an event's hash covers: a JSON array of its fields in fixed order."""
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


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    ok: bool
    count: int
    first_bad_id: int | None = None
    problem: str | None = None
    message: str | None = None

    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.count} events, chain intact"
        return f"FAIL: event {self.first_bad_id} ({self.problem}): {self.message}"


@dataclass(frozen=True, kw_only=True)
class Page:
    events: list[AuditEvent]
    next_cursor: str | None


def _encode_cursor(last_id: int, order: str) -> str:
    raw = json.dumps({"after": last_id, "order": order}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        last_id = data["after"]
        if not isinstance(last_id, int) or data.get("order") != order:
            raise ValueError
        return last_id
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise GovernanceError(ERR_BAD_CURSOR.format(cursor=cursor)) from None


class AuditTrail:
    """The audit trail of one governance database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ writing

    def ensure_head(self, conn: Connection) -> None:
        """Create the head row if the table is new (idempotent)."""
        if conn.execute(select(audit_head.c.id).where(audit_head.c.id == 1)).first() is None:
            conn.execute(
                insert(audit_head).values(
                    id=1,
                    last_id=0,
                    last_hash=GENESIS_HASH,
                    last_timestamp=format_ts(datetime(1970, 1, 1, tzinfo=UTC)),
                    base_id=0,
                    base_hash=GENESIS_HASH,
                )
            )

    def _lock_head(self, conn: Connection) -> tuple[int, str, str]:
        stmt = select(audit_head.c.last_id, audit_head.c.last_hash, audit_head.c.last_timestamp).where(
            audit_head.c.id == 1
        )
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            raise AuditChainError(ERR_NO_HEAD)
        return int(row[0]), str(row[1]), str(row[2])

    def append_in(
        self,
        conn: Connection,
        *,
        event_type: str,
        actor: str,
        model_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event inside the caller's transaction (commits with it)."""
        return self.append_many_in(
            conn, [NewEvent(event_type=event_type, actor=actor, model_id=model_id, details=details or {})]
        )[0]

    def append_many_in(self, conn: Connection, events: Iterable[NewEvent]) -> list[AuditEvent]:
        """Append events in order inside the caller's transaction, under the chain lock."""
        last_id, last_hash, last_ts = self._lock_head(conn)
        now = format_ts(utc_now())
        ts = now if now > last_ts else last_ts  # timestamps never go backwards along the chain
        rows: list[dict[str, Any]] = []
        out: list[AuditEvent] = []
        for ev in events:
            if not ev.event_type or not ev.actor:
                raise GovernanceError("audit events need a non-empty event_type and actor")
            last_id += 1
            details_text = canonical_details(ev.details)
            h = compute_hash(last_id, ts, ev.event_type, ev.model_id, ev.actor, details_text, last_hash)
            rows.append(
                {
                    "id": last_id,
                    "timestamp": ts,
                    "event_type": ev.event_type,
                    "model_id": ev.model_id,
                    "actor": ev.actor,
                    "details": details_text,
                    "prev_hash": last_hash,
                    "hash": h,
                }
            )
            out.append(
                AuditEvent(
                    id=last_id,
                    timestamp=ts,
                    event_type=ev.event_type,
                    model_id=ev.model_id,
                    actor=ev.actor,
                    details=json.loads(details_text),
                    prev_hash=last_hash,
                    hash=h,
                )
            )
            last_hash = h
        if not rows:
            return out
        conn.execute(insert(audit_events), rows)
        conn.execute(
            update(audit_head)
            .where(audit_head.c.id == 1)
            .values(last_id=last_id, last_hash=last_hash, last_timestamp=ts)
        )
        return out

    def append(
        self,
        *,
        event_type: str,
        actor: str,
        model_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event in its own transaction."""
        with self.engine.begin() as conn:
            return self.append_in(conn, event_type=event_type, actor=actor, model_id=model_id, details=details)

    def append_many(self, events: Iterable[NewEvent]) -> list[AuditEvent]:
        """Append a batch of events in one transaction (one lock, one commit)."""
        with self.engine.begin() as conn:
            return self.append_many_in(conn, events)

    def log_inference(
        self,
        *,
        model_id: str,
        actor: str,
        input_text: str | bytes,
        output_text: str | bytes,
        extra: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Record one inference by the SHA-256 of its input and output; never the raw text."""

        def digest(v: str | bytes) -> str:
            return hashlib.sha256(v.encode("utf-8") if isinstance(v, str) else v).hexdigest()

        details = dict(extra or {})
        details.update(
            input_sha256=digest(input_text),
            output_sha256=digest(output_text),
            input_bytes=len(input_text.encode() if isinstance(input_text, str) else input_text),
            output_bytes=len(output_text.encode() if isinstance(output_text, str) else output_text),
        )
        return self.append(event_type="inference", actor=actor, model_id=model_id, details=details)

    # ------------------------------------------------------------------ reading

    def head(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(audit_head).where(audit_head.c.id == 1)).mappings().first()
        if row is None:
            raise AuditChainError(ERR_NO_HEAD)
        return dict(row)

    def verify(self, *, chunk: int = VERIFY_CHUNK) -> VerifyResult:
        """Walk the chain and report the first event where it breaks."""
        head = self.head()
        expect_id = int(head["base_id"]) + 1
        prev_hash = str(head["base_hash"])
        prev_ts = ""
        count = 0
        sha = hashlib.sha256
        cols = (
            audit_events.c.id,
            audit_events.c.timestamp,
            audit_events.c.event_type,
            audit_events.c.model_id,
            audit_events.c.actor,
            audit_events.c.details,
            audit_events.c.prev_hash,
            audit_events.c.hash,
        )
        after = -1
        with self.engine.connect() as conn:
            while True:
                rows = conn.execute(
                    select(*cols).where(audit_events.c.id > after).order_by(audit_events.c.id).limit(chunk)
                ).all()
                if not rows:
                    break
                for eid, ts, etype, mid, actor, details, ph, h in rows:
                    if eid > head["last_id"]:
                        return self._bad(count, eid, PROBLEM_INSERTED, MSG_BEYOND_HEAD.format(head=head["last_id"]))
                    if eid != expect_id:
                        if count == 0 and eid < expect_id:
                            return self._bad(
                                count,
                                eid,
                                PROBLEM_INSERTED,
                                MSG_START.format(base_id=head["base_id"], base_hash=head["base_hash"]),
                            )
                        return self._bad(count, eid, PROBLEM_DELETED, MSG_GAP.format(first=expect_id, last=eid - 1))
                    computed = sha(_encode([eid, ts, etype, mid, actor, details, ph]).encode()).hexdigest()
                    if computed != h:
                        return self._bad(count, eid, PROBLEM_ALTERED, MSG_ALTERED.format(stored=h, computed=computed))
                    if ph != prev_hash:
                        if count == 0:
                            return self._bad(
                                count,
                                eid,
                                PROBLEM_DELETED,
                                MSG_START.format(base_id=head["base_id"], base_hash=head["base_hash"]),
                            )
                        return self._bad(count, eid, PROBLEM_INSERTED, MSG_LINK.format(prev=ph, before=eid - 1))
                    if ts < prev_ts:
                        return self._bad(count, eid, PROBLEM_REORDERED, MSG_REORDERED.format(ts=ts, prev_ts=prev_ts))
                    prev_hash, prev_ts = h, ts
                    expect_id += 1
                    count += 1
                after = rows[-1][0]
        if expect_id - 1 != head["last_id"] or prev_hash != head["last_hash"]:
            if count == 0:
                return self._bad(
                    count, head["last_id"], PROBLEM_TRUNCATED, MSG_EMPTY_BUT_HEAD.format(head=head["last_id"])
                )
            return self._bad(
                count, expect_id, PROBLEM_TRUNCATED, MSG_TRUNCATED.format(last=expect_id - 1, head=head["last_id"])
            )
        return VerifyResult(ok=True, count=count)

    @staticmethod
    def _bad(count: int, event_id: int, problem: str, message: str) -> VerifyResult:
        return VerifyResult(ok=False, count=count, first_bad_id=event_id, problem=problem, message=message)

    def query(
        self,
        *,
        model_id: str | None = None,
        actor: str | None = None,
        event_type: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
        order: str = "asc",
    ) -> Page:
        """Events matching every given filter, ``limit`` at a time, in id order.

        Pagination is by keyset (the last id seen, in an opaque cursor): pages never shift
        or repeat when new events arrive between calls. ``since`` is inclusive, ``until``
        exclusive.
        """
        if not 1 <= limit <= MAX_QUERY_LIMIT:
            raise GovernanceError(ERR_BAD_LIMIT.format(max=MAX_QUERY_LIMIT, value=limit))
        if order not in ("asc", "desc"):
            raise GovernanceError(f"order must be 'asc' or 'desc', got {order!r}")
        conds = []
        if model_id is not None:
            conds.append(audit_events.c.model_id == model_id)
        if actor is not None:
            conds.append(audit_events.c.actor == actor)
        if event_type is not None:
            conds.append(audit_events.c.event_type == event_type)
        if since is not None:
            conds.append(audit_events.c.timestamp >= parse_time(since, name="since"))
        if until is not None:
            conds.append(audit_events.c.timestamp < parse_time(until, name="until"))
        if cursor:
            last = _decode_cursor(cursor, order)
            conds.append(audit_events.c.id > last if order == "asc" else audit_events.c.id < last)
        stmt = select(audit_events)
        if conds:
            stmt = stmt.where(and_(*conds))
        key = audit_events.c.id.asc() if order == "asc" else audit_events.c.id.desc()
        stmt = stmt.order_by(key).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        events = [_row_to_event(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(events=events, next_cursor=_encode_cursor(events[-1].id, order) if more else None)

    def iter_events(
        self, *, after_id: int = 0, until_ts: str | None = None, chunk: int = 10_000
    ) -> Iterator[AuditEvent]:
        """All events after ``after_id`` (and before ``until_ts``), in chain order."""
        last = after_id
        with self.engine.connect() as conn:
            while True:
                stmt = select(audit_events).where(audit_events.c.id > last)
                if until_ts is not None:
                    stmt = stmt.where(audit_events.c.timestamp < until_ts)
                rows = conn.execute(stmt.order_by(audit_events.c.id).limit(chunk)).mappings().all()
                if not rows:
                    return
                for r in rows:
                    yield _row_to_event(r)
                last = rows[-1]["id"]

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def _row_to_event(r: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(
        id=int(r["id"]),
        timestamp=r["timestamp"],
        event_type=r["event_type"],
        model_id=r["model_id"],
        actor=r["actor"],
        details=json.loads(r["details"]),
        prev_hash=r["prev_hash"],
        hash=r["hash"],
    )
