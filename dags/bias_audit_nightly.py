"""
# Nightly bias audit

Every night, one **fairlearn** bias audit per **DEPLOYED** model version whose card declares a
`predictions_location` and `protected_attributes` (one mapped task each, labelled with the
model's name and version; versions without them are skipped and logged by `list_models`).

**Prediction logs**: Parquet (a file or a folder, local or `s3://`) with the columns `label`
(true outcome, 0/1), `prediction` (the model's decision, 0/1, 1 = favourable) and the card's
protected attributes; `score` and `timestamp` are used when present. A relative
`predictions_location` is relative to the include folder (`GOVERNANCE_INCLUDE_DIR`), like a
card's other URIs.

**Output** per model and day, in the report store (S3 `reports/` prefix when S3 is configured,
else `<GOVERNANCE_DATA_DIR>/reports/`): `bias/<name>/<version>/<date>/report.json` and
`report.html`; a row in the governance table `bias_audits`; an audit event
`bias_audit.recorded` naming each flagged attribute and its groups. When the screening flag is
raised (disparate impact outside 0.8–1.2), a notifier fires (`LogNotifier`: the
`governance.notifications` log).

**Date**: the UTC day of the run's logical date (the midnight run is that day's audit), or of
the trigger time for a manual run; trigger with `{"report_date": "YYYY-MM-DD"}` to redo a day.
**Reruns** never duplicate rows, events or objects: the same outcome writes nothing, a changed
one replaces the day's reports and writes one `bias_audit.updated` event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import dag, task

from governance.orchestration.defaults import SCHEDULED_DEFAULT_ARGS
from governance.orchestration.forms import report_date_param
from governance.orchestration.notifiers import LogNotifier

BIAS_NOTIFIERS = (LogNotifier,)
"""Notifier classes fired with the flag's message (add e.g. a Slack or SMTP notifier here)."""


def _notify(context: Any) -> Any:
    def send(message: str) -> None:
        # notify() directly: the message holds data (group names), never a template to render
        for notifier in BIAS_NOTIFIERS:
            notifier(message=message).notify(context)

    return send


@dag(
    dag_id="bias_audit_nightly",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["governance", "bias", "nightly"],
    default_args=SCHEDULED_DEFAULT_ARGS,
    params={"report_date": report_date_param("Day to audit (YYYY-MM-DD); empty = the run's own day")},
)
def bias_audit_nightly() -> None:
    @task
    def list_models(*, params: dict[str, Any], dag_run: Any) -> list[dict[str, str]]:
        from governance.tasks import bias_audit_nightly

        return bias_audit_nightly.list_models(
            requested_date=params.get("report_date"), logical_date=dag_run.logical_date, run_after=dag_run.run_after
        )

    @task(map_index_template="{{ task.op_kwargs['model']['name'] }} {{ task.op_kwargs['model']['version'] }}")
    def audit_model(model: dict[str, str], **context: Any) -> dict[str, Any]:
        from governance.tasks import bias_audit_nightly

        return bias_audit_nightly.audit_model(model=model, notify=_notify(context))

    audit_model.expand(model=list_models())  # type: ignore[call-arg]  # Airflow passes the context arguments at run time


bias_audit_nightly()
