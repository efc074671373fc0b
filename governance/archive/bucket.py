"""governance.archive.bucket: the S3 bucket an audit archive lives in, as the archive uses it.

:class:`ArchiveBucket` holds the client, bucket name, endpoint and Object Lock settings; it
lists current keys, reads objects and digests, and writes objects that are never overwritten
(conditional PUT, SHA-256 checked by the server, Object Lock retention when the bucket has
it). Listing object *versions* is validation's (:mod:`governance.archive.validate`)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from governance.archive.layout import (
    DIGESTS_PREFIX,
    LOCK_MODE,
    ArchiveConflictError,
    ArchiveError,
    digest_key,
    parse_digest,
    parse_digest_key,
)
from governance.s3 import check_bucket, error_code, is_not_found, object_lock_enabled, s3_errors

UPLOAD_WORKERS = 4

ERR_OBJECT_CONFLICT = (
    "{key} already exists in bucket {bucket!r} with different content than the database's events; "
    "archived objects are never overwritten: run `governance audit validate-archive` and investigate"
)
ERR_BAD_DIGEST = "digest {key} in bucket {bucket!r} is unreadable ({error}); run `governance audit validate-archive`"

Progress = Callable[[str], None]


class ArchiveBucket:
    """One bucket holding an audit archive, as the archive reads and writes it."""

    def __init__(
        self,
        *,
        client: Any,
        bucket: str,
        endpoint: str,
        object_lock_days: int,
        upload_workers: int = UPLOAD_WORKERS,
        progress: Progress | None = None,
        lock_supported: bool | None = None,
    ) -> None:
        """``lock_supported``: whether the bucket has Object Lock, when already known (None:
        asked of the bucket on first need)."""
        self.client = client
        self.bucket = bucket
        self.endpoint = endpoint
        self.object_lock_days = object_lock_days
        self.upload_workers = max(1, upload_workers)
        self.progress = progress
        self._lock_supported = lock_supported

    def say(self, message: str) -> None:
        """Report progress (to ``progress``, when given)."""
        if self.progress is not None:
            self.progress(message)

    def errors(self, action: str, key: str | None = None) -> Any:
        return s3_errors(endpoint=self.endpoint, bucket=self.bucket, action=action, key=key)

    def check(self) -> None:
        """Fail early, naming endpoint and bucket, when the bucket is missing or access is refused."""
        check_bucket(self.client, bucket=self.bucket, endpoint=self.endpoint)

    def lock_supported(self) -> bool:
        if self._lock_supported is None:
            self._lock_supported = object_lock_enabled(self.client, bucket=self.bucket, endpoint=self.endpoint)
        return self._lock_supported

    def _lock_kwargs(self) -> dict[str, Any]:
        if self.object_lock_days <= 0 or not self.lock_supported():
            return {}
        until = datetime.now(UTC) + timedelta(days=self.object_lock_days)
        return {"ObjectLockMode": LOCK_MODE, "ObjectLockRetainUntilDate": until}

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Current keys under ``prefix`` (latest versions that are not delete markers)."""
        paginator = self.client.get_paginator("list_objects_v2")
        with self.errors("ListObjectsV2"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []) or []:
                    yield str(obj["Key"])

    def digest_days(self) -> list[date]:
        return sorted(d for d in (parse_digest_key(k) for k in self.list_keys(DIGESTS_PREFIX)) if d is not None)

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self.errors("GetObject", key):
            try:
                return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            except ClientError as exc:
                if is_not_found(exc):
                    return None
                raise

    def read_digest(self, day: date) -> tuple[dict[str, Any], bytes] | None:
        key = digest_key(day)
        raw = self.get_bytes(key)
        if raw is None:
            return None
        try:
            doc = parse_digest(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(ERR_BAD_DIGEST.format(key=key, bucket=self.bucket, error=exc)) from None
        return doc, raw

    def put_new(self, key: str, body: bytes, *, content_type: str) -> bytes | None:
        """Write ``key`` unless it exists; return None when written, else the existing bytes.

        Never overwrites: a HEAD first, then a conditional PUT (``If-None-Match: *``) with the
        body's SHA-256 checked by the server and Object Lock retention when enabled.
        """
        from botocore.exceptions import ClientError

        digest = hashlib.sha256(body)
        with self.errors("HeadObject", key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
                exists = True
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
                exists = False
        if not exists:
            with self.errors("PutObject", key):
                try:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=body,
                        ContentType=content_type,
                        ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
                        IfNoneMatch="*",
                        Metadata={"sha256": digest.hexdigest()},
                        **self._lock_kwargs(),
                    )
                    return None
                except ClientError as exc:
                    if error_code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                        raise
        existing = self.get_bytes(key)
        if existing is None:  # deleted between HEAD/PUT and GET: report, never overwrite
            raise ArchiveConflictError(ERR_OBJECT_CONFLICT.format(key=key, bucket=self.bucket))
        return existing
