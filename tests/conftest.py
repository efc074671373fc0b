"""Shared fixtures: a governance database on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import ERR_NO_POSTGRES, PostgresServer, find_bin_dir

REPO = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))

# In-process Airflow (DagBag, dag.test()) gets a throwaway home and metadata DB, set before
# anything imports airflow; the developer's own AIRFLOW_HOME is never touched.
AIRFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="gov-airflow-test-"))
TEST_USERS = {
    "admin": "admin",
    "owner": "user",
    "security": "user",
    "compliance": "user",
    "approver1": "user",
    "approver2": "user",
    "outsider": "user",
    "gateway": "user",
}
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_TEST_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_TEST_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in TEST_USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(AIRFLOW_TEST_HOME / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "test-only-secret-" + "x" * 64,
        # never the developer's data/ (its local S3 state would be picked up when no S3 is set)
        "GOVERNANCE_DATA_DIR": str(AIRFLOW_TEST_HOME / "governance-data"),
    }
)
(AIRFLOW_TEST_HOME / "passwords.json").write_text(json.dumps({u: u for u in TEST_USERS}))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the throwaway Airflow metadata DB once per session."""
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
    return AIRFLOW_TEST_HOME


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


# Real S3 (SeaweedFS) fixtures: s3_server, s3_settings, s3_env.
pytest_plugins = ["tests.conftest_s3"]
