"""governance.bias: every figure equals fairlearn run on the raw rows (to 1e-12)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from governance import bias
from governance.bias import (
    ERR_BAD_ATTRIBUTE,
    ERR_BINARY_MISSING,
    ERR_BINARY_TYPE,
    ERR_BINARY_VALUES,
    ERR_EMPTY,
    ERR_MISSING_COLUMN,
    ERR_NO_PROTECTED,
    ERR_NOT_FOUND,
    ERR_REFERENCE_GROUP,
    ERR_ROLE_CLASH,
    ERR_SCORE_MISSING,
    ERR_TOO_MANY_GROUPS,
    ERR_UNREADABLE,
    MISSING_GROUP,
    NOTE_NO_SELECTION,
    NOTE_NOT_ASSESSED,
    AuditInputError,
    audit,
)

TOL = 1e-12


def _precision(y_true: Any, y_pred: Any) -> float:
    return precision_score(y_true, y_pred, zero_division=0.0)


STOCK = {
    "count": count,
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": _precision,
    "accuracy": accuracy_score,
}


def make_predictions(seed: int, *, n: int = 6000) -> pd.DataFrame:
    """Random predictions with awkward groups: tiny, single-class, never selected, and one
    where label and prediction are always 1."""
    rng = np.random.default_rng(seed)
    race = rng.choice(["a", "b", "c", "d"], size=n, p=[0.45, 0.3, 0.2, 0.05])
    sex = rng.choice(["female", "male"], size=n)
    base = {"a": 0.55, "b": 0.4, "c": 0.3, "d": 0.5}
    p_sel = np.array([base[r] for r in race]) - 0.05 * (sex == "female")
    prediction = (rng.random(n) < p_sel).astype(np.int64)
    label = np.where(rng.random(n) < 0.8, prediction, 1 - prediction)
    df = pd.DataFrame(
        {
            "label": label,
            "prediction": prediction,
            "score": rng.random(n),
            "race": race,
            "sex": sex,
        }
    )
    # A tiny group, a group whose labels are all 0, and one never predicted positive.
    extra = pd.DataFrame(
        {
            "label": [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0] * 3,
            "prediction": [1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0] * 3,
            "score": rng.random(36),
            "race": ["tiny"] * 12 + ["all_negative"] * 12 + ["never_selected"] * 12,
            "sex": ["female", "male"] * 18,
        }
    )
    extra.loc[extra.race == "all_negative", "label"] = 0
    extra.loc[extra.race == "never_selected", "prediction"] = 0
    big_negative = pd.DataFrame(
        {
            "label": np.zeros(60, dtype=np.int64),
            "prediction": (rng.random(60) < 0.5).astype(np.int64),
            "score": rng.random(60),
            "race": "all_negative",
            "sex": rng.choice(["female", "male"], size=60),
        }
    )
    never = pd.DataFrame(
        {
            "label": (rng.random(60) < 0.5).astype(np.int64),
            "prediction": np.zeros(60, dtype=np.int64),
            "score": rng.random(60),
            "race": "never_selected",
            "sex": rng.choice(["female", "male"], size=60),
        }
    )
    # Only one class anywhere (y = p = 1): fairlearn pads its labels with int64 min.
    uniform = pd.DataFrame(
        {
            "label": np.ones(40, dtype=np.int64),
            "prediction": np.ones(40, dtype=np.int64),
            "score": rng.random(40),
            "race": "all_one",
            "sex": rng.choice(["female", "male"], size=40),
        }
    )
    out = pd.concat([df, extra, big_negative, never, uniform], ignore_index=True)
    return out.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def stock_reference(df: pd.DataFrame, columns: list[str], *, min_group_size: int) -> dict[str, Any]:
    """fairlearn on the raw rows: MetricFrame for the groups, the fairness functions on the
    rows of groups that are large enough."""
    features = df[columns] if len(columns) > 1 else df[columns[0]]
    frame = MetricFrame(
        metrics=STOCK,
        y_true=df["label"].to_numpy(),
        y_pred=df["prediction"].to_numpy(),
        sensitive_features=features,
    )
    groups = {}
    for key, row in frame.by_group.iterrows():
        if pd.isna(row["count"]):
            continue  # absent combination of an intersection
        name = "*".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
        groups[name] = row.to_dict()
    big_names = {name for name, row in groups.items() if row["count"] >= min_group_size}
    key = df[columns].astype(str).agg("*".join, axis=1)
    rows = df[key.isin(big_names)]
    sens = rows[columns] if len(columns) > 1 else rows[columns[0]]
    args = (rows["label"].to_numpy(), rows["prediction"].to_numpy())
    figures = {}
    if len(big_names) >= 2:
        figures = {
            "disparate_impact": demographic_parity_ratio(*args, sensitive_features=sens),
            "demographic_parity_difference": demographic_parity_difference(*args, sensitive_features=sens),
            "equalized_odds_difference": equalized_odds_difference(*args, sensitive_features=sens),
        }
    return {"groups": groups, "figures": figures, "big": big_names}


def assert_matches_stock(result: dict[str, Any], df: pd.DataFrame, attribute: str, *, min_group_size: int) -> None:
    columns = attribute.split("*")
    ref = stock_reference(df, columns, min_group_size=min_group_size)
    ours = result["attributes"][attribute]
    assert set(ours["groups"]) == set(ref["groups"])
    for name, expected in ref["groups"].items():
        got = ours["groups"][name]
        assert got["count"] == expected["count"]
        for metric in ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy"):
            assert abs(got[metric] - expected[metric]) <= TOL, (attribute, name, metric)
        assert got["small"] == (name not in ref["big"])
    if ref["figures"]:
        for key, value in ref["figures"].items():
            assert abs(ours[key] - value) <= TOL, (attribute, key)
    else:
        assert ours["disparate_impact"] is None
        assert ours["bias_detected"] is None


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("min_group_size", [0, 30])
def test_equals_stock_fairlearn_on_raw_rows(seed: int, min_group_size: int) -> None:
    df = make_predictions(seed)
    result = audit(
        df,
        label="label",
        prediction="prediction",
        protected=["race", "sex"],
        intersections=["race*sex"],
        min_group_size=min_group_size,
    ).to_dict()
    assert result["rows"] == len(df)
    for attribute in ("race", "sex", "race*sex"):
        assert_matches_stock(result, df, attribute, min_group_size=min_group_size)


def test_edge_groups_follow_fairlearn_conventions() -> None:
    df = make_predictions(7)
    race = audit(df, label="label", prediction="prediction", protected="race").to_dict()["attributes"]["race"]
    all_negative = race["groups"]["all_negative"]
    # No positive labels: fairlearn's confusion_matrix(normalize="true") gives 0, not NaN.
    assert all_negative["tpr"] == 0.0 and all_negative["fnr"] == 0.0
    assert all_negative["confusion"]["tp"] + all_negative["confusion"]["fn"] == 0
    never = race["groups"]["never_selected"]
    assert never["selection_rate"] == 0.0 and never["precision"] == 0.0
    all_one = race["groups"]["all_one"]
    assert all_one["tpr"] == 1.0 and all_one["fpr"] == 0.0 and all_one["accuracy"] == 1.0
    tiny = race["groups"]["tiny"]
    assert tiny["count"] == 12 and tiny["small"] and "tiny" in race["small_groups"]
    assert "tiny" not in race["flagged_groups"]
    # never_selected is large enough: a selection rate of 0 is a flag.
    assert race["bias_detected"] is True and "never_selected" in race["flagged_groups"]
    assert race["disparate_impact"] == 0.0


def _write_parts(df: pd.DataFrame, folder: Path) -> None:
    """Three files with different dictionaries (order and content) per file."""
    folder.mkdir()
    parts = np.array_split(np.arange(len(df)), 3)
    for i, idx in enumerate(parts):
        part = df.iloc[idx]
        if i == 1:
            part = part.sort_values("race", ascending=False)
        table = pa.Table.from_pandas(part, preserve_index=False)
        pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=700)


def test_same_result_from_every_kind_of_input(tmp_path: Path) -> None:
    df = make_predictions(11)
    kwargs: dict[str, Any] = dict(label="label", prediction="prediction", protected=["race", "sex", "race*sex"])
    expected = audit(df, **kwargs).to_dict()["attributes"]
    file = tmp_path / "preds.parquet"
    df.to_parquet(file, index=False, row_group_size=1000)
    folder = tmp_path / "folder"
    _write_parts(df, folder)
    table = pa.Table.from_pandas(df, preserve_index=False)
    categorical = df.astype({"race": "category", "sex": "category"})
    for source in (file, str(file), folder, table, categorical):
        assert audit(source, **kwargs).to_dict()["attributes"] == expected, type(source)


def test_joint_counting_can_split_midstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = make_predictions(5)
    folder = tmp_path / "parts"
    _write_parts(df, folder)
    kwargs: dict[str, Any] = dict(
        label="label", prediction="prediction", protected=["race", "sex"], intersections=["sex*race"]
    )
    expected = audit(folder, **kwargs).to_dict()["attributes"]
    # The first file has 14 race x sex groups (56 bins); later files bring more groups.
    monkeypatch.setattr("governance.bias._counts.MAX_JOINT_BINS", 60)
    assert audit(folder, **kwargs).to_dict()["attributes"] == expected
    monkeypatch.setattr("governance.bias._counts.MAX_JOINT_BINS", 4)
    assert audit(folder, **kwargs).to_dict()["attributes"] == expected
    assert_matches_stock(
        audit(folder, **kwargs).to_dict(),
        df.rename(columns={}),
        "sex*race",
        min_group_size=30,
    )


def test_missing_protected_values_form_their_own_group() -> None:
    df = make_predictions(3)
    df["sex"] = df["sex"].astype(object)
    df.loc[df.index[:40], "sex"] = None
    result = audit(df, label="label", prediction="prediction", protected="sex").to_dict()
    filled = df.fillna({"sex": MISSING_GROUP})
    assert MISSING_GROUP in result["attributes"]["sex"]["groups"]
    assert list(result["attributes"]["sex"]["groups"])[-1] == MISSING_GROUP
    assert_matches_stock(result, filled, "sex", min_group_size=30)


def test_integer_and_boolean_columns() -> None:
    df = make_predictions(4)
    df["label"] = df["label"].astype(bool)
    df["prediction"] = df["prediction"].astype(np.float32)
    df["group"] = (df["race"] == "a").astype(np.int16) + 2 * (df["sex"] == "male")
    df["flag"] = df["race"] == "b"
    result = audit(df, label="label", prediction="prediction", protected=["group", "flag"])
    stock = df.assign(label=df["label"].astype(int), prediction=df["prediction"].astype(int))
    d = result.to_dict()
    assert set(d["attributes"]["group"]["groups"]) == {"0", "1", "2", "3"}
    assert set(d["attributes"]["flag"]["groups"]) == {"False", "True"}
    assert_matches_stock(d, stock.astype({"group": str, "flag": str}), "group", min_group_size=30)
    assert_matches_stock(d, stock.astype({"group": str, "flag": str}), "flag", min_group_size=30)


def test_unused_categories_are_listed_as_empty_groups() -> None:
    df = make_predictions(8)
    df["sex"] = pd.Categorical(df["sex"], categories=["female", "male", "unknown"])
    sex = audit(df, label="label", prediction="prediction", protected="sex").attributes["sex"]
    assert sex.empty_groups == ["unknown"]
    assert [g.name for g in sex.groups] == ["female", "male"]


def test_flags_disparate_impact_band() -> None:
    n = 1000
    df = pd.DataFrame(
        {
            "group": ["x"] * n + ["y"] * n + ["z"] * 20,
            "label": [1, 0] * (n + 10),
            # x selects 50%, y 30% -> ratio 0.6; z (20 rows) selects 0% but is too small.
            "prediction": [1] * 500 + [0] * 500 + [1] * 300 + [0] * 700 + [0] * 20,
        }
    )
    result = audit(df, label="label", prediction="prediction", protected="group")
    attr = result.attributes["group"]
    assert result.bias_detected and attr.bias_detected
    assert attr.reference_group == "x"
    assert attr.flagged_groups == ["y"] and attr.small_groups == ["z"]
    assert abs(attr.disparate_impact - 0.6) < TOL
    assert abs(attr.group("y").impact_ratio - 0.6) < TOL
    assert abs(attr.demographic_parity_difference - 0.2) < TOL

    # Against an explicit reference, a group favoured by more than 1.2x is flagged too.
    favoured = audit(
        df,
        label="label",
        prediction="prediction",
        protected="group",
        reference_groups={"group": "y"},
    ).attributes["group"]
    assert favoured.reference_group == "y" and favoured.flagged_groups == ["x"]
    assert abs(favoured.group("x").impact_ratio - 5 / 3) < TOL

    fair = df.assign(prediction=[1] * 500 + [0] * 500 + [1] * 450 + [0] * 550 + [0] * 20)
    ok = audit(fair, label="label", prediction="prediction", protected="group")
    assert ok.bias_detected is False and ok.attributes["group"].flagged_groups == []
    assert abs(ok.attributes["group"].disparate_impact - 0.9) < TOL


@pytest.mark.parametrize("worse", ["tpr", "fpr"])
def test_equalized_odds_takes_the_worse_of_tpr_and_fpr(worse: str) -> None:
    rng = np.random.default_rng(0 if worse == "tpr" else 1)
    n = 4000
    group = rng.choice(["p", "q"], size=n)
    label = rng.integers(0, 2, size=n)
    # Group q is selected more often among positives (TPR gap) or among negatives (FPR gap).
    boost = (group == "q") & ((label == 1) if worse == "tpr" else (label == 0))
    prediction = (rng.random(n) < np.where(boost, 0.7, 0.4)).astype(int)
    df = pd.DataFrame({"g": group, "label": label, "prediction": prediction})
    attr = audit(df, label="label", prediction="prediction", protected="g").attributes["g"]
    tpr_gap = abs(attr.group("q").metrics["tpr"] - attr.group("p").metrics["tpr"])
    fpr_gap = abs(attr.group("q").metrics["fpr"] - attr.group("p").metrics["fpr"])
    assert (tpr_gap > fpr_gap) == (worse == "tpr")
    expected = equalized_odds_difference(label, prediction, sensitive_features=group)
    assert abs(attr.equalized_odds_difference - expected) <= TOL
    assert abs(attr.equalized_odds_difference - max(tpr_gap, fpr_gap)) <= TOL


def test_not_assessed_and_undefined_ratio() -> None:
    df = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 10, "label": [0, 1] * 30, "prediction": [0, 1] * 30})
    attr = audit(df, label="label", prediction="prediction", protected="g").attributes["g"]
    assert attr.bias_detected is None and attr.note == NOTE_NOT_ASSESSED.format(min=30)
    assert attr.disparate_impact is None and attr.small_groups == ["b"]

    none = df.assign(prediction=0, g=["a"] * 30 + ["b"] * 30)
    result = audit(none, label="label", prediction="prediction", protected="g")
    attr = result.attributes["g"]
    assert attr.note == NOTE_NO_SELECTION and attr.bias_detected is False
    assert math.isnan(attr.disparate_impact)
    assert result.to_dict()["attributes"]["g"]["disparate_impact"] is None
    result.to_json()  # valid JSON: NaN written as null


def test_score_and_time_window() -> None:
    df = make_predictions(9)
    df["timestamp"] = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.arange(len(df)) % 86400, unit="s")
    result = audit(
        df,
        label="label",
        prediction="prediction",
        protected="race",
        score="score",
        timestamp="timestamp",
    ).to_dict()
    means = df.groupby("race")["score"].mean()
    for name, group in result["attributes"]["race"]["groups"].items():
        assert abs(group["mean_score"] - means[name]) <= 1e-12 * max(1.0, abs(means[name]))
    window = result["provenance"]["time_window"]
    assert window == {
        "column": "timestamp",
        "start": "2026-03-01T00:00:00+00:00",
        "end": df["timestamp"].max().isoformat(),
    }


def test_bootstrap_intervals_are_reproducible_and_bracket_the_estimate() -> None:
    df = make_predictions(2, n=4000)
    kwargs: dict[str, Any] = dict(label="label", prediction="prediction", protected="sex", bootstrap=60, random_state=1)
    first = audit(df, **kwargs).to_dict()["attributes"]["sex"]
    second = audit(df, **kwargs).to_dict()["attributes"]["sex"]
    assert first["ci"] == second["ci"]
    assert first["groups"] == second["groups"]
    for key in ("disparate_impact", "demographic_parity_difference", "equalized_odds_difference"):
        low, high = first["ci"][key]
        assert low <= high
        assert low - 0.05 <= first[key] <= high + 0.05
    for group in first["groups"].values():
        for metric in ("selection_rate", "tpr", "fpr"):
            low, high = group["ci"][metric]
            assert low <= group[metric] <= high
            assert high - low < 0.1  # ~2000 rows per group
    other = audit(df, **{**kwargs, "random_state": 2}).to_dict()["attributes"]["sex"]
    assert other["ci"] != first["ci"]


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        (
            "label",
            [0.0, 1.0, float("nan"), 1.0],
            ERR_BINARY_MISSING.format(role="label", column="label", count=1, row=2),
        ),
        (
            "prediction",
            pd.array([1, None, 0, 0], dtype="Int8"),
            ERR_BINARY_MISSING.format(role="prediction", column="prediction", count=1, row=1),
        ),
        ("label", [0, 2, 1, -1], ERR_BINARY_VALUES.format(role="label", column="label", values="-1, 2", row=1)),
        (
            "prediction",
            [0.0, 0.5, 1.0, 1.0],
            ERR_BINARY_VALUES.format(role="prediction", column="prediction", values="0.5", row=1),
        ),
        (
            "label",
            ["yes", "no", "no", "yes"],
            ERR_BINARY_TYPE.format(role="label", column="label", type="large_string"),
        ),
    ],
)
def test_bad_labels_are_refused_with_a_clear_message(column: str, values: Any, expected: str) -> None:
    df = pd.DataFrame({"label": [0, 1, 1, 0], "prediction": [0, 1, 0, 1], "g": list("abab")})
    df[column] = values
    with pytest.raises(AuditInputError) as info:
        audit(df, label="label", prediction="prediction", protected="g")
    assert str(info.value) == expected


def test_bad_inputs_and_arguments(tmp_path: Path) -> None:
    df = pd.DataFrame({"label": [0, 1], "prediction": [0, 1], "g": ["a", "b"], "s": [0.1, None]})
    cases = [
        (dict(protected=[]), ERR_NO_PROTECTED),
        (dict(protected=["g*"]), ERR_BAD_ATTRIBUTE.format(name="g*")),
        (dict(protected=["label"]), ERR_ROLE_CLASH.format(column="label", first="the label", second="protected")),
        (
            dict(protected=["race"]),
            ERR_MISSING_COLUMN.format(
                column="race",
                role="protected attribute",
                source="<pandas.DataFrame>",
                available="label, prediction, g, s",
            ),
        ),
        (dict(protected=["g"], score="s"), ERR_SCORE_MISSING.format(column="s", count=1, row=1)),
        (
            dict(protected=["g"], reference_groups={"g": "zz"}, min_group_size=1),
            ERR_REFERENCE_GROUP.format(group="zz", attribute="g", min=1, groups="a, b"),
        ),
    ]
    for kwargs, expected in cases:
        with pytest.raises(AuditInputError) as info:
            audit(df, label="label", prediction="prediction", **kwargs)
        assert str(info.value) == expected
    missing = tmp_path / "nope.parquet"
    with pytest.raises(AuditInputError) as info:
        audit(missing, label="label", prediction="prediction", protected="g")
    assert str(info.value) == ERR_NOT_FOUND.format(path=str(missing))
    with pytest.raises(AuditInputError) as info:
        audit(df.iloc[:0], label="label", prediction="prediction", protected="g")
    assert str(info.value) == ERR_EMPTY.format(source="<pandas.DataFrame>")


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(AuditInputError) as info:
        audit(bad, label="label", prediction="prediction", protected="g")
    assert str(info.value).startswith(ERR_UNREADABLE.format(source=str(bad), reason=""))


def test_importing_the_package_stays_light() -> None:
    """DAG files may import governance.bias at parse time: nothing heavy may come along."""
    code = (
        "import sys, governance.bias, governance.reports, governance.cli.bias, "
        "governance.embedded.demo_predictions; "
        "print(sorted(m for m in ('pandas', 'fairlearn', 'pyarrow', 'numpy', 'matplotlib', "
        "'sklearn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    assert out.strip() == "[]"


def test_too_many_groups_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("governance.bias._counts.MAX_GROUPS", 10)
    df = pd.DataFrame({"label": [0, 1] * 10, "prediction": [1, 0] * 10, "g": range(20)})
    with pytest.raises(AuditInputError) as info:
        audit(df, label="label", prediction="prediction", protected="g")
    assert str(info.value) == ERR_TOO_MANY_GROUPS.format(attribute="g", groups=20, limit=10)


def test_progress_reports_batches_and_rows(tmp_path: Path) -> None:
    df = make_predictions(1)
    file = tmp_path / "p.parquet"
    df.to_parquet(file, index=False, row_group_size=1000)
    seen: list[tuple[int, int, int | None]] = []
    audit(
        file,
        label="label",
        prediction="prediction",
        protected="race",
        progress=lambda b, r, t: seen.append((b, r, t)),
    )
    assert seen[-1] == (len(seen), len(df), len(df))
    assert [s[1] for s in seen] == sorted(s[1] for s in seen)


def test_public_api_is_exported() -> None:
    assert set(bias.__all__) <= set(dir(bias))
    assert "audit" in bias.__all__


def test_reads_s3_with_endpoint_from_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        df = make_predictions(12, n=2000)
        local = tmp_path / "p.parquet"
        df.to_parquet(local, index=False)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="preds")
        s3.upload_file(str(local), "preds", "nightly/2026-03-01/p.parquet")
        kwargs: dict[str, Any] = dict(label="label", prediction="prediction", protected="race")
        expected = audit(local, **kwargs).to_dict()["attributes"]
        assert audit("s3://preds/nightly/2026-03-01/p.parquet", **kwargs).to_dict()["attributes"] == expected
        assert audit("s3://preds/nightly", **kwargs).to_dict()["attributes"] == expected
        with pytest.raises(AuditInputError) as info:
            audit("s3://preds/missing.parquet", **kwargs)
        assert str(info.value) == ERR_NOT_FOUND.format(path="s3://preds/missing.parquet")
    finally:
        server.stop()
