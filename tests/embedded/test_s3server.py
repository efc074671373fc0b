"""The local S3 server: `python -m governance.embedded.s3server` (what `make run` starts) and the
embedded-default helper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from governance.embedded.ports import free_port, port_in_use
from governance.embedded.s3server import (
    CREDENTIALS_FILE,
    ERR_NO_CREDENTIALS,
    ERR_PORT_BUSY,
    STATE_DIR_NAME,
    LocalS3Error,
    LocalS3Server,
)
from governance.s3 import make_client, object_lock_enabled, settings_for
from tests.conftest_s3 import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.s3
READY_PREFIX = "S3 (SeaweedFS) ready at "


@pytest.mark.slow
def test_module_runs_in_the_foreground_and_stops_on_sigterm(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    cmd = [sys.executable, "-m", "governance.embedded.s3server", "--dir", str(tmp_path / "s3"), "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--bucket", "governance"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"{READY_PREFIX}http://127.0.0.1:{port}, bucket governance"), line
        settings = settings_for(
            endpoint_url=f"http://127.0.0.1:{port}",
            bucket="governance",
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )
        client = make_client(settings)
        assert object_lock_enabled(client, bucket="governance", endpoint=settings.endpoint_url or "")
        weed_ports = LocalS3Server(data_dir=tmp_path / "s3", access_key="x", secret_key="y").ports
        assert {p for _, p in weed_ports.items()}.isdisjoint({8080, 9333, 8888, 18080, 19333, 18888})
        assert port_in_use(weed_ports.volume) and port_in_use(weed_ports.master)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "S3 server stopped" in proc.stdout.read()
        deadline = time.monotonic() + 10
        while any(port_in_use(p) for _, p in weed_ports.items()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(port_in_use(p) for _, p in weed_ports.items())  # the whole weed group is gone
    finally:
        if proc.poll() is None:
            proc.kill()


def test_module_refuses_to_start_without_credentials(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    out = subprocess.run(
        [sys.executable, "-m", "governance.embedded.s3server", "--dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {ERR_NO_CREDENTIALS}"


def test_busy_port_is_refused_by_name(tmp_path: Path, s3_server):
    server = LocalS3Server(data_dir=tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY, s3_port=s3_server.ports.s3)
    with pytest.raises(LocalS3Error) as err:
        server.start()
    assert str(err.value) == ERR_PORT_BUSY.format(port=s3_server.ports.s3, role="s3", host="127.0.0.1")


def test_embedded_default_keeps_its_credentials_and_ports(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "governance")
    first = LocalS3Server.for_embedded_default(data_dir=tmp_path, s3_port=free_port())
    again = LocalS3Server.for_embedded_default(data_dir=tmp_path, s3_port=first.ports.s3)
    assert (again.access_key, again.secret_key, again.ports) == (first.access_key, first.secret_key, first.ports)
    assert (tmp_path / "s3" / STATE_DIR_NAME / CREDENTIALS_FILE).stat().st_mode & 0o077 == 0
    env = first.env()
    assert env["GOVERNANCE_S3_ENDPOINT_URL"] == f"http://127.0.0.1:{first.ports.s3}"
    assert env["GOVERNANCE_S3_BUCKET"] == "governance"
    assert env["AWS_ACCESS_KEY_ID"] == first.access_key and env["AWS_SECRET_ACCESS_KEY"] == first.secret_key


def test_command_line_finds_the_embedded_server_when_nothing_is_configured(tmp_path: Path, monkeypatch):
    from governance.s3 import local_endpoint, resolve_settings

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GOVERNANCE_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVERNANCE_DATA_DIR", str(tmp_path))
    assert local_endpoint(tmp_path) is None
    assert resolve_settings().endpoint_url is None  # never ran here: AWS defaults stay

    server = LocalS3Server.for_embedded_default(data_dir=tmp_path, s3_port=free_port())
    settings = resolve_settings()
    assert settings.endpoint_url == f"http://127.0.0.1:{server.ports.s3}"
    assert (settings.access_key_id, settings.secret_access_key) == (server.access_key, server.secret_key)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone-else")  # configured credentials win: AWS
    assert resolve_settings().endpoint_url is None
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", "http://minio.internal:9000")  # configured endpoint wins
    assert resolve_settings().endpoint_url == "http://minio.internal:9000"
    monkeypatch.delenv("GOVERNANCE_S3_ENDPOINT_URL")
    (tmp_path / "s3" / STATE_DIR_NAME / CREDENTIALS_FILE).write_text("{not json")
    assert resolve_settings().endpoint_url is None  # unreadable state: ignored


def test_busy_internal_port_moves_and_is_remembered(tmp_path: Path):
    import socket

    server = LocalS3Server(data_dir=tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", server.ports.volume))
    squatter.listen()
    try:
        busy = server.ports.volume
        server.start()
        try:
            assert server.ports.volume != busy
            again = LocalS3Server(data_dir=tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
            assert again.ports == server.ports
            client = make_client(
                settings_for(
                    endpoint_url=server.endpoint_url,
                    bucket="moved",
                    access_key_id=ACCESS_KEY,
                    secret_access_key=SECRET_KEY,
                )
            )
            client.create_bucket(Bucket="moved")
            client.put_object(Bucket="moved", Key="k", Body=b"data")
            assert client.get_object(Bucket="moved", Key="k")["Body"].read() == b"data"
        finally:
            server.stop(grace=0.5)
    finally:
        squatter.close()
