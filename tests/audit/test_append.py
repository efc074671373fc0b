"""Appends to the audit trail (governance.audit.append): contiguous chains, refusals, rollbacks,
concurrent writers, inference events, conflicts with rows written outside the trail, the head lock.

Every test that touches a database runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import subprocess
import threading
from pathlib import Path

import pytest

from governance import audit as audit_mod
from governance.audit import (
    ERR_CONFLICT,
    ERR_EMPTY_FIELD,
    GENESIS_HASH,
    NewEvent,
    compute_hash,
)
from governance.errors import AuditChainError, GovernanceError
from tests.audit.rows import append_chain, forge_event, insert_row, run_sql, stored_rows
from tests.support.fragments import assert_mentions
from tests.support.workers import append_events

# ----------------------------------------------------------------------------- appends


def test_appends_chain_contiguous_ids_and_utc_timestamps(store) -> None:
    events = append_chain(store, 5)
    events += store.audit.append_many([NewEvent(event_type="batch", actor="bob", details={"k": k}) for k in range(3)])
    rows = stored_rows(store)
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
    assert stored_rows(store)[0][5] == '{"a":{"nested":true},"z":[1,2]}'


# ----------------------------------------------------------------------------- concurrency


def _check_no_fork(store, writers: int, per_writer: int) -> None:
    rows = stored_rows(store)
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
    append_chain(store, 3)
    _forge_at_end_of(store, 4)
    with pytest.raises(AuditChainError) as exc:
        store.audit.append_many([NewEvent(event_type="t", actor="a") for _ in range(batch)])
    assert str(exc.value) == ERR_CONFLICT
    with pytest.raises(AuditChainError), store.engine.begin() as conn:
        store.audit.append_in(conn, event_type="t", actor="a")
    assert store.audit.head()["last_id"] == 3 and store.audit.count() == 4
    run_sql(store, "DELETE FROM audit_events WHERE id = 4")
    assert store.audit.append(event_type="t", actor="a").id == 4  # the pooled connection is fine
    assert store.audit.verify().ok


def _forge_at_end_of(store, event_id: int) -> None:
    insert_row(store, forge_event(store, event_id, stored_rows(store)[-1][7]))


def test_lock_head_without_head_row_fails_clearly(store) -> None:
    run_sql(store, "DELETE FROM audit_head")
    with pytest.raises(GovernanceError) as exc:
        store.audit.append(event_type="t", actor="a")
    assert str(exc.value) == audit_mod.ERR_NO_HEAD
