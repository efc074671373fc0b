"""``model_submission`` registers the card that was submitted, nothing else (issue 9, item 3).

Through Airflow's real trigger route (FastAPI ``TestClient`` on ``create_app()``) and
``dag.test()``: without form defaults Airflow itself refuses a trigger lacking required
fields (HTTP 400); with them (the embedded default pre-fills the form with the CRITICAL demo
card) Airflow accepts it, stores the conf as sent, and ``validate_card`` refuses it, writing
nothing.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from governance.cards import ModelCard
from governance.store import GovernanceStore, migrate

REPO = Path(__file__).resolve().parents[2]
CARDS = REPO / "include" / "model_cards"
DEMO = CARDS / "critical_clinical_triage.yaml"

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def gov(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("GOVERNANCE_DB_URL", url)
    store = GovernanceStore.from_url(url)
    migrate(store.engine)
    return store


@pytest.fixture(scope="module")
def api(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app())


def _token(api, user: str) -> dict[str, str]:
    r = api.post("/auth/token", json={"username": user, "password": user})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _submission_dag(monkeypatch: pytest.MonkeyPatch, *, form_defaults: bool, api=None):
    """Parse ``model_submission`` with or without form defaults and write it to the metadata DB
    (what the DAG processor does); the API server's DAG cache is dropped so its trigger route
    sees this version now (a real one re-reads it within ``min_serialized_dag_update_interval``)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    if form_defaults:
        monkeypatch.setenv("GOVERNANCE_FORM_DEFAULTS_CARD", str(DEMO))
    else:
        monkeypatch.delenv("GOVERNANCE_FORM_DEFAULTS_CARD", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL", "0")  # rewrite it at once
    bag = DagBag(dag_folder=str(REPO / "dags" / "model_submission.py"))
    assert bag.import_errors == {}
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    if api is not None:
        api.app.state.dag_bag.clear_cache()
    return bag.dags["model_submission"]


def _trigger(api, conf: dict, headers: dict[str, str]):
    return api.post("/api/v2/dags/model_submission/dagRuns", json={"logical_date": None, "conf": conf}, headers=headers)


def _events(store: GovernanceStore) -> list:
    return list(store.audit.query(limit=1000).events)


def test_without_form_defaults_airflow_refuses_the_trigger(api, monkeypatch, airflow_db):
    _submission_dag(monkeypatch, form_defaults=False, api=api)
    r = _trigger(api, {"name": "x"}, _token(api, "owner"))
    assert r.status_code == 400, r.text
    # Airflow names the first required param with no value (in card field order)
    assert r.json()["detail"].startswith("Invalid input for param version: No value passed")


def test_with_form_defaults_airflow_accepts_it_and_stores_the_conf_as_sent(api, monkeypatch, airflow_db):
    _submission_dag(monkeypatch, form_defaults=True, api=api)
    owner = _token(api, "owner")
    r = _trigger(api, {"name": "x"}, owner)
    assert r.status_code == 200, r.text  # Airflow validated {"name": "x"} merged with the demo's values
    run_id = r.json()["dag_run_id"]
    try:
        run = api.get(f"/api/v2/dags/model_submission/dagRuns/{run_id}", headers=owner).json()
        assert run["conf"] == {"name": "x"}  # the conf is what the client sent, not the merge
        assert run["triggered_by"] == "rest_api"
    finally:
        api.delete(f"/api/v2/dags/model_submission/dagRuns/{run_id}", headers=_token(api, "admin"))


def test_incomplete_conf_fails_at_validate_card_and_writes_nothing(monkeypatch, gov, airflow_db):
    dag = _submission_dag(monkeypatch, form_defaults=True)
    name = f"x-{uuid.uuid4().hex[:8]}"
    dr = dag.test(run_conf={"name": name})
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == "failed"
    assert states["validate_card"] == "failed"
    assert states["register"] == "upstream_failed"
    assert gov.list_models() == []
    assert _events(gov) == []


def test_a_complete_card_is_registered_with_exactly_its_fields(monkeypatch, gov, airflow_db):
    dag = _submission_dag(monkeypatch, form_defaults=True)
    card = yaml.safe_load((CARDS / "low_doc_tagger.yaml").read_text())
    card["name"] = f"doc-tagger-{uuid.uuid4().hex[:8]}"
    dr = dag.test(run_conf=card)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["validate_card"] == "success" and states["register"] == "success", states
    [model] = gov.list_models()
    assert model.name == card["name"] and model.owner == "dag_test"
    assert model.card == ModelCard.model_validate(card).model_dump(mode="json")
    demo = yaml.safe_load(DEMO.read_text())
    assert model.card["human_oversight"] is None and demo["human_oversight"]
    assert model.card["protected_attributes"] == [] and demo["protected_attributes"]
