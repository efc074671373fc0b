"""Approval latency on the embedded default (airflow standalone, SQLite, LocalExecutor).

Prints, over ``--runs`` repetitions (median and max):

- LOW submission → APPROVED: POST model_submission as `owner` until the model is APPROVED
  (submission DAG, then model_approval_low);
- LOW approval run → APPROVED: POST model_approval_low for a REVIEW_PENDING model until APPROVED;
- HITL answer → next task running: the security reviewer's answer in model_approval_high
  until compliance_check is running (or done).

    .venv/bin/python benchmarks/approval_latency.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _until(pred, *, timeout: float = 300, poll: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError("condition not met")


def main() -> int:
    from governance.airflow_client import AirflowClient
    from governance.cards import load_card
    from governance.embedded.airflow import EmbeddedAirflow
    from governance.lifecycle import ModelStatus
    from governance.store import GovernanceStore

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="approval-latency-"))
    af = EmbeddedAirflow.throwaway(tmp)
    print(f"starting the embedded default (log {tmp / 'airflow.log'}) …", flush=True)
    t0 = time.monotonic()
    af.start(timeout=420)
    print(f"Airflow ready after {time.monotonic() - t0:.1f} s", flush=True)
    owner = AirflowClient(base_url=af.url, username="owner", password="owner")
    admin = AirflowClient(base_url=af.url, username="admin", password="admin")
    security = AirflowClient(base_url=af.url, username="security", password="security")
    store = GovernanceStore.from_url(af.db_url)
    _until(
        lambda: (
            {"model_submission", "model_approval_low", "model_approval_high"}
            <= {d["dag_id"] for d in admin.get("/api/v2/dags", limit=100)["dags"]}
        ),
        timeout=240,
        poll=1,
    )
    stamp = int(time.time())
    submit_low, approve_low, answer_next = [], [], []
    try:
        for i in range(args.runs):
            card = yaml.safe_load((REPO / "include/model_cards/low_doc_tagger.yaml").read_text())
            card["version"] = f"{stamp}.{i}.0"
            t = time.monotonic()
            owner.submit(card)

            def approved(name: str = card["name"], version: str = card["version"]) -> bool:
                try:
                    return store.find(f"{name}:{version}").status == ModelStatus.APPROVED
                except Exception:
                    return False

            _until(approved)
            submit_low.append(time.monotonic() - t)

            low = load_card(REPO / "include/model_cards/low_doc_tagger.yaml").model_copy(
                update={"version": f"{stamp}.{i}.1"}
            )
            m = store.register(low, owner="owner").model
            store.transition(m.id, ModelStatus.REVIEW_PENDING, actor="owner")
            t = time.monotonic()
            admin.trigger("model_approval_low", {"model_id": m.id})
            _until(lambda mid=m.id: store.get(mid).status == ModelStatus.APPROVED)
            approve_low.append(time.monotonic() - t)

            high = load_card(REPO / "include/model_cards/high_credit_scorer.yaml").model_copy(
                update={"version": f"{stamp}.{i}.2"}
            )
            m = store.register(high, owner="owner").model
            store.transition(m.id, ModelStatus.REVIEW_PENDING, actor="owner")
            run_id = admin.trigger("model_approval_high", {"model_id": m.id})["dag_run_id"]
            _until(
                lambda mid=m.id: any(
                    r["model_id"] == mid and r["state"] == "awaiting_input" for r in security.pending_reviews()
                ),
                poll=0.2,
            )
            time.sleep(1.5)  # a person's pace; the race itself is measured by hitl_race.py
            t = time.monotonic()
            security.review(m.id, approve=True)

            def next_running(rid: str = run_id) -> bool:
                tis = {x["task_id"]: x["state"] for x in admin.task_instances("model_approval_high", rid)}
                return tis.get("compliance_check") in ("running", "success", "skipped", "failed")

            _until(next_running, poll=0.05)
            answer_next.append(time.monotonic() - t)
            print(
                f"run {i + 1}: submit→APPROVED {submit_low[-1]:.1f} s, approval run→APPROVED "
                f"{approve_low[-1]:.1f} s, answer→next task {answer_next[-1]:.2f} s",
                flush=True,
            )
    finally:
        af.stop()

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.1f} s, max {max(xs):.1f} s (n={len(xs)})"

    print()
    print(f"LOW submission → APPROVED:        {fmt(submit_low)}   target ≤ 15 s")
    print(f"LOW approval run → APPROVED:     {fmt(approve_low)}")
    print(f"HITL answer → next task running: {fmt(answer_next)}   target ≤ 5 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
