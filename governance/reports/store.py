"""Where reports are kept: a minimal key/value interface and a local-folder implementation.

Keys are relative POSIX paths such as ``bias/credit-scorer/1.2.0/2026-03-01.html``. An
S3 implementation can follow the same protocol (``put`` returns an ``s3://`` URI).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from governance._util import atomic_write

ERR_BAD_KEY = (
    "report key {key!r} is not a relative path of plain names (no leading '/', no '.' or "
    "'..' parts, no empty parts); use e.g. 'bias/model/1.0.0/2026-03-01.json'"
)
ERR_NO_SUCH_KEY = "no report stored under {key!r} in {root}"
ERR_BAD_CONTENT_TYPE = "content type {content_type!r} is not a MIME type like 'text/html'"

_TEMP_PREFIX = ".tmp-"


@runtime_checkable
class ReportStore(Protocol):
    """Stores report files under keys; ``put`` returns the URI of the stored object."""

    def put(self, key: str, data: bytes, content_type: str) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]: ...


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative path, else raise ``ValueError(ERR_BAD_KEY)``."""
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or "\\" in key
        or any(part in ("", ".", "..") for part in parts)
        or any(part.startswith(_TEMP_PREFIX) for part in parts)
    ):
        raise ValueError(ERR_BAD_KEY.format(key=key))
    return str(PurePosixPath(key))


def check_content_type(content_type: str) -> str:
    kind, _, sub = content_type.partition("/")
    if not kind or not sub or " " in kind:
        raise ValueError(ERR_BAD_CONTENT_TYPE.format(content_type=content_type))
    return content_type


class LocalReportStore:
    """Reports as files under ``root``; each write is atomic (temp file + ``os.replace``),
    so a reader never sees half a report and a rerun simply replaces the file.

    A local folder has no place for content types: they are checked, and the file
    extension in the key is what a browser will go by.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes, content_type: str) -> str:
        check_content_type(content_type)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, fsync=True, prefix=_TEMP_PREFIX)
        return path.resolve().as_uri()

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise KeyError(ERR_NO_SUCH_KEY.format(key=key, root=self.root)) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        """Stored keys starting with ``prefix`` (a plain string prefix), sorted."""
        if not self.root.is_dir():
            return []
        keys = []
        for path in self.root.rglob("*"):
            if not path.is_file() or path.name.startswith(_TEMP_PREFIX):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                keys.append(key)
        return sorted(keys)
