"""Great Expectations 1.x validation of a card's evaluation dataset and declared metrics.

Suites live as GX JSON in ``include/expectations/`` (``evaluation_dataset.json``,
``evaluation_metrics.json``) and are loaded with ``ExpectationSuite(**json)``. Validation uses an
ephemeral Data Context, a pandas data source, one dataframe asset per kind of frame and a
whole-dataframe batch definition; each run passes its own dataframe as a batch parameter and calls
``batch.validate(suite)``.

What is cached: the ephemeral context with its data source, assets and batch definitions (built
once per process, guarded by a lock). They hold no data: every validation brings its own dataframe
and suite, so a cached context never leaks one card's data into another's result. Suites are read
from disk on every run, so an edited suite takes effect at the next task without a restart.

The dataset suite refers to the label column as ``label``; it is replaced by the card's
``evaluation.label_column``. Expectations derived from the card are added to the loaded suite:
each protected attribute exists and has no nulls (the nightly bias audit needs them), and when the
card declares an ``accuracy`` threshold, ``label == prediction`` on at least that share of rows.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance import config
from governance.cards import ModelCard
from governance.checks.base import CheckResult, SourceError, jsonable, open_source, resolve_uri
from governance.errors import GovernanceError

CHECK_EVALUATION_DATA = "evaluation_data"
CHECK_METRICS = "evaluation_metrics"

EXPECTATIONS_DIR = "expectations"
DATASET_SUITE_FILE = "evaluation_dataset.json"
METRICS_SUITE_FILE = "evaluation_metrics.json"
LABEL_PLACEHOLDER = "label"
PREDICTION_COLUMN = "prediction"
COLUMN_KWARGS = ("column", "column_A", "column_B")
EXAMPLES = 5
DATASET_FORMATS = (".csv", ".csv.gz", ".parquet", ".pq")

ERR_SUITE_MISSING = "expectation suite {path} is missing; restore it from the repository (include/expectations/)"
ERR_SUITE_JSON = "expectation suite {path} is not valid JSON: {problem}"
ERR_SUITE_INVALID = "expectation suite {path} cannot be loaded by Great Expectations: {problem}"
ERR_SUITE_DROPPED = (
    "expectation suite {path}: {dropped} of its expectations are not valid Great Expectations "
    "1.x expectations (check the 'type' and 'kwargs' of each entry)"
)
ERR_DATASET_FORMAT = "evaluation.dataset_uri: '{uri}' has format '{suffix}', which is not supported (use {formats})"
ERR_DATASET_PARSE = "evaluation.dataset_uri: '{uri}' could not be parsed as {kind}: {problem}"
ERR_MISSING_COLUMN = "evaluation data: required column '{column}' is missing (columns present: {present})"
ERR_NULLS = (
    "evaluation data: column '{column}' has {count} null values out of {rows} rows "
    "(e.g. data rows {examples}, counting from 1)"
)
ERR_NOT_IN_SET = (
    "evaluation data: column '{column}' has {count} values outside the allowed set {allowed} (e.g. {examples})"
)
ERR_OUT_OF_RANGE = "evaluation data: column '{column}' has {count} values outside [{low}, {high}] (e.g. {examples})"
ERR_TOO_FEW_ROWS = "evaluation data: {rows} rows; at least {minimum} are required"
ERR_TOO_MANY_ROWS = "evaluation data: {rows} rows; at most {maximum} are allowed"
ERR_LABEL_BALANCE = (
    "evaluation data: label balance: the minority class of '{column}' is {share:.1%} of the rows; "
    "at least {minimum:.1%} is required"
)
ERR_LABEL_BALANCE_EMPTY = "evaluation data: label balance of '{column}' cannot be computed (no numeric labels)"
ERR_ACCURACY = (
    "evaluation data: accuracy recomputed from '{label}' and '{prediction}' is {observed:.4f}, "
    "below the declared threshold {threshold}"
)
ERR_EXPECTATION_ERROR = "evaluation data: {description} could not be evaluated: {problem}"
ERR_EXPECTATION_FAILED = "evaluation data: {description} failed (observed {observed})"
ERR_METRIC_BELOW = "evaluation.metrics.{metric}: {value} is below the declared threshold {threshold}"
ERR_METRIC_ABOVE = "evaluation.metrics.{metric}: {value} is above the declared threshold {threshold} (lower is better)"
ERR_METRIC_NAN = "evaluation.metrics.{metric}: value {value} / threshold {threshold} is not a number"
ERR_METRICS_GX = "evaluation metrics: the metrics suite failed: {problem}"


class SuiteError(GovernanceError):
    """An expectation suite file is missing or not a valid GX 1.x suite."""


# --------------------------------------------------------------------------- GX context


@dataclass(frozen=True)
class _GX:
    context: Any
    dataset_batches: Any
    metrics_batches: Any


_gx_lock = threading.RLock()
_gx_state: _GX | None = None


def _gx() -> _GX:
    """The process-wide ephemeral GX context (created on first use, under the lock)."""
    global _gx_state
    with _gx_lock:
        if _gx_state is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            source = context.data_sources.add_pandas(name="governance")
            dataset = source.add_dataframe_asset(name="evaluation_dataset")
            metrics = source.add_dataframe_asset(name="evaluation_metrics")
            _gx_state = _GX(
                context=context,
                dataset_batches=dataset.add_batch_definition_whole_dataframe("whole_dataframe"),
                metrics_batches=metrics.add_batch_definition_whole_dataframe("whole_dataframe"),
            )
        return _gx_state


def suite_path(file_name: str, *, include_dir: Path | None = None) -> Path:
    return (include_dir or config.include_dir()) / EXPECTATIONS_DIR / file_name


def load_suite_json(file_name: str, *, include_dir: Path | None = None) -> dict[str, Any]:
    """The suite's JSON as a dict (raises :class:`SuiteError` naming the file)."""
    path = suite_path(file_name, include_dir=include_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(ERR_SUITE_MISSING.format(path=path)) from None
    except OSError as exc:
        raise SuiteError(ERR_SUITE_JSON.format(path=path, problem=exc.strerror)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SuiteError(ERR_SUITE_JSON.format(path=path, problem=exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list) or not data.get("name"):
        raise SuiteError(
            ERR_SUITE_INVALID.format(path=path, problem="expected an object with 'name' and 'expectations'")
        )
    return data


def build_suite(data: dict[str, Any], *, path: Path | str) -> Any:
    """``ExpectationSuite(**data)``, refusing suites from which GX silently dropped expectations."""
    import great_expectations as gx

    try:
        suite = gx.ExpectationSuite(**data)
    except Exception as exc:  # GX raises several unrelated types for bad configs
        raise SuiteError(ERR_SUITE_INVALID.format(path=path, problem=exc)) from None
    dropped = len(data["expectations"]) - len(suite.expectations)
    if dropped:
        raise SuiteError(ERR_SUITE_DROPPED.format(path=path, dropped=dropped))
    return suite


def _with_label_column(data: dict[str, Any], label_column: str) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for exp in out["expectations"]:
        kwargs = exp.get("kwargs") or {}
        for key in COLUMN_KWARGS:
            if kwargs.get(key) == LABEL_PLACEHOLDER:
                kwargs[key] = label_column
    return out


def _card_expectations(card: ModelCard) -> list[dict[str, Any]]:
    label = card.evaluation.label_column
    extra: list[dict[str, Any]] = []
    for attr in card.protected_attributes:
        extra.append(
            {
                "type": "expect_column_to_exist",
                "kwargs": {"column": attr},
                "meta": {"check": "schema", "source": "card.protected_attributes"},
                "description": f"The protected attribute column '{attr}' exists",
            }
        )
        extra.append(
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": attr},
                "meta": {"check": "nulls", "source": "card.protected_attributes"},
                "description": f"No missing values in protected attribute '{attr}'",
            }
        )
    accuracy = card.evaluation.metrics.get("accuracy")
    if accuracy is not None and accuracy.threshold is not None and accuracy.higher_is_better:
        extra.append(
            {
                "type": "expect_column_pair_values_to_be_equal",
                "kwargs": {"column_A": label, "column_B": PREDICTION_COLUMN, "mostly": float(accuracy.threshold)},
                "meta": {"check": "accuracy", "threshold": float(accuracy.threshold)},
                "description": f"Accuracy recomputed from the data reaches the declared threshold {accuracy.threshold}",
            }
        )
    return extra


# --------------------------------------------------------------------------- reading data


def read_dataset(card: ModelCard, *, include_dir: Path | None = None) -> Any:
    """The evaluation dataset as a DataFrame; raises :class:`SourceError` with a clear reason."""
    import pandas as pd

    uri = card.evaluation.dataset_uri
    source = resolve_uri(uri, field="evaluation.dataset_uri", include_dir=include_dir)
    name = (source.key or (source.path.name if source.path else "")).lower()
    suffix = next((s for s in DATASET_FORMATS if name.endswith(s)), None)
    if suffix is None:
        raise SourceError(
            ERR_DATASET_FORMAT.format(uri=uri, suffix=source.suffix or "(none)", formats=", ".join(DATASET_FORMATS))
        )
    with open_source(source) as handle:
        try:
            if suffix in (".parquet", ".pq"):
                return pd.read_parquet(handle)
            return pd.read_csv(handle, compression="gzip" if suffix == ".csv.gz" else None)
        except Exception as exc:  # pandas/pyarrow raise many parser error types
            kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
            problem = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise SourceError(ERR_DATASET_PARSE.format(uri=uri, kind=kind, problem=problem)) from None


# --------------------------------------------------------------------------- messages


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _examples(values: list[Any]) -> str:
    return ", ".join(_fmt(v) for v in values[:EXAMPLES]) or "n/a"


def _exception_message(exception_info: Any) -> str | None:
    """The first exception message in a GX result's (possibly nested) exception_info."""
    if not isinstance(exception_info, dict):
        return None
    if exception_info.get("raised_exception"):
        return str(exception_info.get("exception_message") or "error")
    for value in exception_info.values():
        found = _exception_message(value)
        if found:
            return found
    return None


def _columns_of(kwargs: dict[str, Any]) -> list[str]:
    return [kwargs[k] for k in COLUMN_KWARGS if isinstance(kwargs.get(k), str)]


def _dataset_reason(result: dict[str, Any], *, rows: int, present: list[str]) -> str:
    cfg = result.get("expectation_config") or {}
    kind = cfg.get("type", "")
    kwargs = cfg.get("kwargs") or {}
    meta = cfg.get("meta") or {}
    res = result.get("result") or {}
    column = kwargs.get("column")
    error = _exception_message(result.get("exception_info"))
    description = cfg.get("description") or kind
    if error:
        return ERR_EXPECTATION_ERROR.format(description=description, problem=error)
    if kind == "expect_column_to_exist":
        return ERR_MISSING_COLUMN.format(column=column, present=", ".join(present) or "none")
    if kind == "expect_table_row_count_to_be_between":
        observed = res.get("observed_value", rows)
        minimum, maximum = kwargs.get("min_value"), kwargs.get("max_value")
        if minimum is not None and observed < minimum:
            return ERR_TOO_FEW_ROWS.format(rows=observed, minimum=minimum)
        return ERR_TOO_MANY_ROWS.format(rows=observed, maximum=maximum)
    if kind == "expect_column_values_to_not_be_null":
        indexes = res.get("partial_unexpected_index_list") or []
        return ERR_NULLS.format(
            column=column, count=res.get("unexpected_count"), rows=rows, examples=_examples([i + 1 for i in indexes])
        )
    if kind == "expect_column_values_to_be_in_set":
        allowed = "{" + ", ".join(_fmt(v) for v in kwargs.get("value_set") or []) + "}"
        return ERR_NOT_IN_SET.format(
            column=column,
            count=res.get("unexpected_count"),
            allowed=allowed,
            examples=_examples(res.get("partial_unexpected_list") or []),
        )
    if kind == "expect_column_values_to_be_between":
        return ERR_OUT_OF_RANGE.format(
            column=column,
            count=res.get("unexpected_count"),
            low=_fmt(kwargs.get("min_value", "-inf")),
            high=_fmt(kwargs.get("max_value") if kwargs.get("max_value") is not None else "inf"),
            examples=_examples(res.get("partial_unexpected_list") or []),
        )
    if meta.get("check") == "label_balance":
        mean = res.get("observed_value")
        minimum = float(meta.get("min_minority_share", kwargs.get("min_value") or 0))
        if not isinstance(mean, int | float):
            return ERR_LABEL_BALANCE_EMPTY.format(column=column)
        return ERR_LABEL_BALANCE.format(column=column, share=min(mean, 1 - mean), minimum=minimum)
    if meta.get("check") == "accuracy":
        unexpected_pct = float(res.get("unexpected_percent") or 0.0)
        return ERR_ACCURACY.format(
            label=kwargs.get("column_A"),
            prediction=kwargs.get("column_B"),
            observed=1 - unexpected_pct / 100,
            threshold=meta.get("threshold", kwargs.get("mostly")),
        )
    observed = res.get("observed_value", res.get("unexpected_count", "n/a"))
    return ERR_EXPECTATION_FAILED.format(description=description, observed=_fmt(observed))


# --------------------------------------------------------------------------- checks


def check_evaluation_data(card: ModelCard, *, include_dir: Path | None = None) -> CheckResult:
    """Validate the card's evaluation dataset with the GX suite (plus the card's own expectations)."""
    uri = card.evaluation.dataset_uri
    details: dict[str, Any] = {"dataset_uri": uri, "suite": DATASET_SUITE_FILE}
    try:
        data = _with_label_column(
            load_suite_json(DATASET_SUITE_FILE, include_dir=include_dir), card.evaluation.label_column
        )
        data["expectations"].extend(_card_expectations(card))
        suite = build_suite(data, path=suite_path(DATASET_SUITE_FILE, include_dir=include_dir))
        df = read_dataset(card, include_dir=include_dir)
    except (SuiteError, SourceError) as exc:
        return CheckResult(name=CHECK_EVALUATION_DATA, passed=False, reasons=[str(exc)], details=details)

    present = [str(c) for c in df.columns]
    rows = len(df)
    with _gx_lock:
        batch = _gx().dataset_batches.get_batch(batch_parameters={"dataframe": df})
        outcome = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20})
    results = outcome.to_json_dict()["results"]
    missing = {
        (r["expectation_config"].get("kwargs") or {}).get("column")
        for r in results
        if r["expectation_config"]["type"] == "expect_column_to_exist" and not r["success"]
    }
    reasons: list[str] = []
    skipped: list[str] = []
    failed: list[str] = []
    for r in sorted(results, key=lambda r: _position(r, data["expectations"])):
        if r["success"]:
            continue
        cfg = r["expectation_config"]
        failed.append(cfg.get("description") or cfg["type"])
        if cfg["type"] != "expect_column_to_exist" and set(_columns_of(cfg.get("kwargs") or {})) & missing:
            skipped.append(cfg.get("description") or cfg["type"])
            continue
        reasons.append(_dataset_reason(r, rows=rows, present=present))
    details.update(
        rows=rows,
        columns=present,
        label_column=card.evaluation.label_column,
        expectations=len(results),
        failed_expectations=failed,
        not_evaluated_because_of_missing_columns=skipped,
        statistics=jsonable(outcome.statistics),
    )
    return CheckResult(name=CHECK_EVALUATION_DATA, passed=bool(outcome.success), reasons=reasons, details=details)


