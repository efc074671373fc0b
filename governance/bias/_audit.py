"""``audit()``: read, count, let fairlearn compute, raise the screening flags."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from governance.bias._counts import ConfusionCounter, CountTable, Spec
from governance.bias._metrics import METRICS, TableIntervals, TableMetrics, compute
from governance.bias._metrics import bootstrap as bootstrap_intervals
from governance.bias._result import (
    FOUR_FIFTHS_NOTE,
    AttributeResult,
    BiasAuditResult,
    GroupResult,
)
from governance.bias._source import (
    AuditInputError,
    PredictionsInput,
    open_source,
    require_columns,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow.fs as pafs

ERR_NO_PROTECTED = "protected: name at least one protected attribute column (e.g. protected=['sex', 'race'])"
ERR_BAD_ATTRIBUTE = "attribute {name!r} is not a column name or an intersection like 'race*sex'"
ERR_DUPLICATE_ATTRIBUTE = "attribute {name!r} is listed twice"
ERR_ROLE_CLASH = "column {column!r} cannot be both {first} and {second}"
ERR_MIN_GROUP_SIZE = "min_group_size must be a non-negative integer, got {value!r}"
ERR_BOOTSTRAP = "bootstrap must be 0 (off) or a positive number of resamples, got {value!r}"
ERR_CI_LEVEL = "ci_level must be between 0 and 1 (e.g. 0.95), got {value!r}"
ERR_BAND = "band must be (low, high) with 0 < low <= 1 <= high, e.g. (0.8, 1.2); got {value!r}"
ERR_UNKNOWN_METRIC = "unknown metric {name!r}; known metrics: {known}"
ERR_REFERENCE_ATTRIBUTE = "reference_groups names attribute {attribute!r}, which is not audited (audited: {audited})"
ERR_REFERENCE_GROUP = (
    "reference group {group!r} of attribute {attribute!r} must have at least {min} rows; groups that do: {groups}"
)
ERR_EMPTY = "{source} has no rows: there is nothing to audit"

NOTE_NOT_ASSESSED = (
    "fewer than two groups have at least {min} rows, so groups cannot be compared; "
    "the groups are reported but no flag is raised"
)
NOTE_NO_SELECTION = (
    "no group large enough to compare has a positive prediction, so the disparate impact ratio is undefined"
)

ProgressCallback = Callable[[int, int, "int | None"], None]
"""Called after each batch with (batches read, rows read, total rows if known)."""


def _specs(protected: Sequence[str] | str, intersections: Sequence[str]) -> list[Spec]:
    items = [protected] if isinstance(protected, str) else list(protected)
    if not items:
        raise AuditInputError(ERR_NO_PROTECTED)
    specs: list[Spec] = []
    for raw in [*items, *intersections]:
        columns = tuple(part.strip() for part in str(raw).split("*"))
        if not all(columns) or len(set(columns)) != len(columns):
            raise AuditInputError(ERR_BAD_ATTRIBUTE.format(name=raw))
        name = "*".join(columns)
        if any(s.name == name for s in specs):
            raise AuditInputError(ERR_DUPLICATE_ATTRIBUTE.format(name=name))
        specs.append(Spec(name=name, columns=columns))
    return specs


def _check_arguments(
    *,
    label: str,
    prediction: str,
    score: str | None,
    group_columns: Sequence[str],
    min_group_size: int,
    replicates: int,
    ci_level: float,
    band: tuple[float, float],
    metrics: Sequence[str],
) -> None:
    roles = {label: "the label", prediction: "the prediction"}
    if score is not None:
        roles.setdefault(score, "the score")
    if prediction == label:
        raise AuditInputError(ERR_ROLE_CLASH.format(column=label, first="the label", second="the prediction"))
    for column in group_columns:
        if column in roles:
            raise AuditInputError(ERR_ROLE_CLASH.format(column=column, first=roles[column], second="protected"))
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int) or min_group_size < 0:
        raise AuditInputError(ERR_MIN_GROUP_SIZE.format(value=min_group_size))
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 0:
        raise AuditInputError(ERR_BOOTSTRAP.format(value=replicates))
    if not 0.0 < ci_level < 1.0:
        raise AuditInputError(ERR_CI_LEVEL.format(value=ci_level))
    low, high = band
    if not 0.0 < low <= 1.0 <= high:
        raise AuditInputError(ERR_BAND.format(value=band))
    for name in metrics:
        if name not in METRICS:
            raise AuditInputError(ERR_UNKNOWN_METRIC.format(name=name, known=", ".join(METRICS)))


def preload() -> float:
    """Import what an audit uses (pyarrow, pandas, fairlearn, scikit-learn); the seconds it took.

    :func:`audit` imports them lazily on its first call, which then pays ~4 s of imports on
    top of the audit. A command line or a worker calls this first, so the audit's own
    ``timings`` are the audit's.
    """
    started = time.perf_counter()
    import io

    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    # A four-row audit of an in-memory Parquet file: imports fairlearn and scikit-learn and
    # runs each code path once (Parquet decoding, Arrow's thread pool, the metric functions).
    buffer = io.BytesIO()
    pq.write_table(pa.table({"y": [0, 1, 0, 1], "p": [0, 1, 1, 0], "g": ["a", "b", "a", "b"]}), buffer)
    tiny = ds.dataset(pq.read_table(pa.BufferReader(buffer.getvalue())))
    audit(tiny, label="y", prediction="p", protected="g", min_group_size=1)
    return time.perf_counter() - started


def audit(
    table: PredictionsInput,
    *,
    label: str,
    prediction: str,
    protected: Sequence[str] | str,
    score: str | None = None,
    intersections: Sequence[str] = (),
    min_group_size: int = 30,
    bootstrap: int = 0,
    ci_level: float = 0.95,
    random_state: int | None = 0,
    band: tuple[float, float] = (0.8, 1.2),
    reference_groups: Mapping[str, str] | None = None,
    metrics: Sequence[str] = METRICS,
    timestamp: str | None = None,
    filesystem: pafs.FileSystem | None = None,
    progress: ProgressCallback | None = None,
) -> BiasAuditResult:
    """Audit binary predictions for group disparities; fairlearn defines every number.

    Parameters
    ----------
    table
        Parquet file or folder (local path or ``s3://bucket/key``; S3 settings come from
        :func:`governance.s3.resolve_settings`), pandas DataFrame, pyarrow Table/RecordBatch
        or pyarrow Dataset. Read in batches: memory does not grow with the row count.
    label, prediction
        Columns of 0/1 (or boolean) true outcomes and model decisions; 1 is the favourable
        outcome. Nulls, NaN or other values are refused with a clear error.
    protected
        Protected attribute columns; an entry like ``"race*sex"`` is an intersection.
    score
        Optional model score column: adds each group's mean score.
    intersections
        More intersections, e.g. ``("race*sex",)``.
    min_group_size
        Groups with fewer rows are reported but take no part in ratios, differences or flags.
    bootstrap
        Number of bootstrap resamples for percentile confidence intervals (0 = none) of
        the selection rate, TPR and FPR per group and of the three attribute figures.
        fairlearn recomputes every resample: budget ~0.03 s per resample for three
        attributes (200 resamples: ~6 s), whatever the number of rows.
    band
        A disparate impact ratio outside ``band`` raises the screening flag, as does a
        group whose selection rate divided by the reference group's falls outside it.
    reference_groups
        Attribute -> reference group; default: the group with the highest selection rate.
    metrics
        Per-group metrics to report (default: all of ``METRICS``).
    timestamp
        Optional column whose min/max become the report's time window.
    progress
        Called after every batch with (batches, rows, total rows or None).
    """
    started = time.perf_counter()
    specs = _specs(protected, intersections)
    group_columns = list(dict.fromkeys(c for s in specs for c in s.columns))
    _check_arguments(
        label=label,
        prediction=prediction,
        score=score,
        group_columns=group_columns,
        min_group_size=min_group_size,
        replicates=bootstrap,
        ci_level=ci_level,
        band=band,
        metrics=metrics,
    )
    references = dict(reference_groups or {})
    for attribute in references:
        if attribute not in {s.name for s in specs}:
            raise AuditInputError(
                ERR_REFERENCE_ATTRIBUTE.format(attribute=attribute, audited=", ".join(s.name for s in specs))
            )

    source = open_source(table, dictionary_columns=group_columns, filesystem=filesystem)
    needed = [(label, "label"), (prediction, "prediction")]
    needed += [(c, "protected attribute") for c in group_columns]
    if score is not None:
        needed.append((score, "score"))
    if timestamp is not None:
        needed.append((timestamp, "timestamp"))
    require_columns(source, needed)
    columns = [c for c, _ in needed]

    counter = ConfusionCounter(
        specs=specs,
        group_columns=group_columns,
        label=label,
        prediction=prediction,
        score=score,
        timestamp=timestamp,
    )
    for batch in source.batches(columns=columns):
        counter.add(batch)
        if progress is not None:
            progress(counter.batches, counter.rows, source.total_rows)
    if counter.rows == 0:
        raise AuditInputError(ERR_EMPTY.format(source=source.description))
    tables = counter.tables()
    counted = time.perf_counter()

    eligible = [_eligible(t, min_group_size) for t in tables]
    figures = compute(tables, eligible=eligible, metrics=metrics)
    computed = time.perf_counter()
    intervals: list[TableIntervals] | None = None
    if bootstrap:
        intervals = bootstrap_intervals(
            tables, eligible=eligible, replicates=bootstrap, level=ci_level, seed=random_state
        )
    finished = time.perf_counter()

    attributes = {}
    for i, table_counts in enumerate(tables):
        attributes[table_counts.attribute] = _attribute(
            table_counts,
            figures[i],
            eligible=eligible[i],
            band=band,
            min_group_size=min_group_size,
            reference=references.get(table_counts.attribute),
            intervals=None if intervals is None else intervals[i],
        )
    return BiasAuditResult(
        rows=counter.rows,
        label=label,
        prediction=prediction,
        score=score,
        min_group_size=min_group_size,
        band=(float(band[0]), float(band[1])),
        attributes=attributes,
        provenance=_provenance(source.description, counter, timestamp),
        method=_method(metrics, band, bootstrap, ci_level, random_state),
        timings={
            "read_and_count_s": counted - started,
            "fairlearn_s": computed - counted,
            "bootstrap_s": finished - computed,
            "total_s": finished - started,
        },
    )


def _eligible(table: CountTable, min_group_size: int) -> np.ndarray:
    totals = table.counts.reshape(len(table.group_labels), 4).sum(axis=1)
    return (totals > 0) & (totals >= min_group_size)


def _attribute(
    table: CountTable,
    figures: TableMetrics,
    *,
    eligible: np.ndarray,
    band: tuple[float, float],
    min_group_size: int,
    reference: str | None,
    intervals: TableIntervals | None,
) -> AttributeResult:
    import math

    low, high = band
    present = sorted(figures.by_group)
    big = [g for g in present if eligible[g]]
    rates = {g: figures.by_group[g]["selection_rate"] for g in present}
    assessed = len(big) >= 2
    ref: int | None = None
    if reference is not None:
        matches = [g for g in big if table.group_labels[g] == reference]
        if not matches:
            raise AuditInputError(
                ERR_REFERENCE_GROUP.format(
                    group=reference,
                    attribute=table.attribute,
                    min=min_group_size,
                    groups=", ".join(table.group_labels[g] for g in big) or "(none)",
                )
            )
        ref = matches[0]
    elif big:
        ref = max(big, key=lambda g: rates[g])  # first of the sorted groups on ties
    ref_rate = rates[ref] if ref is not None else 0.0

    groups = []
    for g in present:
        confusion = table.counts[g]
        ratio = rates[g] / ref_rate if ref_rate > 0 else None
        flagged = bool(assessed and eligible[g] and ratio is not None and not low <= ratio <= high)
        values = figures.by_group[g]
        count = int(confusion.sum())
        groups.append(
            GroupResult(
                name=table.group_labels[g],
                count=count,
                tn=int(confusion[0, 0]),
                fp=int(confusion[0, 1]),
                fn=int(confusion[1, 0]),
                tp=int(confusion[1, 1]),
                metrics={name: values.get(name) for name in METRICS},
                impact_ratio=ratio,
                mean_score=(None if table.score_sums is None else float(table.score_sums[g]) / count),
                small=not bool(eligible[g]),
                flagged=flagged,
                ci=None if intervals is None else dict(intervals.by_group.get(g, {})),
            )
        )

    di = figures.disparate_impact
    note = None
    bias: bool | None = None
    if not assessed:
        note = NOTE_NOT_ASSESSED.format(min=min_group_size)
        di = dpd = eod = None
    else:
        dpd = figures.demographic_parity_difference
        eod = figures.equalized_odds_difference
        di_undefined = di is None or math.isnan(di)
        if di_undefined:
            note = NOTE_NO_SELECTION
        di_flag = di is not None and not di_undefined and not low <= di <= high
        bias = bool(di_flag or any(g.flagged for g in groups))
    ci = None
    if intervals is not None and assessed:
        ci = {
            "disparate_impact": intervals.disparate_impact,
            "demographic_parity_difference": intervals.demographic_parity_difference,
            "equalized_odds_difference": intervals.equalized_odds_difference,
        }
    totals = table.counts.reshape(len(table.group_labels), 4).sum(axis=1)
    return AttributeResult(
        name=table.attribute,
        columns=table.columns,
        groups=groups,
        reference_group=None if ref is None or not assessed else table.group_labels[ref],
        disparate_impact=di,
        demographic_parity_difference=dpd,
        equalized_odds_difference=eod,
        bias_detected=bias,
        note=note,
        empty_groups=[table.group_labels[g] for g in range(len(totals)) if totals[g] == 0],
        ci=ci,
    )


def _provenance(source: str, counter: ConfusionCounter, timestamp: str | None) -> dict[str, Any]:
    window = None
    if timestamp is not None and counter.time_min is not None:
        window = {
            "column": timestamp,
            "start": _iso(counter.time_min),
            "end": _iso(counter.time_max),
        }
    return {
        "source": source,
        "rows": counter.rows,
        "batches": counter.batches,
        "time_window": window,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _method(
    metrics: Sequence[str],
    band: tuple[float, float],
    replicates: int,
    ci_level: float,
    seed: int | None,
) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "engine": "fairlearn metric functions on per-group confusion counts (sample_weight)",
        "fairlearn_version": version("fairlearn"),
        "scikit_learn_version": version("scikit-learn"),
        "metrics": list(metrics),
        "disparate_impact": "min/max of group selection rates among groups with at least "
        "min_group_size rows (fairlearn demographic_parity_ratio)",
        "equalized_odds": "max of the TPR and FPR between-group differences "
        "(fairlearn equalized_odds_difference, agg='worst_case')",
        "band": list(band),
        "band_note": FOUR_FIFTHS_NOTE,
        "bootstrap": {"replicates": replicates, "ci_level": ci_level, "seed": seed} if replicates else None,
    }
