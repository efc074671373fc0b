"""Builds the approval DAGs ``model_approval_<tier>`` (one per risk tier) from the workflow
definition; each task body is one call into ``governance.tasks.model_approval``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task
from airflow.sdk.exceptions import AirflowSkipException

from governance.orchestration.defaults import ON_DEMAND_DEFAULT_ARGS
from governance.orchestration.operators import GovernanceReviewOperator
from governance.workflows import OPTIONS, StepKind, WorkflowDefinition

MODEL_ID_SCHEMA = {"type": "string", "pattern": "^m-[0-9a-f]{12}$", "description": "id of a REVIEW_PENDING model"}
START = datetime(2026, 1, 1)


def _doc(tier: str, wf: WorkflowDefinition) -> str:
    lines = [
        f"# Model approval — {tier.upper()} risk tier",
        "",
        'Triggered by `model_submission` with `{"model_id": "m-…"}` once a model version is registered,',
        f"risk-assessed as **{tier.upper()}** and set to REVIEW_PENDING. Generated from",
        "`include/workflows/approval.yaml`; steps, in order:",
        "",
    ]
    for name, step in wf.steps_for(tier):
        who = f" — group `{step.group}`, timeout {step.response_timeout}" if step.group else ""
        extra = f", {step.approvals} distinct approvers" if step.approvals > 1 else ""
        lines.append(f"1. **{step.title}** (`{name}`, {step.kind.value}{who}{extra})")
    lines += [
        "",
        "Reviewers answer under **Required Actions**. The model's owner is never a reviewer.",
        "A failed check, a negative answer or a timeout skips the remaining steps;",
        "`record_decision` always runs and sets APPROVED (with who approved) or DEVELOPMENT",
        "(with the failed step and reasons). Every result and answer is in the audit trail.",
        "A model that declares an EU AI Act Art. 5 prohibited practice is rejected at every tier.",
        "A review task marked success / failed / skipped by hand is not an answer: the model goes",
        "back to DEVELOPMENT with that reason, and the audit trail names who changed the task.",
    ]
    return "\n".join(lines)


def build_approval_dag(tier: str, wf: WorkflowDefinition) -> DAG:
    tier = tier.lower()
    with DAG(
        dag_id=f"model_approval_{tier}",
        schedule=None,
        start_date=START,
        catchup=False,
        doc_md=_doc(tier, wf),
        tags=["governance", "approval", tier],
        default_args=ON_DEMAND_DEFAULT_ARGS,
        params={
            "model_id": Param(
                type="string", pattern=MODEL_ID_SCHEMA["pattern"], description=MODEL_ID_SCHEMA["description"]
            )
        },
        max_active_runs=16,
        render_template_as_native_obj=False,
    ) as dag:
        previous: Any = None
        for name, step in wf.steps_for(tier):
            for t in _step_tasks(name, step, tier):
                if previous is not None:
                    previous >> t
                previous = t

        @task(task_id="record_decision", trigger_rule="all_done")
        def record_decision(*, params: dict[str, Any], run_id: str) -> dict[str, Any]:
            from governance.tasks import model_approval

            return model_approval.record_decision(model_id=params["model_id"], run_id=run_id, tier=tier)

        previous >> record_decision()  # type: ignore[call-arg]  # Airflow passes the context arguments at run time
    return dag


def _step_tasks(name: str, step: Any, tier: str) -> list[Any]:
    if step.kind == StepKind.AUTOMATED:

        @task(task_id=name)
        def automated(*, params: dict[str, Any], run_id: str) -> dict[str, Any]:
            from governance.tasks import model_approval

            result = model_approval.automated_checks(model_id=params["model_id"], run_id=run_id, tier=tier, step=name)
            if not result["passed"]:
                raise AirflowSkipException("automated checks failed: " + "; ".join(result["reasons"]))
            return result

        return [automated()]  # type: ignore[call-arg]  # Airflow passes the context arguments at run time
    tasks: list[Any] = []
    if step.kind == StepKind.COMPLIANCE:

        @task(task_id=name)
        def compliance(*, params: dict[str, Any], run_id: str) -> dict[str, Any]:
            from governance.tasks import model_approval

            result = model_approval.compliance_check(model_id=params["model_id"], run_id=run_id, tier=tier, step=name)
            if not result["passed"]:
                raise AirflowSkipException("compliance checks failed: " + "; ".join(result["reasons"]))
            return result

        tasks.append(compliance())  # type: ignore[call-arg]  # Airflow passes the context arguments at run time
    positive, negative = OPTIONS[step.kind]
    for task_id in step.review_task_ids(name):
        tasks.append(
            GovernanceReviewOperator(
                task_id=task_id,
                step=name,
                kind=step.kind.value,
                group=step.group,
                tier=tier,
                positive=positive,
                negative=negative,
                response_timeout=step.response_timeout,
                retries=3,
                retry_delay=timedelta(seconds=2),
            )
        )
    return tasks
