"""Verifying the audit trail (governance.audit.verify): intact chains, every kind of tampering
named by its first event, the multi-process walk and its fallbacks, one snapshot under writers.

Every test that touches a database runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from governance.audit import (
    GENESIS_HASH,
    PROBLEM_ALTERED,
    PROBLEM_DELETED,
    PROBLEM_INSERTED,
    PROBLEM_REORDERED,
    PROBLEM_TRUNCATED,
    NewEvent,
)
from governance.audit import verify as verify_mod
from governance.cli import main as cli_main
from tests.audit.rows import N_CHAIN, append_chain, forge_event, insert_row, run_sql, stored_rows


def test_verify_empty_and_intact_chain(store) -> None:
    assert store.audit.verify().ok and store.audit.verify().count == 0
    append_chain(store)
    result = store.audit.verify()
    assert result.ok and result.count == N_CHAIN and result.first_bad_id is None
    assert result.summary() == f"OK: {N_CHAIN} events, chain intact"


def _swap(store, a: int, b: int) -> None:
    """Swap two events' positions: each takes the other's id, hashes left as they were."""
    run_sql(store, "UPDATE audit_events SET id = -1 WHERE id = :a", a=a)
    run_sql(store, "UPDATE audit_events SET id = :a WHERE id = :b", a=a, b=b)
    run_sql(store, "UPDATE audit_events SET id = :b WHERE id = -1", b=b)


def _forge_in_gap(store) -> None:
    rows = stored_rows(store)
    run_sql(store, "DELETE FROM audit_events WHERE id = 5")
    insert_row(store, forge_event(store, 5, rows[3][7]))


def _forge_at_end(store) -> None:
    insert_row(store, forge_event(store, N_CHAIN + 1, stored_rows(store)[-1][7]))


TAMPERS: dict[str, tuple[Callable[[Any], None], int, str]] = {
    "edit details": (
        lambda s: run_sql(s, "UPDATE audit_events SET details = :d WHERE id = 4", d='{"i":99}'),
        4,
        PROBLEM_ALTERED,
    ),
    "edit actor": (lambda s: run_sql(s, "UPDATE audit_events SET actor = 'mallory' WHERE id = 4"), 4, PROBLEM_ALTERED),
    "edit timestamp": (
        lambda s: run_sql(s, "UPDATE audit_events SET timestamp = '2020-01-01T00:00:00.000000Z' WHERE id = 6"),
        6,
        PROBLEM_ALTERED,
    ),
    "edit event_type": (
        lambda s: run_sql(s, "UPDATE audit_events SET event_type = 'x' WHERE id = 1"),
        1,
        PROBLEM_ALTERED,
    ),
    "edit model_id": (lambda s: run_sql(s, "UPDATE audit_events SET model_id = NULL WHERE id = 7"), 7, PROBLEM_ALTERED),
    "edit hash": (
        lambda s: run_sql(s, "UPDATE audit_events SET hash = :h WHERE id = 3", h="f" * 64),
        3,
        PROBLEM_ALTERED,
    ),
    "edit last hash": (
        lambda s: run_sql(s, "UPDATE audit_events SET hash = :h WHERE id = :i", h="e" * 64, i=N_CHAIN),
        N_CHAIN,
        PROBLEM_ALTERED,
    ),
    "edit prev_hash": (
        lambda s: run_sql(s, "UPDATE audit_events SET prev_hash = :h WHERE id = 5", h="0" * 64),
        5,
        PROBLEM_ALTERED,
    ),
    "delete first": (lambda s: run_sql(s, "DELETE FROM audit_events WHERE id = 1"), 1, PROBLEM_DELETED),
    "delete middle": (lambda s: run_sql(s, "DELETE FROM audit_events WHERE id = 5"), 5, PROBLEM_DELETED),
    "delete last": (lambda s: run_sql(s, f"DELETE FROM audit_events WHERE id = {N_CHAIN}"), N_CHAIN, PROBLEM_TRUNCATED),
    "insert forged at end": (_forge_at_end, N_CHAIN + 1, PROBLEM_INSERTED),
    "insert forged in a gap": (_forge_in_gap, 5, PROBLEM_INSERTED),
    "insert before the start": (lambda s: insert_row(s, forge_event(s, 0, GENESIS_HASH)), 0, PROBLEM_INSERTED),
    "reorder adjacent": (lambda s: _swap(s, 5, 6), 5, PROBLEM_REORDERED),
    "reorder distant": (lambda s: _swap(s, 2, 8), 2, PROBLEM_REORDERED),
    "reorder last two": (lambda s: _swap(s, N_CHAIN - 1, N_CHAIN), N_CHAIN - 1, PROBLEM_REORDERED),
    "truncate tail": (lambda s: run_sql(s, "DELETE FROM audit_events WHERE id > 7"), 8, PROBLEM_TRUNCATED),
    "truncate head": (lambda s: run_sql(s, "DELETE FROM audit_events WHERE id <= 3"), 1, PROBLEM_DELETED),
    "truncate all": (lambda s: run_sql(s, "DELETE FROM audit_events"), 1, PROBLEM_TRUNCATED),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampering_is_detected_and_named(
    case: str, store, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    append_chain(store)
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
    append_chain(store, 5)
    run_sql(store, "UPDATE audit_events SET actor = CAST(x'ff616c696365' AS TEXT) WHERE id = 3")
    result = store.audit.verify()
    assert (result.ok, result.first_bad_id, result.problem) == (False, 3, PROBLEM_ALTERED)
    assert store.audit.verify(workers=2) == result
    store.engine.dispose()


def test_cli_verify_intact_chain(store, db_url: str, monkeypatch, capsys) -> None:
    append_chain(store, 7)
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
    append_chain(store, 50)

    class NoChildren:
        def __init__(self, real: Any) -> None:
            self.Pipe = real.Pipe

        def Process(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("daemonic processes are not allowed to have children")

    real_get_context = multiprocessing.get_context
    monkeypatch.setattr(verify_mod.multiprocessing, "get_context", lambda method: NoChildren(real_get_context(method)))
    assert store.audit.verify(workers=2).ok
    run_sql(store, "UPDATE audit_events SET actor = 'x' WHERE id = 30")
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
