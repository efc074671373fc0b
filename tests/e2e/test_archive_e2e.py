"""The audit archive on the embedded default: Airflow + SeaweedFS with its Object Lock bucket.

The walk-through of the archive issue, driven as an operator would: Airflow's catchup runs
of ``audit_archive`` ship the seeded closed days by themselves; a manual trigger over REST
(no data interval in Airflow 3) archives up to today and validates; ``governance audit
validate-archive`` passes, then fails naming the object after one part is overwritten and
another deleted. This test changes the session's bucket for good (Object Lock keeps every
version), so it is the last one here to look at ``audit/``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from governance.archive import digest_key
from governance.s3 import make_client, settings_for
from tests.e2e.conftest import EVENTS_PER_DAY, archive_days

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.s3]

DAG_ID = "audit_archive"


def _wait_catchup(admin: Any, *, timeout: float = 420) -> list[dict[str, Any]]:
    """Wait until the scheduled run for today exists and no run is queued or running."""
    today = datetime.now(UTC).date().isoformat()
    deadline = time.monotonic() + timeout
    while True:
        runs = admin.get(f"/api/v2/dags/{DAG_ID}/dagRuns", limit=100)["dag_runs"]
        scheduled = [r for r in runs if r["run_type"] == "scheduled"]
        caught_up = any((r["logical_date"] or "").startswith(today) for r in scheduled)
        if caught_up and all(r["state"] in ("success", "failed") for r in runs):
            return scheduled
        if time.monotonic() > deadline:
            pytest.fail(
                f"{DAG_ID}: catchup not done after {timeout} s: {[(r['dag_run_id'], r['state']) for r in runs]}"
            )
        time.sleep(3)


def _validate_archive(airflow: Any) -> subprocess.CompletedProcess[str]:
    """``governance audit validate-archive`` as typed in a second terminal: no S3 settings in
    the environment, only the data folder (the CLI finds the embedded default's server there)."""
    env = {k: v for k, v in airflow.env().items() if not k.startswith(("GOVERNANCE_S3_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "governance.cli", "audit", "validate-archive"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_archive_walkthrough_on_the_embedded_default(airflow, s3, as_user):
    admin = as_user("admin")
    days = archive_days()

    # --- Airflow catches up from the first audit event: one scheduled run per day, all green
    scheduled = _wait_catchup(admin)
    # catchup starts at the first audit event (GOVERNANCE_ARCHIVE_START set by the embedded default)
    assert min(r["logical_date"][:10] for r in scheduled) == days[0].isoformat()
    assert {r["logical_date"][:10] for r in scheduled} >= {d.isoformat() for d in days}
    assert all(r["state"] == "success" for r in scheduled), [(r["dag_run_id"], r["state"]) for r in scheduled]

    # --- a manual trigger (no data interval) archives up to today and validates
    run = admin.trigger(DAG_ID, {})
    done = admin.wait_run(DAG_ID, run["dag_run_id"], timeout=300)
    assert done["state"] == "success", f"manual {DAG_ID} run ended {done['state']}"
    summary = admin.xcom(DAG_ID, run["dag_run_id"], "archive")
    assert summary["validate_to"] == days[-1].isoformat()
    report = admin.xcom(DAG_ID, run["dag_run_id"], "validate")
    assert report["ok"] is True

    # --- what is in the bucket: per day, parts plus a digest linked to the previous one
    settings = settings_for(
        endpoint_url=s3.endpoint_url, bucket=s3.bucket, access_key_id=s3.access_key, secret_access_key=s3.secret_key
    )
    client = make_client(settings)
    previous = None
    parts: list[str] = []
    for day in days:
        raw = client.get_object(Bucket=s3.bucket, Key=digest_key(day))["Body"].read()
        digest = json.loads(raw)
        assert digest["date"] == day.isoformat() and digest["events"] == EVENTS_PER_DAY
        assert digest["previous_digest"] == previous
        keys = [o["key"] for o in digest["objects"]]
        assert keys and all(k.startswith(f"audit/events/date={day.isoformat()}/part-") for k in keys)
        lines = gzip.decompress(client.get_object(Bucket=s3.bucket, Key=keys[0])["Body"].read()).splitlines()
        assert json.loads(lines[0])["id"] == digest["first_event"]["id"]
        retention = client.get_object_retention(Bucket=s3.bucket, Key=keys[0])["Retention"]
        assert retention["Mode"] == "COMPLIANCE"
        parts += keys
        previous = {"key": digest_key(day), "sha256": hashlib.sha256(raw).hexdigest()}

    # --- the CLI recomputes everything from S3
    ok = _validate_archive(airflow)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (line,) = ok.stdout.strip().splitlines()
    assert line.startswith(f"OK: {len(days)} day(s) {days[0]}..{days[-1]}") and "digest chain intact" in line

    # --- overwrite one part (a new version), delete another (a delete marker): both named
    overwritten, deleted = parts[0], parts[-1]
    client.put_object(Bucket=s3.bucket, Key=overwritten, Body=gzip.compress(b'{"id": 1}\n'))
    client.delete_object(Bucket=s3.bucket, Key=deleted)
    bad = _validate_archive(airflow)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    out = bad.stdout
    assert f"OVERWRITTEN {overwritten}:" in out, out
    assert f"DELETED {deleted}:" in out, out
    assert out.strip().splitlines()[-1].startswith("FAIL:"), out
