"""``governance.embedded.airflow``: Airflow standalone as the embedded default runs it, on
SQLite with this project's DAGs and plugins and the demo users (:class:`EmbeddedAirflow`).

``make run``'s launcher (:mod:`.launcher`) starts it for a person; the end-to-end tests and
the latency benchmarks start throwaway ones (:meth:`EmbeddedAirflow.throwaway`).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from governance import config
from governance.embedded.ports import free_port, port_free

ERR_PORT_BUSY = "port {port} is already in use; stop whatever listens there or pass --port"
ERR_NOT_READY = "Airflow did not become ready within {seconds:.0f} s; see {log}"
ADMIN = "admin"
OWNER = "owner"


def demo_users() -> dict[str, str]:
    """User name → SimpleAuthManager role: admin, the demo owner, and every reviewer group member."""
    from governance.workflows import load_groups

    users = {ADMIN: "admin", OWNER: "user"}
    for members in load_groups().groups.values():
        for member in members:
            users.setdefault(member, "user")
    return users


def airflow_env(
    *,
    home: Path,
    port: int,
    db_url: str,
    data_dir: Path,
    users: Mapping[str, str],
    parallelism: int = 4,
    log_ports: tuple[int, int] = (8793, 8794),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for every Airflow process of the embedded default."""
    root = config.PROJECT_ROOT
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": _jwt_secret(home),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
        # an idle scheduler looks for work 4× a second (default 1 s): the next step of an
        # approval starts sooner, at a small CPU cost on a laptop
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
        # standalone starts its components as `airflow …` from PATH: use this environment's
        "PATH": f"{Path(sys.executable).parent}:{config.environ_snapshot(prefix='PATH').get('PATH', '/usr/bin:/bin')}",
        "GOVERNANCE_DB_URL": db_url,
        "GOVERNANCE_DATA_DIR": str(data_dir),
        "GOVERNANCE_INCLUDE_DIR": str(config.include_dir()),
    }
    env.update(extra or {})
    return env


def _jwt_secret(home: Path) -> str:
    path = home / "jwt_secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


LOCAL_SETTINGS = '''"""Written by governance.embedded.airflow (do not edit): preload what the approval tasks import.

LocalExecutor workers are forked from the scheduler and fork each task process in turn (Linux),
so modules imported here once are already loaded in every task: the automated checks no longer
pay Great Expectations' import (several seconds) on each run.
"""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "scheduler":
    try:
        import great_expectations  # noqa: F401
        import governance.tasks.model_approval  # noqa: F401
        import governance.checks.automated  # noqa: F401
        import governance.checks.expectations  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - a slower task is better than no scheduler
        print(f"governance: preload skipped: {exc}", file=sys.stderr)
'''


def write_local_settings(home: Path) -> Path:
    """``$AIRFLOW_HOME/config/airflow_local_settings.py`` with the scheduler-side preload."""
    path = home / "config" / "airflow_local_settings.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOCAL_SETTINGS)
    return path


def write_demo_passwords(home: Path, users: Mapping[str, str]) -> Path:
    """Demo only: every user's password is its user name."""
    path = home / "simple_auth_manager_passwords.json"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({u: u for u in users}, indent=2))
    path.chmod(0o600)
    return path


