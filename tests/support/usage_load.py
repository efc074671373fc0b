"""Load for usage tests and benchmarks: many threads in one process calling the usage check.

Run in child processes (spawned, so each has its own interpreter, engine and group committer),
they show that quotas are exact across processes: the count lives in the governance database.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path


def hammer(
    url: str,
    policies: str,
    *,
    model: str,
    user: str,
    threads: int,
    per_thread: int,
    start_at: float,
    text: str = "hello",
) -> dict[str, float]:
    """``threads`` × ``per_thread`` checks of ``model`` for ``user``, all starting at the wall
    time ``start_at``; returns how many were compliant, refused and failed closed, and the wall
    times of the first check's start and the last check's end (``first``, ``last``)."""
    from governance.store import make_engine
    from governance.usage import UsageGovernor

    engine = make_engine(url)
    gov = UsageGovernor(engine, policies_path=Path(policies))
    gov.resolve(model)  # warm: first connection, policy file
    counts: dict[str, float] = {"compliant": 0, "refused": 0, "failed_closed": 0, "first": 0.0, "last": 0.0}
    lock = threading.Lock()

    def run() -> None:
        time.sleep(max(0.0, start_at - time.time()))
        for _ in range(per_thread):
            t0 = time.time()
            d = gov.check(model=model, user=user, input=text, caller="load")
            key = "compliant" if d.compliant else "failed_closed" if d.failed_closed else "refused"
            with lock:
                counts[key] += 1
                counts["first"] = min(counts["first"] or t0, t0)
                counts["last"] = max(counts["last"], time.time())

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    engine.dispose()
    return counts


def http_clients(
    base_url: str,
    token: str,
    *,
    threads: int,
    seconds: float,
    start_at: float,
    body: dict[str, object],
    users: int = 1000,
) -> dict[str, object]:
    """``threads`` keep-alive HTTP clients posting usage checks for ``seconds`` from the wall time
    ``start_at`` (each its own connection; end users rotate over ``users`` ids). Returns the
    count of answers by status, compliant ones, and every latency in seconds."""
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    prefix = parts.path.rstrip("/")
    lock = threading.Lock()
    out: dict[str, object] = {"status": {}, "compliant": 0, "latencies": []}

    def run(k: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Connection": "keep-alive"}
        status: dict[int, int] = {}
        lat: list[float] = []
        compliant = 0
        i = 0
        time.sleep(max(0.0, start_at - time.time()))
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            payload = json.dumps({**body, "user": f"load-{k}-{i % users}"}).encode()
            t0 = time.perf_counter()
            conn.request("POST", prefix + "/governance/v1/usage/check", body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            lat.append(time.perf_counter() - t0)
            status[resp.status] = status.get(resp.status, 0) + 1
            if resp.status == 200 and json.loads(data)["compliant"]:
                compliant += 1
            i += 1
        conn.close()
        with lock:
            merged = out["status"]
            assert isinstance(merged, dict)
            for code, n in status.items():
                merged[code] = merged.get(code, 0) + n
            out["compliant"] = int(out["compliant"]) + compliant  # type: ignore[call-overload]
            latencies = out["latencies"]
            assert isinstance(latencies, list)
            latencies.extend(lat)

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return out
