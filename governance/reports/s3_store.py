"""Reports in S3: the :class:`~governance.reports.store.ReportStore` protocol on the archive's bucket.

Keys are the same relative paths as for the local store, stored under ``reports/`` in the
bucket configured for the audit archive (:func:`governance.s3.resolve_settings`). Reports are
not Object-Locked: a rerun replaces the report (a versioned bucket keeps the old version).
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from governance import config
from governance.errors import GovernanceError
from governance.reports.store import ERR_NO_SUCH_KEY, LocalReportStore, ReportStore, check_content_type, check_key
from governance.s3 import AIRFLOW_CONN_ID, endpoint_name, is_not_found, resolve_settings, s3_errors

if TYPE_CHECKING:
    from governance.config import S3Settings

REPORTS_PREFIX = "reports/"
STORE_S3 = "s3"
STORE_LOCAL = "local"
ERR_BAD_STORE = "GOVERNANCE_REPORTS_STORE={value!r} is not a report store (expected 's3' or 'local')"


class S3ReportStore:
    """Report files as objects ``s3://BUCKET/reports/<key>``."""

    def __init__(self, *, client: Any, bucket: str, endpoint: str, prefix: str = REPORTS_PREFIX) -> None:
        self.client = client
        self.bucket = bucket
        self.endpoint = endpoint
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"

    @classmethod
    def from_settings(cls, settings: S3Settings, *, prefix: str = REPORTS_PREFIX) -> S3ReportStore:
        from governance.s3 import make_client

        return cls(
            client=make_client(settings), bucket=settings.bucket, endpoint=endpoint_name(settings), prefix=prefix
        )

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _errors(self, action: str, key: str) -> Any:
        return s3_errors(endpoint=self.endpoint, bucket=self.bucket, action=action, key=key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put(self, key: str, data: bytes, content_type: str) -> str:
        check_content_type(content_type)
        full = self._key(key)
        with self._errors("PutObject", full):
            self.client.put_object(
                Bucket=self.bucket,
                Key=full,
                Body=data,
                ContentType=content_type,
                ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
            )
        return self.uri(key)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        full = self._key(key)
        with self._errors("GetObject", full):
            try:
                return bytes(self.client.get_object(Bucket=self.bucket, Key=full)["Body"].read())
            except ClientError as exc:
                if is_not_found(exc):
                    raise KeyError(ERR_NO_SUCH_KEY.format(key=key, root=f"s3://{self.bucket}/{self.prefix}")) from None
                raise

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        full = self._key(key)
        with self._errors("HeadObject", full):
            try:
                self.client.head_object(Bucket=self.bucket, Key=full)
            except ClientError as exc:
                if is_not_found(exc):
                    return False
                raise
        return True

    def list(self, prefix: str = "") -> list[str]:
        """Stored keys starting with ``prefix`` (a plain string prefix), sorted."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("ListObjectsV2", self.prefix + prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                keys.extend(str(o["Key"])[len(self.prefix) :] for o in page.get("Contents", []) or [])
        return sorted(keys)


def report_store_from_config(*, airflow_conn_id: str | None = AIRFLOW_CONN_ID) -> ReportStore:
    """The configured report store.

    ``GOVERNANCE_REPORTS_STORE=s3`` or ``local`` decides; unset, reports go to S3 when an S3
    endpoint is configured (``GOVERNANCE_S3_ENDPOINT_URL`` or the Airflow connection's
    ``endpoint_url``), else to the folder ``<GOVERNANCE_DATA_DIR>/reports``.
    """
    mode = (config.reports_store() or "").strip().lower()
    if mode not in ("", STORE_S3, STORE_LOCAL):
        raise GovernanceError(ERR_BAD_STORE.format(value=config.reports_store()))
    if mode == STORE_LOCAL:
        return LocalReportStore(config.data_dir() / "reports")
    settings = resolve_settings(airflow_conn_id=airflow_conn_id)
    if mode == STORE_S3 or settings.endpoint_url:
        return S3ReportStore.from_settings(settings)
    return LocalReportStore(config.data_dir() / "reports")
