"""The fast-answer race of Airflow 3.3's human-in-the-loop tasks, reproduced and survived.

An answer sent within about a second of a HITL task parking in ``awaiting_input`` can make
the scheduler fail the task ("finished with state success, but the task instance's state
attribute is queued … Marking task as FAILED"). This script starts the embedded Airflow
and answers N review requests as fast as it can see them:

- ``plain``: a stock ``ApprovalOperator`` (no retries) in a probe DAG — shows the race;
- ``governance``: the security review of ``model_approval_medium`` — every answer must end
  up recorded as a decision and the model must leave REVIEW_PENDING.

    .venv/bin/python benchmarks/hitl_race.py --runs 50
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROBE_DAG = '''
"""Airflow DAG used only by benchmarks/hitl_race.py: a stock ApprovalOperator, no retries."""
from datetime import datetime

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG

with DAG(dag_id="hitl_race_probe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         max_active_runs=64, tags=["benchmark"]):
    ApprovalOperator(task_id="approve", subject="probe", retries=0)
'''


def _trigger(client, dag_id: str, conf: dict, run_id: str) -> str:
    """Start a run, pacing and retrying: SQLite (the embedded default's metadata DB) answers a
    burst of triggers beside a busy scheduler with "database is locked" now and then."""
    for attempt in range(5):
        try:
            time.sleep(0.2)
            return client.trigger(dag_id, conf, run_id=run_id)["dag_run_id"]
        except Exception as exc:
            if attempt == 4:
                raise
            print(f"  trigger {run_id} failed ({exc}); retrying", file=sys.stderr)
            time.sleep(2)
    raise AssertionError("unreachable")


def _answer_fast(
    client, dag_id: str, task_id: str, run_ids: set[str], option: str, stop: threading.Event, latencies: list[float]
) -> None:
    answered: set[str] = set()
    seen_at: dict[str, float] = {}
    while not stop.is_set() and answered != run_ids:
        data = client.get(f"/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails", response_received="false", limit=1000)
        for h in data["hitl_details"]:
            ti = h["task_instance"]
            rid = ti["dag_run_id"]
            if rid in run_ids and rid not in answered and ti["task_id"] == task_id:
                seen_at.setdefault(rid, time.monotonic())
                try:
                    client.answer(dag_id=dag_id, run_id=rid, task_id=task_id, option=option, comment="fast")
                    answered.add(rid)
                    latencies.append(time.monotonic() - seen_at[rid])
                except Exception as exc:
                    print(f"  answer to {rid} failed: {exc}", file=sys.stderr)
        time.sleep(0.2)


def run_plain(af, runs: int, *, wave: int = 0) -> dict[str, int]:
    from governance.airflow_client import AirflowClient

    admin = AirflowClient(base_url=af.url, username="admin", password="admin")
    _wait_dag(admin, "hitl_race_probe")
    stamp = int(time.time())
    run_ids = {_trigger(admin, "hitl_race_probe", {}, f"probe__{stamp}__{wave}__{i}") for i in range(runs)}
    stop, lat = threading.Event(), []
    t = threading.Thread(target=_answer_fast, args=(admin, "hitl_race_probe", "approve", run_ids, "Approve", stop, lat))
    t.start()
    states = {rid: admin.wait_run("hitl_race_probe", rid, timeout=900)["state"] for rid in run_ids}
    stop.set()
    t.join()
    failed = sum(1 for s in states.values() if s != "success")
    return {"runs": runs, "failed": failed, "answered_within_1s": sum(1 for x in lat if x < 1.0)}


def run_governance(af, runs: int, *, wave: int = 0) -> dict[str, int]:
    from governance.airflow_client import AirflowClient
    from governance.cards import load_card
    from governance.lifecycle import ModelStatus
    from governance.store import GovernanceStore

    admin = AirflowClient(base_url=af.url, username="admin", password="admin")
    security = AirflowClient(base_url=af.url, username="security", password="security")
    _wait_dag(admin, "model_approval_medium")
    store = GovernanceStore.from_url(af.db_url)
    card = load_card(REPO / "include" / "model_cards" / "medium_product_recommender.yaml")
    stamp = int(time.time())
    model_ids = []
    for i in range(runs):
        m = store.register(card.model_copy(update={"version": f"{stamp}.{wave}.{i}"}), owner="owner").model
        store.transition(m.id, ModelStatus.REVIEW_PENDING, actor="owner")
        model_ids.append(m.id)
    run_ids = {admin.trigger("model_approval_medium", {"model_id": mid})["dag_run_id"]: mid for mid in model_ids}
    stop, lat = threading.Event(), []
    t = threading.Thread(
        target=_answer_fast,
        args=(security, "model_approval_medium", "security_review", set(run_ids), "Pass", stop, lat),
    )
    t.start()
    for rid in run_ids:
        admin.wait_run("model_approval_medium", rid, timeout=1200)
    stop.set()
    t.join()
    lost = 0
    for rid, mid in run_ids.items():
        decisions = [d for d in store.list_decisions(mid) if d["run_id"] == rid and d["actor"] == "security"]
        model = store.get(mid)
        if not decisions or model.status != ModelStatus.APPROVED:
            lost += 1
            print(f"  LOST: {mid} {model.status.value} decisions={decisions}", file=sys.stderr)
    tis = [ti for rid in run_ids for ti in admin.task_instances("model_approval_medium", rid)]
    retried = sum(1 for ti in tis if ti["task_id"] == "security_review" and ti["try_number"] > 1)
    return {
        "runs": runs,
        "lost_decisions": lost,
        "review_tasks_retried": retried,
        "answered_within_1s": sum(1 for x in lat if x < 1.0),
    }


def _wait_dag(client, dag_id: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while dag_id not in {d["dag_id"] for d in client.get("/api/v2/dags", limit=100)["dags"]}:
        if time.monotonic() > deadline:
            raise SystemExit(f"{dag_id} was not parsed within {timeout} s")
        time.sleep(2)


def _in_waves(run, af, runs: int, concurrency: int) -> dict[str, int]:
    total: dict[str, int] = {}
    for wave, start in enumerate(range(0, runs, concurrency)):
        part = run(af, min(concurrency, runs - start), wave=wave)
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
        print(f"  {run.__name__}: {start + part['runs']} of {runs} runs done: {total}", flush=True)
    return total


def main() -> int:
    from governance.embedded.airflow import EmbeddedAirflow

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--mode", choices=("both", "plain", "governance"), default="both")
    parser.add_argument(
        "--concurrency", type=int, default=5, help="runs in flight at once (SQLite metadata DB: keep it small)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hitl-race-"))
    dags = tmp / "dags"
    dags.mkdir()
    for name in ("model_approval.py", "model_submission.py"):
        shutil.copy(REPO / "dags" / name, dags / name)
    (dags / "hitl_race_probe.py").write_text(PROBE_DAG)
    af = EmbeddedAirflow.throwaway(
        tmp,
        extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64"},
    )
    print(f"starting Airflow (logs: {tmp / 'airflow.log'}) …", flush=True)
    af.start(timeout=420)
    try:
        if args.mode in ("both", "plain"):
            r = _in_waves(run_plain, af, args.runs, args.concurrency)
            print(
                f"plain ApprovalOperator:   {r['failed']} of {r['runs']} runs failed "
                f"({r['answered_within_1s']} answers sent < 1 s after the task parked)",
                flush=True,
            )
        if args.mode in ("both", "governance"):
            r = _in_waves(run_governance, af, args.runs, args.concurrency)
            print(
                f"governance review:        {r['lost_decisions']} of {r['runs']} decisions lost "
                f"({r['review_tasks_retried']} review tasks recovered by a retry; "
                f"{r['answered_within_1s']} answers sent < 1 s after the task parked)",
                flush=True,
            )
    finally:
        af.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
