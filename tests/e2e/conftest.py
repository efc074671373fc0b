"""A real Airflow (API server, scheduler, DAG processor, triggerer) for the end-to-end tests.

Started once per session with ``airflow standalone`` on free ports, this project's DAGs and
plugins, a temporary SQLite metadata DB and a temporary governance DB — the embedded
default of ``make run``. Tests drive it over HTTP only, as a browser or CI client would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from governance.airflow_client import AirflowClient
from governance.embedded import EmbeddedAirflow
from governance.store import GovernanceStore

REPO = Path(__file__).resolve().parents[2]
EXPECTED_DAGS = {
    "model_submission",
    "model_approval_low",
    "model_approval_medium",
    "model_approval_high",
    "model_approval_critical",
}


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedAirflow]:
    data = tmp_path_factory.mktemp("e2e")
    af = EmbeddedAirflow.throwaway(data)
    af.start(timeout=420)
    try:
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
