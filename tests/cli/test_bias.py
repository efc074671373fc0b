"""``bias audit`` command: reports, exit codes, progress, and refusal of bad input."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from governance.bias import (
    ERR_BINARY_MISSING,
    ERR_MISSING_COLUMN,
    ERR_NOT_FOUND,
    audit,
)
from governance.cards import load_card
from governance.cli import bias as cli_bias
from governance.cli.common import Common
from governance.embedded.demo_predictions import (
    AGE_BANDS,
    DEMO_DISPARITY,
    PREDICTIONS_FILE,
    demo_predictions_path,
    write_all_demo_predictions,
    write_demo_predictions,
    write_predictions_atomic,
)

REPO = Path(__file__).resolve().parents[2]

GROUP_KEYS = {"count", "selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy"}
ATTRIBUTE_KEYS = {
    "groups",
    "disparate_impact",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "bias_detected",
}


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="governance")
    cli_bias.register(parser.add_subparsers(dest="command", required=True), Common())
    args = parser.parse_args(list(argv))
    return int(args.func(args))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "credit-scorer.parquet"
    return write_demo_predictions(path, model_name="credit-scorer", disparity=True)


def base_args(predictions: Path | str) -> list[str]:
    return [
        "bias",
        "audit",
        str(predictions),
        "--label",
        "label",
        "--prediction",
        "prediction",
        "--protected",
        "sex,race,age_band,race*sex",
    ]


def test_audit_writes_json_and_html(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_html = tmp_path / "report.json", tmp_path / "report.html"
    code = run(
        [
            *base_args(demo),
            "--json",
            str(out_json),
            "--html",
            str(out_html),
            "--timestamp",
            "timestamp",
            "--model-name",
            "credit-scorer",
            "--model-version",
            "1.2.0",
        ]
    )
    assert code == 0
    report = json.loads(out_json.read_text())
    assert report["rows"] == 20000
    assert set(report["attributes"]) == {"sex", "race", "age_band", "race*sex"}
    for attr in report["attributes"].values():
        assert ATTRIBUTE_KEYS <= set(attr)
        for group in attr["groups"].values():
            assert GROUP_KEYS <= set(group)
    direct = audit(
        demo,
        label="label",
        prediction="prediction",
        protected=["sex", "race", "age_band"],
        intersections=["race*sex"],
    ).to_dict()
    assert report["attributes"] == direct["attributes"]
    age = report["attributes"]["age_band"]
    assert age["bias_detected"] is True and age["flagged_groups"] == ["66+"]
    assert report["attributes"]["sex"]["small_groups"] == ["non-binary"]
    assert report["provenance"]["model_name"] == "credit-scorer"
    assert report["provenance"]["time_window"]["start"].startswith("2026-03-01")
    html = out_html.read_text()
    assert "credit-scorer 1.2.0" in html and "Screening flag raised" in html
    out = capsys.readouterr().out
    assert "verdict: screening flag raised" in out
    assert any(line.strip().startswith("age_band") and "FLAG" in line for line in out.splitlines())
    (timing,) = [line for line in out.splitlines() if line.startswith("time: audit ")]
    assert "loading pyarrow/fairlearn/scikit-learn" in timing


def test_fail_on_flag_and_clean_model(demo: Path, tmp_path: Path) -> None:
    assert run([*base_args(demo), "--fail-on-flag"]) == cli_bias.EXIT_FLAGGED
    clean = write_demo_predictions(tmp_path / "clean.parquet", model_name="credit-scorer", disparity=False)
    assert run([*base_args(clean), "--fail-on-flag"]) == cli_bias.EXIT_OK


def test_progress_on_stderr(demo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(base_args(demo)) == 0
    assert capsys.readouterr().err == ""  # small input: no progress noise
    monkeypatch.setattr(cli_bias, "PROGRESS_MIN_ROWS", 0)
    monkeypatch.setattr(cli_bias, "PROGRESS_EVERY_S", 0.0)
    assert run(base_args(demo)) == 0
    err = capsys.readouterr().err.splitlines()
    assert err and err[-1].endswith("20,000 rows of 20,000 (100%)")
    assert err[-1].startswith("read ")
    assert run([*base_args(demo), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def _bad_file(tmp_path: Path) -> Path:
    df = pd.DataFrame(
        {
            "label": [1.0, 0.0, np.nan, 1.0],
            "prediction": [1, 0, 1, 1],
            "sex": ["f", "m", "f", "m"],
            "race": list("abab"),
            "age_band": ["18-25"] * 4,
        }
    )
    path = tmp_path / "nan.parquet"
    df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("case", ["missing_file", "missing_column", "nan_labels", "no_folder"])
def test_bad_input_exits_2_and_writes_nothing(
    case: str, demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    out_html.write_text("previous report")
    if case == "missing_file":
        missing = tmp_path / "nope.parquet"
        argv = base_args(missing)
        expected = ERR_NOT_FOUND.format(path=str(missing))
    elif case == "missing_column":
        argv = [*base_args(demo)[:-1], "sex,religion"]
        names = pq.read_schema(demo).names
        expected = ERR_MISSING_COLUMN.format(
            column="religion",
            role="protected attribute",
            source=str(demo),
            available=", ".join(names),
        )
    elif case == "nan_labels":
        argv = base_args(_bad_file(tmp_path))
        expected = ERR_BINARY_MISSING.format(role="label", column="label", count=1, row=2)
    else:
        out_json = tmp_path / "no" / "such" / "r.json"
        argv = base_args(demo)
        expected = cli_bias.ERR_OUTPUT_FOLDER.format(path=out_json, folder=out_json.parent)
    code = run([*argv, "--json", str(out_json), "--html", str(out_html)])
    captured = capsys.readouterr()
    assert code == cli_bias.EXIT_USAGE
    assert captured.err.strip() == f"error: {expected}"
    assert captured.out == ""
    assert not out_json.exists()
    assert out_html.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_protected_list_is_required(capsys: pytest.CaptureFixture[str], demo: Path) -> None:
    argv = [*base_args(demo)[:-1], " , "]
    assert run(argv) == cli_bias.EXIT_USAGE
    assert capsys.readouterr().err.strip() == f"error: {cli_bias.ERR_NO_PROTECTED}"


def test_demo_predictions_are_deterministic(tmp_path: Path) -> None:
    a = write_demo_predictions(tmp_path / "a.parquet", model_name="m", rows=500, disparity=True)
    b = write_demo_predictions(tmp_path / "b.parquet", model_name="m", rows=500, disparity=True)
    c = write_demo_predictions(tmp_path / "c.parquet", model_name="other", rows=500, disparity=True)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    table = pq.read_table(a)
    assert table.column_names == ["label", "prediction", "score", "sex", "race", "age_band", "timestamp"]
    assert table.schema.metadata[b"governance.model_name"] == b"m"
    assert set(table.column("age_band").to_pylist()) <= set(AGE_BANDS)


def test_demo_prediction_paths_and_idempotent_writes(tmp_path: Path) -> None:
    include = tmp_path / "include"
    assert demo_predictions_path("demo/predictions/x/", include_dir=include) == (
        include.resolve() / "demo/predictions/x" / PREDICTIONS_FILE
    )
    assert demo_predictions_path("demo/p.parquet", include_dir=include) == include.resolve() / "demo/p.parquet"
    assert demo_predictions_path("s3://bucket/predictions/x/", include_dir=include) is None

    target = include / "demo" / "p.parquet"
    write_predictions_atomic(target, model_name="m", rows=300, disparity=False)
    before = target.stat()
    write_predictions_atomic(target, model_name="m", rows=300, disparity=False)
    assert target.stat().st_ino == before.st_ino and target.stat().st_mtime_ns == before.st_mtime_ns
    write_predictions_atomic(target, model_name="m", rows=301, disparity=False)
    assert pq.read_metadata(target).num_rows == 301
    assert [p.name for p in target.parent.iterdir()] == ["p.parquet"]


def test_write_all_demo_predictions_follows_the_cards(tmp_path: Path) -> None:
    include = tmp_path / "include"
    shutil.copytree(REPO / "include" / "model_cards", include / "model_cards")
    written = write_all_demo_predictions(include)
    cards = [load_card(p) for p in sorted((include / "model_cards").glob("*.yaml"))]
    expected = [c for c in cards if c.predictions_location and c.protected_attributes]
    assert len(written) == len(expected) >= 2
    by_name = dict(zip((c.name for c in expected), written, strict=True))
    assert "credit-scorer" in DEMO_DISPARITY
    for name, path in by_name.items():
        card = next(c for c in expected if c.name == name)
        result = audit(path, label="label", prediction="prediction", protected=list(card.protected_attributes))
        assert result.bias_detected is (name in DEMO_DISPARITY), name
