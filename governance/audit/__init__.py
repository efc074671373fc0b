"""Append-only, hash-chained audit trail.

Each event is ``{id, timestamp, event_type, model_id, actor, details, prev_hash, hash}``.
``hash`` is the SHA-256 of the canonical serialisation (:func:`canonical_bytes`) of the
event's fields and ``prev_hash``: the UTF-8 bytes of the compact JSON array
``[id, timestamp, event_type, model_id, actor, details, prev_hash]`` (``details`` is itself
canonical JSON text, see :func:`canonical_details`). Altering, deleting, inserting or
reordering any event breaks the chain, and :meth:`AuditTrail.verify` names the first event
where it breaks.

Appends are serialised through the one-row ``audit_head`` table (``SELECT … FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): the chain never forks, whatever the number of
concurrent writers, and ids are contiguous. Timestamps never go backwards along the chain,
which lets time-range queries narrow themselves to an id range.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring as _q  # C-accelerated JSON string quoting, no ASCII escaping
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select

from governance.errors import AuditChainError, GovernanceError
from governance.store.engine import read_connection
from governance.store.tables import audit_events, audit_head

GENESIS_HASH = "0" * 64
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_QUERY_LIMIT = 10_000
VERIFY_CHUNK = 20_000
PARALLEL_VERIFY_MIN = 200_000
"""Chains at least this long are verified by several processes (one per CPU, at most 4)."""
COPY_MIN = 200
"""Batches at least this large are written with COPY on PostgreSQL."""

ERR_NO_HEAD = "audit trail is not initialised; run `governance init` first"
ERR_BAD_CURSOR = "cursor {cursor!r} is not a cursor returned by a previous query"
ERR_BAD_LIMIT = "limit must be between 1 and {max}, got {value}"
ERR_BAD_ORDER = "order must be 'asc' or 'desc', got {value!r}"
ERR_BAD_TIME = "{name}={value!r} is not an ISO 8601 time (expected e.g. 2026-11-27T09:30:00Z)"
ERR_CONFLICT = (
    "could not append: an event with the next id already exists, so the audit table was written "
    "outside the audit trail; run `governance audit verify` to find it"
)
ERR_EMPTY_FIELD = "audit events need a non-empty event_type and actor (got event_type={event_type!r}, actor={actor!r})"

# verify() problem kinds and texts
PROBLEM_ALTERED = "altered"
PROBLEM_DELETED = "deleted"
PROBLEM_INSERTED = "inserted"
PROBLEM_REORDERED = "reordered"
PROBLEM_TRUNCATED = "truncated"
MSG_ALTERED = "content altered: stored hash {stored} but the fields hash to {computed}"
MSG_UNREADABLE = "content altered: the stored fields cannot be hashed ({error})"
MSG_GAP = "events {first}..{last} are missing (deleted); the next stored event is {next}"
MSG_MOVED = (
    "this row holds event {original} (its fields hash correctly only as event {original}): "
    "events were reordered or renumbered"
)
MSG_REPLACED = (
    "event {next} was chained to a different predecessor (prev_hash {prev}): this event was inserted in its place"
)
MSG_LINK = (
    "prev_hash {prev} does not match the hash of the event before it (id {before}), and no later event "
    "is chained to this one: it was inserted"
)
MSG_REORDERED = "timestamp {ts} is earlier than the event before it ({prev_ts}): events were reordered"
MSG_START = (
    "the chain should start after event {base_id} with prev_hash {base_hash}; this event does not: it was inserted"
)
MSG_TRUNCATED = (
    "the chain ends at event {last} but its recorded head is event {head}: "
    "events {first}..{head} were removed from the end"
)
MSG_HEAD_MISMATCH = "the last event's hash {stored} is not the recorded chain head {head_hash}: it was altered"
MSG_BEYOND_HEAD = "event lies beyond the recorded chain head {head}: it was inserted"
MSG_EMPTY_BUT_HEAD = "no events, but the recorded head is event {head}: events {first}..{head} were removed"


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
_FMT = "[%d,%s,%s,%s,%s,%s,%s]"
"""The JSON array of :func:`canonical_bytes`, spelled out: ``%d`` is how JSON writes an int and
``_q`` is the C string quoter ``json.dumps(..., ensure_ascii=False)`` uses, so the bytes are
identical to ``json.dumps([...], ensure_ascii=False, separators=(",", ":"))``, only faster."""


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
            _FMT
            % (
                event_id,
                _q(timestamp),
                _q(event_type),
                "null" if model_id is None else _q(model_id),
                _q(actor),
                _q(details),
                _q(prev_hash),
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
        if not isinstance(last_id, int) or isinstance(last_id, bool) or data.get("order") != order:
            raise ValueError
        return last_id
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise GovernanceError(ERR_BAD_CURSOR.format(cursor=cursor)) from None


# ----------------------------------------------------------------------------- raw SQL

_COLS = "id, timestamp, event_type, model_id, actor, details, prev_hash, hash"
_SQL_HEAD = "SELECT last_id, last_hash, last_timestamp FROM audit_head WHERE id = 1"
_SQL_HEAD_ALL = "SELECT last_id, last_hash, last_timestamp, base_id, base_hash FROM audit_head WHERE id = 1"
_SQL_INSERT = f"INSERT INTO audit_events ({_COLS}) VALUES ({{p}}, {{p}}, {{p}}, {{p}}, {{p}}, {{p}}, {{p}}, {{p}})"
_SQL_SET_HEAD = "UPDATE audit_head SET last_id = {p}, last_hash = {p}, last_timestamp = {p} WHERE id = 1"
_SCAN_COLS = _COLS
_SQL_SCAN = f"SELECT {_SCAN_COLS} FROM audit_events ORDER BY id"
_SQL_SCAN_RANGE = f"SELECT {_SCAN_COLS} FROM audit_events WHERE id >= {{p}} AND id <= {{p}} ORDER BY id"
_SQL_ROW = f"SELECT {_COLS} FROM audit_events WHERE id = {{p}}"
_SQL_FROM = f"SELECT {_COLS} FROM audit_events WHERE id >= {{p}} ORDER BY id LIMIT 1"
_SQL_SUCCESSOR = "SELECT id FROM audit_events WHERE prev_hash = {p} AND id <> {p} ORDER BY id LIMIT 1"
_SQL_MIN_BEYOND = "SELECT min(id) FROM audit_events WHERE id > {p}"
_SNAPSHOT_RE = re.compile(r"^[0-9A-Fa-f-]+$")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


def _sql(template: str, conn_or_dialect: Any) -> str:
    name = conn_or_dialect if isinstance(conn_or_dialect, str) else conn_or_dialect.dialect.name
    return template.format(p="%s" if name == "postgresql" else "?")


def _dbapi(conn: Connection) -> Any:
    """The DBAPI connection under ``conn``, inside ``conn``'s transaction (begun if needed)."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.dbapi_connection


