"""Configuration: the one module that reads environment variables.

Every setting has a default that makes the embedded default (a laptop, SQLite, a local
S3-compatible server) work with no configuration at all.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root when running from a checkout (where ``include/`` and ``dags/`` live)."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def data_dir() -> Path:
    """Folder for local state (SQLite file, local reports); ``GOVERNANCE_DATA_DIR``."""
    return Path(_env("GOVERNANCE_DATA_DIR", str(PROJECT_ROOT / "data")) or "data")


def include_dir() -> Path:
    """Folder holding workflow definitions, policies, suites and demo cards."""
    return Path(_env("GOVERNANCE_INCLUDE_DIR", str(PROJECT_ROOT / "include")) or "include")


def workflows_file() -> Path:
    """Approval workflow definition; ``GOVERNANCE_WORKFLOWS_FILE``."""
    default = include_dir() / "workflows" / "approval.yaml"
    return Path(_env("GOVERNANCE_WORKFLOWS_FILE", str(default)) or default)


def groups_file() -> Path:
    """Groups (reviewers, model gateways); ``GOVERNANCE_GROUPS_FILE`` (read on every usage
    request, so the Path is built once per setting)."""
    return _groups_file(_env("GOVERNANCE_GROUPS_FILE"), _env("GOVERNANCE_INCLUDE_DIR"))


@functools.lru_cache(maxsize=16)
def _groups_file(explicit: str | None, _include: str | None) -> Path:
    return Path(explicit) if explicit else include_dir() / "reviewer_groups.yaml"


def usage_policies_file() -> Path:
    """Usage policies checked at request time; ``GOVERNANCE_USAGE_POLICIES_FILE`` (read on every
    usage check, so the Path is built once per setting)."""
    return _usage_policies_file(_env("GOVERNANCE_USAGE_POLICIES_FILE"), _env("GOVERNANCE_INCLUDE_DIR"))


@functools.lru_cache(maxsize=16)
def _usage_policies_file(explicit: str | None, _include: str | None) -> Path:
    return Path(explicit) if explicit else include_dir() / "policies" / "usage.yaml"


def form_defaults_card() -> Path | None:
    """Card whose values pre-fill the submission form; ``GOVERNANCE_FORM_DEFAULTS_CARD``."""
    value = _env("GOVERNANCE_FORM_DEFAULTS_CARD")
    return Path(value) if value else None


def evidence_encrypted_at_rest() -> bool | None:
    """The platform's declaration that the evidence stores are encrypted at rest.

    ``GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST`` = true / false; unset means "not declared", and
    the compliance tracker then looks for an encryption signal in the configuration itself.
    """
    value = (_env("GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST") or "").strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    return None


def db_url() -> str:
    """SQLAlchemy URL of the governance database; ``GOVERNANCE_DB_URL``.

    Default: a SQLite file ``governance.db`` in :func:`data_dir`.
    """
    url = _env("GOVERNANCE_DB_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'governance.db'}"


ARCHIVE_START_DEFAULT = "2026-11-01"
ERR_ARCHIVE_START = (
    "GOVERNANCE_ARCHIVE_START={value!r} is not a date: give the first UTC day the audit archive "
    "covers as YYYY-MM-DD, e.g. {example}"
)


def archive_start_declared() -> str | None:
    """``GOVERNANCE_ARCHIVE_START`` as set, or None."""
    return _env("GOVERNANCE_ARCHIVE_START")


def archive_start() -> date:
    """First UTC day the ``audit_archive`` DAG runs for; its catchup starts there.

    ``GOVERNANCE_ARCHIVE_START`` (YYYY-MM-DD). The embedded default sets it to the day of the
    first audit event, so a new installation does not catch up on days before it existed.
    Days before it are still archived: each run ships every closed day not yet archived.
    """
    value = archive_start_declared() or ARCHIVE_START_DEFAULT
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(ERR_ARCHIVE_START.format(value=value, example=ARCHIVE_START_DEFAULT)) from None


@dataclass(frozen=True, kw_only=True)
class S3Settings:
    """Where the audit archive and the reports live (AWS S3, MinIO or a local server)."""

    endpoint_url: str | None
    bucket: str
    region: str
    access_key_id: str | None = field(repr=False)
    secret_access_key: str | None = field(repr=False)
    object_lock_days: int


def s3_settings() -> S3Settings:
    """S3 settings from ``GOVERNANCE_S3_*`` and the standard ``AWS_*`` variables."""
    return S3Settings(
        endpoint_url=_env("GOVERNANCE_S3_ENDPOINT_URL"),
        bucket=_env("GOVERNANCE_S3_BUCKET", "governance") or "governance",
        region=_env("AWS_DEFAULT_REGION", "us-east-1") or "us-east-1",
        access_key_id=_env("AWS_ACCESS_KEY_ID"),
        secret_access_key=_env("AWS_SECRET_ACCESS_KEY"),
        object_lock_days=int(_env("GOVERNANCE_OBJECT_LOCK_DAYS", "365") or "365"),
    )


def reports_store() -> str | None:
    """Where reports go: ``s3`` or ``local``; unset = S3 when an S3 endpoint is configured
    (``GOVERNANCE_REPORTS_STORE``)."""
    return _env("GOVERNANCE_REPORTS_STORE")


def airflow_api_url() -> str:
    """Base URL of the Airflow API server; ``GOVERNANCE_AIRFLOW_URL``."""
    return _env("GOVERNANCE_AIRFLOW_URL", "http://localhost:8080") or "http://localhost:8080"


def airflow_credentials() -> tuple[str | None, str | None]:
    """User name and password for the Airflow API (``GOVERNANCE_USER``/``GOVERNANCE_PASSWORD``)."""
    return _env("GOVERNANCE_USER"), _env("GOVERNANCE_PASSWORD")


def environ_snapshot(*, prefix: str) -> dict[str, str]:
    """Variables starting with ``prefix`` (used to hand configuration to child processes)."""
    return {k: v for k, v in os.environ.items() if k.startswith(prefix)}
