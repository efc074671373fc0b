"""Fixtures and helpers of the compliance tests: the throwaway SQLite store of the checks' tests,
and :func:`deploy` (a demo card registered, approved and deployed)."""

from governance.lifecycle import ModelStatus
from governance.store import GovernanceStore, ModelRecord
from tests.checks.conftest import sqlite_store, submit

__all__ = ["deploy", "sqlite_store"]


def deploy(store: GovernanceStore, card_file: str, *, owner: str = "alice", **changes) -> ModelRecord:
    """``card_file`` submitted by ``owner``, approved and deployed: in the nightly report's scope."""
    model = submit(store, card_file, owner=owner, **changes)
    store.transition(model.id, ModelStatus.APPROVED, actor="governance", approved_by=["approver1"])
    store.transition(model.id, ModelStatus.DEPLOYED, actor=owner)
    return store.get(model.id)
