"""
# Model submission

Submit a model version for governance review. **Trigger this DAG with the model card as the
run's configuration** (UI form, REST API, or `governance submit card.yaml`): every
top-level key is a card field, and the form refuses malformed values before a run starts.

**The card is exactly the run's configuration**, what you sent: a field you leave out is never
filled in from the form's pre-filled values (the embedded default pre-fills the form with a
demo card). A trigger lacking a required field is refused: Airflow answers HTTP 400 when the
form has no value for it, otherwise the run fails at `validate_card` naming every missing field.

The **owner is you**, the authenticated user who triggers the run — a card cannot name
anyone else.

Tasks: `validate_card` → `register` (status DEVELOPMENT) → `assess_risk` (LOW / MEDIUM /
HIGH / CRITICAL, with the reasons and the EU AI Act category) → `request_review`
(REVIEW_PENDING) → `start_approval` triggers `model_approval_<tier>` with the model id.

A refused card writes nothing; the run fails at `validate_card` listing every problem
(field, what is wrong, an example of a right value).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from governance.orchestration.defaults import ON_DEMAND_DEFAULT_ARGS
from governance.orchestration.forms import card_params


@dag(
    dag_id="model_submission",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["governance", "submission"],
    default_args=ON_DEMAND_DEFAULT_ARGS,
    params=card_params(),
    max_active_runs=16,
)
def model_submission() -> None:
    @task(retries=0)
    def validate_card(*, dag_run: Any) -> dict[str, Any]:
        from governance.tasks import model_submission

        # the conf alone: the run's params also hold the form's defaults for fields left out
        return model_submission.validate_card(conf=dag_run.conf)

    @task(retries=0)
    def register(card: dict[str, Any], *, dag_run: Any, run_id: str) -> dict[str, Any]:
        from governance.tasks import model_submission

        return model_submission.register(card=card, submitter=dag_run.triggering_user_name, run_id=run_id)

    @task
    def assess_risk(registered: dict[str, Any], *, run_id: str) -> dict[str, Any]:
        from governance.tasks import model_submission

        return model_submission.assess_risk(model_id=registered["model_id"], run_id=run_id)

    @task
    def request_review(assessed: dict[str, Any], *, run_id: str) -> dict[str, Any]:
        from governance.tasks import model_submission

        return model_submission.request_review(model_id=assessed["model_id"], run_id=run_id)

    assessed = assess_risk(register(validate_card()))  # type: ignore[call-arg,arg-type]  # Airflow passes run_id/dag_run; XComArgs stand for return values
    pending = request_review(assessed)  # type: ignore[call-arg,arg-type]  # Airflow passes run_id; the XComArg stands for the return value
    start_approval = TriggerDagRunOperator(
        task_id="start_approval",
        trigger_dag_id="model_approval_{{ ti.xcom_pull(task_ids='assess_risk')['tier'] }}",
        trigger_run_id="approval__{{ ti.xcom_pull(task_ids='assess_risk')['model_id'] }}__{{ run_id }}",
        conf={"model_id": "{{ ti.xcom_pull(task_ids='assess_risk')['model_id'] }}"},
        skip_when_already_exists=True,
        wait_for_completion=False,
    )
    pending >> start_approval


model_submission()
