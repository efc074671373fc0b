"""governance.audit.query: reading the audit trail.

:func:`query` returns the events matching a set of filters a page at a time, by keyset (the
last id seen, in an opaque cursor: :class:`Page`.next_cursor), so pages never shift or repeat
when new events arrive; its argument errors are the ``ERR_*`` constants here.
:func:`iter_events` streams the chain in order (the archive exporter), :func:`head` and
:func:`count` describe it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select

from governance.audit.chain import ERR_NO_HEAD, AuditEvent, parse_time, tuple_to_event
from governance.errors import AuditChainError, GovernanceError
from governance.store.engine import read_connection
from governance.store.tables import audit_events, audit_head

MAX_QUERY_LIMIT = 10_000

ERR_BAD_CURSOR = "cursor {cursor!r} is not a cursor returned by a previous query"
ERR_BAD_LIMIT = "limit must be between 1 and {max}, got {value}"
ERR_BAD_ORDER = "order must be 'asc' or 'desc', got {value!r}"


@dataclass(frozen=True, kw_only=True)
class Page:
    events: list[AuditEvent]
    next_cursor: str | None


def query(
    engine: Engine,
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
    with read_connection(engine) as conn:
        if since_ts is not None:
            conds.append(e.timestamp >= since_ts)
            lo = _first_id_at(conn, since_ts)
            if lo is None:
                return Page(events=[], next_cursor=None)
            conds.append(e.id >= lo)
        if until_ts is not None:
            conds.append(e.timestamp < until_ts)
            hi = _first_id_at(conn, until_ts)
            if hi is not None:
                conds.append(e.id < hi)
        stmt = select(audit_events)
        if conds:
            stmt = stmt.where(and_(*conds))
        key = e.id.asc() if order == "asc" else e.id.desc()
        rows = conn.execute(stmt.order_by(key).limit(limit + 1)).all()
    events = [tuple_to_event(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(events=events, next_cursor=_encode_cursor(events[-1].id, order) if more else None)


def iter_events(
    engine: Engine, *, after_id: int = 0, until_ts: str | None = None, chunk: int = 10_000
) -> Iterator[AuditEvent]:
    """All events after ``after_id`` (and before ``until_ts``), in chain order."""
    last = after_id
    with read_connection(engine) as conn:
        while True:
            stmt = select(audit_events).where(audit_events.c.id > last)
            if until_ts is not None:
                stmt = stmt.where(audit_events.c.timestamp < until_ts)
            rows = conn.execute(stmt.order_by(audit_events.c.id).limit(chunk)).all()
            if not rows:
                return
            for r in rows:
                yield tuple_to_event(r)
            last = rows[-1][0]


def head(engine: Engine) -> dict[str, Any]:
    """The ``audit_head`` row: the chain's tip (last id, hash, timestamp) and start (base id, hash)."""
    with read_connection(engine) as conn:
        row = conn.execute(select(audit_head).where(audit_head.c.id == 1)).mappings().first()
    if row is None:
        raise AuditChainError(ERR_NO_HEAD)
    return dict(row)


def count(engine: Engine) -> int:
    """How many events the table holds."""
    with read_connection(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def _first_id_at(conn: Connection, ts: str) -> int | None:
    """The id of the first event at or after ``ts`` (one probe of the (timestamp, id) index)."""
    e = audit_events.c
    return conn.execute(select(e.id).where(e.timestamp >= ts).order_by(e.timestamp, e.id).limit(1)).scalar_one_or_none()


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
