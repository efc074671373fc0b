"""governance.audit.append: writing to the audit trail, and the chain's head lock.

Appends are serialised through the one-row ``audit_head`` table (:func:`lock_head`: ``SELECT …
FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): the chain never forks, whatever
the number of concurrent writers, and ids are contiguous. Timestamps never go backwards along
the chain, which lets time-range queries narrow themselves to an id range.

:func:`append_many_in` appends inside the caller's transaction (the store writes its rows and
their events together); :func:`append_many` appends a batch in one transaction of its own on
the pooled DBAPI connection (group commit: one lock, one commit; PostgreSQL pipelines small
batches and COPYs large ones). The store also takes :func:`lock_head` first in its own
transactions, to serialise writers before it checks anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from governance.audit.chain import (
    COLUMNS,
    ERR_NO_HEAD,
    EVENT_FORMAT,
    AuditEvent,
    NewEvent,
    canonical_details,
    format_ts,
    quote,
    tuple_to_event,
    utc_now,
)
from governance.errors import AuditChainError, GovernanceError
from governance.store.engine import dbapi_in_transaction, dbapi_sql

COPY_MIN = 200
"""Batches at least this large are written with COPY on PostgreSQL."""

ERR_CONFLICT = (
    "could not append: an event with the next id already exists, so the audit table was written "
    "outside the audit trail; run `governance audit verify` to find it"
)
ERR_EMPTY_FIELD = "audit events need a non-empty event_type and actor (got event_type={event_type!r}, actor={actor!r})"

EVENT_INFERENCE = "inference"

_SQL_HEAD = "SELECT last_id, last_hash, last_timestamp FROM audit_head WHERE id = 1"
_SQL_INSERT = f"INSERT INTO audit_events ({COLUMNS}) VALUES ({{p}}, {{p}}, {{p}}, {{p}}, {{p}}, {{p}}, {{p}}, {{p}})"
_SQL_SET_HEAD = "UPDATE audit_head SET last_id = {p}, last_hash = {p}, last_timestamp = {p} WHERE id = 1"

Prepared = tuple[str, str | None, str, str]
"""An event validated and serialised for appending: (event_type, model_id, actor, details JSON)."""


def lock_head(conn: Connection) -> tuple[int, str, str]:
    """Take the chain lock for ``conn``'s transaction and return the chain's tip
    (last id, last hash, last timestamp).

    PostgreSQL: a row lock on the head (held to commit/rollback). SQLite: the transaction
    already holds the database write lock (``BEGIN IMMEDIATE``).
    """
    return _lock_head_dbapi(dbapi_in_transaction(conn), conn.dialect.name)


def append_many_in(conn: Connection, events: Iterable[NewEvent]) -> list[AuditEvent]:
    """Append events in order inside the caller's transaction, under the chain lock."""
    prepared = _prepare(events)
    if not prepared:
        return []
    return _append_dbapi(dbapi_in_transaction(conn), conn.dialect.name, prepared)


def append_many(engine: Engine, events: Iterable[NewEvent]) -> list[AuditEvent]:
    """Append a batch of events in one transaction (one lock, one commit).

    Runs on the pooled DBAPI connection directly: this is the hot path of every writer,
    and SQLAlchemy's per-statement machinery would cost more than SQLite's commit.
    """
    prepared = _prepare(events)
    if not prepared:
        return []
    dialect = engine.dialect.name
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection  # the driver's own connection (psycopg or sqlite3)
        try:
            if dialect == "postgresql" and len(prepared) < COPY_MIN:
                # pipeline mode: BEGIN travels with the head lock, COMMIT with the insert,
                # so a transaction costs two round trips instead of four (COPY, used for
                # larger batches, cannot run in a pipeline)
                with dbapi.pipeline():
                    out = _append_dbapi(dbapi, dialect, prepared)
                    dbapi.commit()
            else:
                if dialect == "sqlite":
                    dbapi.execute("BEGIN IMMEDIATE")
                out = _append_dbapi(dbapi, dialect, prepared)
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


def inference_event(
    *,
    model_id: str,
    actor: str,
    input_text: str | bytes,
    output_text: str | bytes,
    extra: Mapping[str, Any] | None = None,
) -> NewEvent:
    """The event recording one inference by the SHA-256 of its input and output; never the raw text."""

    def raw(v: str | bytes) -> bytes:
        return v.encode("utf-8") if isinstance(v, str) else v

    details = dict(extra or {})
    details.update(
        input_sha256=hashlib.sha256(raw(input_text)).hexdigest(),
        output_sha256=hashlib.sha256(raw(output_text)).hexdigest(),
        input_bytes=len(raw(input_text)),
        output_bytes=len(raw(output_text)),
    )
    return NewEvent(event_type=EVENT_INFERENCE, actor=actor, model_id=model_id, details=details)


def _lock_head_dbapi(dbapi: Any, dialect: str) -> tuple[int, str, str]:
    cur = dbapi.cursor()
    try:
        cur.execute(_SQL_HEAD + (" FOR UPDATE" if dialect == "postgresql" else ""))
        row = cur.fetchone()
    finally:
        cur.close()
    if row is None:
        raise AuditChainError(ERR_NO_HEAD)
    return int(row[0]), str(row[1]), str(row[2])


def _prepare(events: Iterable[NewEvent]) -> list[Prepared]:
    """Validate and serialise events (before the chain lock is taken)."""
    prepared = []
    for ev in events:
        if not ev.event_type or not ev.actor:
            raise GovernanceError(ERR_EMPTY_FIELD.format(event_type=ev.event_type, actor=ev.actor))
        prepared.append((ev.event_type, ev.model_id, ev.actor, canonical_details(ev.details)))
    return prepared


def _append_dbapi(dbapi: Any, dialect: str, prepared: list[Prepared]) -> list[AuditEvent]:
    """Chain and write prepared events on a DBAPI connection inside an open transaction."""
    last_id, last_hash, last_ts = _lock_head_dbapi(dbapi, dialect)
    now = format_ts(utc_now())
    ts = now if now > last_ts else last_ts  # timestamps never go backwards along the chain
    qts = quote(ts)
    sha = hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    out: list[AuditEvent] = []
    for etype, mid, actor, details_text in prepared:
        last_id += 1
        h = sha(
            (
                EVENT_FORMAT
                % (
                    last_id,
                    qts,
                    quote(etype),
                    "null" if mid is None else quote(mid),
                    quote(actor),
                    quote(details_text),
                    quote(last_hash),
                )
            ).encode()
        ).hexdigest()
        rows.append((last_id, ts, etype, mid, actor, details_text, last_hash, h))
        out.append(tuple_to_event(rows[-1]))
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
        with cur.copy(f"COPY audit_events ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(dbapi_sql(_SQL_SET_HEAD, dialect), head)
    elif dialect == "postgresql":
        # one round trip: insert the events and move the head in a single statement
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        cur.execute(
            f"WITH ins AS (INSERT INTO audit_events ({COLUMNS}) VALUES {values}) " + dbapi_sql(_SQL_SET_HEAD, dialect),
            [*(v for row in rows for v in row), *head],
        )
    else:
        if len(rows) == 1:
            cur.execute(dbapi_sql(_SQL_INSERT, dialect), rows[0])
        else:
            cur.executemany(dbapi_sql(_SQL_INSERT, dialect), rows)
        cur.execute(dbapi_sql(_SQL_SET_HEAD, dialect), head)
