"""governance.store: the governance database: engines, tables, migrations and the registry.

The names below are loaded on first use (PEP 562), so that ``governance.audit`` can import
``governance.store.engine`` and ``governance.store.tables`` without importing the repository,
which imports the audit trail.

Long-running processes (the API server, the HITL answer capture, task code) open the store
with :func:`shared_store`: one engine per process and database, reused by every call.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from governance.store.engine import dispose_shared, make_engine, shared_engine
    from governance.store.migrate import upgrade as migrate
    from governance.store.repository import GovernanceStore, ModelRecord, Registration

__all__ = [
    "GovernanceStore",
    "ModelRecord",
    "Registration",
    "dispose_shared",
    "make_engine",
    "migrate",
    "shared_engine",
    "shared_store",
]

_LAZY = {
    "GovernanceStore": ("governance.store.repository", "GovernanceStore"),
    "ModelRecord": ("governance.store.repository", "ModelRecord"),
    "Registration": ("governance.store.repository", "Registration"),
    "make_engine": ("governance.store.engine", "make_engine"),
    "shared_engine": ("governance.store.engine", "shared_engine"),
    "dispose_shared": ("governance.store.engine", "dispose_shared"),
    "migrate": ("governance.store.migrate", "upgrade"),
}


def shared_store(url: str | None = None) -> GovernanceStore:
    """The store over this process's shared engine for ``url`` (default
    :func:`governance.config.db_url`); see :func:`governance.store.engine.shared_engine`.

    The engine (pool, connections) is shared; the :class:`GovernanceStore` around it is a new
    light object per call, so callers share no per-instance state. Never ``dispose()`` its
    engine: use :func:`dispose_shared`.
    """
    from governance.store.engine import shared_engine
    from governance.store.repository import GovernanceStore

    return GovernanceStore(shared_engine(url))


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'governance.store' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value
