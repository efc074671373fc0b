"""What the ``usage_retention`` DAG's task calls: :func:`purge_payloads` (task ``purge_payloads``),
Airflow-free.

Deletes the kept request/response payloads whose retention ran out and the quota counters of
windows closed two days ago, with one ``usage.payloads_purged`` audit event when anything went
(:func:`governance.usage.retention.purge_expired`). Idempotent: a rerun finds nothing expired
and writes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from governance.tasks._shared import SYSTEM_ACTOR, governance_store

log = logging.getLogger("governance.usage")


def purge_payloads(*, now: datetime | None = None) -> dict[str, Any]:
    """Task ``purge_payloads``: purge what expired at ``now`` (default: the current time);
    returns the counts (the task's XCom: numbers and times, never payload text)."""
    from governance.usage.retention import purge_expired

    result = purge_expired(governance_store().engine, now=now, actor=SYSTEM_ACTOR)
    log.info("%s", result.summary())
    return result.to_dict()
