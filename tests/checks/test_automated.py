"""run_automated_checks end to end, card completeness, and the report's JSON form."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from pathlib import Path

import pytest

from governance.checks import automated as auto
from governance.checks.artifact import CHECK_ARTIFACT_INTEGRITY, CHECK_PICKLE_SCAN
from governance.checks.expectations import CHECK_EVALUATION_DATA, CHECK_METRICS
from tests.checks.conftest import DEMO_CARDS, INCLUDE, make_card


@pytest.mark.parametrize("card_file", DEMO_CARDS)
def test_every_demo_card_passes_every_check(card_file: str) -> None:
    report = auto.run_automated_checks(make_card(card_file), include_dir=INCLUDE)
    assert report.passed, report.reasons
    assert [c.name for c in report.checks] == list(auto.CHECK_NAMES)
    assert all(c.passed and c.reasons == [] for c in report.checks)


def test_default_include_dir_is_the_configured_one() -> None:
    report = auto.run_automated_checks(make_card())
    assert report.passed, report.reasons


def test_report_is_json_and_round_trips() -> None:
    report = auto.run_automated_checks(make_card(), include_dir=INCLUDE)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["passed"] is True and data["model"] == "credit-scorer:1.2.0"
    again = auto.AutomatedCheckReport.from_dict(data)
    assert again.to_dict() == data
    assert again.check(CHECK_EVALUATION_DATA).details["rows"] == 600


def test_from_dict_accepts_stored_evidence_without_passed() -> None:
    checks = [
        {"name": CHECK_METRICS, "passed": True, "reasons": [], "details": {}},
        {"name": CHECK_PICKLE_SCAN, "passed": False, "reasons": ["bad"], "details": {}},
    ]
    report = auto.AutomatedCheckReport.from_dict({"checks": checks})
    assert not report.passed
    assert report.reasons == [f"{CHECK_PICKLE_SCAN}: bad"]


def test_every_failure_is_reported_together(tmp_path: Path) -> None:
    evil = pickle.dumps(type("Evil", (), {"__reduce__": lambda self: (os.system, ("echo pwned",))})())
    (tmp_path / "evil.pkl").write_bytes(evil)
    card = make_card(
        explainability_uri=None,
        evaluation={"dataset_uri": "demo/eval/missing.csv", "metrics": {"auc": {"value": 0.81, "threshold": 0.85}}},
        artifact={"uri": str(tmp_path / "evil.pkl"), "sha256": "b" * 64, "format": "pickle"},
    )
    report = auto.run_automated_checks(card, include_dir=INCLUDE)
    assert not report.passed
    assert {c.name for c in report.failed_checks} == set(auto.CHECK_NAMES)
    assert "evaluation_metrics: evaluation.metrics.auc: 0.81 is below the declared threshold 0.85" in report.reasons
    assert report.check(CHECK_ARTIFACT_INTEGRITY).details["sha256_actual"] == hashlib.sha256(evil).hexdigest()
    json.dumps(report.to_dict(), allow_nan=False)


def test_a_crashing_check_becomes_a_failed_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(auto, "check_evaluation_data", boom)
    report = auto.run_automated_checks(make_card(), include_dir=INCLUDE)
    failed = report.check(CHECK_EVALUATION_DATA)
    assert not report.passed and failed is not None and not failed.passed
    assert failed.reasons == [
        auto.ERR_CHECK_CRASHED.format(check=CHECK_EVALUATION_DATA, problem="RuntimeError: disk on fire")
    ]
    assert report.check(CHECK_METRICS).passed  # the other checks still ran


def test_warm_run_is_fast() -> None:
    card = make_card()
    auto.run_automated_checks(card, include_dir=INCLUDE)  # GX import + context creation
    started = time.perf_counter()
    report = auto.run_automated_checks(card, include_dir=INCLUDE)
    elapsed = time.perf_counter() - started
    assert report.passed
    assert elapsed < 3.0, f"a warm run took {elapsed:.2f}s"


# --------------------------------------------------------------------------- completeness


@pytest.mark.parametrize("card_file", DEMO_CARDS)
def test_demo_cards_are_complete(card_file: str) -> None:
    result = auto.check_card_completeness(make_card(card_file))
    assert result.passed and result.details["score"] == 1.0 and result.details["missing"] == []


def test_high_risk_card_without_explainability_fails() -> None:
    result = auto.check_card_completeness(make_card(explainability_uri=None))
    assert not result.passed
    item = next(i for i in auto.card_checklist(make_card(explainability_uri=None)) if i.field == "explainability_uri")
    assert result.reasons == [
        auto.ERR_CARD_ITEM.format(field="explainability_uri", requirement=item.requirement, why=item.why)
    ]
    assert "this model: HIGH" in result.reasons[0]
    assert result.details["missing"] == ["explainability_uri"]
    assert result.details["score"] == round((result.details["applicable"] - 1) / result.details["applicable"], 3)


def test_low_risk_card_does_not_need_explainability() -> None:
    card = make_card("low_doc_tagger.yaml")
    assert card.explainability_uri is None
    result = auto.check_card_completeness(card)
    assert result.passed
    item = next(i for i in result.details["items"] if i["field"] == "explainability_uri")
    assert item["applies"] is False


def test_pii_autonomous_card_missing_statements() -> None:
    card = make_card(
        "critical_clinical_triage.yaml",
        data_minimisation=None,
        human_oversight=None,
        evaluation={
            "dataset_uri": "demo/eval/clinical-triage.csv",
            "metrics": {"accuracy": {"value": 0.91, "threshold": 0.88}, "recall_urgent": {"value": 0.95}},
        },
    )
    result = auto.check_card_completeness(card)
    assert not result.passed
    assert result.details["missing"] == ["evaluation.metrics", "data_minimisation", "human_oversight"]
    assert result.reasons[0].startswith(
        "card.evaluation.metrics: missing a threshold for every metric (missing for: recall_urgent)"
    )
    assert "recall_urgent" in result.reasons[0]


def test_short_intended_use_is_incomplete() -> None:
    result = auto.check_card_completeness(make_card(intended_use="Scoring."))
    assert result.details["missing"] == ["intended_use"]
