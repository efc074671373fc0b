"""The running Airflow API server as the tests and benchmarks see it from outside: its
processes in ``/proc`` (open descriptors, resident memory) and a keep-alive HTTP client."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

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
        assert parts.hostname in ("127.0.0.1", "localhost", "::1"), f"{base_url}: only this machine"
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
