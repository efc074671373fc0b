"""S3 access: settings, client, bucket, clear errors.

Every S3 access of the product goes through here: the audit archive, the reports, and what a
model card points to on ``s3://`` (evaluation data, artifact, explainability report, the
predictions a bias audit reads). The same code talks to AWS S3, MinIO or the local SeaweedFS
server: only the endpoint and the credentials differ. :func:`resolve_settings` decides them,
in one place, the same way for every caller: the environment
(:func:`governance.config.s3_settings`), inside an Airflow task the Airflow connection
``governance_s3`` when it exists, and with nothing configured the embedded default's local
server found in ``GOVERNANCE_DATA_DIR``. :func:`make_client` (boto3) and
:func:`pyarrow_filesystem` (pyarrow) turn the settings into a client; no other module reads
the S3 environment or builds a client of its own (the local server, :mod:`governance.embedded.s3server`,
reads the environment only for its own start-up: credentials and bucket to create).

Every botocore failure that reaches a caller is translated into an :class:`S3AccessError`
naming the endpoint and the bucket (wrong credentials, missing bucket, server unreachable).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from governance import config
from governance.config import S3Settings
from governance.errors import GovernanceError

AIRFLOW_CONN_ID = "governance_s3"
DEFAULT_REGION = "us-east-1"

ERR_CREDENTIALS = (
    "S3 at {endpoint} refused the credentials for bucket {bucket!r} ({code}); check AWS_ACCESS_KEY_ID / "
    "AWS_SECRET_ACCESS_KEY or the Airflow connection 'governance_s3'"
)
ERR_NO_CREDENTIALS = (
    "no S3 credentials for bucket {bucket!r} at {endpoint}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "or the Airflow connection 'governance_s3'"
)
ERR_DENIED = "S3 at {endpoint} denied {action} on bucket {bucket!r}{where}: check the identity's permissions"
ERR_NO_BUCKET = (
    "bucket {bucket!r} does not exist at {endpoint}; create it with `governance s3 ensure-bucket` "
    "(Object Lock enabled) or set GOVERNANCE_S3_BUCKET"
)
ERR_UNREACHABLE = (
    "cannot reach S3 at {endpoint} (bucket {bucket!r}) during {action}: {error}; is the server running? "
    "(GOVERNANCE_S3_ENDPOINT_URL)"
)
ERR_FAILED = "S3 at {endpoint} failed {action} on bucket {bucket!r}{where}: {code}: {message}"

CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidClientTokenId"}
)
MISSING_BUCKET_CODES = frozenset({"NoSuchBucket"})
NO_LOCK_CODES = frozenset(
    {"ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration", "NotImplemented", "404"}
)
UNAVAILABLE_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "503", "500", "502", "504"})


class S3AccessError(GovernanceError):
    """An S3 request failed; the message names the endpoint, the bucket and what to do."""


class S3CredentialsError(S3AccessError):
    """The credentials were refused or are missing."""


class S3BucketMissingError(S3AccessError):
    """The configured bucket does not exist."""


class S3UnavailableError(S3AccessError):
    """The server could not be reached or failed; retrying later may succeed."""


def endpoint_name(settings: S3Settings) -> str:
    return settings.endpoint_url or f"AWS S3 ({settings.region})"


def settings_for(
    *,
    endpoint_url: str | None,
    bucket: str,
    access_key_id: str | None,
    secret_access_key: str | None,
    region: str = DEFAULT_REGION,
    object_lock_days: int | None = None,
) -> S3Settings:
    """Explicit settings (tests, the local server), defaults from the environment for the rest."""
    base = config.s3_settings()
    return S3Settings(
        endpoint_url=endpoint_url,
        bucket=bucket,
        region=region,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        object_lock_days=base.object_lock_days if object_lock_days is None else object_lock_days,
    )


def resolve_settings(*, airflow_conn_id: str | None = AIRFLOW_CONN_ID) -> S3Settings:
    """S3 settings: the environment, overridden by the Airflow connection inside Airflow.

    Without a connection and with nothing configured, the embedded default's local server
    (see :func:`_embedded_fallback`).

    The connection (type ``aws``) is looked up only when Airflow's task SDK is already loaded,
    i.e. inside a task; the command line never pays for importing Airflow. Its ``login`` /
    ``password`` are the access key / secret, ``extra`` may hold ``endpoint_url``,
    ``region_name`` and ``bucket``. A missing connection means: use the environment.
    """
    settings = config.s3_settings()
    if airflow_conn_id is None or "airflow.sdk" not in sys.modules:
        return _embedded_fallback(settings)
    conn = _airflow_connection(airflow_conn_id)
    if conn is None:
        return _embedded_fallback(settings)
    extra: dict[str, Any] = dict(conn.extra_dejson or {})
    return replace(
        settings,
        endpoint_url=extra.get("endpoint_url") or conn.host or settings.endpoint_url,
        bucket=extra.get("bucket") or extra.get("bucket_name") or settings.bucket,
        region=extra.get("region_name") or settings.region,
        access_key_id=conn.login or settings.access_key_id,
        secret_access_key=conn.password or settings.secret_access_key,
    )


DEFAULT_HOST = "127.0.0.1"
STATE_DIR_NAME = ".governance-s3"
PORTS_FILE = "ports.json"
CREDENTIALS_FILE = "credentials.json"
"""A local S3 server (the embedded default's, ``governance.embedded.s3server``) describes itself
in ``<data dir>/s3/.governance-s3/``: its ports and its credentials, as JSON."""


def local_endpoint(data_dir: Path) -> tuple[str, str, str] | None:
    """(endpoint URL, access key, secret) of the local S3 server that keeps its state in
    ``data_dir``, or None when none ever ran there. Reads only the descriptor files; the server
    may be down."""
    state = Path(data_dir) / "s3" / STATE_DIR_NAME
    try:
        ports = json.loads((state / PORTS_FILE).read_text(encoding="utf-8"))
        creds = json.loads((state / CREDENTIALS_FILE).read_text(encoding="utf-8"))
        return f"http://{DEFAULT_HOST}:{int(ports['s3'])}", str(creds["access_key"]), str(creds["secret_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _embedded_fallback(settings: S3Settings) -> S3Settings:
    """No connection, no endpoint and no credentials configured: the local S3 server
    ``make run`` keeps in ``GOVERNANCE_DATA_DIR``, if it has ever run there. So
    ``governance audit validate-archive`` in a second terminal reads the embedded default's
    archive with no configuration, as the DAG does; anything configured wins."""
    if settings.endpoint_url or settings.access_key_id or settings.secret_access_key:
        return settings
    found = local_endpoint(config.data_dir())
    if found is None:
        return settings
    endpoint, key, secret = found
    return replace(settings, endpoint_url=endpoint, access_key_id=key, secret_access_key=secret)


def _airflow_connection(conn_id: str) -> Any:
    try:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        return None
    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


_SESSION_LOCK = threading.Lock()
_SESSION: Any = None
_SESSION_HANDLERS = 0


def _boto3_session() -> Any:
    """One boto3 session per process: clients made from it share the parsed service model
    (a new session costs ~0.3 s). Client creation is serialised; clients are thread-safe.

    A session copies botocore's built-in event handlers when it is made; when one is added
    later (moto's stubber, imported by a test after the first client was made) a new session
    is made, so that every client made from then on sees it."""
    global _SESSION, _SESSION_HANDLERS
    import boto3
    from botocore.handlers import BUILTIN_HANDLERS

    if _SESSION is None or _SESSION_HANDLERS != len(BUILTIN_HANDLERS):
        _SESSION = boto3.session.Session()
        _SESSION_HANDLERS = len(BUILTIN_HANDLERS)
    return _SESSION


def make_client(
    settings: S3Settings,
    *,
    max_attempts: int = 3,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    max_pool_connections: int = 16,
) -> Any:
    """A boto3 S3 client for ``settings`` (safe to share between threads)."""
    from botocore.config import Config

    cfg = Config(
        region_name=settings.region,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": "path"} if settings.endpoint_url else {},
    )
    with _SESSION_LOCK:
        return _boto3_session().client(
            "s3",
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=cfg,
        )


def pyarrow_filesystem(settings: S3Settings) -> Any:
    """A ``pyarrow.fs.S3FileSystem`` for ``settings`` (what the bias audit reads Parquet with).

    Path-style requests to the endpoint when one is set, as :func:`make_client` does; without
    credentials in ``settings`` the AWS SDK's own chain (profile, instance role) applies.
    """
    from urllib.parse import urlparse

    import pyarrow.fs as pafs

    kwargs: dict[str, Any] = {"region": settings.region}
    if settings.endpoint_url:
        parsed = urlparse(settings.endpoint_url)
        if parsed.scheme and parsed.netloc:
            kwargs["endpoint_override"] = parsed.netloc + parsed.path.rstrip("/")
            kwargs["scheme"] = parsed.scheme
        else:
            kwargs["endpoint_override"] = settings.endpoint_url
    if settings.access_key_id and settings.secret_access_key:
        kwargs["access_key"] = settings.access_key_id
        kwargs["secret_key"] = settings.secret_access_key
    return pafs.S3FileSystem(**kwargs)


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` ('' for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", "") or "")


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchVersion")


def translate(exc: BaseException, *, endpoint: str, bucket: str, action: str, key: str | None = None) -> S3AccessError:
    """A botocore exception as an :class:`S3AccessError` that says what is wrong and where."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    where = f" (key {key})" if key else ""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return S3CredentialsError(ERR_NO_CREDENTIALS.format(bucket=bucket, endpoint=endpoint))
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ConnectTimeoutError | ReadTimeoutError):
        return S3UnavailableError(ERR_UNREACHABLE.format(endpoint=endpoint, bucket=bucket, action=action, error=exc))
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "") or exc)
        if code in CREDENTIAL_CODES:
            return S3CredentialsError(ERR_CREDENTIALS.format(endpoint=endpoint, bucket=bucket, code=code))
        if code in MISSING_BUCKET_CODES:
            return S3BucketMissingError(ERR_NO_BUCKET.format(bucket=bucket, endpoint=endpoint))
        if code in ("AccessDenied", "403"):
            return S3CredentialsError(ERR_DENIED.format(endpoint=endpoint, action=action, bucket=bucket, where=where))
        if code in UNAVAILABLE_CODES:
            return S3UnavailableError(
                ERR_FAILED.format(
                    endpoint=endpoint, action=action, bucket=bucket, where=where, code=code, message=message
                )
            )
        return S3AccessError(
            ERR_FAILED.format(endpoint=endpoint, action=action, bucket=bucket, where=where, code=code, message=message)
        )
    return S3UnavailableError(ERR_UNREACHABLE.format(endpoint=endpoint, bucket=bucket, action=action, error=exc))


