"""The ``default_args`` of every governance DAG: owner ``governance``, two retries, and a retry
delay that depends on who waits for the run.

- :data:`ON_DEMAND_DEFAULT_ARGS` (5 s): ``model_submission`` and ``model_approval_<tier>``,
  triggered by a person who waits for the outcome; their failures are brief (a busy database).
- :data:`SCHEDULED_DEFAULT_ARGS` (5 min): ``audit_archive``, ``bias_audit_nightly``,
  ``compliance_report_nightly`` and ``usage_retention``; their failures are outages (S3, network) worth waiting out.

Airflow copies ``default_args`` into each DAG, so sharing one mapping is safe.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

OWNER = "governance"
RETRIES = 2

ON_DEMAND_DEFAULT_ARGS: dict[str, Any] = {"owner": OWNER, "retries": RETRIES, "retry_delay": timedelta(seconds=5)}
SCHEDULED_DEFAULT_ARGS: dict[str, Any] = {"owner": OWNER, "retries": RETRIES, "retry_delay": timedelta(minutes=5)}
