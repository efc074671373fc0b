"""Shared pieces of the check engines: the result type, JSON-safe values, and reading what a card points to.

A card names its evaluation data, artifact and explainability report by URI:

* ``s3://bucket/key``: read with boto3 with the settings every S3 access uses
  (:func:`governance.s3.resolve_settings`: environment, the Airflow connection ``governance_s3``,
  the embedded default's local server), so the same code reads AWS S3, MinIO or the local server;
* ``file:///abs/path`` or ``/abs/path``: a local file;
* ``demo/eval/x.csv``: a path relative to the include folder (:func:`governance.config.include_dir`),
  which must stay inside it.

Any other scheme (``https://``, ``gs://``) is refused with a :class:`SourceError` that says which
schemes work. Checks turn a :class:`SourceError` into a failed :class:`CheckResult`, never an exception.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

from governance import config
from governance.errors import GovernanceError
from governance.s3 import endpoint_name, make_client, resolve_settings

SPOOL_BYTES = 64 * 1024 * 1024
"""S3 objects up to this size are held in memory while checked; larger ones go to a temporary file."""

ERR_UNSUPPORTED_SCHEME = (
    "{field}: '{uri}' uses the {scheme}:// scheme, which the checks cannot read "
    "(use s3://bucket/key, file:///path, an absolute path or a path relative to the include folder)"
)
ERR_OUTSIDE_INCLUDE = "{field}: '{uri}' leaves the include folder {include}; relative paths must stay inside it"
ERR_NOT_FOUND = "{field}: '{uri}' does not exist (looked for {where})"
ERR_NOT_A_FILE = "{field}: '{uri}' is a directory, not a file ({where})"
ERR_UNREADABLE = "{field}: cannot read '{uri}' ({where}): {problem}"
ERR_S3 = "{field}: cannot read '{uri}' from S3 (endpoint {endpoint}): {problem}"
ERR_BAD_S3_URI = "{field}: '{uri}' is not a complete S3 URI (expected s3://bucket/path/to/object)"


class SourceError(GovernanceError):
    """A URI in a card cannot be resolved or read; the message names the field and the place looked at."""


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """One check: whether it passed, why not (one human-readable line per problem), and what it saw."""

    name: str
    passed: bool
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Details end up in evidence rows and audit events: keep them JSON-safe whoever built them.
        object.__setattr__(self, "details", jsonable(self.details))
        object.__setattr__(self, "reasons", [str(r) for r in self.reasons])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "reasons": list(self.reasons),
            "details": jsonable(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            name=str(data["name"]),
            passed=bool(data["passed"]),
            reasons=[str(r) for r in data.get("reasons") or []],
            details=dict(data.get("details") or {}),
        )


def jsonable(value: Any) -> Any:
    """``value`` made JSON-safe: numpy scalars to Python, tuples/sets to lists, NaN/inf to strings."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, Path):
        return str(value)
    item = getattr(value, "item", None)  # numpy / pandas scalars
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            return str(value)
    return str(value)


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where a card's URI points: a local file or an S3 object."""

    uri: str
    field: str
    path: Path | None = None
    bucket: str | None = None
    key: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.is_s3 else str(self.path)

    @property
    def suffix(self) -> str:
        name = self.key if self.is_s3 else (self.path.name if self.path else "")
        return Path(name or "").suffix.lower()


def uri_scheme(uri: str) -> str:
    """``s3``, ``file``, ``https``… or ``""`` for plain paths."""
    if "://" not in uri:
        return ""
    return uri.split("://", 1)[0].lower()


def resolve_uri(uri: str, *, field: str, include_dir: Path | None = None) -> Source:
    """Resolve a card URI to a :class:`Source`; raises :class:`SourceError` for schemes we cannot read."""
    scheme = uri_scheme(uri)
    if scheme == "s3":
        parsed = urlparse(uri)
        key = parsed.path.lstrip("/")
        if not parsed.netloc or not key:
            raise SourceError(ERR_BAD_S3_URI.format(field=field, uri=uri))
        return Source(uri=uri, field=field, bucket=parsed.netloc, key=unquote(key))
    if scheme == "file":
        return Source(uri=uri, field=field, path=Path(unquote(urlparse(uri).path)))
    if scheme:
        raise SourceError(ERR_UNSUPPORTED_SCHEME.format(field=field, uri=uri, scheme=scheme))
    path = Path(uri)
    if path.is_absolute():
        return Source(uri=uri, field=field, path=path)
    root = (include_dir or config.include_dir()).resolve()
    resolved = (root / path).resolve()
    if not resolved.is_relative_to(root):
        raise SourceError(ERR_OUTSIDE_INCLUDE.format(field=field, uri=uri, include=root))
    return Source(uri=uri, field=field, path=resolved)


def s3_client() -> Any:
    """A boto3 S3 client for :func:`governance.s3.resolve_settings`."""
    return _s3()[0]


def _s3() -> tuple[Any, str]:
    """(client, endpoint as shown in messages), both from one resolution of the settings."""
    settings = resolve_settings()
    return make_client(settings), endpoint_name(settings)


def _s3_problem(exc: Exception) -> tuple[bool, str]:
    """(is 'not found', text) for a boto3/botocore error."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = str(error.get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
            return True, code
        return False, f"{code}: {error.get('Message', '')}".strip(": ")
    return False, f"{type(exc).__name__}: {exc}"


def source_exists(source: Source) -> tuple[bool, str | None]:
    """(exists, problem) — problem explains a missing or unreachable source."""
    if not source.is_s3:
        assert source.path is not None
        if source.path.is_file():
            return True, None
        if source.path.is_dir():
            return False, ERR_NOT_A_FILE.format(field=source.field, uri=source.uri, where=source.where)
        return False, ERR_NOT_FOUND.format(field=source.field, uri=source.uri, where=source.where)
    client, endpoint = _s3()
    try:
        client.head_object(Bucket=source.bucket, Key=source.key)
    except Exception as exc:  # botocore raises several unrelated types
        missing, text = _s3_problem(exc)
        if missing:
            return False, ERR_NOT_FOUND.format(field=source.field, uri=source.uri, where=source.where)
        return False, ERR_S3.format(field=source.field, uri=source.uri, endpoint=endpoint, problem=text)
    return True, None


@contextmanager
def open_source(source: Source) -> Iterator[IO[bytes]]:
    """Open a source for binary reading (S3 objects are downloaded first); raises :class:`SourceError`."""
    if source.is_s3:
        client, endpoint = _s3()
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        try:
            try:
                client.download_fileobj(source.bucket, source.key, spool)
            except Exception as exc:  # botocore raises several unrelated types
                missing, text = _s3_problem(exc)
                if missing:
                    raise SourceError(
                        ERR_NOT_FOUND.format(field=source.field, uri=source.uri, where=source.where)
                    ) from None
                raise SourceError(
                    ERR_S3.format(field=source.field, uri=source.uri, endpoint=endpoint, problem=text)
                ) from None
            spool.seek(0)
            yield spool
        finally:
            spool.close()
        return
    assert source.path is not None
    exists, problem = source_exists(source)
    if not exists:
        raise SourceError(problem or ERR_NOT_FOUND.format(field=source.field, uri=source.uri, where=source.where))
    try:
        handle = source.path.open("rb")
    except OSError as exc:
        raise SourceError(
            ERR_UNREADABLE.format(field=source.field, uri=source.uri, where=source.where, problem=exc.strerror)
        ) from None
    with handle:
        yield handle