@contextmanager
def s3_errors(*, endpoint: str, bucket: str, action: str, key: str | None = None) -> Iterator[None]:
    """Translate botocore exceptions raised in the block (S3AccessError passes through)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise translate(exc, endpoint=endpoint, bucket=bucket, action=action, key=key) from exc


@dataclass(frozen=True, kw_only=True)
class BucketStatus:
    bucket: str
    endpoint: str
    created: bool
    object_lock: bool
    versioning: bool

    def summary(self) -> str:
        verb = "created" if self.created else "exists"
        lock = "Object Lock enabled" if self.object_lock else "no Object Lock (archive objects are not locked)"
        versions = "versioned" if self.versioning else "not versioned"
        return f"bucket {self.bucket!r} at {self.endpoint} {verb}: {lock}, {versions}"


def check_bucket(client: Any, *, bucket: str, endpoint: str) -> None:
    """Fail early, clearly, when the bucket is missing or the credentials are refused."""
    if not bucket_exists(client, bucket=bucket, endpoint=endpoint):
        raise S3BucketMissingError(ERR_NO_BUCKET.format(bucket=bucket, endpoint=endpoint))


def bucket_exists(client: Any, *, bucket: str, endpoint: str) -> bool:
    """Whether ``bucket`` exists (a GET, not a HEAD: a HEAD's 403 does not say why it failed)."""
    from botocore.exceptions import ClientError

    with s3_errors(endpoint=endpoint, bucket=bucket, action="ListObjectsV2"):
        try:
            client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except ClientError as exc:
            if error_code(exc) in MISSING_BUCKET_CODES:
                return False
            raise
    return True


def object_lock_enabled(client: Any, *, bucket: str, endpoint: str) -> bool:
    """Whether the bucket has Object Lock enabled (so retention can be set on its objects)."""
    from botocore.exceptions import ClientError

    with s3_errors(endpoint=endpoint, bucket=bucket, action="GetObjectLockConfiguration"):
        try:
            conf = client.get_object_lock_configuration(Bucket=bucket)
        except ClientError as exc:
            if error_code(exc) in NO_LOCK_CODES:
                return False
            raise
    return conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def bucket_versioned(client: Any, *, bucket: str, endpoint: str) -> bool:
    with s3_errors(endpoint=endpoint, bucket=bucket, action="GetBucketVersioning"):
        return client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"


def ensure_bucket(client: Any, *, bucket: str, endpoint: str, region: str = DEFAULT_REGION) -> BucketStatus:
    """Create ``bucket`` with Object Lock (hence versioning) enabled; idempotent.

    An existing bucket is left as it is, except that versioning is switched on when it is off
    (overwritten archive objects are then detectable). Object Lock cannot be enabled on an
    existing bucket on every server; :class:`BucketStatus` says whether it is.
    """
    from botocore.exceptions import ClientError

    created = False
    if not bucket_exists(client, bucket=bucket, endpoint=endpoint):
        kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
        if region and region != DEFAULT_REGION:
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with s3_errors(endpoint=endpoint, bucket=bucket, action="CreateBucket"):
            try:
                client.create_bucket(**kwargs)
                created = True
            except ClientError as exc:
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise
    locked = object_lock_enabled(client, bucket=bucket, endpoint=endpoint)
    versioned = bucket_versioned(client, bucket=bucket, endpoint=endpoint)
    if not versioned:
        with s3_errors(endpoint=endpoint, bucket=bucket, action="PutBucketVersioning"):
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        versioned = True
    return BucketStatus(bucket=bucket, endpoint=endpoint, created=created, object_lock=locked, versioning=versioned)