def _position(result: dict[str, Any], expectations: list[dict[str, Any]]) -> int:
    """Index of the suite entry a result belongs to (GX returns results grouped by domain, not in order)."""
    cfg = result["expectation_config"]
    for i, exp in enumerate(expectations):
        if (
            exp.get("type") == cfg.get("type")
            and (exp.get("kwargs") or {}).items() <= (cfg.get("kwargs") or {}).items()
        ):
            return i
    return len(expectations)


def metrics_frame(card: ModelCard) -> Any:
    """One row per metric with a threshold: metric, value, threshold, higher_is_better, margin."""
    import pandas as pd

    rows = []
    for name, metric in card.evaluation.metrics.items():
        if metric.threshold is None:
            continue
        sign = 1.0 if metric.higher_is_better else -1.0
        rows.append(
            {
                "metric": name,
                "value": float(metric.value),
                "threshold": float(metric.threshold),
                "higher_is_better": metric.higher_is_better,
                "margin": sign * (float(metric.value) - float(metric.threshold)),
            }
        )
    frame = pd.DataFrame(rows, columns=["metric", "value", "threshold", "higher_is_better", "margin"])
    frame["margin"] = frame["margin"].astype("float64")
    return frame


def check_metrics(card: ModelCard, *, include_dir: Path | None = None) -> CheckResult:
    """Each declared metric reaches its threshold (respecting higher_is_better), validated by the GX metrics suite."""
    no_threshold = sorted(n for n, m in card.evaluation.metrics.items() if m.threshold is None)
    details: dict[str, Any] = {
        "suite": METRICS_SUITE_FILE,
        "metrics": {n: m.model_dump() for n, m in card.evaluation.metrics.items()},
        "not_compared_no_threshold": no_threshold,
    }
    try:
        data = load_suite_json(METRICS_SUITE_FILE, include_dir=include_dir)
        suite = build_suite(data, path=suite_path(METRICS_SUITE_FILE, include_dir=include_dir))
    except SuiteError as exc:
        return CheckResult(name=CHECK_METRICS, passed=False, reasons=[str(exc)], details=details)
    frame = metrics_frame(card)
    details["compared"] = list(frame["metric"])
    if frame.empty:
        return CheckResult(name=CHECK_METRICS, passed=True, reasons=[], details=details)
    with _gx_lock:
        batch = _gx().metrics_batches.get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    bad_rows: dict[int, str] = {}
    problems: list[str] = []
    for r in outcome.to_json_dict()["results"]:
        if r["success"]:
            continue
        error = _exception_message(r.get("exception_info"))
        if error:
            problems.append(ERR_METRICS_GX.format(problem=error))
            continue
        kind = r["expectation_config"]["type"]
        for index in (r.get("result") or {}).get("unexpected_index_list") or []:
            bad_rows.setdefault(int(index), kind)
    reasons = list(problems)
    for index in sorted(bad_rows):
        row = frame.loc[index]
        fields = {"metric": row["metric"], "value": _fmt(row["value"]), "threshold": _fmt(row["threshold"])}
        if bad_rows[index] == "expect_column_values_to_not_be_null":
            reasons.append(ERR_METRIC_NAN.format(**fields))
        elif row["higher_is_better"]:
            reasons.append(ERR_METRIC_BELOW.format(**fields))
        else:
            reasons.append(ERR_METRIC_ABOVE.format(**fields))
    details["below_threshold"] = [str(frame.loc[i, "metric"]) for i in sorted(bad_rows)]
    details["statistics"] = jsonable(outcome.statistics)
    return CheckResult(name=CHECK_METRICS, passed=bool(outcome.success), reasons=reasons, details=details)
