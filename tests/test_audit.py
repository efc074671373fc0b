"""The hash-chained audit trail: hashing, appends, tamper detection, queries, concurrency.

Every test that touches a database runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from governance import audit as audit_mod
from governance.audit import (
    ERR_BAD_CURSOR,
    ERR_BAD_LIMIT,
    ERR_BAD_ORDER,
    ERR_BAD_TIME,
    ERR_CONFLICT,
    ERR_EMPTY_FIELD,
    GENESIS_HASH,
    PROBLEM_ALTERED,
    PROBLEM_DELETED,
    PROBLEM_INSERTED,
    PROBLEM_REORDERED,
    PROBLEM_TRUNCATED,
    AuditTrail,
    NewEvent,
    canonical_bytes,
    canonical_details,
    compute_hash,
)
from governance.audit import verify as verify_mod
from governance.cli.app import main as cli_main
from governance.errors import AuditChainError, GovernanceError
from tests.support.fragments import assert_mentions
from tests.support.workers import append_events

N_CHAIN = 10


def _sql(store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _rows(store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT id, timestamp, event_type, model_id, actor, details, prev_hash, hash "
                    "FROM audit_events ORDER BY id"
                )
            )
        ]


def _chain(store, n: int = N_CHAIN) -> list:
    return [
        store.audit.append(
            event_type=f"type.{i % 3}",
            actor=f"user{i % 2}",
            model_id=f"m-{i % 4:012x}",
            details={"i": i, "note": 'é"\\'},
        )
        for i in range(n)
    ]


# ----------------------------------------------------------------------------- hashing


def test_canonical_bytes_is_the_compact_json_array_of_the_fields() -> None:
    rng = random.Random(5)
    alphabet = ["a", "Z", '"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028", "😀", "/", " ", "{", ","]
    for _ in range(3_000):
        fields = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(6)]
        model_id = None if rng.random() < 0.3 else fields[2]
        event_id = rng.randint(0, 10**15)
        args = (event_id, fields[0], fields[1], model_id, fields[3], fields[4], fields[5])
        expected = json.dumps(list(args), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        assert canonical_bytes(*args) == expected
        assert compute_hash(*args) == hashlib.sha256(expected).hexdigest()


def test_canonical_bytes_of_non_text_values_falls_back_to_json() -> None:
    # only a tampered row can hold such values; they must hash like the general encoder does
    args = (3, 17, "t", 5, "a", "{}", GENESIS_HASH)
    assert canonical_bytes(*args) == json.dumps(list(args), separators=(",", ":")).encode()


def test_canonical_details_is_sorted_compact_and_refuses_nan() -> None:
    assert canonical_details({"b": 1, "a": [1, 2], "é": "ü"}) == '{"a":[1,2],"b":1,"é":"ü"}'
    assert canonical_details(None) == "{}"
    with pytest.raises(ValueError):
        canonical_details({"x": float("nan")})


# ----------------------------------------------------------------------------- appends


def test_appends_chain_contiguous_ids_and_utc_timestamps(store) -> None:
    events = _chain(store, 5)
    events += store.audit.append_many([NewEvent(event_type="batch", actor="bob", details={"k": k}) for k in range(3)])
    rows = _rows(store)
    assert [r[0] for r in rows] == list(range(1, 9))
    prev = GENESIS_HASH
    for ev, row in zip(events, rows, strict=True):
        assert ev.id == row[0] and ev.hash == row[7] and ev.prev_hash == prev == row[6]
        assert ev.timestamp.endswith("Z") and len(ev.timestamp) == len("2026-11-27T10:00:00.000000Z")
        assert row[7] == compute_hash(*row[:7])
        prev = ev.hash
    timestamps = [r[1] for r in rows]
    assert timestamps == sorted(timestamps)
    assert len({r[1] for r in rows[5:]}) == 1  # one batch, one timestamp
    head = store.audit.head()
    assert head["last_id"] == 8 and head["last_hash"] == events[-1].hash
    assert store.audit.count() == 8


def test_append_refuses_empty_event_type_or_actor_and_writes_nothing(store) -> None:
    for kwargs in ({"event_type": "", "actor": "a"}, {"event_type": "t", "actor": ""}):
        with pytest.raises(GovernanceError) as exc:
            store.audit.append(**kwargs)
        assert_mentions(str(exc.value), ERR_EMPTY_FIELD)
    with pytest.raises(GovernanceError):
        store.audit.append_many([NewEvent(event_type="ok", actor="a"), NewEvent(event_type="t", actor="")])
    assert store.audit.count() == 0
    assert store.audit.append_many([]) == []
    assert store.audit.head()["last_id"] == 0


def test_append_in_rolls_back_with_the_callers_transaction(store) -> None:
    store.audit.append(event_type="first", actor="a")
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        store.audit.append_in(conn, event_type="doomed", actor="a")
        raise RuntimeError("caller fails after appending")
    assert store.audit.count() == 1 and store.audit.head()["last_id"] == 1
    assert store.audit.append(event_type="second", actor="a").id == 2
    assert store.audit.verify().ok


def test_details_are_stored_canonically_and_returned_as_stored(store) -> None:
    ev = store.audit.append(event_type="t", actor="a", details={"z": (1, 2), "a": {"nested": True}})
    assert ev.details == {"a": {"nested": True}, "z": [1, 2]}
    assert _rows(store)[0][5] == '{"a":{"nested":true},"z":[1,2]}'


# ----------------------------------------------------------------------------- verify


def test_verify_empty_and_intact_chain(store) -> None:
    assert store.audit.verify().ok and store.audit.verify().count == 0
    _chain(store)
    result = store.audit.verify()
    assert result.ok and result.count == N_CHAIN and result.first_bad_id is None
    assert result.summary() == f"OK: {N_CHAIN} events, chain intact"


def _forge(store, event_id: int, prev_hash: str, *, actor: str = "mallory") -> dict[str, Any]:
    """A well-formed event whose hash is computed correctly (a forger who knows the algorithm)."""
    row = {
        "id": event_id,
        "timestamp": "2099-01-01T00:00:00.000000Z",
        "event_type": "model.status_changed",
        "model_id": "m-000000000000",
        "actor": actor,
        "details": '{"from":"REVIEW_PENDING","to":"APPROVED"}',
        "prev_hash": prev_hash,
    }
    row["hash"] = compute_hash(*row.values())
    return row


def _insert(store, row: dict[str, Any]) -> None:
    _sql(
        store,
        "INSERT INTO audit_events (id, timestamp, event_type, model_id, actor, details, prev_hash, hash) "
        "VALUES (:id, :timestamp, :event_type, :model_id, :actor, :details, :prev_hash, :hash)",
        **row,
    )


def _swap(store, a: int, b: int) -> None:
    """Swap two events' positions: each takes the other's id, hashes left as they were."""
    _sql(store, "UPDATE audit_events SET id = -1 WHERE id = :a", a=a)
    _sql(store, "UPDATE audit_events SET id = :a WHERE id = :b", a=a, b=b)
    _sql(store, "UPDATE audit_events SET id = :b WHERE id = -1", b=b)


def _forge_in_gap(store) -> None:
    rows = _rows(store)
    _sql(store, "DELETE FROM audit_events WHERE id = 5")
    _insert(store, _forge(store, 5, rows[3][7]))


def _forge_at_end(store) -> None:
    _insert(store, _forge(store, N_CHAIN + 1, _rows(store)[-1][7]))


TAMPERS: dict[str, tuple[Callable[[Any], None], int, str]] = {
    "edit details": (
        lambda s: _sql(s, "UPDATE audit_events SET details = :d WHERE id = 4", d='{"i":99}'),
        4,
        PROBLEM_ALTERED,
    ),
    "edit actor": (lambda s: _sql(s, "UPDATE audit_events SET actor = 'mallory' WHERE id = 4"), 4, PROBLEM_ALTERED),
    "edit timestamp": (
        lambda s: _sql(s, "UPDATE audit_events SET timestamp = '2020-01-01T00:00:00.000000Z' WHERE id = 6"),
        6,
        PROBLEM_ALTERED,
    ),
    "edit event_type": (lambda s: _sql(s, "UPDATE audit_events SET event_type = 'x' WHERE id = 1"), 1, PROBLEM_ALTERED),
    "edit model_id": (lambda s: _sql(s, "UPDATE audit_events SET model_id = NULL WHERE id = 7"), 7, PROBLEM_ALTERED),
    "edit hash": (
        lambda s: _sql(s, "UPDATE audit_events SET hash = :h WHERE id = 3", h="f" * 64),
        3,
        PROBLEM_ALTERED,
    ),
    "edit last hash": (
        lambda s: _sql(s, "UPDATE audit_events SET hash = :h WHERE id = :i", h="e" * 64, i=N_CHAIN),
        N_CHAIN,
        PROBLEM_ALTERED,
    ),
    "edit prev_hash": (
        lambda s: _sql(s, "UPDATE audit_events SET prev_hash = :h WHERE id = 5", h="0" * 64),
        5,
        PROBLEM_ALTERED,
    ),
    "delete first": (lambda s: _sql(s, "DELETE FROM audit_events WHERE id = 1"), 1, PROBLEM_DELETED),
    "delete middle": (lambda s: _sql(s, "DELETE FROM audit_events WHERE id = 5"), 5, PROBLEM_DELETED),
    "delete last": (lambda s: _sql(s, f"DELETE FROM audit_events WHERE id = {N_CHAIN}"), N_CHAIN, PROBLEM_TRUNCATED),
    "insert forged at end": (_forge_at_end, N_CHAIN + 1, PROBLEM_INSERTED),
    "insert forged in a gap": (_forge_in_gap, 5, PROBLEM_INSERTED),
    "insert before the start": (lambda s: _insert(s, _forge(s, 0, GENESIS_HASH)), 0, PROBLEM_INSERTED),
    "reorder adjacent": (lambda s: _swap(s, 5, 6), 5, PROBLEM_REORDERED),
    "reorder distant": (lambda s: _swap(s, 2, 8), 2, PROBLEM_REORDERED),
    "reorder last two": (lambda s: _swap(s, N_CHAIN - 1, N_CHAIN), N_CHAIN - 1, PROBLEM_REORDERED),
    "truncate tail": (lambda s: _sql(s, "DELETE FROM audit_events WHERE id > 7"), 8, PROBLEM_TRUNCATED),
    "truncate head": (lambda s: _sql(s, "DELETE FROM audit_events WHERE id <= 3"), 1, PROBLEM_DELETED),
    "truncate all": (lambda s: _sql(s, "DELETE FROM audit_events"), 1, PROBLEM_TRUNCATED),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampering_is_detected_and_named(
    case: str, store, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _chain(store)
    assert store.audit.verify().ok
    tamper, bad_id, problem = TAMPERS[case]
    tamper(store)

    result = store.audit.verify()
    assert not result.ok
    assert (result.first_bad_id, result.problem) == (bad_id, problem), result.summary()
    assert result.count == max(0, bad_id - 1)
    # the multi-process walk reaches the same verdict
    assert store.audit.verify(workers=2) == result

    monkeypatch.setenv("GOVERNANCE_DB_URL", db_url)
    capsys.readouterr()
    assert cli_main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL: event {bad_id} ({problem})" in out


def test_bytes_that_are_not_utf8_are_reported_not_crashed_on(tmp_path: Path) -> None:
    """SQLite stores any bytes in a TEXT column; PostgreSQL refuses them at write time."""
    from governance.store import GovernanceStore, migrate

    store = GovernanceStore.from_url(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(store.engine)
    _chain(store, 5)
    _sql(store, "UPDATE audit_events SET actor = CAST(x'ff616c696365' AS TEXT) WHERE id = 3")
    result = store.audit.verify()
    assert (result.ok, result.first_bad_id, result.problem) == (False, 3, PROBLEM_ALTERED)
    assert store.audit.verify(workers=2) == result
    store.engine.dispose()


def test_cli_verify_intact_chain(store, db_url: str, monkeypatch, capsys) -> None:
    _chain(store, 7)
    monkeypatch.setenv("GOVERNANCE_DB_URL", db_url)
    capsys.readouterr()
    assert cli_main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "OK: 7 events, chain intact"
    assert cli_main(["audit", "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "ok": True,
        "events": 7,
        "first_bad_id": None,
        "problem": None,
        "message": None,
    }


def test_parallel_verify_really_runs_in_parallel(store, monkeypatch) -> None:
    store.audit.append_many([NewEvent(event_type="t", actor=f"a{i}", details={"i": i}) for i in range(500)])

    def no_sequential(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the parallel walk fell back to the sequential one on an intact chain")

    monkeypatch.setattr(verify_mod, "verify_sequential", no_sequential)
    result = store.audit.verify(workers=2, chunk=64)
    assert result.ok and result.count == 500


def test_verify_falls_back_when_no_child_process_can_start(store, monkeypatch) -> None:
    """E.g. inside a daemonic worker process (Celery), which may not have children."""
    _chain(store, 50)

    class NoChildren:
        def __init__(self, real: Any) -> None:
            self.Pipe = real.Pipe

        def Process(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("daemonic processes are not allowed to have children")

    real_get_context = multiprocessing.get_context
    monkeypatch.setattr(verify_mod.multiprocessing, "get_context", lambda method: NoChildren(real_get_context(method)))
    assert store.audit.verify(workers=2).ok
    _sql(store, "UPDATE audit_events SET actor = 'x' WHERE id = 30")
    assert store.audit.verify(workers=2).first_bad_id == 30


def test_verify_sees_one_snapshot_while_writers_append(store) -> None:
    store.audit.append_many([NewEvent(event_type="t", actor="a") for _ in range(2_000)])
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                store.audit.append(event_type="live", actor="w")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        results = [store.audit.verify(chunk=100) for _ in range(5)]
    finally:
        stop.set()
        t.join()
    assert not errors
    assert all(r.ok for r in results), [r.summary() for r in results if not r.ok]
    assert store.audit.verify().count == store.audit.count() > 2_000


# ----------------------------------------------------------------------------- concurrency


def _check_no_fork(store, writers: int, per_writer: int) -> None:
    rows = _rows(store)
    assert [r[0] for r in rows] == list(range(1, writers * per_writer + 1))
    for w in range(writers):
        seqs = [json.loads(r[5])["seq"] for r in rows if r[4] == f"writer{w}"]
        assert seqs == list(range(per_writer))  # each writer's events in its own order
    result = store.audit.verify()
    assert result.ok and result.count == writers * per_writer


def test_concurrent_appenders_threads(store, db_url: str) -> None:
    writers, per_writer = 8, 200
    threads = [threading.Thread(target=append_events, args=(db_url, w, per_writer)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check_no_fork(store, writers, per_writer)


@pytest.mark.slow
def test_concurrent_appenders_processes(store, db_url: str) -> None:
    writers, per_writer = 6, 100
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=append_events, args=(db_url, w, per_writer)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * writers
    _check_no_fork(store, writers, per_writer)


# ----------------------------------------------------------------------------- queries


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


# ----------------------------------------------------------------------------- inference logging


def _dump(store, db_url: str, pg_dump: Path | None) -> bytes:
    if db_url.startswith("sqlite"):
        path = Path(store.engine.url.database)
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        import sqlite3

        with sqlite3.connect(path) as conn:
            return raw + "\n".join(conn.iterdump()).encode()
    url = store.engine.url
    assert pg_dump is not None
    return subprocess.run(
        [str(pg_dump), "-h", url.host, "-p", str(url.port), "-U", url.username, url.database],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout


def test_inference_logging_stores_hashes_never_raw_text(store, db_url: str) -> None:
    prompt = "Patient 4711 reports chest pain; SECRET-INPUT-31337"
    answer = "Refer to cardiology immediately: SECRET-OUTPUT-27182"
    ev = store.audit.log_inference(model_id="m-000000000001", actor="svc", input_text=prompt, output_text=answer)
    assert ev.details["input_sha256"] == hashlib.sha256(prompt.encode()).hexdigest()
    assert ev.details["output_sha256"] == hashlib.sha256(answer.encode()).hexdigest()
    assert ev.details["input_bytes"] == len(prompt.encode())
    store.audit.log_inference(model_id="m-000000000001", actor="svc", input_text=b"SECRET-BYTES-999", output_text=b"")
    pg_dump = None
    if not db_url.startswith("sqlite"):
        from tests.support.postgres import find_bin_dir

        pg_dump = find_bin_dir() / "pg_dump"
    dump = _dump(store, db_url, pg_dump)
    assert ev.details["input_sha256"].encode() in dump  # the dump does hold the events
    for secret in (b"SECRET-INPUT-31337", b"SECRET-OUTPUT-27182", b"SECRET-BYTES-999", b"chest pain"):
        assert secret not in dump
    assert store.audit.verify().ok


@pytest.mark.parametrize("batch", [1, 300], ids=["single", "copy-sized batch"])
def test_append_over_a_row_written_outside_the_trail_fails_clearly_and_recovers(store, batch: int) -> None:
    _chain(store, 3)
    _forge_at_end_of(store, 4)
    with pytest.raises(AuditChainError) as exc:
        store.audit.append_many([NewEvent(event_type="t", actor="a") for _ in range(batch)])
    assert str(exc.value) == ERR_CONFLICT
    with pytest.raises(AuditChainError), store.engine.begin() as conn:
        store.audit.append_in(conn, event_type="t", actor="a")
    assert store.audit.head()["last_id"] == 3 and store.audit.count() == 4
    _sql(store, "DELETE FROM audit_events WHERE id = 4")
    assert store.audit.append(event_type="t", actor="a").id == 4  # the pooled connection is fine
    assert store.audit.verify().ok


def _forge_at_end_of(store, event_id: int) -> None:
    _insert(store, _forge(store, event_id, _rows(store)[-1][7]))


def test_lock_head_without_head_row_fails_clearly(store) -> None:
    _sql(store, "DELETE FROM audit_head")
    with pytest.raises(GovernanceError) as exc:
        store.audit.append(event_type="t", actor="a")
    assert str(exc.value) == audit_mod.ERR_NO_HEAD
