"""Real Great Expectations 1.x validations of evaluation datasets and declared metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from governance.cards import Metric
from governance.checks import expectations as ex
from governance.checks.base import ERR_NOT_FOUND, ERR_OUTSIDE_INCLUDE, ERR_UNSUPPORTED_SCHEME
from tests.checks.conftest import DEMO_CARDS, INCLUDE, make_card


@pytest.mark.parametrize("card_file", DEMO_CARDS)
def test_demo_datasets_pass_the_suite(card_file: str) -> None:
    result = ex.check_evaluation_data(make_card(card_file), include_dir=INCLUDE)
    assert result.passed, result.reasons
    assert result.reasons == []
    assert result.details["rows"] == 600
    assert result.details["failed_expectations"] == []
    # the loaded suite plus the card's own expectations all ran
    suite = json.loads((INCLUDE / "expectations" / ex.DATASET_SUITE_FILE).read_text())
    assert result.details["expectations"] > len(suite["expectations"])


def test_missing_column_fails_once_with_clear_reason(eval_card, demo_frame, include_copy: Path) -> None:
    card = eval_card(demo_frame.drop(columns=["score"]))
    result = ex.check_evaluation_data(card, include_dir=include_copy)
    assert not result.passed
    present = ", ".join(c for c in demo_frame.columns if c != "score")
    assert result.reasons == [ex.ERR_MISSING_COLUMN.format(column="score", present=present)]
    # expectations on the missing column are reported as not evaluated, not as extra reasons
    assert "No missing scores" in result.details["not_evaluated_because_of_missing_columns"]
    assert "Scores are probabilities in [0, 1]" in result.details["not_evaluated_because_of_missing_columns"]


def test_nulls_fail_with_count_and_rows(eval_card, demo_frame, include_copy: Path) -> None:
    frame = demo_frame.copy()
    frame.loc[[3, 10, 42], "prediction"] = None
    result = ex.check_evaluation_data(eval_card(frame), include_dir=include_copy)
    assert not result.passed
    expected = ex.ERR_NULLS.format(column="prediction", count=3, rows=600, examples="4, 11, 43")
    assert expected in result.reasons


def test_protected_attribute_nulls_and_absence_fail(eval_card, demo_frame, include_copy: Path) -> None:
    frame = demo_frame.drop(columns=["race"])
    frame.loc[0, "sex"] = None
    result = ex.check_evaluation_data(eval_card(frame), include_dir=include_copy)
    assert not result.passed
    assert any(r.startswith("evaluation data: required column 'race' is missing") for r in result.reasons)
    assert ex.ERR_NULLS.format(column="sex", count=1, rows=600, examples="1") in result.reasons


def test_out_of_range_score_fails(eval_card, demo_frame, include_copy: Path) -> None:
    frame = demo_frame.copy()
    frame.loc[5, "score"] = 1.7
    frame.loc[6, "score"] = -0.2
    result = ex.check_evaluation_data(eval_card(frame), include_dir=include_copy)
    assert not result.passed
    assert result.reasons == [
        ex.ERR_OUT_OF_RANGE.format(column="score", count=2, low="0", high="1", examples="1.7, -0.2")
    ]


def test_non_binary_labels_fail(eval_card, demo_frame, include_copy: Path) -> None:
    frame = demo_frame.copy()
    frame.loc[0, "label"] = 2
    result = ex.check_evaluation_data(eval_card(frame), include_dir=include_copy)
    assert not result.passed
    assert ex.ERR_NOT_IN_SET.format(column="label", count=1, allowed="{0, 1}", examples="2") in result.reasons


def test_too_few_rows_fail(eval_card, demo_frame, include_copy: Path) -> None:
    result = ex.check_evaluation_data(eval_card(demo_frame.head(50)), include_dir=include_copy)
    assert not result.passed
    assert result.reasons == [ex.ERR_TOO_FEW_ROWS.format(rows=50, minimum=100)]


def test_single_class_labels_fail_balance(eval_card, demo_frame, include_copy: Path) -> None:
    frame = demo_frame.copy()
    frame["label"] = 0
    frame["prediction"] = 0
    result = ex.check_evaluation_data(eval_card(frame), include_dir=include_copy)
    assert not result.passed
    assert result.reasons == [ex.ERR_LABEL_BALANCE.format(column="label", share=0.0, minimum=0.1)]


def test_accuracy_recomputed_from_data_below_threshold_fails(eval_card, demo_frame, include_copy: Path) -> None:
    frame = demo_frame.copy()
    frame["prediction"] = 1 - frame["label"]  # every prediction wrong
    frame.loc[:299, "prediction"] = frame.loc[:299, "label"]  # half right: accuracy 0.5
    result = ex.check_evaluation_data(eval_card(frame), include_dir=include_copy)
    assert not result.passed
    expected = ex.ERR_ACCURACY.format(label="label", prediction="prediction", observed=0.5, threshold=0.8)
    assert result.reasons == [expected]


def test_label_column_from_card_is_used(eval_card, demo_frame, include_copy: Path) -> None:
    frame = demo_frame.rename(columns={"label": "defaulted"})
    doc_eval = {
        "dataset_uri": "demo/eval/renamed.csv",
        "label_column": "defaulted",
        "metrics": {"accuracy": {"value": 0.86, "threshold": 0.8}},
    }
    card = eval_card(frame, name="renamed.csv", evaluation=doc_eval)
    result = ex.check_evaluation_data(card, include_dir=include_copy)
    assert result.passed, result.reasons
    # and the renamed label column is really the one validated
    frame.loc[0, "defaulted"] = 7
    card = eval_card(frame, name="renamed.csv", evaluation=doc_eval)
    result = ex.check_evaluation_data(card, include_dir=include_copy)
    assert ex.ERR_NOT_IN_SET.format(column="defaulted", count=1, allowed="{0, 1}", examples="7") in result.reasons


def test_missing_dataset_is_a_failed_check(include_copy: Path) -> None:
    card = make_card(evaluation={"dataset_uri": "demo/eval/nope.csv", "metrics": {"auc": {"value": 0.9}}})
    result = ex.check_evaluation_data(card, include_dir=include_copy)
    assert not result.passed
    where = (include_copy / "demo" / "eval" / "nope.csv").resolve()
    assert result.reasons == [
        ERR_NOT_FOUND.format(field="evaluation.dataset_uri", uri="demo/eval/nope.csv", where=where)
    ]


def test_unreadable_csv_is_a_failed_check(include_copy: Path) -> None:
    (include_copy / "demo" / "eval" / "bad.csv").write_bytes(b"\xff\xfe\x00garbage\x00\n\x00")
    card = make_card(evaluation={"dataset_uri": "demo/eval/bad.csv", "metrics": {"auc": {"value": 0.9}}})
    result = ex.check_evaluation_data(card, include_dir=include_copy)
    assert not result.passed
    assert result.reasons[0].startswith("evaluation.dataset_uri: 'demo/eval/bad.csv' could not be parsed as CSV")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "https://example.com/eval.csv",
            ERR_UNSUPPORTED_SCHEME.format(
                field="evaluation.dataset_uri", uri="https://example.com/eval.csv", scheme="https"
            ),
        ),
        ("demo/../../outside.csv", None),
    ],
)
def test_unreadable_uris_are_failed_checks(include_copy: Path, uri: str, message: str | None) -> None:
    card = make_card(evaluation={"dataset_uri": uri, "metrics": {"auc": {"value": 0.9}}})
    result = ex.check_evaluation_data(card, include_dir=include_copy)
    assert not result.passed
    expected = message or ERR_OUTSIDE_INCLUDE.format(
        field="evaluation.dataset_uri", uri=uri, include=include_copy.resolve()
    )
    assert result.reasons == [expected]


def test_parquet_and_file_uri(tmp_path: Path, demo_frame) -> None:
    path = tmp_path / "eval.parquet"
    demo_frame.to_parquet(path)
    card = make_card(
        evaluation={"dataset_uri": f"file://{path}", "metrics": {"accuracy": {"value": 0.86, "threshold": 0.8}}}
    )
    result = ex.check_evaluation_data(card, include_dir=INCLUDE)
    assert result.passed, result.reasons


def test_suite_with_an_invalid_expectation_is_refused(include_copy: Path) -> None:
    path = include_copy / "expectations" / ex.DATASET_SUITE_FILE
    suite = json.loads(path.read_text())
    suite["expectations"].append({"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "score"}})
    path.write_text(json.dumps(suite))
    result = ex.check_evaluation_data(make_card(), include_dir=include_copy)
    assert not result.passed
    assert result.reasons == [ex.ERR_SUITE_DROPPED.format(path=path, dropped=1)]


def test_missing_suite_is_refused(include_copy: Path) -> None:
    path = include_copy / "expectations" / ex.METRICS_SUITE_FILE
    path.unlink()
    result = ex.check_metrics(make_card(), include_dir=include_copy)
    assert not result.passed
    assert result.reasons == [ex.ERR_SUITE_MISSING.format(path=path)]


# --------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("card_file", DEMO_CARDS)
def test_demo_metrics_pass(card_file: str) -> None:
    result = ex.check_metrics(make_card(card_file), include_dir=INCLUDE)
    assert result.passed, result.reasons
    assert result.details["statistics"]["evaluated_expectations"] == 2


def test_metric_below_threshold_fails_with_reason() -> None:
    metrics = {
        "auc": {"value": 0.81, "threshold": 0.85},
        "accuracy": {"value": 0.86, "threshold": 0.8},
        "log_loss": {"value": 0.42, "threshold": 0.35, "higher_is_better": False},
        "brier": {"value": 0.1, "threshold": 0.2, "higher_is_better": False},
        "coverage": {"value": 0.5},
    }
    card = make_card(evaluation={"dataset_uri": "demo/eval/credit-scorer.csv", "metrics": metrics})
    result = ex.check_metrics(card, include_dir=INCLUDE)
    assert not result.passed
    assert result.reasons == [
        ex.ERR_METRIC_BELOW.format(metric="auc", value="0.81", threshold="0.85"),
        ex.ERR_METRIC_ABOVE.format(metric="log_loss", value="0.42", threshold="0.35"),
    ]
    assert result.reasons[0] == "evaluation.metrics.auc: 0.81 is below the declared threshold 0.85"
    assert result.details["below_threshold"] == ["auc", "log_loss"]
    assert result.details["not_compared_no_threshold"] == ["coverage"]


def test_metric_equal_to_threshold_passes() -> None:
    metrics = {
        "auc": {"value": 0.85, "threshold": 0.85},
        "err": {"value": 0.1, "threshold": 0.1, "higher_is_better": False},
    }
    card = make_card(evaluation={"dataset_uri": "demo/eval/credit-scorer.csv", "metrics": metrics})
    assert ex.check_metrics(card, include_dir=INCLUDE).passed


def test_nan_metric_fails() -> None:
    # The card schema refuses NaN; the check must still fail safely on a card built without validation.
    card = make_card()
    nan_metric = Metric.model_construct(value=float("nan"), threshold=0.8, higher_is_better=True)
    card = card.model_copy(update={"evaluation": card.evaluation.model_copy(update={"metrics": {"auc": nan_metric}})})
    result = ex.check_metrics(card, include_dir=INCLUDE)
    assert not result.passed
    assert result.reasons == [ex.ERR_METRIC_NAN.format(metric="auc", value="nan", threshold="0.8")]


def test_non_numeric_score_fails_with_reason(eval_card, demo_frame, include_copy: Path) -> None:
    frame = demo_frame.copy()
    frame["score"] = frame["score"].astype(str)
    frame.loc[0, "score"] = "high"
    result = ex.check_evaluation_data(eval_card(frame), include_dir=include_copy)
    assert not result.passed
    assert len(result.reasons) == 1
    assert result.reasons[0].startswith("evaluation data: Scores are probabilities in [0, 1]")


def test_s3_dataset(monkeypatch: pytest.MonkeyPatch, demo_frame) -> None:
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("GOVERNANCE_S3_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="eval")
        s3.put_object(Bucket="eval", Key="credit/eval.csv", Body=demo_frame.to_csv(index=False).encode())
        metrics = {"accuracy": {"value": 0.86, "threshold": 0.8}}
        card = make_card(evaluation={"dataset_uri": "s3://eval/credit/eval.csv", "metrics": metrics})
        result = ex.check_evaluation_data(card, include_dir=INCLUDE)
        assert result.passed, result.reasons
        card = make_card(evaluation={"dataset_uri": "s3://eval/credit/none.csv", "metrics": metrics})
        result = ex.check_evaluation_data(card, include_dir=INCLUDE)
        assert result.reasons == [
            ERR_NOT_FOUND.format(
                field="evaluation.dataset_uri", uri="s3://eval/credit/none.csv", where="s3://eval/credit/none.csv"
            )
        ]