# ----------------------------------------------------------------------------- verify scan


def _scan(
    rows: Sequence[tuple[Any, ...]], expect: int, prev_hash: str, prev_ts: str, last_id: int
) -> tuple[int, str, str, int | None]:
    """Check ``rows`` (id order, :data:`_SCAN_COLS`) as the continuation of a chain whose last
    hash is ``prev_hash``; the hot loop of verify.

    Returns the state after the rows that passed (next expected id, last hash, last
    timestamp) and the index of the first row that did not, or None if all passed. A row
    passes if its id is the expected one and within the head, its timestamp does not go
    back, its stored prev_hash is ``prev_hash``, and its fields hash to its stored hash.
    Failures are classified by the caller.
    """
    if not _HEX64_RE.fullmatch(prev_hash):  # not a hash this trail wrote: let the caller look
        return expect, prev_hash, prev_ts, 0 if rows else None
    sha = hashlib.sha256
    q = _q
    fmt = _FMT
    qprev = '"' + prev_hash + '"'
    i = 0
    try:
        for eid, ts, et, mid, actor, det, ph, h in rows:
            if (
                eid != expect
                or eid > last_id
                or ph != prev_hash  # then ph is plain hex, and qprev its JSON form
                or ts < prev_ts
                or sha(
                    (fmt % (eid, q(ts), q(et), "null" if mid is None else q(mid), q(actor), q(det), qprev)).encode()
                ).hexdigest()
                != h
            ):
                return expect, prev_hash, prev_ts, i
            prev_hash = h  # equal to a hexdigest just computed: needs no JSON escaping
            qprev = '"' + h + '"'
            prev_ts = ts
            expect += 1
            i += 1
    except Exception:  # a value that is not text (only a tampered row holds one): classified by the caller
        return expect, prev_hash, prev_ts, i
    return expect, prev_hash, prev_ts, None


