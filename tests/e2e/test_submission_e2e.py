"""A submission is the card that was submitted, nothing else (issue 9, item 3), over REST.

The session's Airflow is the embedded default, whose trigger form is pre-filled with the
CRITICAL demo card; none of those values may reach a card a REST client submits.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from governance.airflow_client import AirflowAPIError, AirflowClient
from governance.cards import ModelCard, missing_required_fields
from governance.errors import ModelNotFoundError
from governance.store import GovernanceStore
from governance.tasks.model_submission import ERR_SUBMISSION_INCOMPLETE
from tests.e2e.helpers import CARDS, demo_card, submit_and_get_model

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
DAG = "model_submission"
FORM_DEMO = yaml.safe_load((CARDS / "critical_clinical_triage.yaml").read_text())


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _task_log(client: AirflowClient, run_id: str, task_id: str, try_number: int = 1) -> str:
    run = urllib.parse.quote(run_id, safe="")
    body = client.get(
        f"/api/v2/dags/{DAG}/dagRuns/{run}/taskInstances/{task_id}/logs/{try_number}", full_content="true"
    )
    return "\n".join(_strings(body.get("content")))


def _events_since(store: GovernanceStore, since: datetime) -> list[Any]:
    events, cursor = [], None
    while True:
        page = store.audit.query(since=since, limit=1000, cursor=cursor)
        events += page.events
        if not page.next_cursor:
            return events
        cursor = page.next_cursor


def test_the_form_defaults_are_set_here(as_user):
    """The point is proven against a pre-filled form: its demo values exist to be inherited."""
    params = as_user("admin").get(f"/api/v2/dags/{DAG}/details")["params"]
    assert params["description"]["value"] == FORM_DEMO["description"]
    assert params["human_oversight"]["value"] == FORM_DEMO["human_oversight"]


def test_a_card_lacking_required_fields_is_refused_and_registers_nothing(as_user, gov_store):
    owner = as_user("owner")
    name = f"x-{uuid.uuid4().hex[:10]}"
    conf = {"name": name}
    since = datetime.now(UTC)
    try:
        run = owner.trigger(DAG, conf)
    except AirflowAPIError as exc:  # refused at trigger time (a form without defaults)
        assert exc.status == 400, exc
    else:  # the embedded default: Airflow accepts it (form defaults), validate_card refuses it
        run_id = run["dag_run_id"]
        assert owner.dag_run(DAG, run_id)["conf"] == conf
        done = owner.wait_run(DAG, run_id, timeout=240)
        assert done["state"] == "failed"
        states = {ti["task_id"]: ti["state"] for ti in owner.task_instances(DAG, run_id)}
        assert states["validate_card"] == "failed" and states["register"] == "upstream_failed", states
        log = _task_log(owner, run_id, "validate_card")
        missing = missing_required_fields(conf)
        assert {"description", "artifact", "intended_use"} <= set(missing) and "human_oversight" not in missing
        assert ERR_SUBMISSION_INCOMPLETE.format(fields=", ".join(missing)) in log, log[-3000:]
    with pytest.raises(ModelNotFoundError):
        gov_store.find(name)
    assert not [m for m in gov_store.list_models() if m.name == name]
    mentioning = [e for e in _events_since(gov_store, since) if name in json.dumps(e.details)]
    assert mentioning == []


def test_a_complete_card_is_registered_with_exactly_its_fields(as_user, gov_store):
    """The LOW demo card leaves out human oversight, protected attributes, …: the registered
    card has none of them, not the pre-filled CRITICAL demo's."""
    owner = as_user("owner")
    card = demo_card("low", suffix=uuid.uuid4().hex[:8])
    left_out = ("human_oversight", "data_minimisation", "predictions_location", "explainability_uri")
    assert not set(left_out) & set(card) and "protected_attributes" not in card
    assessed = submit_and_get_model(owner, card)
    model = gov_store.get(assessed["model_id"])
    assert (model.name, model.version, model.owner) == (card["name"], card["version"], "owner")
    assert model.card == ModelCard.model_validate(card).model_dump(mode="json")
    for field in left_out:
        assert model.card[field] is None and FORM_DEMO[field]
    assert model.card["protected_attributes"] == [] and FORM_DEMO["protected_attributes"]
    assert model.card["description"] == card["description"] != FORM_DEMO["description"]
    assert model.card["artifact"] == card["artifact"]
