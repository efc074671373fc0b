"""The nightly DAGs on a real Airflow: seed deployed demo models, trigger both DAGs as admin over
REST, then read the reports from the report store the tasks used and check they are readable.

The seeded versions carry their own pre-release tag (``-e2e-nightly``), so they collide with no
version another test submits; the checks look only at these models.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from governance import nightly
from governance.demo_registry import seed_demo_registry
from governance.reports.store import ReportStore

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SUFFIX = "-e2e-nightly"
NIGHTLY_DAGS = ("bias_audit_nightly", "compliance_report_nightly")


def _wait_for_dags(admin: Any, dag_ids: tuple[str, ...], *, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        have = {d["dag_id"] for d in admin.get("/api/v2/dags", limit=100)["dags"]}
        if set(dag_ids) <= have:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{dag_ids} not parsed in time: import errors {admin.get('/api/v2/importErrors')}")
        time.sleep(2)


def _report_store(airflow: Any, monkeypatch: pytest.MonkeyPatch) -> ReportStore:
    """The report store the tasks chose: report_store_from_config under the Airflow's environment."""
    from governance.reports.s3_store import report_store_from_config

    for name, value in airflow.env().items():
        if name.startswith(("GOVERNANCE_", "AWS_")):
            monkeypatch.setenv(name, value)
    return report_store_from_config(airflow_conn_id=None)


def _run(admin: Any, dag_id: str) -> dict[str, Any]:
    run = admin.trigger(dag_id, {})
    done = admin.wait_run(dag_id, run["dag_run_id"], timeout=300)
    assert done["state"] == "success", f"{dag_id} run {run['dag_run_id']} ended {done['state']}"
    return done


def _task_log(admin: Any, dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    run = urllib.parse.quote(run_id, safe="")
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/logs/1"
    return json.dumps(admin.get(path, map_index=map_index))


def test_nightly_reports_on_a_real_airflow(airflow, as_user, gov_store, monkeypatch):
    admin = as_user("admin")
    _wait_for_dags(admin, NIGHTLY_DAGS)
    include = Path(airflow.env()["GOVERNANCE_INCLUDE_DIR"])
    seeded = {m["name"]: m for m in seed_demo_registry(store=gov_store, include_dir=include, version_suffix=SUFFIX)}
    credit, recommender = seeded["credit-scorer"], seeded["product-recommender"]
    assert credit["status"] == recommender["status"] == "DEPLOYED"
    reports = _report_store(airflow, monkeypatch)

    # --- bias audit: one mapped task per deployed model
    run = _run(admin, "bias_audit_nightly")
    listed = admin.xcom("bias_audit_nightly", run["dag_run_id"], "list_models")
    mine = {e["model_id"]: e for e in listed if e["model_id"] in (credit["model_id"], recommender["model_id"])}
    assert len(mine) == 2
    day = date.fromisoformat(mine[credit["model_id"]]["report_date"])
    tis = {
        t["rendered_map_index"]: t
        for t in admin.task_instances("bias_audit_nightly", run["dag_run_id"])
        if t["task_id"] == "audit_model"
    }
    for model, verdict in ((credit, "Screening flag raised"), (recommender, "No screening flag raised")):
        json_key, html_key = nightly.bias_report_keys(name=model["name"], version=model["version"], day=day)
        report = json.loads(reports.get(json_key))
        assert report["provenance"]["model_id"] == model["model_id"] and report["rows"] == 20000
        html = reports.get(html_key).decode()
        assert f"{model['name']} {model['version']}" in html and verdict in html
        assert tis[f"{model['name']} {model['version']}"]["state"] == "success"
    (event,) = gov_store.audit.query(model_id=credit["model_id"], event_type=nightly.EVENT_BIAS_RECORDED).events
    assert [(f["attribute"], f["groups"]) for f in event.details["flagged"]] == [("age_band", ["66+"])]
    flagged_ti = tis[f"credit-scorer {credit['version']}"]
    log = _task_log(admin, "bias_audit_nightly", run["dag_run_id"], "audit_model", flagged_ti["map_index"])
    assert "governance notification" in log and "age_band" in log  # the notifier fired

    # --- compliance report over every deployed model, trend against yesterday
    run = _run(admin, "compliance_report_nightly")
    summary = admin.xcom("compliance_report_nightly", run["dag_run_id"], "compliance_report")
    assert summary["report_date"] == day.isoformat()
    json_key, html_key = nightly.compliance_report_keys(day)
    snapshot = json.loads(reports.get(json_key))
    models = {m["model_id"]: m for m in snapshot["models"]}
    assert {credit["model_id"], recommender["model_id"]} <= set(models)
    html = reports.get(html_key).decode()
    assert f"credit-scorer {credit['version']}" in html and f"product-recommender {recommender['version']}" in html
    assert ("models fail compliance" in html) or ("models pass compliance" in html)
    for model in (credit, recommender):
        events = gov_store.audit.query(model_id=model["model_id"], event_type=nightly.EVENT_COMPLIANCE_RECORDED).events
        assert [e.details["passed"] for e in events] == [models[model["model_id"]]["passed"]]
    assert gov_store.audit.verify().ok
