"""The usage_retention DAG: parses fast, has the scheduled DAGs' shape, and ``dag.test()`` purges
expired payloads with one audit event, then writes nothing on a rerun."""

from __future__ import annotations

import runpy
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter

from sqlalchemy import insert, select

from governance.cards import load_card
from governance.store import GovernanceStore, migrate
from governance.store.tables import usage_decisions, usage_payloads
from governance.tasks._shared import SYSTEM_ACTOR
from governance.usage.retention import EVENT_PAYLOADS_PURGED

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "usage_retention.py"
CARD = REPO / "include" / "model_cards" / "medium_product_recommender.yaml"


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["usage_retention"]


def test_dag_parses_fast():
    _load_dag()  # warm: Airflow's lazy imports done, as in the DAG processor
    start = perf_counter()
    namespace = runpy.run_path(str(DAG_FILE))
    elapsed = perf_counter() - start
    assert "usage_retention" in namespace
    assert elapsed < 0.2, f"parsing {DAG_FILE.name} took {elapsed:.3f} s"


def test_dag_shape():
    dag = _load_dag()
    assert [t.task_id for t in dag.tasks] == ["purge_payloads"]
    assert dag.schedule == "@daily" and dag.timetable.expression == "0 0 * * *"
    assert not dag.catchup and dag.max_active_runs == 1
    assert "governance" in dag.tags and "usage" in dag.tags
    assert dag.owner == "governance"
    assert all(t.retries == 2 and t.retry_delay == timedelta(minutes=5) for t in dag.tasks)
    assert dag.doc_md.lstrip().startswith("# Usage retention")


def _seed(store: GovernanceStore, *, expires: list[datetime]) -> list[str]:
    model_id = store.register(load_card(CARD), owner="owner").model.id
    ids = []
    with store.engine.begin() as conn:
        for expires_at in expires:
            decision_id = uuid.uuid4().hex
            ids.append(decision_id)
            conn.execute(
                insert(usage_decisions).values(
                    id=decision_id,
                    created_at=expires_at - timedelta(days=30),
                    day=(expires_at - timedelta(days=30)).date().isoformat(),
                    model_id=model_id,
                    model_status="DEPLOYED",
                    end_user="u-1",
                    caller="gateway",
                    compliant=True,
                    input_sha256="0" * 64,
                    input_bytes=4,
                    policy_sha256="1" * 64,
                )
            )
            conn.execute(
                insert(usage_payloads).values(
                    decision_id=decision_id,
                    kind="input",
                    text="kept text",
                    stored_at=expires_at - timedelta(days=30),
                    expires_at=expires_at,
                )
            )
    return ids


def test_dag_test_purges_expired_payloads_once(airflow_db, tmp_path, monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("GOVERNANCE_DB_URL", db_url)
    store = GovernanceStore.from_url(db_url)
    migrate(store.engine)
    now = datetime.now(UTC)
    expired, kept = _seed(store, expires=[now - timedelta(hours=1), now + timedelta(days=3)])
    dag = _load_dag()
    for t in dag.tasks:
        t.retries = 0  # a failure should fail the test now, not after a five-minute retry

    assert dag.test().state == "success"

    with store.engine.connect() as conn:
        left = [r.decision_id for r in conn.execute(select(usage_payloads.c.decision_id))]
    assert left == [kept]
    (event,) = store.audit.query(event_type=EVENT_PAYLOADS_PURGED).events
    assert event.actor == SYSTEM_ACTOR
    assert event.details["payloads"] == {"input": 1} and event.details["decisions"] == 1
    assert expired not in str(event.details)

    events = store.audit.count()
    assert dag.test().state == "success"  # rerun: nothing expired, nothing written
    assert store.audit.count() == events
    assert store.audit.verify().ok
    store.engine.dispose()
