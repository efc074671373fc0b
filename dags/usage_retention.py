"""
# Usage retention

Every day, deletes what the usage policies no longer allow the governance database to keep:

- **payloads** (`usage_payloads`): request inputs and model outputs kept for a model whose
  `data_retention` policy sets `payload_retention_days: N` (only text in which no PII was
  found is ever kept); each row is deleted once its `expires_at` (stored + N days) has passed;
- **quota counters** (`usage_quota`) of hourly and daily windows that ended two days ago or
  more (nothing reads them again; the decisions themselves stay in `usage_decisions`).

Task: `purge_payloads`, in one transaction with **one audit event** `usage.payloads_purged`
(counts per kind, the oldest and newest expiry purged, the number of decisions concerned, the
quota counters dropped; never any text). When nothing expired, nothing is written: reruns
and catch-up runs are harmless. No catchup: each run purges everything expired by its time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import dag, task

from governance.orchestration.defaults import SCHEDULED_DEFAULT_ARGS


@dag(
    dag_id="usage_retention",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["governance", "usage", "retention"],
    default_args=SCHEDULED_DEFAULT_ARGS,
)
def usage_retention() -> None:
    @task
    def purge_payloads() -> dict[str, Any]:
        from governance.tasks import usage_retention

        return usage_retention.purge_payloads()

    purge_payloads()


usage_retention()
