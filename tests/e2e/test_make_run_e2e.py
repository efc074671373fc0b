"""`make run`'s launcher as a new user meets it: start, find Airflow and the S3 bucket, Ctrl-C.

Runs ``python -m governance.embedded run`` (what ``scripts/run-embedded.sh`` execs) on a fresh
data folder and free ports, waits for its welcome text, checks that Airflow answers and that
the local S3 has the bucket with Object Lock — reached the way the command line reaches it
with nothing configured (the server's state in the data folder) — then sends SIGINT, as
Ctrl-C in a terminal does, and checks that everything it started is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from governance.embedded.ports import free_port, port_free

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.s3]

READY = "Stop:   Ctrl-C"
STOP_WITHIN_S = 30  # measured: 8 s; before the launcher stopped outside its signal handler, ~50 s


def _wait_for(predicate, *, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout} s; output:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(1)


def _processes_using(folder: Path) -> dict[int, str]:
    """pid -> command line of live processes that mention ``folder`` (weed -dir=…, Airflow's home)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().split()[2]
        except OSError:
            continue
        if str(folder) in cmdline and state != "Z":
            found[int(proc.name)] = cmdline
    return found


def _clean_up(proc: subprocess.Popen[bytes], data: Path) -> None:
    """After a failure, leave nothing behind: Airflow and SeaweedFS run in sessions of their own."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    for pid in _processes_using(data):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)


def test_make_run_starts_airflow_and_s3_and_ctrl_c_stops_everything(tmp_path, monkeypatch):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVERNANCE_", "AWS_", "AIRFLOW"))}
    env["GOVERNANCE_DATA_DIR"] = str(data)
    port, s3_port = free_port(), free_port()
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "governance.embedded", "run", "--port", str(port), "--s3-port", str(s3_port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(lambda: READY in log.read_text(errors="replace"), timeout=420, what="welcome text", log=log)
        text = log.read_text(errors="replace")
        assert f"Airflow UI:   http://127.0.0.1:{port}" in text
        assert f"Local S3:     http://127.0.0.1:{s3_port} (bucket governance;" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=10) as resp:
            assert resp.status == 200

        # The command line, with only the data folder set, reaches the same bucket.
        from governance.s3 import make_client, object_lock_enabled, resolve_settings

        for name in list(os.environ):
            if name.startswith(("GOVERNANCE_S3_", "AWS_")):
                monkeypatch.delenv(name)
        monkeypatch.setenv("GOVERNANCE_DATA_DIR", str(data))
        settings = resolve_settings()
        assert settings.endpoint_url == f"http://127.0.0.1:{s3_port}"
        assert object_lock_enabled(make_client(settings), bucket=settings.bucket, endpoint=settings.endpoint_url)

        started = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        rc = proc.wait(timeout=STOP_WITHIN_S)
        took = time.monotonic() - started
    finally:
        _clean_up(proc, data)
    assert rc == 0, log.read_text(errors="replace")[-3000:]
    assert "stopping Airflow and the S3 server" in log.read_text(errors="replace")
    assert port_free(port) and port_free(s3_port), "a port is still open after Ctrl-C"
    assert _processes_using(data) == {}, f"left running after Ctrl-C ({took:.1f} s)"
