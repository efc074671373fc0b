"""S3ReportStore on a real S3 server, and report_store_from_config's choice of store."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.errors import GovernanceError
from governance.reports.s3_store import ERR_BAD_STORE, REPORTS_PREFIX, S3ReportStore, report_store_from_config
from governance.reports.store import ERR_BAD_KEY, ERR_NO_SUCH_KEY, LocalReportStore, ReportStore
from governance.s3 import make_client


@pytest.mark.s3
def test_put_get_exists_list(s3_settings):
    store = S3ReportStore.from_settings(s3_settings)
    assert isinstance(store, ReportStore)
    uri = store.put("bias/credit/1.0.0/2026-11-26.html", b"<html>ok</html>", "text/html")
    assert uri == f"s3://{s3_settings.bucket}/reports/bias/credit/1.0.0/2026-11-26.html"
    store.put("bias/credit/1.0.0/2026-11-26.json", b"{}", "application/json")
    store.put("compliance/2026-11-26.json", b"[]", "application/json")

    assert store.get("bias/credit/1.0.0/2026-11-26.html") == b"<html>ok</html>"
    assert store.exists("compliance/2026-11-26.json")
    assert not store.exists("compliance/2026-11-27.json")
    assert store.list("bias/") == ["bias/credit/1.0.0/2026-11-26.html", "bias/credit/1.0.0/2026-11-26.json"]
    assert store.list() == [*store.list("bias/"), "compliance/2026-11-26.json"]

    head = make_client(s3_settings).head_object(
        Bucket=s3_settings.bucket, Key=REPORTS_PREFIX + "compliance/2026-11-26.json"
    )
    assert head["ContentType"] == "application/json"
    store.put("compliance/2026-11-26.json", b"[1]", "application/json")  # a rerun replaces the report
    assert store.get("compliance/2026-11-26.json") == b"[1]"


@pytest.mark.s3
def test_missing_and_bad_keys(s3_settings):
    store = S3ReportStore.from_settings(s3_settings)
    with pytest.raises(KeyError) as err:
        store.get("nope.html")
    assert err.value.args[0] == ERR_NO_SUCH_KEY.format(key="nope.html", root=f"s3://{s3_settings.bucket}/reports/")
    for bad in ("/abs.html", "a/../b.html", ""):
        with pytest.raises(ValueError) as bad_err:
            store.put(bad, b"x", "text/html")
        assert str(bad_err.value) == ERR_BAD_KEY.format(key=bad)


def test_factory_chooses_the_store(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("GOVERNANCE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GOVERNANCE_REPORTS_STORE", raising=False)
    monkeypatch.delenv("GOVERNANCE_S3_ENDPOINT_URL", raising=False)
    local = report_store_from_config()
    assert isinstance(local, LocalReportStore) and local.root == tmp_path / "reports"

    monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "reports-bucket")
    s3 = report_store_from_config()
    assert isinstance(s3, S3ReportStore) and s3.bucket == "reports-bucket" and s3.endpoint == "http://127.0.0.1:9"

    monkeypatch.setenv("GOVERNANCE_REPORTS_STORE", "local")
    assert isinstance(report_store_from_config(), LocalReportStore)
    monkeypatch.delenv("GOVERNANCE_S3_ENDPOINT_URL")
    monkeypatch.setenv("GOVERNANCE_REPORTS_STORE", "s3")  # AWS S3: no endpoint needed
    assert isinstance(report_store_from_config(), S3ReportStore)
    monkeypatch.setenv("GOVERNANCE_REPORTS_STORE", "ftp")
    with pytest.raises(GovernanceError) as err:
        report_store_from_config()
    assert str(err.value) == ERR_BAD_STORE.format(value="ftp")
