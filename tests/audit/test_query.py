"""Querying the audit trail (governance.audit.query): filters, time ranges, keyset pages and
cursors, the ordered stream of events.

Every test that touches a database runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from governance.audit import (
    ERR_BAD_CURSOR,
    ERR_BAD_LIMIT,
    ERR_BAD_ORDER,
    ERR_BAD_TIME,
    AuditTrail,
    NewEvent,
)
from governance.errors import GovernanceError
from tests.support.fragments import assert_mentions


@pytest.fixture
def populated(store):
    store.audit.append_many(
        [
            NewEvent(event_type=f"type.{i % 3}", actor=f"user{i % 4}", model_id=f"m-{i % 5:012x}", details={"i": i})
            for i in range(60)
        ]
    )
    return store


def _all(trail: AuditTrail, **filters: Any) -> list:
    events, cursor = [], None
    while True:
        page = trail.query(limit=7, cursor=cursor, **filters)
        events += page.events
        cursor = page.next_cursor
        if cursor is None:
            return events


def test_query_filters_combine_with_and(populated) -> None:
    trail = populated.audit
    every = _all(trail)
    assert [e.id for e in every] == list(range(1, 61))
    for filters in (
        {"model_id": "m-000000000002"},
        {"actor": "user3"},
        {"event_type": "type.1"},
        {"actor": "user1", "event_type": "type.2"},
        {"model_id": "m-000000000004", "actor": "user0", "event_type": "type.0"},
    ):
        got = [e.id for e in _all(trail, **filters)]
        want = [e.id for e in every if all(getattr(e, k) == v for k, v in filters.items())]
        assert got == want and want, filters
    assert trail.query(actor="nobody").events == []


def test_query_time_range_since_inclusive_until_exclusive(store) -> None:
    batches = [store.audit.append_many([NewEvent(event_type="t", actor="a") for _ in range(5)]) for _ in range(4)]
    ts = [b[0].timestamp for b in batches]
    assert len(set(ts)) == 4  # one timestamp per batch, increasing
    got = [e.id for e in _all(store.audit, since=ts[1], until=ts[3])]
    assert got == [e.id for b in batches[1:3] for e in b]
    assert [e.id for e in _all(store.audit, since=ts[3])] == [e.id for e in batches[3]]
    assert [e.id for e in _all(store.audit, until=ts[1])] == [e.id for e in batches[0]]
    assert store.audit.query(since="2999-01-01").events == []
    assert store.audit.query(until="2000-01-01").events == []
    assert [e.id for e in _all(store.audit, since="2000-01-01T00:00:00+02:00")] == list(range(1, 21))


def test_query_descending_and_cursor_checks(populated) -> None:
    trail = populated.audit
    page = trail.query(limit=10, order="desc")
    assert [e.id for e in page.events] == list(range(60, 50, -1))
    nxt = trail.query(limit=10, order="desc", cursor=page.next_cursor)
    assert [e.id for e in nxt.events] == list(range(50, 40, -1))
    with pytest.raises(GovernanceError) as exc:
        trail.query(cursor=page.next_cursor)  # a desc cursor used for an asc query
    assert_mentions(str(exc.value), ERR_BAD_CURSOR)
    for bad in ("not-a-cursor", "eyJhZnRlciI6dHJ1ZX0"):
        with pytest.raises(GovernanceError):
            trail.query(cursor=bad)
    for limit in (0, 10_001):
        with pytest.raises(GovernanceError) as exc:
            trail.query(limit=limit)
        assert_mentions(str(exc.value), ERR_BAD_LIMIT)
    with pytest.raises(GovernanceError) as exc:
        trail.query(order="sideways")
    assert_mentions(str(exc.value), ERR_BAD_ORDER)
    with pytest.raises(GovernanceError) as exc:
        trail.query(since="yesterday")
    assert_mentions(str(exc.value), ERR_BAD_TIME)


def test_pagination_is_stable_while_events_arrive(store) -> None:
    store.audit.append_many([NewEvent(event_type="t", actor="target" if i % 3 == 0 else "other") for i in range(300)])
    expected = [e.id for e in _all(store.audit, actor="target")]
    assert len(expected) == 100
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            store.audit.append(event_type="t", actor="target")

    t = threading.Thread(target=writer)
    t.start()
    seen, cursor, pages = [], None, 0
    try:
        while True:
            page = store.audit.query(actor="target", limit=6, cursor=cursor)
            seen += [e.id for e in page.events]
            pages += 1
            cursor = page.next_cursor
            if cursor is None or pages > 10_000:
                break
    finally:
        stop.set()
        t.join()
    assert seen == sorted(set(seen))  # in order, no event twice
    assert seen[: len(expected)] == expected  # every pre-existing event exactly once
    assert len(seen) > len(expected)  # and the pages went on past events written meanwhile
    assert store.audit.verify().ok


def test_iter_events_in_chain_order(populated) -> None:
    assert [e.id for e in populated.audit.iter_events(after_id=55, chunk=2)] == [56, 57, 58, 59, 60]
