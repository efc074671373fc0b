"""Airflow DAGs of the approval workflows, one per risk tier (``model_approval_low`` … ``_critical``).

Generated from ``include/workflows/approval.yaml`` and ``include/reviewer_groups.yaml``:
edit those files and the DAGs change at the next parse. Each DAG's own ``doc_md`` lists its
steps. ``governance.orchestration.dag_factory`` builds them; each task body is one call into
``governance.tasks.model_approval``.
"""

from __future__ import annotations

from governance.orchestration.dag_factory import build_approval_dag
from governance.workflows import TIERS, load_workflows

_workflows = load_workflows()

for _tier in TIERS:
    globals()[f"model_approval_{_tier}"] = build_approval_dag(_tier, _workflows)
