"""governance.store.engine: engines for the governance database, SQLite (default) or PostgreSQL.

:func:`make_engine` creates an engine; :func:`shared_engine` hands out the one engine of this
process for a database URL (created on first use, then reused), which is what long-running
processes such as the API server use, so that a request costs no new engine, pool or
connection. :func:`read_connection` opens a read-only (optionally snapshot) connection;
:func:`dbapi_in_transaction` and :func:`dbapi_sql` serve code that runs raw SQL on the driver.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
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


def dbapi_in_transaction(conn: Connection) -> Any:
    """The DBAPI connection under ``conn``, inside ``conn``'s transaction (begun if needed):
    for hot paths (audit appends and verify) that run raw SQL on the driver."""
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.dbapi_connection


def dbapi_sql(template: str, conn_or_dialect: Connection | str) -> str:
    """``template`` with each ``{p}`` replaced by the driver's placeholder (``%s`` for psycopg,
    ``?`` for sqlite3); ``conn_or_dialect`` is a connection or a dialect name."""
    name = conn_or_dialect if isinstance(conn_or_dialect, str) else conn_or_dialect.dialect.name
    return template.format(p="%s" if name == "postgresql" else "?")


# ----------------------------------------------------------------------------- shared engines

SHARED_MAX = 8
"""Most shared engines one process keeps (least recently used one disposed beyond that). A
deployed process uses one database; the bound keeps a test session that points
``GOVERNANCE_DB_URL`` at a new file per test from piling up open files."""


@dataclass(eq=False)
class _Shared:
    engine: Engine
    path: str | None  # the SQLite file, None for PostgreSQL / in-memory SQLite
    file_id: tuple[int, int] | None = None  # (st_dev, st_ino) of the file the pool first opened

    @classmethod
    def open(cls, url: str) -> _Shared:
        engine = make_engine(url)
        parsed = make_url(url)
        path = parsed.database if parsed.get_backend_name() == "sqlite" else None
        entry = cls(engine=engine, path=path if path and path != ":memory:" else None)
        if entry.path is not None:

            @event.listens_for(engine, "connect")
            def _remember_file(_dbapi_conn: Any, _record: Any) -> None:
                if entry.file_id is None:
                    entry.file_id = _file_id(entry.path)

        return entry

    def stale(self) -> bool:
        """The SQLite file the pooled connections opened was deleted or replaced since (a test
        recreating its database, a restore from backup): they would read the old file."""
        return self.file_id is not None and _file_id(self.path) != self.file_id


def _file_id(path: str | None) -> tuple[int, int] | None:
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st else None


_shared: OrderedDict[str, _Shared] = OrderedDict()
_shared_pid = os.getpid()
_shared_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def _shared_key(url: str) -> str:
    return normalise_url(url)


def shared_engine(url: str | None = None) -> Engine:
    """This process's engine for ``url`` (default :func:`governance.config.db_url`).

    One engine per (process, normalised URL), created on first use and reused by every caller
    and thread (the pool hands each thread its own connection). A forked child never uses its
    parent's engine: it gets its own on first use. Do not ``dispose()`` the engine you are
    given; :func:`dispose_shared` does that.
    """
    key = _shared_key(url or config.db_url())
    with _shared_lock:
        if _shared_pid != os.getpid():  # forked without the at-fork hook (it normally runs)
            _forget_inherited()
        entry = _shared.get(key)
        if entry is not None and entry.stale():
            del _shared[key]
            entry.engine.dispose()
            entry = None
        if entry is None:
            entry = _shared[key] = _Shared.open(key)
            while len(_shared) > SHARED_MAX:
                _, oldest = _shared.popitem(last=False)
                oldest.engine.dispose()  # connections in use are closed when their user returns them
        else:
            _shared.move_to_end(key)
        return entry.engine


def dispose_shared(url: str | None = None) -> None:
    """Close this process's shared engine for ``url``, or all of them when ``url`` is None; the
    next :func:`shared_engine` call opens a new one."""
    with _shared_lock:
        if url is None:
            entries = list(_shared.values())
            _shared.clear()
        else:
            entry = _shared.pop(_shared_key(url), None)
            entries = [entry] if entry is not None else []
    for entry in entries:
        entry.engine.dispose()


def _forget_inherited() -> None:
    """In a forked child: drop the parent's engines without closing their connections (they
    belong to the parent; SQLAlchemy's recipe for fork), and start afresh."""
    global _shared_pid
    for entry in _shared.values():
        entry.engine.dispose(close=False)
    _shared.clear()
    _shared_pid = os.getpid()


def _after_fork_in_child() -> None:
    global _shared_lock
    _shared_lock = threading.Lock()  # another thread may have held it at the moment of fork
    _forget_inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)
