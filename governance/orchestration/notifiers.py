"""Notifiers of the governance DAGs (``governance/orchestration/notifiers.py``): ``LogNotifier``,
the default one, fired when a review request expires unanswered (``GovernanceReviewOperator``)
and when a nightly bias audit raises its screening flag (``dags/bias_audit_nightly.py``)."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger("governance.notifications")


class LogNotifier(BaseNotifier):
    """Writes the notification to the ``governance.notifications`` log (and the task log)."""

    template_fields = ("message",)

    def __init__(self, *, message: str = "") -> None:
        super().__init__()
        self.message = message

    def notify(self, context: Any) -> None:
        ti = context.get("ti")
        where = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}" if ti is not None else "?"
        log.warning("governance notification [%s]: %s", where, self.message)
