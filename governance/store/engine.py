"""Engines for the governance database: SQLite (default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from governance import config
from governance.errors import GovernanceError

READ_ONLY = "governance_read_only"
"""Execution option for connections that only read: on SQLite they open a deferred
transaction (a WAL snapshot that does not block writers) instead of ``BEGIN IMMEDIATE``."""

ERR_BAD_URL = (
    "GOVERNANCE_DB_URL={url!r} is not a supported database URL "
    "(expected e.g. sqlite:////var/lib/governance/governance.db or "
    "postgresql://user:pass@host:5432/governance)"
)


class DatabaseURLError(GovernanceError, ValueError):
    """``GOVERNANCE_DB_URL`` is not a database URL we support."""


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` to the psycopg 3 driver, which is the one we install."""
    try:
        parsed = make_url(url)
    except Exception:
        raise DatabaseURLError(ERR_BAD_URL.format(url=url)) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseURLError(ERR_BAD_URL.format(url=url))
    return parsed.render_as_string(hide_password=False)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: writers queue instead of failing with "database is
        # locked" on upgrade, and the audit chain's tip cannot move under a transaction.
        # Readers (READ_ONLY) take a deferred transaction: a snapshot that blocks nobody.
        # (straight on the driver: exec_driver_sql would cost a third of a whole append)
        read_only = conn.get_execution_options().get(READ_ONLY)
        conn.connection.driver_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (default :func:`governance.config.db_url`)."""
    url = normalise_url(url or config.db_url())
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 60, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _sqlite_setup(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def read_connection(engine: Engine, *, snapshot: bool = False) -> Connection:
    """A connection for reading only; ``snapshot=True`` makes every statement of its
    transaction see the same state (REPEATABLE READ on PostgreSQL; on SQLite in WAL mode a
    read transaction is a snapshot already)."""
    conn = engine.connect()
    options: dict[str, Any] = {READ_ONLY: True}
    if snapshot and engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    return conn.execution_options(**options)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
