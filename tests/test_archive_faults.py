"""Faults against the real S3 server: a crash mid-archive, wrong credentials, a missing bucket,
an unreachable endpoint, and Object Lock refusing to delete archived objects."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import func, select

from governance.archive import day_prefix, digest_key
from governance.archive.purge import ERR_NOT_ARCHIVED, PurgeRefusedError, purge_archived
from governance.archive.validate import KIND_EXTRA, MSG_ORPHAN
from governance.embedded.s3server import LocalS3Server
from governance.s3 import (
    ERR_CREDENTIALS,
    ERR_NO_BUCKET,
    S3BucketMissingError,
    S3CredentialsError,
    S3UnavailableError,
    ensure_bucket,
    error_code,
    make_client,
    settings_for,
)
from governance.store.tables import audit_events
from tests.conftest_s3 import ACCESS_KEY, SECRET_KEY, make_archive, settings_for_server, unique_bucket
from tests.support.audit_history import seed_history

pytestmark = pytest.mark.s3

TODAY = datetime.now(UTC).date()
D0 = TODAY - timedelta(days=6)
D1 = D0 + timedelta(days=1)
D2 = D0 + timedelta(days=2)


class CrashAfterPuts:
    """The archive's S3 client; the server is SIGKILLed right after the ``after``-th PUT returns."""

    def __init__(self, client: Any, server: LocalS3Server, after: int) -> None:
        self._client = client
        self._server = server
        self._after = after
        self._puts = 0
        self._lock = threading.Lock()

    def put_object(self, **kwargs: Any) -> Any:
        response = self._client.put_object(**kwargs)
        with self._lock:
            self._puts += 1
            if self._puts == self._after:
                self._server.kill()
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _count(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


@pytest.mark.slow
def test_server_killed_mid_archive_then_rerun_completes(archive_store, tmp_path: Path):
    server = LocalS3Server(data_dir=tmp_path / "s3", access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    server.start()
    try:
        settings = settings_for_server(server, unique_bucket())
        ensure_bucket(make_client(settings), bucket=settings.bucket, endpoint=server.endpoint_url)
        seed_history(archive_store.engine, days=[(D0, 300), (D1, 300), (D2, 50)])
        archive = make_archive(archive_store.engine, settings, part_size=100)
        # D0: 3 parts + digest = 4 PUTs; the crash comes right after D1's first part is stored
        archive.client = CrashAfterPuts(archive.client, server, after=5)
        with pytest.raises(S3UnavailableError) as err:
            archive.archive()
        assert server.endpoint_url in str(err.value)
        assert not server.is_running()

        # the server is down: a purge cannot check the archive, and deletes nothing
        before = _count(archive_store.engine)
        with pytest.raises(S3UnavailableError):
            purge_archived(make_archive(archive_store.engine, settings), older_than_days=1, actor="admin")
        assert _count(archive_store.engine) == before

        server.start()  # same folder, same ports
        archive = make_archive(archive_store.engine, settings, part_size=100)
        assert archive.digest_days() == [D0]  # D1's stored part does not count as archived
        report = archive.validate()
        orphans = {p.subject for p in report.problems if (p.kind, p.message) == (KIND_EXTRA, MSG_ORPHAN)}
        assert orphans and all(key.startswith(day_prefix(D1)) for key in orphans)  # parts stored in parallel
        with pytest.raises(PurgeRefusedError) as refused:
            purge_archived(archive, older_than_days=(TODAY - D2).days, actor="admin")
        assert str(refused.value) == ERR_NOT_ARCHIVED.format(
            cutoff=D2, day=D1, key=digest_key(D1), bucket=settings.bucket, endpoint=server.endpoint_url
        )
        assert _count(archive_store.engine) == before

        rerun = archive.archive()
        assert [d.day for d in rerun.written] == [D1, D2, *[D2 + timedelta(days=i) for i in range(1, 4)]]
        final = archive.validate()
        assert final.ok, [p.line() for p in final.problems]
        assert final.events == 650
        client = make_client(settings)
        versions = client.list_object_versions(Bucket=settings.bucket, Prefix="audit/")
        assert all(v["IsLatest"] for v in versions["Versions"])  # every key: exactly one version
        assert not versions.get("DeleteMarkers")
    finally:
        server.stop(grace=0.5)


def test_wrong_credentials_are_refused_by_name(archive_store, s3_server, s3_settings):
    wrong = settings_for(
        endpoint_url=s3_server.endpoint_url,
        bucket=s3_settings.bucket,
        access_key_id=ACCESS_KEY,
        secret_access_key="not-the-secret",
    )
    with pytest.raises(S3CredentialsError) as err:
        make_archive(archive_store.engine, wrong).archive()
    assert str(err.value) == ERR_CREDENTIALS.format(
        endpoint=s3_server.endpoint_url, bucket=s3_settings.bucket, code="SignatureDoesNotMatch"
    )
    unknown = settings_for(
        endpoint_url=s3_server.endpoint_url, bucket=s3_settings.bucket, access_key_id="nobody", secret_access_key="x"
    )
    with pytest.raises(S3CredentialsError) as err:
        make_archive(archive_store.engine, unknown).validate()
    assert str(err.value) == ERR_CREDENTIALS.format(
        endpoint=s3_server.endpoint_url, bucket=s3_settings.bucket, code="InvalidAccessKeyId"
    )


def test_unsigned_requests_are_refused(s3_server, s3_settings):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{s3_server.endpoint_url}/{s3_settings.bucket}/warmup", timeout=5)
    assert err.value.code == 403


def test_missing_bucket_is_named(archive_store, s3_server):
    settings = settings_for_server(s3_server, "no-such-bucket-here")
    with pytest.raises(S3BucketMissingError) as err:
        make_archive(archive_store.engine, settings).archive()
    assert str(err.value) == ERR_NO_BUCKET.format(bucket="no-such-bucket-here", endpoint=s3_server.endpoint_url)
    client = make_client(settings)
    with pytest.raises(ClientError) as put:  # the server does not create buckets on upload
        client.put_object(Bucket="no-such-bucket-here", Key="x", Body=b"x")
    assert error_code(put.value) == "NoSuchBucket"


def test_unreachable_endpoint_is_named(archive_store):
    from governance.embedded.ports import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = settings_for(endpoint_url=endpoint, bucket="governance", access_key_id="k", secret_access_key="s")
    with pytest.raises(S3UnavailableError) as err:
        make_archive(archive_store.engine, settings).archive()
    assert endpoint in str(err.value) and "'governance'" in str(err.value)


def test_object_lock_refuses_deleting_archived_versions(archive_store, s3_settings):
    seed_history(archive_store.engine, days=[(D0, 20)])
    make_archive(archive_store.engine, s3_settings).archive(until=D1)
    client = make_client(s3_settings)
    for key in (f"{day_prefix(D0)}part-0000.jsonl.gz", digest_key(D0)):
        version = client.head_object(Bucket=s3_settings.bucket, Key=key)["VersionId"]
        with pytest.raises(ClientError) as err:
            client.delete_object(Bucket=s3_settings.bucket, Key=key, VersionId=version)
        assert error_code(err.value) == "AccessDenied"
        with pytest.raises(ClientError) as err:  # COMPLIANCE retention cannot be shortened
            client.put_object_retention(
                Bucket=s3_settings.bucket,
                Key=key,
                VersionId=version,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(seconds=5)},
            )
        assert error_code(err.value) == "AccessDenied"
        assert client.head_object(Bucket=s3_settings.bucket, Key=key, VersionId=version)["ContentLength"] > 0
