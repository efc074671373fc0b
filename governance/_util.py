"""Tiny helpers shared across the package (stdlib only: cheap to import anywhere)."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path


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
