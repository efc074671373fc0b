"""Shared fixtures: a governance database on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import ERR_NO_POSTGRES, PostgresServer, find_bin_dir

REPO = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    if find_bin_dir() is None:
        if IN_CI:
            pytest.fail(ERR_NO_POSTGRES)
        pytest.skip(ERR_NO_POSTGRES)
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'governance.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database()


@pytest.fixture
def store(db_url: str):
    from governance.store import GovernanceStore, migrate

    s = GovernanceStore.from_url(db_url)
    migrate(s.engine)
    yield s
    s.engine.dispose()


@pytest.fixture
def demo_card_path() -> Path:
    return REPO / "include" / "model_cards" / "high_credit_scorer.yaml"
