"""
# Audit archive

Ships **closed UTC days** of the governance audit trail to S3, with a **digest chain** and
**Object Lock** (COMPLIANCE retention), then **validates** what is in the bucket.

Tasks: `archive` → `validate`.

- `archive` writes every closed day not yet archived, up to the run's data interval, as
  `audit/events/date=YYYY-MM-DD/part-NNNN.jsonl.gz` plus `audit/digests/YYYY-MM-DD.json`
  (objects first, the digest last), and rechecks the run's own day against the database when
  it is already archived. Rerunning never rewrites or duplicates an object.
- `validate` recomputes the run's day(s) from S3: object SHA-256s, every event's hash, the
  chain across objects and days, the link to the previous digest, object versions, and the
  database's agreement. Any problem fails the task, naming each object and digest at fault.

S3 comes from the Airflow connection `governance_s3` (type `aws`; login/password = access key
and secret, extra `endpoint_url`, optional `bucket`) when it exists, else from
`GOVERNANCE_S3_*` / `AWS_*`. A failed task retries (S3 down, network); nothing half-written
counts as archived. Purging old events from the database is a separate, manual step:
`governance audit purge --older-than-days N --actor USER`.

Catchup starts at `GOVERNANCE_ARCHIVE_START` (the embedded default: the day of the first
audit event); days before it are archived by the first run all the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from airflow.sdk import dag, task

from governance import config
from governance.orchestration.defaults import SCHEDULED_DEFAULT_ARGS


@dag(
    dag_id="audit_archive",
    schedule="@daily",
    start_date=datetime.combine(config.archive_start(), time(), tzinfo=UTC),
    catchup=True,
    max_active_runs=1,  # days are archived in order: each digest links to the previous one
    doc_md=__doc__,
    tags=["governance", "audit"],
    default_args=SCHEDULED_DEFAULT_ARGS,
)
def audit_archive() -> None:
    @task
    def archive(
        *, data_interval_start: datetime | None = None, data_interval_end: datetime | None = None
    ) -> dict[str, Any]:
        # A manual run has no data interval in Airflow 3 (no logical date): the context then
        # has no such keys, and the run archives up to the start of the current UTC day.
        from governance.tasks import audit_archive

        return audit_archive.archive(data_interval_start=data_interval_start, data_interval_end=data_interval_end)

    @task
    def validate(summary: dict[str, Any]) -> dict[str, Any]:
        from governance.tasks import audit_archive

        return audit_archive.validate(summary)

    validate(archive())  # type: ignore[arg-type]  # the XComArg stands for archive's return value


audit_archive()