@dataclass
class _RangeResult:
    ok: bool
    first_prev_hash: str | None = None
    first_ts: str = ""
    last_hash: str | None = None
    last_ts: str = ""
    expect: int = 0
    error: str | None = None


def _verify_range_worker(
    dialect: str,
    cargs: list[Any],
    cparams: dict[str, Any],
    snapshot: str | None,
    lo: int,
    hi: int,
    chunk: int,
    out: Any,
) -> None:
    """Run in a child process: scan events ``lo..hi`` on a connection of its own."""
    try:
        out.send(_verify_range(dialect, cargs, cparams, snapshot, lo, hi, chunk))
    except Exception as exc:  # reported to the parent, which then verifies on its own
        out.send(_RangeResult(ok=False, error=repr(exc)))
    finally:
        out.close()


def _verify_range(
    dialect: str, cargs: list[Any], cparams: dict[str, Any], snapshot: str | None, lo: int, hi: int, chunk: int
) -> _RangeResult:
    if dialect == "postgresql":
        import psycopg

        dbapi_conn: Any = psycopg.connect(*cargs, **cparams, autocommit=True)
        dbapi_conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if snapshot:
            dbapi_conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # validated by _SNAPSHOT_RE
        cur = dbapi_conn.cursor(name="governance_verify_range")
    else:
        import sqlite3

        dbapi_conn = sqlite3.connect(*cargs, **cparams)
        cur = dbapi_conn.cursor()
    try:
        first = dbapi_conn.execute(_sql("SELECT prev_hash, timestamp FROM audit_events WHERE id = {p}", dialect), (lo,))
        row = first.fetchone()
        first.close()
        if row is None or not isinstance(row[0], str):
            return _RangeResult(ok=False)
        res = _RangeResult(ok=True, expect=lo, first_prev_hash=row[0], first_ts=row[1])
        prev_hash: str = row[0]
        prev_ts = ""
        cur.execute(_sql(_SQL_SCAN_RANGE, dialect), (lo, hi))
        while True:
            rows = cur.fetchmany(chunk)
            if not rows:
                break
            res.expect, prev_hash, prev_ts, bad = _scan(rows, res.expect, prev_hash, prev_ts, hi)
            if bad is not None:
                return _RangeResult(ok=False)
        res.last_hash, res.last_ts = prev_hash, prev_ts
        return res
    finally:
        cur.close()
        dbapi_conn.close()


def _lock_head_raw(dbapi: Any, dialect: str) -> tuple[int, str, str]:
    cur = dbapi.cursor()
    try:
        cur.execute(_SQL_HEAD + (" FOR UPDATE" if dialect == "postgresql" else ""))
        row = cur.fetchone()
    finally:
        cur.close()
    if row is None:
        raise AuditChainError(ERR_NO_HEAD)
    return int(row[0]), str(row[1]), str(row[2])


def _prepare(events: Iterable[NewEvent]) -> list[tuple[str, str | None, str, str]]:
    """Validate and serialise events (before the chain lock is taken)."""
    prepared = []
    for ev in events:
        if not ev.event_type or not ev.actor:
            raise GovernanceError(ERR_EMPTY_FIELD.format(event_type=ev.event_type, actor=ev.actor))
        prepared.append((ev.event_type, ev.model_id, ev.actor, canonical_details(ev.details)))
    return prepared


