"""Governance database: tables, migrations and the registry/audit repository.

The names below are loaded on first use (PEP 562), so that ``governance.audit`` can import
``governance.store.tables`` without importing the repository, which imports the audit trail.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from governance.store.engine import make_engine
    from governance.store.migrate import upgrade as migrate
    from governance.store.repository import GovernanceStore, ModelRecord, Registration

__all__ = ["GovernanceStore", "ModelRecord", "Registration", "make_engine", "migrate"]

_LAZY = {
    "GovernanceStore": ("governance.store.repository", "GovernanceStore"),
    "ModelRecord": ("governance.store.repository", "ModelRecord"),
    "Registration": ("governance.store.repository", "Registration"),
    "make_engine": ("governance.store.engine", "make_engine"),
    "migrate": ("governance.store.migrate", "upgrade"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'governance.store' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value
