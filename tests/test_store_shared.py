"""One engine per process and database: ``shared_engine`` / ``shared_store`` (issue 9, item 5)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from governance.cards import load_card
from governance.lifecycle import ModelStatus
from governance.store import GovernanceStore, dispose_shared, migrate, shared_engine, shared_store
from governance.store import engine as engine_module

REPO = Path(__file__).resolve().parent.parent
CARDS = REPO / "include" / "model_cards"


@pytest.fixture(autouse=True)
def _fresh_shared():
    dispose_shared()
    yield
    dispose_shared()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    s = GovernanceStore.from_url(url)
    migrate(s.engine)
    s.engine.dispose()
    return url


@pytest.fixture
def engines_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """URLs of the shared engines created (``make_engine`` calls by the shared cache)."""
    made: list[str] = []
    real = engine_module.make_engine

    def counting(url: str | None = None, **kwargs):
        made.append(str(url))
        return real(url, **kwargs)

    monkeypatch.setattr(engine_module, "make_engine", counting)
    return made


def _register(url: str, card: str = "low_doc_tagger.yaml", *, version: str = "1.0.0") -> str:
    s = GovernanceStore.from_url(url)
    try:
        c = load_card(CARDS / card).model_copy(update={"version": version})
        return s.register(c, owner="owner").model.id
    finally:
        s.engine.dispose()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_one_engine_per_url_created_on_first_use(sqlite_url: str, tmp_path: Path, engines_made: list[str]) -> None:
    a = shared_engine(sqlite_url)
    assert shared_engine(sqlite_url) is a
    assert shared_engine(f"sqlite:///{tmp_path / 'other.db'}") is not a
    assert len(engines_made) == 2
    # spellings of one database share an engine (no server is contacted: engines are lazy)
    assert shared_engine("postgresql://u@127.0.0.1:1/db") is shared_engine("postgresql+psycopg://u@127.0.0.1:1/db")


def test_default_url_comes_from_config(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_DB_URL", sqlite_url)
    assert shared_engine() is shared_engine(sqlite_url)


def test_shared_store_shares_the_engine_not_the_store(sqlite_url: str) -> None:
    a, b = shared_store(sqlite_url), shared_store(sqlite_url)
    assert a.engine is b.engine
    assert a is not b and a.audit is not b.audit


def test_threads_get_one_engine_and_work_concurrently(sqlite_url: str, engines_made: list[str]) -> None:
    model_id = _register(sqlite_url)
    n = 16
    barrier = threading.Barrier(n)
    engines: list[object] = []
    errors: list[str] = []

    def worker() -> None:
        try:
            barrier.wait(30)
            for _ in range(20):
                store = shared_store(sqlite_url)
                engines.append(store.engine)
                assert store.find(model_id).id == model_id
                assert store.audit.verify().ok
        except Exception as exc:  # reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({id(e) for e in engines}) == 1 and len(engines_made) == 1


def _child(url: str, parent_engine_id: int, out: multiprocessing.Queue) -> None:
    store = shared_store(url)
    out.put((id(store.engine) != parent_engine_id, store.count_models(), os.getpid()))


def test_forked_child_opens_its_own_engine_and_leaves_the_parents_alone(sqlite_url: str) -> None:
    _register(sqlite_url)
    parent = shared_store(sqlite_url)
    assert parent.count_models() == 1  # the parent has a pooled connection open at fork time
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_child, args=(sqlite_url, id(parent.engine), out))
    child.start()
    own_engine, count, pid = out.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0 and own_engine and count == 1 and pid != os.getpid()
    # the parent's pooled connection still works and the database is intact
    assert shared_store(sqlite_url).engine is parent.engine
    assert parent.count_models() == 1 and parent.audit.verify().ok


def test_pid_change_without_the_fork_hook_still_opens_a_new_engine(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = shared_engine(sqlite_url)
    monkeypatch.setattr(engine_module, "_shared_pid", -1)
    second = shared_engine(sqlite_url)
    assert second is not first and engine_module._shared_pid == os.getpid()


def test_a_recreated_database_file_is_not_read_through_old_connections(sqlite_url: str, tmp_path: Path) -> None:
    _register(sqlite_url)
    old = shared_store(sqlite_url)
    assert old.count_models() == 1
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'governance.db'}{suffix}").unlink(missing_ok=True)
    fresh = GovernanceStore.from_url(sqlite_url)
    migrate(fresh.engine)
    fresh.engine.dispose()
    new = shared_store(sqlite_url)
    assert new.engine is not old.engine
    assert new.count_models() == 0


def test_dispose_shared(sqlite_url: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    a, b = shared_engine(sqlite_url), shared_engine(other)
    dispose_shared(sqlite_url)
    assert shared_engine(sqlite_url) is not a and shared_engine(other) is b
    dispose_shared()
    assert shared_engine(other) is not b


def test_least_recently_used_engine_is_disposed_beyond_the_bound(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'db{i}.db'}" for i in range(engine_module.SHARED_MAX + 3)]
    first = shared_engine(urls[0])
    for url in urls[1:]:
        shared_engine(url)
        shared_engine(urls[0])  # keep the first one recently used
    assert shared_engine(urls[0]) is first
    assert len(engine_module._shared) == engine_module.SHARED_MAX
    assert set(engine_module._shared) == {engine_module.normalise_url(u) for u in [urls[0], *urls[-7:]]}


def test_api_requests_reuse_one_engine_and_hold_no_extra_descriptors(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, engines_made: list[str]
) -> None:
    from governance.api import create_app

    monkeypatch.setenv("GOVERNANCE_DB_URL", sqlite_url)
    model_id = _register(sqlite_url)
    client = TestClient(create_app())
    paths = [
        "/models",
        f"/models/{model_id}",
        "/models/doc-tagger:1.0.0",
        "/models/doc-tagger",
        f"/models/{model_id}/evidence",
        "/audit/events?limit=10",
        "/audit/verify",
    ]
    for path in paths * 5:  # warm-up
        assert client.get(path).status_code == 200, path
    fds = _open_fds()
    for path in paths * 100:
        assert client.get(path).status_code == 200, path
    assert len(engines_made) == 1
    assert _open_fds() - fds <= 3


def test_answer_capture_reuses_one_engine(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, engines_made) -> None:
    from governance.orchestration.answer_capture import record_patch

    monkeypatch.setenv("GOVERNANCE_DB_URL", sqlite_url)
    s = GovernanceStore.from_url(sqlite_url)
    card = load_card(CARDS / "medium_product_recommender.yaml")
    model_id = s.register(card, owner="owner").model.id
    s.transition(model_id, ModelStatus.REVIEW_PENDING, actor="owner")
    answers = 30
    for i in range(answers):
        assert record_patch(
            dag_id="model_approval_medium",
            run_id=f"approval__{model_id}__r{i}",
            task_id="security_review",
            response={"responded_by": {"id": "security"}, "chosen_options": ["Pass"], "params_input": {}},
        )
    assert len(s.list_decisions(model_id)) == answers
    s.engine.dispose()
    assert len(engines_made) == 1