def _append_raw(dbapi: Any, dialect: str, prepared: list[tuple[str, str | None, str, str]]) -> list[AuditEvent]:
    """Chain and write prepared events on a DBAPI connection inside an open transaction."""
    last_id, last_hash, last_ts = _lock_head_raw(dbapi, dialect)
    now = format_ts(utc_now())
    ts = now if now > last_ts else last_ts  # timestamps never go backwards along the chain
    qts = _q(ts)
    sha = hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    out: list[AuditEvent] = []
    for etype, mid, actor, details_text in prepared:
        last_id += 1
        h = sha(
            (
                _FMT
                % (
                    last_id,
                    qts,
                    _q(etype),
                    "null" if mid is None else _q(mid),
                    _q(actor),
                    _q(details_text),
                    _q(last_hash),
                )
            ).encode()
        ).hexdigest()
        rows.append((last_id, ts, etype, mid, actor, details_text, last_hash, h))
        out.append(_tuple_to_event(rows[-1]))
        last_hash = h
    head = (last_id, last_hash, ts)
    cur = dbapi.cursor()
    try:
        _write_rows(cur, dialect, rows, head)
    except _integrity_errors(dialect) as exc:
        raise AuditChainError(ERR_CONFLICT) from exc
    finally:
        cur.close()
    return out


def _integrity_errors(dialect: str) -> tuple[type[Exception], ...]:
    if dialect == "postgresql":
        import psycopg

        return (psycopg.IntegrityError,)
    import sqlite3

    return (sqlite3.IntegrityError,)


