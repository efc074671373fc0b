"""The audit_archive DAG: parses fast and light, and `dag.test()` archives + validates on real S3.

S3 reaches the tasks through the Airflow connection ``governance_s3`` (given as an
``AIRFLOW_CONN_*`` variable); the environment's own S3 settings point at a bucket that does
not exist, so a passing run proves the connection is the one used.
"""

from __future__ import annotations

import json
import runpy
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import perf_counter

import pytest

from governance.archive import digest_key
from governance.s3 import make_client
from tests.conftest_s3 import ACCESS_KEY, SECRET_KEY, make_archive
from tests.support.audit_history import seed_history

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "audit_archive.py"
TODAY = datetime.now(UTC).date()


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["audit_archive"]


def test_dag_parses_fast():
    """The file's own parse cost once Airflow is warm (as in the DAG processor). That no heavy
    module is imported at parse time is checked for every DAG in test_dag_integrity."""
    _load_dag()  # warm: Airflow's lazy imports done
    start = perf_counter()
    namespace = runpy.run_path(str(DAG_FILE))
    elapsed = perf_counter() - start
    assert "audit_archive" in namespace
    assert elapsed < 0.2, f"parsing {DAG_FILE.name} took {elapsed:.3f} s"


def test_dag_shape():
    dag = _load_dag()
    assert [t.task_id for t in dag.topological_sort()] == ["archive", "validate"]
    assert dag.catchup and dag.max_active_runs == 1
    assert set(dag.tags) == {"governance", "audit"}
    assert dag.owner == "governance"
    assert all(t.retries == 2 and t.retry_delay == timedelta(minutes=5) for t in dag.tasks)
    assert "# Audit archive" in dag.doc_md


def test_catchup_starts_at_the_configured_day(monkeypatch):
    monkeypatch.setenv("GOVERNANCE_ARCHIVE_START", "2027-01-15")
    assert _load_dag().start_date == datetime(2027, 1, 15, tzinfo=UTC)
    monkeypatch.setenv("GOVERNANCE_ARCHIVE_START", "15.01.2027")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    (error,) = bag.import_errors.values()
    assert "GOVERNANCE_ARCHIVE_START='15.01.2027' is not a date" in error


@pytest.mark.s3
@pytest.mark.slow
def test_dag_test_archives_and_validates(airflow_db, s3_settings, tmp_path, monkeypatch):
    from governance.store import GovernanceStore, migrate

    db_url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("GOVERNANCE_DB_URL", db_url)
    store = GovernanceStore.from_url(db_url)
    migrate(store.engine)
    seed_history(store.engine, days=[(TODAY - timedelta(days=3), 30), (TODAY - timedelta(days=1), 4)])
    store.audit.append(event_type="model.registered", actor="owner")  # today: stays out of the archive

    connection = {
        "conn_type": "aws",
        "login": ACCESS_KEY,
        "password": SECRET_KEY,
        "extra": {"endpoint_url": s3_settings.endpoint_url, "bucket": s3_settings.bucket},
    }
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_S3", json.dumps(connection))
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "not-the-archive-bucket")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "wrong")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    monkeypatch.delenv("GOVERNANCE_S3_ENDPOINT_URL", raising=False)

    dag = _load_dag()
    for t in dag.tasks:
        t.retries = 0  # a failure should fail the test now, not wait five minutes for a retry

    yesterday_run = datetime.combine(TODAY - timedelta(days=1), time(), UTC)
    run = dag.test(logical_date=yesterday_run)
    assert run.state == "success"
    archive = make_archive(store.engine, s3_settings)
    assert archive.digest_days() == [TODAY - timedelta(days=3), TODAY - timedelta(days=2)]

    today_run = datetime.combine(TODAY, time(), UTC)
    assert dag.test(logical_date=today_run).state == "success"
    assert dag.test(logical_date=today_run).state == "success"  # rerun: rechecks, writes nothing
    assert archive.digest_days()[-1] == TODAY - timedelta(days=1)
    report = archive.validate()
    assert report.ok and report.events == 34
    client = make_client(s3_settings)
    versions = client.list_object_versions(Bucket=s3_settings.bucket, Prefix="audit/")
    assert len(versions["Versions"]) == 5 and all(v["IsLatest"] for v in versions["Versions"])  # 3 digests, 2 parts
    assert digest_key(TODAY) not in {v["Key"] for v in versions["Versions"]}
    store.engine.dispose()