@dataclass
class EmbeddedAirflow:
    """``airflow standalone`` in its own process group, with our configuration."""

    home: Path
    port: int = 8080
    db_url: str = field(default_factory=config.db_url)
    data_dir: Path = field(default_factory=config.data_dir)
    parallelism: int = 4
    log_ports: tuple[int, int] = (8793, 8794)
    extra_env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @classmethod
    def throwaway(cls, folder: Path, *, extra_env: dict[str, str] | None = None) -> EmbeddedAirflow:
        """An instance living entirely in ``folder`` on free ports (tests and benchmarks)."""
        return cls(
            home=folder / "airflow",
            port=free_port(),
            log_ports=(free_port(), free_port()),
            db_url=f"sqlite:///{folder / 'governance.db'}",
            data_dir=folder,
            log_path=folder / "airflow.log",
            extra_env={**embedded_env(), **(extra_env or {})},
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        users = demo_users()
        base = {k: v for k, v in config.environ_snapshot(prefix="").items() if not k.startswith("AIRFLOW__")}
        base.update(
            airflow_env(
                home=self.home,
                port=self.port,
                db_url=self.db_url,
                data_dir=self.data_dir,
                users=users,
                parallelism=self.parallelism,
                log_ports=self.log_ports,
                extra=self.extra_env,
            )
        )
        return base

    def prepare(self) -> None:
        """Airflow metadata DB, governance DB, demo passwords (idempotent)."""
        self.home.mkdir(parents=True, exist_ok=True)
        write_demo_passwords(self.home, demo_users())
        write_local_settings(self.home)
        env = self.env()
        airflow = str(Path(sys.executable).parent / "airflow")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        # Write-ahead logging lets the API server read while the scheduler writes (it is a
        # property of the database file, so setting it once is enough).
        import sqlite3

        with sqlite3.connect(self.home / "airflow.db") as db:
            db.execute("PRAGMA journal_mode=WAL")
        subprocess.run([sys.executable, "-m", "governance.cli", "init"], env=env, check=True)
        if config.archive_start_declared() is None and "GOVERNANCE_ARCHIVE_START" not in self.extra_env:
            # audit_archive catches up from the first audit event, not from a fixed date
            self.extra_env["GOVERNANCE_ARCHIVE_START"] = first_audit_day(self.db_url).isoformat()

    def start(self, *, timeout: float = 120.0) -> EmbeddedAirflow:
        for port in (self.port, *self.log_ports):
            if not port_free(port):
                raise RuntimeError(ERR_PORT_BUSY.format(port=port))
        self.prepare()
        airflow = str(Path(sys.executable).parent / "airflow")
        out: Any = None
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")
            out = self._log
        self.process = subprocess.Popen(
            [airflow, "standalone"],
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        try:
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited with {self.process.returncode}; see {self.log_path}")
            if self._healthy():
                return
            time.sleep(1)
        raise RuntimeError(ERR_NOT_READY.format(seconds=timeout, log=self.log_path))

    def _healthy(self) -> bool:
        """The metadata DB, scheduler and DAG processor report healthy (False while unreachable)."""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2) as resp:
                health = json.load(resp)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return all(
            (health.get(k) or {}).get("status") == "healthy" for k in ("metadatabase", "scheduler", "dag_processor")
        )

    def stop(self, *, grace: float = 20.0) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left."""
        if self.process is None:
            return
        pgid = self.process.pid
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.process.poll()  # reap the leader: a zombie still counts as a group member
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            else:
                continue
            break
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedAirflow:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def first_audit_day(db_url: str) -> date:
    """UTC day of the first event in the governance audit trail (today when it is empty)."""
    from sqlalchemy import func, select

    from governance.store import GovernanceStore
    from governance.store.tables import audit_events

    store = GovernanceStore.from_url(db_url)
    try:
        with store.engine.connect() as conn:
            first = conn.execute(select(func.min(audit_events.c.timestamp))).scalar()
    finally:
        store.engine.dispose()
    return date.fromisoformat(first[:10]) if first else datetime.now(UTC).date()


def embedded_env() -> dict[str, str]:
    """Governance settings the embedded default adds to Airflow's environment."""
    declared = config.environ_snapshot(prefix="GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST")
    return {
        # the trigger form of model_submission starts filled with the CRITICAL demo card
        "GOVERNANCE_FORM_DEFAULTS_CARD": str(config.include_dir() / "model_cards" / "critical_clinical_triage.yaml"),
        # A declaration for the demo only, so the demo models can pass the GDPR/HIPAA
        # encryption-at-rest checks; a real deployment declares it only for encrypted storage.
        "GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST": declared.get("GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST", "true"),
    }
