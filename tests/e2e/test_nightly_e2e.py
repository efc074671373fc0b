"""The nightly DAGs on a real Airflow: seed deployed demo models, trigger both DAGs as admin over
REST, then read the reports from the report store the tasks used and check they are readable.

The seeded versions carry their own pre-release tag (``-e2e-nightly``), so they collide with no
version another test submits; the checks look only at these models. Both DAGs are ``@daily``
without catchup, so Airflow runs each once for today as soon as it parses them: the test waits
for those runs to end before seeding (so they never see these models) and asks its own runs for
a day of their own (``report_date``), so nothing it checks depends on the scheduled runs.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from governance.embedded.demo_registry import seed_demo_registry
from governance.reports.store import ReportStore
from governance.store import nightly_reports
from governance.tasks.bias_audit_nightly import bias_report_keys
from governance.tasks.compliance_report_nightly import compliance_report_keys

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


def _wait_idle(admin: Any, dag_id: str, *, timeout: float = 300) -> None:
    """Wait until the DAG's scheduled run exists and no run of it is queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        runs = admin.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]
        if any(r["run_type"] == "scheduled" for r in runs) and all(r["state"] in ("success", "failed") for r in runs):
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"{dag_id}: runs still active after {timeout} s: {[(r['dag_run_id'], r['state']) for r in runs]}"
            )
        time.sleep(2)


def _report_store(airflow: Any, monkeypatch: pytest.MonkeyPatch) -> ReportStore:
    """The report store the tasks chose: report_store_from_config under the Airflow's environment."""
    from governance.reports.s3_store import report_store_from_config

    for name, value in airflow.env().items():
        if name.startswith(("GOVERNANCE_", "AWS_")):
            monkeypatch.setenv(name, value)
    return report_store_from_config(airflow_conn_id=None)


def _run(admin: Any, dag_id: str, day: date) -> dict[str, Any]:
    run = admin.trigger(dag_id, {"report_date": day.isoformat()})
    done = admin.wait_run(dag_id, run["dag_run_id"], timeout=300)
    assert done["state"] == "success", f"{dag_id} run {run['dag_run_id']} ended {done['state']}"
    return done


def _events(gov_store: Any, model_id: str, event_type: str, day: date) -> list[Any]:
    events = gov_store.audit.query(model_id=model_id, event_type=event_type, limit=1000).events
    return [e for e in events if e.details.get("report_date") == day.isoformat()]


def _task_log(admin: Any, dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    run = urllib.parse.quote(run_id, safe="")
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/logs/1"
    return json.dumps(admin.get(path, map_index=map_index))


def test_nightly_reports_on_a_real_airflow(airflow, as_user, gov_store, monkeypatch):
    admin = as_user("admin")
    _wait_for_dags(admin, NIGHTLY_DAGS)
    for dag_id in NIGHTLY_DAGS:
        _wait_idle(admin, dag_id)
    day = datetime.now(UTC).date() - timedelta(days=400)  # a day no scheduled run reports on
    include = Path(airflow.env()["GOVERNANCE_INCLUDE_DIR"])
    seeded = {m["name"]: m for m in seed_demo_registry(store=gov_store, include_dir=include, version_suffix=SUFFIX)}
    credit, recommender = seeded["credit-scorer"], seeded["product-recommender"]
    assert credit["status"] == recommender["status"] == "DEPLOYED"
    reports = _report_store(airflow, monkeypatch)

    # --- bias audit: one mapped task per deployed model
    run = _run(admin, "bias_audit_nightly", day)
    listed = admin.xcom("bias_audit_nightly", run["dag_run_id"], "list_models")
    mine = [e for e in listed if e["model_id"] in (credit["model_id"], recommender["model_id"])]
    assert len(mine) == 2 and {e["report_date"] for e in mine} == {day.isoformat()}
    tis = {
        t["rendered_map_index"]: t
        for t in admin.task_instances("bias_audit_nightly", run["dag_run_id"])
        if t["task_id"] == "audit_model"
    }
    for model, verdict in ((credit, "Screening flag raised"), (recommender, "No screening flag raised")):
        json_key, html_key = bias_report_keys(name=model["name"], version=model["version"], day=day)
        report = json.loads(reports.get(json_key))
        assert report["provenance"]["model_id"] == model["model_id"] and report["rows"] == 20000
        html = reports.get(html_key).decode()
        assert f"{model['name']} {model['version']}" in html and verdict in html
        assert tis[f"{model['name']} {model['version']}"]["state"] == "success"
    (event,) = _events(gov_store, credit["model_id"], nightly_reports.EVENT_BIAS_RECORDED, day)
    assert [(f["attribute"], f["groups"]) for f in event.details["flagged"]] == [("age_band", ["66+"])]
    flagged_ti = tis[f"credit-scorer {credit['version']}"]
    log = _task_log(admin, "bias_audit_nightly", run["dag_run_id"], "audit_model", flagged_ti["map_index"])
    assert "governance notification" in log and "age_band" in log  # the notifier fired

    # --- compliance report over every deployed model: the day before, then the day (trend against it)
    _run(admin, "compliance_report_nightly", day - timedelta(days=1))
    yesterday = json.loads(reports.get(compliance_report_keys(day - timedelta(days=1))[0]))
    run = _run(admin, "compliance_report_nightly", day)
    summary = admin.xcom("compliance_report_nightly", run["dag_run_id"], "compliance_report")
    assert summary["report_date"] == day.isoformat()
    json_key, html_key = compliance_report_keys(day)
    snapshot = json.loads(reports.get(json_key))
    assert snapshot["trend"]["baseline"] == yesterday["generated_at"]
    assert snapshot["trend"]["models"][credit["model_id"]]["trend"] in ("still passing", "still failing")
    models = {m["model_id"]: m for m in snapshot["models"]}
    assert {credit["model_id"], recommender["model_id"]} <= set(models)
    html = reports.get(html_key).decode()
    assert f"credit-scorer {credit['version']}" in html and f"product-recommender {recommender['version']}" in html
    assert ("models fail compliance" in html) or ("models pass compliance" in html)
    assert "Since the report of" in html
    for model in (credit, recommender):
        events = _events(gov_store, model["model_id"], nightly_reports.EVENT_COMPLIANCE_RECORDED, day)
        assert [e.details["passed"] for e in events] == [models[model["model_id"]]["passed"]]
    assert gov_store.audit.verify().ok
