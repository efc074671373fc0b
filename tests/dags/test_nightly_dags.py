"""The nightly DAGs: shape, and ``dag.test()`` of each against a seeded governance DB and a local report store.

The tasks find their configuration the way they do in production: ``GOVERNANCE_DB_URL``,
``GOVERNANCE_INCLUDE_DIR``, ``GOVERNANCE_DATA_DIR`` and ``GOVERNANCE_REPORTS_STORE=local``
(reports under ``<data dir>/reports``, see ``report_store_from_config``).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from governance.reports import LocalReportStore
from governance.store import nightly_reports
from governance.tasks.bias_audit_nightly import bias_report_keys

REPO = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 11, 27, tzinfo=UTC)


def _load(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py"))
    assert bag.import_errors == {}
    dag = bag.dags[dag_id]
    for t in dag.tasks:
        t.retries = 0  # a failure should fail the test now, not after a five-minute retry
    return dag


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A governance DB with the demo registry seeded, a private include folder and data folder."""
    from governance.embedded.demo_registry import seed_demo_registry
    from governance.store import GovernanceStore, migrate

    include = tmp_path / "include"
    for part in ("model_cards", "compliance", "workflows", "demo/artifacts", "demo/eval"):
        shutil.copytree(REPO / "include" / part, include / part)
    shutil.copy(REPO / "include" / "reviewer_groups.yaml", include / "reviewer_groups.yaml")
    db_url = f"sqlite:///{tmp_path / 'governance.db'}"
    data = tmp_path / "data"
    for name, value in {
        "GOVERNANCE_DB_URL": db_url,
        "GOVERNANCE_INCLUDE_DIR": str(include),
        "GOVERNANCE_DATA_DIR": str(data),
        "GOVERNANCE_REPORTS_STORE": "local",
        "GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST": "true",
    }.items():
        monkeypatch.setenv(name, value)
    store = GovernanceStore.from_url(db_url)
    migrate(store.engine)
    seeded = {m["name"]: m for m in seed_demo_registry(store=store, include_dir=include)}
    yield {"store": store, "seeded": seeded, "reports": LocalReportStore(data / "reports")}
    store.engine.dispose()


def _task_instances(run) -> list[Any]:
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = run.get_task_instances(session=session)
        session.expunge_all()
    return sorted(tis, key=lambda ti: (ti.task_id, ti.map_index))


def test_dag_shapes_and_parse_time():
    import runpy
    from time import perf_counter

    bias = _load("bias_audit_nightly")
    compliance = _load("compliance_report_nightly")
    for dag_id in ("bias_audit_nightly", "compliance_report_nightly"):
        start = perf_counter()
        runpy.run_path(str(REPO / "dags" / f"{dag_id}.py"))  # warm Airflow, as in the DAG processor
        assert perf_counter() - start < 0.2, f"parsing {dag_id} is slow"
    for dag in (bias, compliance):
        assert (
            dag.schedule == "@daily"
            and dag.timetable.expression == "0 0 * * *"
            and not dag.catchup
            and dag.max_active_runs == 1
        )
        assert "governance" in dag.tags and "nightly" in dag.tags and dag.owner == "governance"
        assert dag.doc_md.lstrip().startswith("# Nightly")
        assert "report_date" in dag.params
    assert [t.task_id for t in bias.topological_sort()] == ["list_models", "audit_model"]
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(bias.get_task("audit_model"), MappedOperator)
    assert [t.task_id for t in compliance.tasks] == ["compliance_report"]


def test_bias_audit_dag_maps_one_task_per_deployed_model(airflow_db, env, monkeypatch):
    from governance.orchestration.notifiers import LogNotifier

    fired: list[str] = []
    monkeypatch.setattr(LogNotifier, "notify", lambda self, context: fired.append(self.message))
    dag = _load("bias_audit_nightly")
    run = dag.test(logical_date=DAY)
    assert run.state == "success"

    tis = [ti for ti in _task_instances(run) if ti.task_id == "audit_model"]
    seeded = env["seeded"]
    assert sorted(ti.rendered_map_index for ti in tis) == ["credit-scorer 1.2.0-demo", "product-recommender 2.1.0-demo"]
    assert all(ti.state == "success" for ti in tis)
    reports = env["reports"]
    for name in ("credit-scorer", "product-recommender"):
        json_key, html_key = bias_report_keys(name=name, version=seeded[name]["version"], day=DAY.date())
        assert json.loads(reports.get(json_key))["provenance"]["model_name"] == name
        assert name in reports.get(html_key).decode()
    rows = {r["model_id"]: r for r in nightly_reports.list_bias_audits(store=env["store"], report_date=DAY.date())}
    assert rows[seeded["credit-scorer"]["model_id"]]["bias_detected"] is True
    assert rows[seeded["product-recommender"]["model_id"]]["bias_detected"] is False
    (message,) = fired  # the notifier fired for the flagged model only
    assert "credit-scorer 1.2.0-demo" in message and "age_band" in message and "66+" in message

    events = env["store"].audit.count()
    assert dag.test(logical_date=DAY).state == "success"  # rerun: nothing new
    assert env["store"].audit.count() == events and len(fired) == 1
    assert len(nightly_reports.list_bias_audits(store=env["store"])) == 2


def test_compliance_report_dag_writes_the_days_report_with_trend(airflow_db, env):
    from tests.compliance.test_usage_section import insert_decisions

    credit = env["seeded"]["credit-scorer"]["model_id"]
    insert_decisions(env["store"].engine, credit, day=DAY.date(), n=3, user="u-1", completed=True)
    insert_decisions(env["store"].engine, credit, day=DAY.date(), user="u-2", compliant=False, policies="usage-quota")
    dag = _load("compliance_report_nightly")
    assert dag.test(logical_date=DAY).state == "success"
    reports, store = env["reports"], env["store"]
    first = json.loads(reports.get("compliance/2026-11-27/report.json"))
    assert first["summary"]["models"] == 2 and first["trend"]["baseline"] is None
    usage = {m["model_id"]: m for m in first["usage"]["models"]}
    assert first["usage"]["day"] == "2026-11-27" and first["usage"]["findings"] == []
    served = usage[credit]
    assert (served["requests"], served["refused_by_policy"], served["completed"]) == (4, {"usage-quota": 1}, 3)
    assert usage[env["seeded"]["product-recommender"]["model_id"]]["requests"] == 0
    assert 'id="usage"' in reports.get("compliance/2026-11-27/report.html").decode()
    recorded = store.audit.query(event_type=nightly_reports.EVENT_COMPLIANCE_RECORDED).events
    assert len(recorded) == 2

    # a manual run without a logical date, asking for the next day: trend against the 27th
    run = dag.test(logical_date=None, run_conf={"report_date": "2026-11-28"})
    assert run.state == "success"
    second = json.loads(reports.get("compliance/2026-11-28/report.json"))
    assert second["trend"]["baseline"] == first["generated_at"]
    credit = env["seeded"]["credit-scorer"]["model_id"]
    assert second["trend"]["models"][credit]["trend"] in ("still passing", "still failing")
    html = reports.get("compliance/2026-11-28/report.html").decode()
    assert "credit-scorer 1.2.0-demo" in html and "Since the report of" in html

    events = store.audit.count()
    assert dag.test(logical_date=DAY).state == "success"  # rerun of the 27th: nothing new
    assert store.audit.count() == events
    assert [r["models"] for r in nightly_reports.list_compliance_reports(store=store)] == [2, 2]
