"""What the task modules of ``governance/tasks/`` share: the governance store of this process
and the actor named on the records the pipeline itself writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from governance import config

if TYPE_CHECKING:
    from governance.store import GovernanceStore

SYSTEM_ACTOR = "governance"
"""Actor of evidence and transitions written by the pipeline (no human behind them)."""


def governance_store() -> GovernanceStore:
    """The governance store of this process: one engine per process (the API server's answer
    capture calls the review functions once per answer)."""
    from governance.store import shared_store

    return shared_store(config.db_url())
