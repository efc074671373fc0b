"""governance.audit.verify: walking the audit chain and naming the first event where it breaks.

:func:`verify` reads one snapshot of the database and checks every event in id order: its id
is the next one, its timestamp does not go back, its ``prev_hash`` is the hash of the event
before it, its fields hash to its stored hash (:mod:`governance.audit.chain`), and the last
event is the recorded head. Long chains are hashed by several processes
(:func:`verify_parallel`, each child runs :func:`_verify_range_worker` on a connection of its
own); any doubt they raise is settled by the sequential walk (:func:`verify_sequential`),
which classifies the first refused row into one of the ``PROBLEM_*`` kinds with a ``MSG_*``
text.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from governance.audit.chain import COLUMNS, ERR_NO_HEAD, EVENT_FORMAT, compute_hash, quote
from governance.errors import AuditChainError
from governance.store.engine import dbapi_in_transaction, dbapi_sql, read_connection

VERIFY_CHUNK = 20_000
PARALLEL_VERIFY_MIN = 200_000
"""Chains at least this long are verified by several processes (one per CPU, at most 4)."""

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

_SQL_HEAD_ALL = "SELECT last_id, last_hash, last_timestamp, base_id, base_hash FROM audit_head WHERE id = 1"
_SQL_SCAN = f"SELECT {COLUMNS} FROM audit_events ORDER BY id"
_SQL_SCAN_RANGE = f"SELECT {COLUMNS} FROM audit_events WHERE id >= {{p}} AND id <= {{p}} ORDER BY id"
_SQL_SCAN_BELOW = f"SELECT {COLUMNS} FROM audit_events WHERE id < {{p}} ORDER BY id"
_SQL_RANGE_START = "SELECT prev_hash, timestamp FROM audit_events WHERE id = {p}"
_SQL_ROW = f"SELECT {COLUMNS} FROM audit_events WHERE id = {{p}}"
_SQL_FROM = f"SELECT {COLUMNS} FROM audit_events WHERE id >= {{p}} ORDER BY id LIMIT 1"
_SQL_SUCCESSOR = "SELECT id FROM audit_events WHERE prev_hash = {p} AND id <> {p} ORDER BY id LIMIT 1"
_SQL_MIN_BEYOND = "SELECT min(id) FROM audit_events WHERE id > {p}"
_SNAPSHOT_RE = re.compile(r"^[0-9A-Fa-f-]+$")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


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


def verify(engine: Engine, *, chunk: int = VERIFY_CHUNK, workers: int | None = None) -> VerifyResult:
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
    with read_connection(engine, snapshot=True) as conn:
        cur = dbapi_in_transaction(conn).cursor()
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
            result = verify_parallel(conn, workers, chunk, last_id, last_hash, base_id, base_hash)
            if result is not None:
                return result
        return verify_sequential(conn, chunk, last_id, last_hash, base_id, base_hash)


def verify_sequential(
    conn: Connection, chunk: int, last_id: int, last_hash: str, base_id: int, base_hash: str
) -> VerifyResult:
    """Walk the chain ``base_id+1..last_id`` in this process and name the first broken event."""
    dbapi = dbapi_in_transaction(conn)
    if conn.dialect.name != "sqlite":
        return _walk(conn, dbapi, chunk, last_id, last_hash, base_id, base_hash)
    import sqlite3

    try:
        return _walk(conn, dbapi, chunk, last_id, last_hash, base_id, base_hash)
    except sqlite3.OperationalError:
        # SQLite keeps whatever bytes were written into a TEXT column; bytes that are not
        # UTF-8 make the driver fail to read the row. Read them as lone surrogates instead:
        # such a row cannot be hashed, and is reported as altered.
        factory = dbapi.text_factory
        dbapi.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        try:
            return _walk(conn, dbapi, chunk, last_id, last_hash, base_id, base_hash)
        finally:
            dbapi.text_factory = factory


def verify_parallel(
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
    dbapi = dbapi_in_transaction(conn)
    snapshot = None
    if dialect == "postgresql":
        cur = dbapi.cursor()
        cur.execute("SELECT pg_export_snapshot()")
        snapshot = str(cur.fetchone()[0])
        cur.close()
        if not _SNAPSHOT_RE.match(snapshot):
            return None
    cargs, cparams = conn.engine.dialect.create_connect_args(conn.engine.url)
    cparams = {k: v for k, v in cparams.items() if k != "context"}
    n = last_id - base_id
    bounds = [base_id + 1 + (n * k) // workers for k in range(workers)] + [last_id + 1]
    # one call per literal, so the context is typed (with .Process)
    fork = "fork" in multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
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
            cur.execute(dbapi_sql(_SQL_SCAN_BELOW, dialect), (bounds[1],))
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
            cur.execute(dbapi_sql(_SQL_MIN_BEYOND, dialect), (last_id,))
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


# ----------------------------------------------------------------------------- the scan


def _scan(
    rows: Sequence[tuple[Any, ...]], expect: int, prev_hash: str, prev_ts: str, last_id: int
) -> tuple[int, str, str, int | None]:
    """Check ``rows`` (id order, :data:`~governance.audit.chain.COLUMNS`) as the continuation of
    a chain whose last hash is ``prev_hash``; the hot loop of verify.

    Returns the state after the rows that passed (next expected id, last hash, last
    timestamp) and the index of the first row that did not, or None if all passed. A row
    passes if its id is the expected one and within the head, its timestamp does not go
    back, its stored prev_hash is ``prev_hash``, and its fields hash to its stored hash.
    Failures are classified by the caller.
    """
    if not _HEX64_RE.fullmatch(prev_hash):  # not a hash this trail wrote: let the caller look
        return expect, prev_hash, prev_ts, 0 if rows else None
    sha = hashlib.sha256
    q = quote
    fmt = EVENT_FORMAT
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


# ----------------------------------------------------------------------------- range workers


@dataclass
class _RangeResult:
    ok: bool
    first_prev_hash: str | None = None
    first_ts: str = ""
    last_hash: str = ""
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
    """Run in a child process: scan events ``lo..hi`` on a connection of its own (a
    module-level function, so that a spawned child can import it by name)."""
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
        first = dbapi_conn.execute(dbapi_sql(_SQL_RANGE_START, dialect), (lo,))
        row = first.fetchone()
        first.close()
        if row is None or not isinstance(row[0], str):
            return _RangeResult(ok=False)
        res = _RangeResult(ok=True, expect=lo, first_prev_hash=row[0], first_ts=row[1])
        prev_hash: str = row[0]
        prev_ts = ""
        cur.execute(dbapi_sql(_SQL_SCAN_RANGE, dialect), (lo, hi))
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


# ----------------------------------------------------------------------------- the sequential walk


def _walk(
    conn: Connection, dbapi: Any, chunk: int, last_id: int, last_hash: str, base_id: int, base_hash: str
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
                return _diagnose(
                    conn,
                    _row(conn, rows[bad][0]),
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
    return _check_end(expect - 1 - base_id, expect - 1, prev_hash, last_id, last_hash, base_id)


def _check_end(
    count: int, prev_id: int, prev_hash: str | None, last_id: int, last_hash: str, base_id: int
) -> VerifyResult:
    if prev_id < last_id:
        if count == 0:
            return _bad(
                count, base_id + 1, PROBLEM_TRUNCATED, MSG_EMPTY_BUT_HEAD.format(head=last_id, first=base_id + 1)
            )
        return _bad(
            count,
            prev_id + 1,
            PROBLEM_TRUNCATED,
            MSG_TRUNCATED.format(last=prev_id, head=last_id, first=prev_id + 1),
        )
    if prev_hash != last_hash:
        return _bad(
            count - 1, last_id, PROBLEM_ALTERED, MSG_HEAD_MISMATCH.format(stored=prev_hash, head_hash=last_hash)
        )
    return VerifyResult(ok=True, count=count)


def _diagnose(
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
            return _bad(
                count, expect, PROBLEM_TRUNCATED, MSG_TRUNCATED.format(last=expect - 1, head=last_id, first=expect)
            )
        return _bad(count, expect, PROBLEM_DELETED, MSG_GAP.format(first=expect, last=eid - 1, next=eid))
    if eid > last_id:
        return _bad(count, eid, PROBLEM_INSERTED, MSG_BEYOND_HEAD.format(head=last_id))
    if eid < expect:  # only possible before the chain's start
        return _bad(count, eid, PROBLEM_INSERTED, MSG_START.format(base_id=base_id, base_hash=base_hash))
    try:
        computed = compute_hash(eid, ts, et, mid, actor, det, ph)
    except Exception as exc:
        return _bad(count, eid, PROBLEM_ALTERED, MSG_UNREADABLE.format(error=type(exc).__name__))
    if computed != h:
        original = _original_position(conn, row, last_id, last_hash)
        if original is not None:
            return _bad(count, eid, PROBLEM_REORDERED, MSG_MOVED.format(original=original))
        return _bad(count, eid, PROBLEM_ALTERED, MSG_ALTERED.format(stored=h, computed=computed))
    if ph != prev_hash:
        if eid == base_id + 1:
            return _bad(count, eid, PROBLEM_INSERTED, MSG_START.format(base_id=base_id, base_hash=base_hash))
        if _is_anchored(conn, row, last_id, last_hash):
            # this event is the one the rest of the chain hangs on: its predecessor is the intruder
            return _bad(count - 1, eid - 1, PROBLEM_INSERTED, MSG_REPLACED.format(next=eid, prev=ph))
        return _bad(count, eid, PROBLEM_INSERTED, MSG_LINK.format(prev=ph, before=eid - 1))
    if isinstance(ts, str) and ts < prev_ts:
        return _bad(count, eid, PROBLEM_REORDERED, MSG_REORDERED.format(ts=ts, prev_ts=prev_ts))
    # consistent with itself and its predecessor, yet refused: the link it carries is not
    # a hash this trail writes (e.g. a rewritten head or start of the chain)
    return _bad(count, eid, PROBLEM_ALTERED, MSG_ALTERED.format(stored=h, computed=computed))


def _row(conn: Connection, event_id: int) -> tuple[Any, ...]:
    cur = dbapi_in_transaction(conn).cursor()
    try:
        cur.execute(dbapi_sql(_SQL_ROW, conn), (event_id,))
        return tuple(cur.fetchone())
    finally:
        cur.close()


def _original_position(conn: Connection, row: tuple[Any, ...], last_id: int, last_hash: str) -> int | None:
    """If ``row``'s fields hash to its stored hash under another id, that id (found through
    the event chained after it, or the head); else None."""
    eid, ts, et, mid, actor, det, ph, h = row
    candidates = []
    if h == last_hash:
        candidates.append(last_id)
    cur = dbapi_in_transaction(conn).cursor()
    try:
        cur.execute(dbapi_sql(_SQL_SUCCESSOR, conn), (h, eid))
        found = cur.fetchone()
    finally:
        cur.close()
    if found is not None:
        candidates.append(int(found[0]) - 1)
    for k in candidates:
        if k != eid and compute_hash(k, ts, et, mid, actor, det, ph) == h:
            return k
    return None


def _is_anchored(conn: Connection, row: tuple[Any, ...], last_id: int, last_hash: str) -> bool:
    """True if the event after ``row`` is chained to it (or ``row`` is the recorded head)."""
    eid, h = row[0], row[7]
    if eid == last_id:
        return h == last_hash
    cur = dbapi_in_transaction(conn).cursor()
    try:
        cur.execute(dbapi_sql(_SQL_FROM, conn), (eid + 1,))
        nxt = cur.fetchone()
    finally:
        cur.close()
    return nxt is not None and nxt[0] == eid + 1 and nxt[6] == h


def _bad(count: int, event_id: int, problem: str, message: str) -> VerifyResult:
    return VerifyResult(ok=False, count=count, first_bad_id=event_id, problem=problem, message=message)
