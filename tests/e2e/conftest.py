"""A real Airflow (API server, scheduler, DAG processor, triggerer) for the end-to-end tests.

Started once per session with ``airflow standalone`` on free ports, this project's DAGs and
plugins, a temporary SQLite metadata DB, a temporary governance DB and a local SeaweedFS S3
server with its Object Lock bucket — the embedded default of ``make run``. Tests drive it
over HTTP only, as a browser or CI client would.

Before Airflow starts, the governance audit trail gets three closed days of back-dated
history (``ARCHIVE_DAYS``): the embedded default starts ``audit_archive``'s catchup at the
first audit event, so Airflow archives those days by itself, as it would on a real install
that has been running for a few days.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from governance.airflow_client import AirflowClient
from governance.embedded.airflow import EmbeddedAirflow
from governance.embedded.ports import free_port
from governance.embedded.s3server import LocalS3Server
from governance.store import GovernanceStore, migrate
from tests.support.audit_history import seed_history

REPO = Path(__file__).resolve().parents[2]
EXPECTED_DAGS = {
    "model_submission",
    "model_approval_low",
    "model_approval_medium",
    "model_approval_high",
    "model_approval_critical",
}


ARCHIVE_DAYS = 3
EVENTS_PER_DAY = 200


def archive_days() -> list[date]:
    """The back-dated days seeded into the session's audit trail, oldest first."""
    today = datetime.now(UTC).date()
    return [today - timedelta(days=d) for d in range(ARCHIVE_DAYS, 0, -1)]


@pytest.fixture(scope="session")
def e2e_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's data folder, laid out like ``make run``'s ``data/``: ``airflow/``,
    ``governance.db``, ``s3/``."""
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def s3(e2e_data: Path) -> Iterator[LocalS3Server]:
    server = LocalS3Server.for_embedded_default(data_dir=e2e_data, s3_port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=0.5)


@pytest.fixture(scope="session")
def usage_policies(e2e_data: Path) -> Path:
    """The session's usage policy file: a copy of the demo file that tests may edit (the
    running Airflow re-reads it on change)."""
    path = e2e_data / "usage.yaml"
    shutil.copy(REPO / "include" / "policies" / "usage.yaml", path)
    return path


@pytest.fixture(scope="session")
def airflow(e2e_data: Path, s3: LocalS3Server, usage_policies: Path) -> Iterator[EmbeddedAirflow]:
    af = EmbeddedAirflow.throwaway(
        e2e_data, extra_env={**s3.env(), "GOVERNANCE_USAGE_POLICIES_FILE": str(usage_policies)}
    )
    store = GovernanceStore.from_url(af.db_url)
    migrate(store.engine)
    seed_history(store.engine, days=[(day, EVENTS_PER_DAY) for day in archive_days()])
    store.engine.dispose()
    try:
        af.start(timeout=420)
        admin = AirflowClient(base_url=af.url, username="admin", password="admin")
        deadline = time.monotonic() + 180
        while True:
            dags = {d["dag_id"] for d in admin.get("/api/v2/dags", limit=100)["dags"]}
            if EXPECTED_DAGS <= dags:
                break
            if time.monotonic() > deadline:
                errors = admin.get("/api/v2/importErrors")
                pytest.fail(f"DAGs not parsed in time: have {sorted(dags)}, import errors {errors}")
            time.sleep(2)
        yield af
    finally:
        af.stop()


@pytest.fixture(scope="session")
def as_user(airflow: EmbeddedAirflow) -> Callable[[str], AirflowClient]:
    clients: dict[str, AirflowClient] = {}

    def make(user: str) -> AirflowClient:
        if user not in clients:
            clients[user] = AirflowClient(base_url=airflow.url, username=user, password=user)
        return clients[user]

    return make


@pytest.fixture(scope="session")
def gov_store(airflow: EmbeddedAirflow) -> GovernanceStore:
    return GovernanceStore.from_url(airflow.db_url)
