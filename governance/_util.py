"""Tiny helpers shared across the package (stdlib only: cheap to import anywhere)."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already (the
    governance DB stores UTC, and SQLite hands timestamps back without a zone)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def atomic_write(path: Path, data: bytes, *, fsync: bool = False, mode: int = 0o644, prefix: str | None = None) -> Path:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half
    of one: a temp file beside it (its name starts with a dot, which dataset readers skip), then
    ``os.replace``. ``fsync=True`` flushes the bytes to disk before the rename; ``prefix`` names
    the temp file (default ``.<name>.``) for readers that skip a known prefix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", dir=path.resolve().parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def lazy_exports(
    package: str, exports: Mapping[str, str], names: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package that re-exports ``exports`` (name → module)
    lazily (PEP 562): a name's module is imported on first use, so importing the package
    loads nothing heavy."""
    namespace = sys.modules[package].__dict__
    listed = set(names)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | listed)

    return __getattr__, __dir__


_by_stat: dict[tuple[str, Path], tuple[tuple[int, int, int], Any]] = {}
_by_stat_lock = threading.Lock()


def load_when_changed(path: Path, loader: Callable[[Path], T], *, kind: str) -> T:
    """``loader(path)``, cached until the file's size, mtime or inode changes: a file that is
    read on every request (policies, groups) costs one ``stat`` unless it was edited, and an
    edit takes effect on the next call with no restart. ``kind`` keeps caches of different
    loaders of one path apart. Raises ``OSError`` when the file cannot be stat'ed."""
    st = os.stat(path)
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _by_stat.get((kind, path))
    if hit is not None and hit[0] == key:
        return hit[1]
    with _by_stat_lock:
        value = loader(path)
        _by_stat[(kind, path)] = (key, value)
    return value


def request_token(scope: Mapping[str, Any], *, cookie: str) -> str | None:
    """The login token of an ASGI request: the bearer token of its ``Authorization`` header,
    else the value of the cookie named ``cookie`` (the UI's), else None."""
    from http.cookies import SimpleCookie

    cookies = None
    for name, value in scope.get("headers") or []:
        name = name.lower()
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip() or None
        elif name == b"cookie":
            cookies = value.decode("latin-1")
    if cookies:
        morsel = SimpleCookie(cookies).get(cookie)
        return morsel.value if morsel else None
    return None
