"""Usage checks: latency, sustained audited decisions per second, and quota exactness.

Every figure is of the full check: model lookup, policies (access, content filter, PII, quota),
the decision row and its ``usage.allowed`` audit event committed before the answer.

1. In-process (``UsageGovernor.check``) on SQLite: p50 / p99 for inputs of 100 B, 1 KB, 4 KB;
   the PII scan and the content filter alone on 4 KB.
2. In-process sustained decisions/s with 1, 4 and 16 threads, on SQLite and on PostgreSQL.
3. HTTP on the embedded default (``airflow standalone``, SQLite, the plugin in Airflow's API
   server; ~1 min to start): sequential p50 / p99 per input size, then decisions/s with 1, 4 and
   16 keep-alive clients (in ``--client-procs`` processes).
4. HTTP on PostgreSQL with ``governance serve --workers 2`` (tokens from the same Airflow).
5. Quota exactness: 2 processes × 8 threads against a limit of 100, on SQLite and PostgreSQL.

Targets (2-core machine): in-process p50 ≤ 1 ms, p99 ≤ 10 ms; HTTP sequential p50 ≤ 5 ms,
p99 ≤ 25 ms; ≥ 1,000 audited decisions/s with 16 clients; PII scan ≤ 5 ms for 4 KB.

    .venv/bin/python benchmarks/usage_check.py
    .venv/bin/python benchmarks/usage_check.py --requests 500 --seconds 3 --skip-http
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.api_server import KeepAlive  # noqa: E402 (after the path)
from tests.support.usage_load import hammer, http_clients  # noqa: E402

CARDS = REPO / "include" / "model_cards"
SIZES = {"100 B": 100, "1 KB": 1024, "4 KB": 4096}
CLIENTS = (1, 4, 16)
RESULTS: list[tuple[str, str, str, bool | None]] = []


def text_of(size: int) -> str:
    base = "Please recommend a reading lamp for a small desk, warm light, under 80 euros. "
    return (base * (size // len(base) + 1))[:size]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))] * 1000


def target(label: str, value: str, goal: str, ok: bool | None) -> None:
    RESULTS.append((label, value, goal, ok))


def bench_policies(folder: Path) -> Path:
    """The demo policy file with quotas high enough that load is never refused by them."""
    data = yaml.safe_load((REPO / "include" / "policies" / "usage.yaml").read_text())
    for p in data["policies"]:
        if p["type"] == "usage_quota":
            p["config"] = {"requests_per_hour": 100_000_000, "requests_per_day": 1_000_000_000}
    path = folder / "usage.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def seed(db_url: str) -> str:
    """Register the demo recommender (MEDIUM) and deploy it; returns NAME:VERSION."""
    from governance.cards import load_card
    from governance.store import GovernanceStore, migrate

    store = GovernanceStore.from_url(db_url)
    migrate(store.engine)
    card = load_card(CARDS / "medium_product_recommender.yaml")
    card = card.model_copy(update={"version": f"{int(time.time()) % 100000}.0.0-bench"})
    mid = store.register(card, owner="owner").model.id
    for step in ("REVIEW_PENDING", "APPROVED", "DEPLOYED"):
        store.transition(mid, step, actor="benchmark")
    store.engine.dispose()
    return f"{card.name}:{card.version}"


# ----------------------------------------------------------------------------- in-process


def in_process_latency(db_url: str, policies: Path, model: str, requests: int) -> None:
    from governance.store import make_engine
    from governance.usage import UsageGovernor
    from governance.usage.detectors import builtin_content_classifier, builtin_pii_detector

    engine = make_engine(db_url)
    gov = UsageGovernor(engine, policies_path=policies)
    print(f"\n1. in-process UsageGovernor.check on {engine.dialect.name}, {requests} checks per size")
    print(f"   {'input':>6}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}")
    for label, size in SIZES.items():
        text = text_of(size)
        for i in range(100):
            gov.check(model=model, user=f"warm-{i}", input=text, caller="bench")
        lat = []
        for i in range(requests):
            t0 = time.perf_counter()
            d = gov.check(model=model, user=f"u-{i % 500}", input=text, caller="bench")
            lat.append(time.perf_counter() - t0)
            assert d.compliant, d.violations
        p50, p99 = pct(lat, 50), pct(lat, 99)
        print(f"   {label:>6}  {p50:7.3f}  {p99:7.3f}  {max(lat) * 1000:7.3f}")
        target(f"in-process p50 / p99, {label}", f"{p50:.2f} / {p99:.2f} ms", "≤ 1 / ≤ 10 ms", p50 <= 1 and p99 <= 10)
    pii, content = builtin_pii_detector(), builtin_content_classifier()
    four_k = text_of(4096)
    with_pii = (
        four_k[:3000] + " mail jane@example.org or call +1 415 555 0134, card 4111 1111 1111 1111 " + four_k[:900]
    )
    for label, fn, text in (
        ("PII scan, 4 KB without PII", pii.kinds, four_k),
        ("PII scan, 4 KB with PII", pii.kinds, with_pii),
        ("content filter, 4 KB", content.categories, four_k),
    ):
        lat = []
        for _ in range(requests):
            t0 = time.perf_counter()
            fn(text)
            lat.append(time.perf_counter() - t0)
        p50, p99 = pct(lat, 50), pct(lat, 99)
        print(f"   {label}: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
        if label.startswith("PII"):
            target(label, f"{p50:.2f} / {p99:.2f} ms", "≤ 5 ms", p99 <= 5)
    engine.dispose()


def in_process_throughput(db_url: str, policies: Path, model: str, seconds: float, label: str) -> None:
    from governance.store import make_engine
    from governance.usage import UsageGovernor
    from governance.usage.writer import committer_for

    engine = make_engine(db_url)
    gov = UsageGovernor(engine, policies_path=policies)
    gov.check(model=model, user="warm", input="hello", caller="bench")
    committer = committer_for(engine)
    print(f"\n2. in-process sustained decisions/s on {label} ({seconds:.0f} s each)")
    for n in CLIENTS:
        done = [0] * n
        stop = time.perf_counter() + seconds

        def run(k: int, stop: float = stop, done: list[int] = done) -> None:
            i = 0
            while time.perf_counter() < stop:
                gov.check(model=model, user=f"t{k}-{i % 500}", input=text_of(100), caller="bench")
                i += 1
            done[k] = i

        b0, j0 = committer.batches, committer.jobs
        threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        rate = sum(done) / wall
        batches, jobs = committer.batches - b0, committer.jobs - j0
        print(f"   {n:>2} threads: {rate:8.0f} decisions/s  ({jobs / max(batches, 1):.1f} decisions per commit)")
        if n == 16:
            target(f"in-process, 16 threads, {label}", f"{rate:,.0f}/s", "≥ 1,000/s", rate >= 1000)
    engine.dispose()


# ----------------------------------------------------------------------------- HTTP


class TokenClient(KeepAlive):
    """A keep-alive connection with a token minted elsewhere (``governance serve`` has no login)."""

    def __init__(self, base_url: str, token: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.token = token


def http_latency(base_url: str, token: str, model: str, requests: int, label: str) -> None:
    client = TokenClient(base_url, token)
    print(f"\n3. HTTP sequential latency, {label}, {requests} checks per size, one keep-alive connection")
    print(f"   {'input':>6}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}")
    for size_label, size in SIZES.items():
        text = text_of(size)
        for i in range(50):
            client.request("POST", "/governance/v1/usage/check", {"model": model, "user": f"w{i}", "input": text})
        lat = []
        for i in range(requests):
            t0 = time.perf_counter()
            status, body = client.request(
                "POST", "/governance/v1/usage/check", {"model": model, "user": f"h{i % 500}", "input": text}
            )
            lat.append(time.perf_counter() - t0)
            if status != 200:
                raise SystemExit(f"HTTP {status}: {body[:300]!r}")
        p50, p99 = pct(lat, 50), pct(lat, 99)
        print(f"   {size_label:>6}  {p50:7.3f}  {p99:7.3f}  {max(lat) * 1000:7.3f}")
        target(
            f"HTTP p50 / p99, {size_label}, {label}",
            f"{p50:.2f} / {p99:.2f} ms",
            "≤ 5 / ≤ 25 ms",
            p50 <= 5 and p99 <= 25,
        )
    client.close()


def http_throughput(base_url: str, token: str, model: str, seconds: float, procs: int, label: str) -> None:
    print(f"\n   sustained decisions/s over HTTP, {label} ({seconds:.0f} s each, clients in ≤ {procs} processes)")
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=procs, mp_context=ctx) as pool:
        pool.submit(time.sleep, 0).result()
        for n in CLIENTS:
            nprocs = min(procs, n)
            per = [n // nprocs + (1 if k < n % nprocs else 0) for k in range(nprocs)]
            start_at = time.time() + 2.0
            futures = [
                pool.submit(
                    http_clients,
                    base_url,
                    token,
                    threads=t,
                    seconds=seconds,
                    start_at=start_at,
                    body={"model": model, "input": text_of(100)},
                )
                for t in per
            ]
            results = [f.result(timeout=seconds + 120) for f in futures]
            answered = sum(sum(r["status"].values()) for r in results)  # type: ignore[union-attr]
            ok = sum(int(r["compliant"]) for r in results)  # type: ignore[call-overload]
            lat = [x for r in results for x in r["latencies"]]  # type: ignore[union-attr]
            statuses: dict[int, int] = {}
            for r in results:
                for code, k in r["status"].items():  # type: ignore[union-attr]
                    statuses[code] = statuses.get(code, 0) + k
            rate = answered / seconds
            print(
                f"   {n:>2} clients: {rate:8.0f} decisions/s, p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms, "
                f"{ok} compliant, statuses {statuses}"
            )
            if n == 16:
                target(f"HTTP, 16 clients, {label}", f"{rate:,.0f}/s", "≥ 1,000/s", rate >= 1000)


def token_for(base_url: str, user: str) -> str:
    import json
    import urllib.request

    req = urllib.request.Request(
        base_url + "/auth/token",
        data=json.dumps({"username": user, "password": user}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(json.loads(resp.read())["access_token"])


def start_serve(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        str(REPO / ".venv" / "bin" / "governance"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    if not Path(cmd[0]).exists():
        cmd = [sys.executable, "-m", "governance.cli", *cmd[1:]]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    import urllib.request

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"governance serve exited: see {log}") from None
            time.sleep(0.3)
    raise SystemExit(f"governance serve did not answer on port {port}: see {log}")


# ----------------------------------------------------------------------------- exactness


def exactness(db_url: str, policies_dir: Path, model: str, label: str) -> None:
    data = yaml.safe_load((REPO / "include" / "policies" / "usage.yaml").read_text())
    for p in data["policies"]:
        if p["id"] == "standard_quota":
            p["config"] = {"requests_per_hour": 100}
    path = policies_dir / f"exact-{label}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 4.0
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        futures = [
            pool.submit(
                hammer, db_url, str(path), model=model, user="exact", threads=8, per_thread=25, start_at=start_at
            )
            for _ in range(2)
        ]
        results = [f.result(timeout=300) for f in futures]
    admitted = sum(r["compliant"] for r in results)
    print(
        f"\n5. quota exactness on {label}: 2 processes × 8 threads × 25 checks, limit 100 → {admitted} admitted {results}"
    )
    target(f"quota exactness, {label}", f"{admitted} of 400 admitted", "exactly 100", admitted == 100)


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="timed checks per input size")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--client-procs", type=int, default=4, help="processes the HTTP clients run in")
    parser.add_argument("--skip-http", action="store_true", help="in-process figures only (no Airflow)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-in-process", action="store_true", help="HTTP figures only")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="usage-bench-"))
    policies = bench_policies(tmp)
    os.environ["GOVERNANCE_USAGE_POLICIES_FILE"] = str(policies)
    sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
    model = seed(sqlite_url)
    if not args.skip_in_process:
        in_process_latency(sqlite_url, policies, model, args.requests)
        in_process_throughput(sqlite_url, policies, model, args.seconds, "SQLite")

    pg = None
    pg_url = pg_model = None
    if not args.skip_postgres:
        from tests.support.postgres import PostgresServer

        pg = PostgresServer().start()
        pg_url = pg.create_database("usage_bench")
        pg_model = seed(pg_url)
        if not args.skip_in_process:
            in_process_throughput(pg_url, policies, pg_model, args.seconds, "PostgreSQL")

    af = serve = None
    try:
        if not args.skip_http:
            from governance.embedded.airflow import EmbeddedAirflow
            from governance.embedded.ports import free_port

            af = EmbeddedAirflow.throwaway(
                tmp / "embedded", extra_env={"GOVERNANCE_USAGE_POLICIES_FILE": str(policies)}
            )
            print(f"\nstarting the embedded default (log {tmp / 'embedded' / 'airflow.log'}) …", flush=True)
            af.start(timeout=420)
            http_model = seed(af.db_url)
            token = token_for(af.url, "gateway")
            http_latency(af.url, token, http_model, args.requests, "embedded default (SQLite, Airflow API server)")
            http_throughput(af.url, token, http_model, args.seconds, args.client_procs, "embedded default")
            if pg_url and pg_model:
                port = free_port()
                env = {**af.env(), "GOVERNANCE_DB_URL": pg_url}
                serve = start_serve(env, port, 2, tmp / "serve.log")
                serve_url = f"http://127.0.0.1:{port}"
                http_latency(serve_url, token, pg_model, args.requests, "governance serve --workers 2 (PostgreSQL)")
                http_throughput(serve_url, token, pg_model, args.seconds, args.client_procs, "serve + PostgreSQL")
        exactness(sqlite_url, tmp, model, "SQLite")
        if pg_url and pg_model:
            exactness(pg_url, tmp, pg_model, "PostgreSQL")
    finally:
        if serve is not None:
            os.killpg(serve.pid, 15)
            serve.wait(timeout=30)
        if af is not None:
            af.stop()
        if pg is not None:
            pg.stop()

    print("\nsummary")
    width = max(len(r[0]) for r in RESULTS)
    for label, value, goal, ok in RESULTS:
        verdict = "met" if ok else "MISSED" if ok is not None else ""
        print(f"  {label:<{width}}  {value:>22}  target {goal:<14} {verdict}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
