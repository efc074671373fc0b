"""Configuration: defaults for the embedded setup, and environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance import config


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GOVERNANCE_DATA_DIR",
        "GOVERNANCE_INCLUDE_DIR",
        "GOVERNANCE_DB_URL",
        "GOVERNANCE_S3_ENDPOINT_URL",
        "GOVERNANCE_S3_BUCKET",
        "GOVERNANCE_OBJECT_LOCK_DAYS",
        "GOVERNANCE_AIRFLOW_URL",
        "GOVERNANCE_USER",
        "GOVERNANCE_PASSWORD",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "GOVERNANCE_ARCHIVE_START",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_work_without_configuration() -> None:
    assert config.data_dir() == config.PROJECT_ROOT / "data"
    assert config.include_dir() == config.PROJECT_ROOT / "include"
    assert config.db_url() == f"sqlite:///{config.PROJECT_ROOT / 'data' / 'governance.db'}"
    s3 = config.s3_settings()
    assert (s3.endpoint_url, s3.bucket, s3.region, s3.object_lock_days) == (None, "governance", "us-east-1", 365)
    assert config.airflow_api_url() == "http://localhost:8080"
    assert config.airflow_credentials() == (None, None)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOVERNANCE_DATA_DIR", str(tmp_path))
    assert config.db_url() == f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("GOVERNANCE_DB_URL", "postgresql://u@h/db")
    assert config.db_url() == "postgresql://u@h/db"
    monkeypatch.setenv("GOVERNANCE_INCLUDE_DIR", str(tmp_path / "inc"))
    assert config.include_dir() == tmp_path / "inc"
    monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "audit")
    monkeypatch.setenv("GOVERNANCE_OBJECT_LOCK_DAYS", "30")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    s3 = config.s3_settings()
    assert (s3.endpoint_url, s3.bucket, s3.object_lock_days, s3.secret_access_key) == (
        "http://127.0.0.1:9000",
        "audit",
        30,
        "s3cr3t",
    )
    assert "s3cr3t" not in repr(s3)  # secrets stay out of logs
    monkeypatch.setenv("GOVERNANCE_USER", "admin")
    assert config.airflow_credentials() == ("admin", None)


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_DB_URL", "")
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "")
    assert config.db_url().startswith("sqlite:///")
    assert config.s3_settings().bucket == "governance"


def test_environ_snapshot_takes_only_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_DB_URL", "sqlite:///x.db")
    monkeypatch.setenv("GOVERNANCEX", "no")
    snap = config.environ_snapshot(prefix="GOVERNANCE_")
    assert snap["GOVERNANCE_DB_URL"] == "sqlite:///x.db" and "GOVERNANCEX" not in snap
    assert all(k.startswith("GOVERNANCE_") for k in snap)


def test_archive_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    assert config.archive_start() == date.fromisoformat(config.ARCHIVE_START_DEFAULT)
    assert config.archive_start_declared() is None
    monkeypatch.setenv("GOVERNANCE_ARCHIVE_START", "2027-02-03")
    assert config.archive_start() == date(2027, 2, 3)
    monkeypatch.setenv("GOVERNANCE_ARCHIVE_START", "03/02/2027")
    with pytest.raises(ValueError, match=r"GOVERNANCE_ARCHIVE_START='03/02/2027' is not a date: .*YYYY-MM-DD"):
        config.archive_start()
