"""
# Nightly compliance report

Every night, the compliance tracker over all **DEPLOYED** model versions: for each model, each
requirement its card declares (GDPR, SOC 2, HIPAA, EU AI Act), each check with pass/fail, the
reasons and the evidence it looked at, and the **trend against yesterday's report** (new,
fixed, now failing, still failing, still passing; models no longer in scope).

**Output** in the report store (S3 `reports/` prefix when S3 is configured, else
`<GOVERNANCE_DATA_DIR>/reports/`): `compliance/<date>/report.json` (for machines; tomorrow's
trend reads it) and `compliance/<date>/report.html` (self-contained, for people); a row in the
governance table `compliance_reports`; one audit event `compliance_report.recorded` per model
with its result, so a model's audit trail shows its nightly compliance history.

**Date**: the UTC day of the run's logical date, or of the trigger time for a manual run;
trigger with `{"report_date": "YYYY-MM-DD"}` to redo a day. **Reruns** never duplicate rows,
events or objects: the same results write nothing; changed ones replace the day's report and
write `compliance_report.updated` events for the models whose result changed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import dag, task

from governance.orchestration.defaults import SCHEDULED_DEFAULT_ARGS
from governance.orchestration.forms import report_date_param


@dag(
    dag_id="compliance_report_nightly",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["governance", "compliance", "nightly"],
    default_args=SCHEDULED_DEFAULT_ARGS,
    params={"report_date": report_date_param("Day of the report (YYYY-MM-DD); empty = the run's own day")},
)
def compliance_report_nightly() -> None:
    @task
    def compliance_report(*, params: dict[str, Any], dag_run: Any) -> dict[str, Any]:
        from governance.tasks import compliance_report_nightly

        return compliance_report_nightly.compliance_report(
            requested_date=params.get("report_date"), logical_date=dag_run.logical_date, run_after=dag_run.run_after
        )

    compliance_report()  # type: ignore[call-arg]  # Airflow passes the context arguments at run time


compliance_report_nightly()
