"""Helpers the end-to-end tests share: cards with fresh versions, waiting for reviews."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import yaml

from governance.airflow_client import AirflowClient

CARDS = Path(__file__).resolve().parents[2] / "include" / "model_cards"
TIER_CARDS = {
    "low": "low_doc_tagger.yaml",
    "medium": "medium_product_recommender.yaml",
    "high": "high_credit_scorer.yaml",
    "critical": "critical_clinical_triage.yaml",
}
_counter = itertools.count(1)


def demo_card(tier: str, *, suffix: str = "") -> dict[str, Any]:
    """The tier's demo card with a version no other test uses (name + version is unique)."""
    card = yaml.safe_load((CARDS / TIER_CARDS[tier]).read_text())
    major = int(time.time()) % 100000
    card["version"] = f"{major}.{next(_counter)}.0"
    if suffix:
        card["name"] = f"{card['name']}-{suffix}"
    return card


def submit_and_get_model(owner: AirflowClient, card: dict[str, Any], *, timeout: float = 240) -> dict[str, Any]:
    run = owner.submit(card)
    done = owner.wait_run("model_submission", run["dag_run_id"], timeout=timeout)
    assert done["state"] == "success", f"submission run {run['dag_run_id']} ended {done['state']}"
    return owner.xcom("model_submission", run["dag_run_id"], "assess_risk")


def wait_for_review(
    client: AirflowClient, model_id: str, task_id: str, *, timeout: float = 240, poll: float = 0.5
) -> dict[str, Any]:
    """Wait until the review task ``task_id`` of ``model_id`` is waiting for an answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for req in client.pending_reviews(mine=False):
            if req["model_id"] == model_id and req["task_id"] == task_id and req["state"] == "awaiting_input":
                return req
        time.sleep(poll)
    raise AssertionError(f"review {task_id} of {model_id} did not appear within {timeout} s")


def wait_for_decision(admin: AirflowClient, model_id: str, tier: str, *, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = admin.approval_runs(model_id)
        if runs:
            run = admin.wait_run(f"model_approval_{tier}", runs[0]["dag_run_id"], timeout=timeout)
            return {"run": run, "decision": admin.xcom(f"model_approval_{tier}", run["dag_run_id"], "record_decision")}
        time.sleep(1)
    raise AssertionError(f"no approval run for {model_id}")
