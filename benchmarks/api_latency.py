"""Latency of the governance API over HTTP, inside a real Airflow API server.

Starts a throwaway embedded Airflow (``airflow standalone``, SQLite, this project's plugin;
~1 min) unless ``--url`` names a running one, seeds the four demo model cards of
``include/model_cards/`` and ``--events`` audit events through the store, logs in as
``--user`` (``POST /auth/token``) and sends ``--requests`` requests to each read route of
``/governance`` over one keep-alive connection, routes interleaved. Prints p50 / p95 / p99 /
max per route, Airflow's own ``/api/v2/version`` as a reference, and — when it started the
server, or ``--pid`` names it — the API server's open descriptors and RSS before and after.
Then times the HITL answer-capture path in this process (``record_patch`` → one decision
per call), ``--answers`` calls.

    .venv/bin/python benchmarks/api_latency.py
    .venv/bin/python benchmarks/api_latency.py --requests 2000 --events 5000
    .venv/bin/python benchmarks/api_latency.py --url http://127.0.0.1:8080 \\
        --db-url sqlite:///$PWD/data/governance.db --pid $(pgrep -f 'airflow api-server')
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.api_server import KeepAlive, api_server_pids, snapshot  # noqa: E402 (after the path)

CARDS = REPO / "include" / "model_cards"


# ----------------------------------------------------------------------------- the server process


def resources(pids: list[int]) -> tuple[int, float]:
    """(open descriptors, RSS in MB) summed over ``pids``."""
    fds_rss = snapshot(pids).values()
    return sum(f for f, _ in fds_rss), sum(r for _, r in fds_rss) / 1024


# ----------------------------------------------------------------------------- HTTP


class TimedClient(KeepAlive):
    def timed_get(self, path: str) -> float:
        t0 = time.perf_counter()
        status, body = self.request("GET", path)
        elapsed = time.perf_counter() - t0
        if status != 200:
            raise SystemExit(f"GET {path} → HTTP {status}: {body[:300]!r}")
        return elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def table(rows: list[tuple[str, list[float]]]) -> None:
    print(f"| {'route':<44} | {'n':>5} | {'p50 ms':>7} | {'p95 ms':>7} | {'p99 ms':>7} | {'max ms':>7} |")
    print(f"| {'-' * 44} | {'-' * 4}: | {'-' * 6}: | {'-' * 6}: | {'-' * 6}: | {'-' * 6}: |")
    for name, secs in rows:
        ms = [s * 1000 for s in secs]
        print(
            f"| {name:<44} | {len(ms):>5} | {statistics.median(ms):>7.2f} | {pct(ms, 95):>7.2f} | "
            f"{pct(ms, 99):>7.2f} | {max(ms):>7.2f} |"
        )


# ----------------------------------------------------------------------------- seeding


def seed(db_url: str, *, events: int) -> list[tuple[str, str]]:
    """Register the demo cards (fresh versions) and append ``events`` audit events; returns
    (model id, name) of the registered models."""
    from governance.audit import NewEvent
    from governance.cards import load_card
    from governance.store import GovernanceStore

    store = GovernanceStore.from_url(db_url)
    stamp = int(time.time())
    models = []
    try:
        for i, path in enumerate(sorted(CARDS.glob("*.yaml"))):
            card = load_card(path).model_copy(update={"version": f"{stamp % 100000}.{i}.1"})
            models.append((store.register(card, owner="owner").model.id, card.name))
        for start in range(0, events, 500):
            store.audit.append_many(
                NewEvent(event_type="benchmark.filler", actor="benchmark", details={"i": i})
                for i in range(start, min(events, start + 500))
            )
    finally:
        store.engine.dispose()
    return models


def answer_capture(db_url: str, model_id: str, answers: int) -> list[float]:
    """Seconds per ``record_patch`` call (the API server's HITL answer middleware)."""
    from governance.orchestration.answer_capture import record_patch

    os.environ["GOVERNANCE_DB_URL"] = db_url
    out = []
    stamp = int(time.time())
    for i in range(answers):
        t0 = time.perf_counter()
        record_patch(
            dag_id="model_approval_medium",
            run_id=f"approval__{model_id}__bench{stamp}_{i}",
            task_id="security_review",
            response={"responded_by": {"id": "security"}, "chosen_options": ["Pass"], "params_input": {}},
        )
        out.append(time.perf_counter() - t0)
    return out


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running Airflow API server (default: start a throwaway one)")
    parser.add_argument("--db-url", help="its governance DB, to seed (default: the throwaway one's; none with --url)")
    parser.add_argument("--pid", type=int, action="append", help="API server process to watch (with --url)")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per route")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per route first")
    parser.add_argument("--events", type=int, default=1000, help="audit events to append before timing")
    parser.add_argument("--answers", type=int, default=200, help="answer-capture calls to time (0: skip)")
    args = parser.parse_args()

    af = None
    db_url = args.db_url
    pids = list(args.pid or [])
    if args.url is None:
        from governance.embedded.airflow import EmbeddedAirflow

        tmp = Path(tempfile.mkdtemp(prefix="api-latency-"))
        af = EmbeddedAirflow.throwaway(tmp)
        print(f"starting the embedded default (log {tmp / 'airflow.log'}) …", flush=True)
        t0 = time.monotonic()
        af.start(timeout=420)
        print(f"Airflow ready after {time.monotonic() - t0:.1f} s", flush=True)
        base_url, db_url = af.url, af.db_url
        pids = api_server_pids(af.process.pid)
    else:
        base_url = args.url
    try:
        models = seed(db_url, events=args.events) if db_url else []
        client = TimedClient(base_url, username=args.user, password=args.password)
        if not models:
            listed = json.loads(client.request("GET", "/governance/models")[1])
            models = [(m["id"], m["name"]) for m in listed[:4]]
        if not models:
            raise SystemExit("no model in the registry: pass --db-url to seed the demo cards")
        mid, name = models[0]
        routes = {
            "GET /governance/models": "/governance/models",
            "GET /governance/models/{id}": f"/governance/models/{mid}",
            "GET /governance/models/{name}": f"/governance/models/{name}",
            "GET /governance/models/{id}/evidence": f"/governance/models/{mid}/evidence",
            "GET /governance/audit/events?limit=10": "/governance/audit/events?limit=10",
            "GET /governance/audit/verify": "/governance/audit/verify",
            "GET /api/v2/version (Airflow, reference)": "/api/v2/version",
        }
        print(
            f"{base_url}: {len(models)} models seeded or found, {args.events} extra audit events; "
            f"{args.requests} requests per route after {args.warmup} warm-up, one keep-alive connection",
            flush=True,
        )
        for _ in range(args.warmup):
            for path in routes.values():
                client.timed_get(path)
        before = resources(pids) if pids else None
        timings: dict[str, list[float]] = {name: [] for name in routes}
        t0 = time.monotonic()
        for _ in range(args.requests):
            for label, path in routes.items():
                timings[label].append(client.timed_get(path))
        wall = time.monotonic() - t0
        after = resources(pids) if pids else None
        total = args.requests * len(routes)
        print(f"\n{total} requests in {wall:.1f} s ({total / wall:.0f}/s)\n")
        table(list(timings.items()))
        if before and after:
            print(
                f"\nAPI server (pid {', '.join(map(str, pids))}): open descriptors {before[0]} → {after[0]}, "
                f"RSS {before[1]:.1f} → {after[1]:.1f} MB over the {total} timed requests"
            )
        if args.answers and db_url:
            secs = answer_capture(db_url, mid, args.answers)
            print(f"\nanswer capture in this process ({args.answers} record_patch calls, one decision each):\n")
            table([("record_patch (model_approval.record_answer)", secs)])
    finally:
        if af is not None:
            af.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
