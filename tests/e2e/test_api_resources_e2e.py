"""The governance API holds no connection it does not need (issue 9, item 5).

Thousands of requests to ``/governance/…`` in the running Airflow API server leave its open
file descriptors and its resident memory where they were after a warm-up: the store is
opened once per process, not once per request.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from governance.cards import load_card
from tests.e2e.helpers import CARDS, TIER_CARDS

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

WARMUP = 500
REQUESTS = 5_000
VERIFY_EVERY = 25  # /audit/verify walks the whole chain: one request in 25
FD_SLACK = 10
RSS_SLACK_KB = 15 * 1024


# ----------------------------------------------------------------------------- /proc


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, session id) of ``pid``, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[3])


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def api_server_pids(session: int) -> list[int]:
    """The API server of the ``airflow standalone`` session ``session`` and its descendants
    (uvicorn workers, when ``[api] workers`` > 1)."""
    procs: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            procs[int(entry)] = st
    roots = [
        pid
        for pid, (_ppid, sid) in procs.items()
        if sid == session and (b"api-server" in _cmdline(pid) or b"api_server" in _cmdline(pid))
    ]
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _sid) in procs.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found)


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def snapshot(pids: list[int]) -> dict[int, tuple[int, int]]:
    return {pid: (fd_count(pid), rss_kb(pid)) for pid in pids}


# ----------------------------------------------------------------------------- HTTP


class KeepAlive:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 with a bearer token."""

    def __init__(self, base_url: str, *, username: str, password: str) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname == "127.0.0.1", base_url
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        status, body = self.request("POST", "/auth/token", {"username": username, "password": password}, auth=False)
        assert status in (200, 201), (status, body[:300])
        self.token = json.loads(body)["access_token"]

    def request(self, method: str, path: str, body: object = None, *, auth: bool = True) -> tuple[int, bytes]:
        headers = {"Accept": "application/json", "Connection": "keep-alive"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def get(self, path: str) -> bytes:
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body[:300])
        return body

    def close(self) -> None:
        self.conn.close()


def route_mix(refs: list[str]) -> list[str]:
    """One cycle of requests over the read routes; /audit/verify the rarest."""
    cycle: list[str] = []
    for i in range(VERIFY_EVERY):
        cycle.append("/governance/models")
        cycle.append(f"/governance/models/{refs[i % len(refs)]}")
        cycle.append("/governance/audit/events?limit=10")
    cycle.append("/governance/audit/verify")
    return cycle


def hammer(client: KeepAlive, cycle: list[str], n: int) -> float:
    start = time.monotonic()
    for i in range(n):
        client.get(cycle[i % len(cycle)])
    return time.monotonic() - start


# ----------------------------------------------------------------------------- the test


def test_thousands_of_requests_leak_no_descriptor_or_memory(airflow, gov_store):
    stamp = int(time.time())
    refs: list[str] = []
    for i, file in enumerate(TIER_CARDS.values()):
        card = load_card(CARDS / file)
        card = card.model_copy(update={"name": f"{card.name}-res", "version": f"{stamp}.{i}.0"})
        model = gov_store.register(card, owner="owner").model
        refs += [model.id, f"{card.name}:{card.version}", card.name]
    gov_store.engine.dispose()

    pids = api_server_pids(airflow.process.pid)
    assert pids, "no api-server process found in the airflow standalone session"
    client = KeepAlive(airflow.url, username="admin", password="admin")
    try:
        models = json.loads(client.get("/governance/models"))
        assert {r for r in refs if r.startswith("m-")} <= {m["id"] for m in models}
        cycle = route_mix(refs)
        hammer(client, cycle, WARMUP)
        before = snapshot(pids)
        seconds = hammer(client, cycle, REQUESTS)
        after = snapshot(pids)
    finally:
        client.close()
    assert api_server_pids(airflow.process.pid) == pids, "the API server processes changed during the test"
    report = ", ".join(
        f"pid {pid}: fds {before[pid][0]} → {after[pid][0]}, RSS {before[pid][1] / 1024:.1f} → "
        f"{after[pid][1] / 1024:.1f} MB"
        for pid in pids
    )
    print(f"\n{REQUESTS} requests in {seconds:.1f} s ({REQUESTS / seconds:.0f}/s); {report}")
    for pid in pids:
        (fds0, rss0), (fds1, rss1) = before[pid], after[pid]
        assert fds1 - fds0 <= FD_SLACK, f"pid {pid}: {fds1 - fds0} more open descriptors after {REQUESTS} requests"
        assert rss1 - rss0 <= RSS_SLACK_KB, (
            f"pid {pid}: RSS grew by {(rss1 - rss0) / 1024:.1f} MB after {REQUESTS} requests"
        )
