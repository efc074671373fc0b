"""What the nightly tasks share (governance.tasks._nightly): the report date; both nightly tasks on S3."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from governance.errors import GovernanceError
from governance.store import nightly_reports
from governance.tasks import _nightly as shared
from governance.tasks import bias_audit_nightly, compliance_report_nightly
from tests.support.nightly import DAY, NEXT_DAY, entry, include, seed, sqlite_store

__all__ = ["include", "sqlite_store"]  # pytest fixtures of tests.support.nightly


def test_report_day():
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert shared.report_day(requested="2026-01-02", logical_date=late) == date(2026, 1, 2)
    assert shared.report_day(requested=None, logical_date=late, run_after=datetime(2030, 1, 1)) == DAY
    assert shared.report_day(logical_date=None, run_after=datetime(2026, 11, 28, 0, 5)) == NEXT_DAY  # naive = UTC
    assert shared.report_day(requested="") == datetime.now(UTC).date()
    with pytest.raises(GovernanceError) as err:
        shared.report_day(requested="27/11/2026")
    assert str(err.value) == shared.ERR_BAD_DATE.format(value="27/11/2026")


@pytest.mark.s3
def test_reports_in_s3_as_in_the_embedded_default(sqlite_store, include, s3_settings):
    from governance.reports.s3_store import S3ReportStore

    reports = S3ReportStore.from_settings(s3_settings)
    seeded = seed(sqlite_store, include)
    run = {"store": sqlite_store, "reports": reports, "include_dir": include}
    out = bias_audit_nightly.audit_model(model=entry(seeded["credit-scorer"]), **run)
    bucket = s3_settings.bucket
    assert out["report_html"] == f"s3://{bucket}/reports/bias/credit-scorer/1.2.0-demo/2026-11-27/report.html"
    assert "Screening flag raised" in reports.get("bias/credit-scorer/1.2.0-demo/2026-11-27/report.html").decode()
    assert (
        bias_audit_nightly.audit_model(model=entry(seeded["credit-scorer"]), **run)["outcome"]
        == nightly_reports.OUTCOME_UNCHANGED
    )

    compliance_report_nightly.compliance_report(requested_date="2026-11-27", **run)
    nxt = compliance_report_nightly.compliance_report(requested_date="2026-11-28", **run)
    assert nxt["report_json"] == f"s3://{bucket}/reports/compliance/2026-11-28/report.json"
    assert json.loads(reports.get("compliance/2026-11-28/report.json"))["trend"]["baseline"] is not None
    assert (
        compliance_report_nightly.compliance_report(requested_date="2026-11-28", **run)["outcome"]
        == nightly_reports.OUTCOME_UNCHANGED
    )
