"""Governance database: tables, migrations and the registry/audit repository."""

from governance.store.engine import make_engine
from governance.store.migrate import upgrade as migrate
from governance.store.repository import GovernanceStore, ModelRecord, Registration

__all__ = ["GovernanceStore", "ModelRecord", "Registration", "make_engine", "migrate"]