def _write_rows(cur: Any, dialect: str, rows: list[tuple[Any, ...]], head: tuple[int, str, str]) -> None:
    """Insert the events and move the head (DBAPI cursor: the hot path of every writer)."""
    if dialect == "postgresql" and len(rows) >= COPY_MIN:
        with cur.copy(f"COPY audit_events ({_COLS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(_sql(_SQL_SET_HEAD, dialect), head)
    elif dialect == "postgresql":
        # one round trip: insert the events and move the head in a single statement
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        cur.execute(
            f"WITH ins AS (INSERT INTO audit_events ({_COLS}) VALUES {values}) " + _sql(_SQL_SET_HEAD, dialect),
            [*(v for row in rows for v in row), *head],
        )
    else:
        if len(rows) == 1:
            cur.execute(_sql(_SQL_INSERT, dialect), rows[0])
        else:
            cur.executemany(_sql(_SQL_INSERT, dialect), rows)
        cur.execute(_sql(_SQL_SET_HEAD, dialect), head)


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
        """Take the chain lock for ``conn``'s transaction and return the chain's tip.

        PostgreSQL: a row lock on the head (held to commit/rollback). SQLite: the transaction
        already holds the database write lock (``BEGIN IMMEDIATE``).
        """
        return _lock_head_raw(_dbapi(conn), conn.dialect.name)

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
        prepared = _prepare(events)
        if not prepared:
            return []
        return _append_raw(_dbapi(conn), conn.dialect.name, prepared)

    def append(
        self,
        *,
        event_type: str,
        actor: str,
        model_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event in its own transaction."""
        return self.append_many(
            [NewEvent(event_type=event_type, actor=actor, model_id=model_id, details=details or {})]
        )[0]

    def append_many(self, events: Iterable[NewEvent]) -> list[AuditEvent]:
        """Append a batch of events in one transaction (one lock, one commit).

        Runs on the pooled DBAPI connection directly: this is the hot path of every writer,
        and SQLAlchemy's per-statement machinery would cost more than SQLite's commit.
        """
        prepared = _prepare(events)
        if not prepared:
            return []
        dialect = self.engine.dialect.name
        raw = self.engine.raw_connection()
        try:
            dbapi = raw.driver_connection
            try:
                if dialect == "postgresql" and len(prepared) < COPY_MIN:
                    # pipeline mode: BEGIN travels with the head lock, COMMIT with the insert,
                    # so a transaction costs two round trips instead of four (COPY, used for
                    # larger batches, cannot run in a pipeline)
                    with dbapi.pipeline():
                        out = _append_raw(dbapi, dialect, prepared)
                        dbapi.commit()
                else:
                    if dialect == "sqlite":
                        dbapi.execute("BEGIN IMMEDIATE")
                    out = _append_raw(dbapi, dialect, prepared)
                    dbapi.commit()
            except _integrity_errors(dialect) as exc:  # raised at COMMIT in pipeline mode
                dbapi.rollback()
                raise AuditChainError(ERR_CONFLICT) from exc
            except BaseException:
                dbapi.rollback()
                raise
        finally:
            raw.close()
        return out

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

        def raw(v: str | bytes) -> bytes:
            return v.encode("utf-8") if isinstance(v, str) else v

        details = dict(extra or {})
        details.update(
            input_sha256=hashlib.sha256(raw(input_text)).hexdigest(),
            output_sha256=hashlib.sha256(raw(output_text)).hexdigest(),
            input_bytes=len(raw(input_text)),
            output_bytes=len(raw(output_text)),
        )
        return self.append(event_type="inference", actor=actor, model_id=model_id, details=details)

    # ------------------------------------------------------------------ reading

    def head(self) -> dict[str, Any]:
        with read_connection(self.engine) as conn:
            row = conn.execute(select(audit_head).where(audit_head.c.id == 1)).mappings().first()
        if row is None:
            raise AuditChainError(ERR_NO_HEAD)
        return dict(row)

    def verify(self, *, chunk: int = VERIFY_CHUNK, workers: int | None = None) -> VerifyResult:
        """Walk the chain and report the first event where it breaks.

        Problems, by the first event they concern: ``altered`` (its fields do not hash to
        its stored hash, or the last event is not the recorded head), ``reordered`` (it holds
        another position's event, or its timestamp goes back), ``deleted`` (events missing
        before the next stored one; named by the first missing id), ``truncated`` (events
        missing at the end; named by the first missing id), ``inserted`` (it lies beyond the
        head or before the chain's start, or it replaced an event: the event after it is
        chained to a different predecessor, or it is chained to nothing before it).

        Reads one snapshot of the database. Long chains are hashed by ``workers`` processes
        (default: one per CPU, at most 4, for chains of :data:`PARALLEL_VERIFY_MIN` events or
        more); any doubt they raise is settled by the sequential walk.
        """
        with read_connection(self.engine, snapshot=True) as conn:
            cur = _dbapi(conn).cursor()
            try:
                cur.execute(_SQL_HEAD_ALL)
                head = cur.fetchone()
            finally:
                cur.close()
            if head is None:
                raise AuditChainError(ERR_NO_HEAD)
            last_id, last_hash, _, base_id, base_hash = int(head[0]), head[1], head[2], int(head[3]), head[4]
            if workers is None:
                cpus = os.cpu_count() or 1
                workers = min(cpus, 4) if last_id - base_id >= PARALLEL_VERIFY_MIN else 1
            if multiprocessing.current_process().daemon:  # daemonic processes may not have children
                workers = 1
            if workers > 1 and last_id - base_id >= 2 * workers:
                result = self._verify_parallel(conn, workers, chunk, last_id, last_hash, base_id, base_hash)
                if result is not None:
                    return result
            return self._verify_sequential(conn, chunk, last_id, last_hash, base_id, base_hash)

    def _verify_sequential(
        self, conn: Connection, chunk: int, last_id: int, last_hash: str, base_id: int, base_hash: str
    ) -> VerifyResult:
        dbapi = _dbapi(conn)
        if conn.dialect.name != "sqlite":
            return self._walk(conn, dbapi, chunk, last_id, last_hash, base_id, base_hash)
        import sqlite3

        try:
            return self._walk(conn, dbapi, chunk, last_id, last_hash, base_id, base_hash)
        except sqlite3.OperationalError:
            # SQLite keeps whatever bytes were written into a TEXT column; bytes that are not
            # UTF-8 make the driver fail to read the row. Read them as lone surrogates instead:
            # such a row cannot be hashed, and is reported as altered.
            factory = dbapi.text_factory
            dbapi.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
            try:
                return self._walk(conn, dbapi, chunk, last_id, last_hash, base_id, base_hash)
            finally:
                dbapi.text_factory = factory

    def _walk(
        self, conn: Connection, dbapi: Any, chunk: int, last_id: int, last_hash: str, base_id: int, base_hash: str
    ) -> VerifyResult:
        dialect = conn.dialect.name
        cur = dbapi.cursor(name="governance_verify") if dialect == "postgresql" else dbapi.cursor()
        expect, prev_hash, prev_ts = base_id + 1, base_hash, ""
        try:
            cur.execute(_SQL_SCAN)
            while True:
                rows = cur.fetchmany(chunk)
                if not rows:
                    break
                expect, prev_hash, prev_ts, bad = _scan(rows, expect, prev_hash, prev_ts, last_id)
                if bad is not None:
                    return self._diagnose(
                        conn,
                        self._row(conn, rows[bad][0]),
                        expect,
                        prev_hash,
                        prev_ts,
                        last_id,
                        last_hash,
                        base_id,
                        base_hash,
                    )
        finally:
            cur.close()
        return self._check_end(expect - 1 - base_id, expect - 1, prev_hash, last_id, last_hash, base_id)

    def _check_end(
        self, count: int, prev_id: int, prev_hash: str | None, last_id: int, last_hash: str, base_id: int
    ) -> VerifyResult:
        if prev_id < last_id:
            if count == 0:
                return self._bad(
                    count, base_id + 1, PROBLEM_TRUNCATED, MSG_EMPTY_BUT_HEAD.format(head=last_id, first=base_id + 1)
                )
            return self._bad(
                count,
                prev_id + 1,
                PROBLEM_TRUNCATED,
                MSG_TRUNCATED.format(last=prev_id, head=last_id, first=prev_id + 1),
            )
        if prev_hash != last_hash:
            return self._bad(
                count - 1, last_id, PROBLEM_ALTERED, MSG_HEAD_MISMATCH.format(stored=prev_hash, head_hash=last_hash)
            )
        return VerifyResult(ok=True, count=count)

    def _verify_parallel(
        self,
        conn: Connection,
        workers: int,
        chunk: int,
        last_id: int,
        last_hash: str,
        base_id: int,
        base_hash: str,
    ) -> VerifyResult | None:
        """Split ``base_id+1..last_id`` over ``workers`` processes (this one takes the first
        range). Returns None when anything looks wrong: the caller then walks sequentially."""
        dialect = conn.dialect.name
        dbapi = _dbapi(conn)
        snapshot = None
        if dialect == "postgresql":
            cur = dbapi.cursor()
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = str(cur.fetchone()[0])
            cur.close()
            if not _SNAPSHOT_RE.match(snapshot):
                return None
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        cparams = {k: v for k, v in cparams.items() if k != "context"}
        n = last_id - base_id
        bounds = [base_id + 1 + (n * k) // workers for k in range(workers)] + [last_id + 1]
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        procs = []
        try:
            for k in range(1, workers):
                recv, send = ctx.Pipe(duplex=False)
                p = ctx.Process(
                    target=_verify_range_worker,
                    args=(dialect, list(cargs), cparams, snapshot, bounds[k], bounds[k + 1] - 1, chunk, send),
                    daemon=True,
                )
                p.start()
                send.close()
                procs.append((p, recv))
            # this process: everything up to the first worker's range (incl. rows below the base)
            cur = dbapi.cursor(name="governance_verify") if dialect == "postgresql" else dbapi.cursor()
            expect, prev_hash, prev_ts = base_id + 1, base_hash, ""
            try:
                cur.execute(
                    f"SELECT {_SCAN_COLS} FROM audit_events WHERE id < {_sql('{p}', dialect)} ORDER BY id",
                    (bounds[1],),
                )
                while True:
                    rows = cur.fetchmany(chunk)
                    if not rows:
                        break
                    expect, prev_hash, prev_ts, bad = _scan(rows, expect, prev_hash, prev_ts, last_id)
                    if bad is not None:
                        return None
            finally:
                cur.close()
            for k, (_, recv) in enumerate(procs, start=1):
                res: _RangeResult = recv.recv() if recv.poll(3600) else _RangeResult(ok=False)
                # the worker's range must continue this one exactly: its scan checked that its
                # first id is bounds[k] and that its events are contiguous and linked
                if not res.ok or expect != bounds[k] or res.first_prev_hash != prev_hash or res.first_ts < prev_ts:
                    return None
                expect, prev_hash, prev_ts = res.expect, res.last_hash, res.last_ts
            if expect != last_id + 1:
                return None
            cur = dbapi.cursor()
            try:
                cur.execute(_sql(_SQL_MIN_BEYOND, dialect), (last_id,))
                beyond = cur.fetchone()[0]
            finally:
                cur.close()
            if beyond is not None or prev_hash != last_hash:
                return None
            return VerifyResult(ok=True, count=n)
        except Exception:  # e.g. no child processes allowed here: the sequential walk decides
            return None
        finally:
            for p, recv in procs:
                recv.close()
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()

    def _diagnose(
        self,
        conn: Connection,
        row: tuple[Any, ...],
        expect: int,
        prev_hash: str,
        prev_ts: str,
        last_id: int,
        last_hash: str,
        base_id: int,
        base_hash: str,
    ) -> VerifyResult:
        """Name the problem at ``row``, the first row the fast scan refused."""
        eid, ts, et, mid, actor, det, ph, h = row
        count = expect - 1 - base_id
        if eid > expect and expect <= last_id:
            if eid > last_id:  # everything from ``expect`` to the head is gone
                return self._bad(
                    count, expect, PROBLEM_TRUNCATED, MSG_TRUNCATED.format(last=expect - 1, head=last_id, first=expect)
                )
            return self._bad(count, expect, PROBLEM_DELETED, MSG_GAP.format(first=expect, last=eid - 1, next=eid))
        if eid > last_id:
            return self._bad(count, eid, PROBLEM_INSERTED, MSG_BEYOND_HEAD.format(head=last_id))
        if eid < expect:  # only possible before the chain's start
            return self._bad(count, eid, PROBLEM_INSERTED, MSG_START.format(base_id=base_id, base_hash=base_hash))
        try:
            computed = compute_hash(eid, ts, et, mid, actor, det, ph)
        except Exception as exc:
            return self._bad(count, eid, PROBLEM_ALTERED, MSG_UNREADABLE.format(error=type(exc).__name__))
        if computed != h:
            original = self._original_position(conn, row, last_id, last_hash)
            if original is not None:
                return self._bad(count, eid, PROBLEM_REORDERED, MSG_MOVED.format(original=original))
            return self._bad(count, eid, PROBLEM_ALTERED, MSG_ALTERED.format(stored=h, computed=computed))
        if ph != prev_hash:
            if eid == base_id + 1:
                return self._bad(count, eid, PROBLEM_INSERTED, MSG_START.format(base_id=base_id, base_hash=base_hash))
            if self._is_anchored(conn, row, last_id, last_hash):
                # this event is the one the rest of the chain hangs on: its predecessor is the intruder
                return self._bad(count - 1, eid - 1, PROBLEM_INSERTED, MSG_REPLACED.format(next=eid, prev=ph))
            return self._bad(count, eid, PROBLEM_INSERTED, MSG_LINK.format(prev=ph, before=eid - 1))
        if isinstance(ts, str) and ts < prev_ts:
            return self._bad(count, eid, PROBLEM_REORDERED, MSG_REORDERED.format(ts=ts, prev_ts=prev_ts))
        # consistent with itself and its predecessor, yet refused: the link it carries is not
        # a hash this trail writes (e.g. a rewritten head or start of the chain)
        return self._bad(count, eid, PROBLEM_ALTERED, MSG_ALTERED.format(stored=h, computed=computed))

    @staticmethod
    def _row(conn: Connection, event_id: int) -> tuple[Any, ...]:
        cur = _dbapi(conn).cursor()
        try:
            cur.execute(_sql(_SQL_ROW, conn), (event_id,))
            return tuple(cur.fetchone())
        finally:
            cur.close()

    def _original_position(self, conn: Connection, row: tuple[Any, ...], last_id: int, last_hash: str) -> int | None:
        """If ``row``'s fields hash to its stored hash under another id, that id (found through
        the event chained after it, or the head); else None."""
        eid, ts, et, mid, actor, det, ph, h = row
        candidates = []
        if h == last_hash:
            candidates.append(last_id)
        cur = _dbapi(conn).cursor()
        try:
            cur.execute(_sql(_SQL_SUCCESSOR, conn), (h, eid))
            found = cur.fetchone()
        finally:
            cur.close()
        if found is not None:
            candidates.append(int(found[0]) - 1)
        for k in candidates:
            if k != eid and compute_hash(k, ts, et, mid, actor, det, ph) == h:
                return k
        return None

    def _is_anchored(self, conn: Connection, row: tuple[Any, ...], last_id: int, last_hash: str) -> bool:
        """True if the event after ``row`` is chained to it (or ``row`` is the recorded head)."""
        eid, h = row[0], row[7]
        if eid == last_id:
            return h == last_hash
        cur = _dbapi(conn).cursor()
        try:
            cur.execute(_sql(_SQL_FROM, conn), (eid + 1,))
            nxt = cur.fetchone()
        finally:
            cur.close()
        return nxt is not None and nxt[0] == eid + 1 and nxt[6] == h

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
        exclusive. A time range is first turned into an id range (timestamps never go
        backwards along the chain), so it costs two index probes, not a scan.
        """
        if not 1 <= limit <= MAX_QUERY_LIMIT:
            raise GovernanceError(ERR_BAD_LIMIT.format(max=MAX_QUERY_LIMIT, value=limit))
        if order not in ("asc", "desc"):
            raise GovernanceError(ERR_BAD_ORDER.format(value=order))
        e = audit_events.c
        conds = []
        if model_id is not None:
            conds.append(e.model_id == model_id)
        if actor is not None:
            conds.append(e.actor == actor)
        if event_type is not None:
            conds.append(e.event_type == event_type)
        since_ts = parse_time(since, name="since") if since is not None else None
        until_ts = parse_time(until, name="until") if until is not None else None
        if cursor:
            last = _decode_cursor(cursor, order)
            conds.append(e.id > last if order == "asc" else e.id < last)
        with read_connection(self.engine) as conn:
            if since_ts is not None:
                conds.append(e.timestamp >= since_ts)
                lo = self._first_id_at(conn, since_ts)
                if lo is None:
                    return Page(events=[], next_cursor=None)
                conds.append(e.id >= lo)
            if until_ts is not None:
                conds.append(e.timestamp < until_ts)
                hi = self._first_id_at(conn, until_ts)
                if hi is not None:
                    conds.append(e.id < hi)
            stmt = select(audit_events)
            if conds:
                stmt = stmt.where(and_(*conds))
            key = e.id.asc() if order == "asc" else e.id.desc()
            rows = conn.execute(stmt.order_by(key).limit(limit + 1)).all()
        events = [_tuple_to_event(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(events=events, next_cursor=_encode_cursor(events[-1].id, order) if more else None)

    @staticmethod
    def _first_id_at(conn: Connection, ts: str) -> int | None:
        """The id of the first event at or after ``ts`` (one probe of the (timestamp, id) index)."""
        e = audit_events.c
        return conn.execute(
            select(e.id).where(e.timestamp >= ts).order_by(e.timestamp, e.id).limit(1)
        ).scalar_one_or_none()

    def iter_events(
        self, *, after_id: int = 0, until_ts: str | None = None, chunk: int = 10_000
    ) -> Iterator[AuditEvent]:
        """All events after ``after_id`` (and before ``until_ts``), in chain order."""
        last = after_id
        with read_connection(self.engine) as conn:
            while True:
                stmt = select(audit_events).where(audit_events.c.id > last)
                if until_ts is not None:
                    stmt = stmt.where(audit_events.c.timestamp < until_ts)
                rows = conn.execute(stmt.order_by(audit_events.c.id).limit(chunk)).all()
                if not rows:
                    return
                for r in rows:
                    yield _tuple_to_event(r)
                last = rows[-1][0]

    def count(self) -> int:
        with read_connection(self.engine) as conn:
            return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def _tuple_to_event(r: Sequence[Any]) -> AuditEvent:
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
