"""Security findings for the security reviewer's HITL task."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest

from governance.checks import security as sec
from governance.checks.automated import AutomatedCheckReport, run_automated_checks
from governance.checks.base import CheckResult
from tests.checks.conftest import DEMO_CARDS, INCLUDE, make_card


class _SystemCall:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _findings(card) -> sec.SecurityFindings:
    return sec.security_findings(card, run_automated_checks(card, include_dir=INCLUDE))


@pytest.mark.parametrize("card_file", DEMO_CARDS)
def test_demo_cards_have_no_blocking_finding(card_file: str) -> None:
    findings = _findings(make_card(card_file))
    assert not findings.blocking, findings.to_markdown()
    assert findings.finding(sec.FINDING_PICKLE_SCAN).severity == sec.Severity.INFO
    assert findings.finding(sec.FINDING_INTEGRITY).severity == sec.Severity.INFO
    # demo artifacts are pickles: inherently code-executing, so the reviewer is told
    fmt = findings.finding(sec.FINDING_FORMAT)
    assert fmt.severity == sec.Severity.MEDIUM and fmt.evidence["executes_code"] is True
    assert findings.highest == sec.Severity.MEDIUM


def test_malicious_pickle_is_critical(tmp_path: Path) -> None:
    data = pickle.dumps(_SystemCall())
    (tmp_path / "m.pkl").write_bytes(data)
    card = make_card(artifact={"uri": str(tmp_path / "m.pkl"), "sha256": hashlib.sha256(data).hexdigest()})
    findings = _findings(card)
    scan = findings.finding(sec.FINDING_PICKLE_SCAN)
    assert scan.severity == sec.Severity.CRITICAL
    assert findings.blocking and findings.highest == sec.Severity.CRITICAL
    assert scan.summary == sec.MSG_SCAN_DANGEROUS.format(globals=", ".join(scan.evidence["dangerous_globals"]))
    assert "system" in scan.summary


def test_sha_mismatch_is_critical_and_missing_artifact_is_high() -> None:
    card = make_card(artifact={"uri": "demo/artifacts/credit-scorer.pkl", "sha256": "c" * 64, "format": "pickle"})
    integrity = _findings(card).finding(sec.FINDING_INTEGRITY)
    assert integrity.severity == sec.Severity.CRITICAL
    assert integrity.summary.startswith("The artifact's SHA-256 is ")

    card = make_card(artifact={"uri": "demo/artifacts/gone.pkl", "sha256": "c" * 64, "format": "pickle"})
    findings = _findings(card)
    assert findings.finding(sec.FINDING_INTEGRITY).severity == sec.Severity.HIGH
    assert findings.finding(sec.FINDING_PICKLE_SCAN).severity == sec.Severity.HIGH


def test_missing_checks_in_the_report_are_high() -> None:
    findings = sec.security_findings(make_card(), AutomatedCheckReport(passed=True, checks=[]))
    assert findings.finding(sec.FINDING_PICKLE_SCAN).summary == sec.MSG_SCAN_MISSING
    assert findings.finding(sec.FINDING_INTEGRITY).summary == sec.MSG_INTEGRITY_MISSING
    assert findings.blocking


def test_suspicious_globals_are_medium() -> None:
    scan = CheckResult(
        name="pickle_scan",
        passed=True,
        details={"dangerous_globals": [], "suspicious_globals": ["sklearn.linear_model.LogisticRegression"]},
    )
    findings = sec.security_findings(make_card(), AutomatedCheckReport(passed=True, checks=[scan]))
    assert findings.finding(sec.FINDING_PICKLE_SCAN).severity == sec.Severity.MEDIUM


def test_safetensors_format_is_info() -> None:
    card = make_card(artifact={"uri": "s3://models/m.safetensors", "sha256": "d" * 64})
    finding = sec._format_finding(card)
    assert finding.severity == sec.Severity.INFO
    assert "(inferred from the file name)" in finding.summary


def test_personal_data_findings() -> None:
    assert sec._pii_finding(make_card("low_doc_tagger.yaml")).severity == sec.Severity.INFO
    assert sec._pii_finding(make_card()).severity == sec.Severity.LOW
    unminimised = sec._pii_finding(make_card(data_minimisation=None))
    assert unminimised.severity == sec.Severity.HIGH and unminimised.summary == sec.MSG_PII_UNMINIMISED


def test_external_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "governance")
    assert sec._uri_finding(make_card()).severity == sec.Severity.INFO
    card = make_card(explainability_uri="https://example.com/shap.html")
    finding = sec._uri_finding(card)
    assert finding.severity == sec.Severity.MEDIUM
    assert "explainability_uri=https://example.com/shap.html" in finding.summary
    card = make_card(predictions_location="s3://other-team/preds/")
    finding = sec._uri_finding(card)
    assert finding.severity == sec.Severity.LOW
    assert finding.evidence["classified"]["predictions_location"] == "S3 bucket other-team"


def test_markdown_and_dict() -> None:
    card = make_card(data_minimisation=None)
    findings = _findings(card)
    md = findings.to_markdown()
    assert md.splitlines()[0] == "### Security findings: credit-scorer 1.2.0"
    assert "| Severity | Finding | Details |" in md
    assert "Blocking findings" in md
    # most severe first
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith(("| Severity", "| ---"))]
    assert rows[0].startswith("| HIGH | Personal data |")
    data = json.loads(json.dumps(findings.to_dict(), allow_nan=False))
    assert data["blocking"] is True and data["highest_severity"] == "HIGH"
    assert data["counts"]["HIGH"] == 1
    assert sec.SecurityFindings.from_dict(data).to_dict() == data


def test_markdown_escapes_table_cells() -> None:
    finding = sec.Finding(id="x", title="a|b", severity=sec.Severity.LOW, summary="line1\nline2 | x")
    md = sec.SecurityFindings(model="m 1.0.0", findings=[finding]).to_markdown()
    assert "| LOW | a\\|b | line1 line2 \\| x |" in md
