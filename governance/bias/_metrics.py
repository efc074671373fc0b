"""fairlearn computes every number, from a tiny weighted table.

For each attribute the confusion counts become one row per non-empty
``(group, y_true, y_pred)`` cell, with the count as ``sample_weight``. fairlearn's
metrics weight every row by ``sample_weight`` (``selection_rate`` is
``dot(selected, w) / sum(w)``; the rates come from scikit-learn's weighted
``confusion_matrix``), so a cell with weight ``k`` counts exactly like ``k`` identical
raw rows and the results equal a ``MetricFrame`` over the raw rows. Cells with a zero
count are left out, as raw rows would be: a group's label set (which decides
fairlearn's single-class handling) is then the same as in the raw data.

All attributes go into ONE ``MetricFrame``: the group is the sensitive feature and the
attribute is a control feature, so ``MetricFrame.difference()`` / ``ratio()`` give each
attribute's between-group difference and ratio. That is exactly how
``demographic_parity_difference`` (``MetricFrame(selection_rate).difference()``),
``demographic_parity_ratio`` (``.ratio()``) and ``equalized_odds_difference``
(``max`` of the TPR and FPR ``.difference()``, ``agg="worst_case"``) are built in
fairlearn 0.15; calling those functions once per attribute would build four frames per
attribute and cost about three times as long. The tests check every figure against the
functions themselves on the raw rows.

Groups smaller than ``min_group_size`` get their own control level, so their metrics are
computed and reported but they take no part in the differences and ratios.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from governance.bias._counts import CountTable

METRICS = ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy")
"""Per-group metrics an audit can report (all of them by default)."""
CORE_METRICS = ("selection_rate", "tpr", "fpr")
"""What disparate impact, demographic parity and equalized odds need."""


def precision(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """scikit-learn's ``precision_score`` with ``zero_division=0.0``: a group without positive
    predictions gets 0, the convention fairlearn's own rates use for an empty denominator."""
    from sklearn.metrics import precision_score

    return float(precision_score(y_true, y_pred, sample_weight=sample_weight, zero_division=0.0))


def metric_functions(names: Sequence[str]) -> dict[str, Callable[..., float]]:
    """The fairlearn / scikit-learn function behind each metric name."""
    from fairlearn.metrics import (
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    functions: dict[str, Callable[..., float]] = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "precision": precision,
        "accuracy": accuracy_score,
    }
    return {name: functions[name] for name in names}


@dataclass(frozen=True, kw_only=True)
class TableMetrics:
    """fairlearn's figures for one attribute."""

    by_group: dict[int, dict[str, float]]
    """Group index (into ``CountTable.group_labels``) -> metric -> value, non-empty groups."""
    disparate_impact: float | None
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None


@dataclass(frozen=True, kw_only=True)
class Interval:
    low: float | None
    high: float | None


@dataclass(frozen=True, kw_only=True)
class TableIntervals:
    """Bootstrap percentile intervals for one attribute."""

    by_group: dict[int, dict[str, Interval]]
    disparate_impact: Interval
    demographic_parity_difference: Interval
    equalized_odds_difference: Interval


def _cells(
    counts_per_table: Sequence[np.ndarray],
    eligible: Sequence[np.ndarray],
    levels: Sequence[int],
    gid_offsets: Sequence[int],
) -> tuple[np.ndarray, ...]:
    """One row per non-empty (group, y, p) cell: y, p, weight, group id, control level.

    A group's control level is ``2 * level`` when it is large enough to take part in the
    differences and ratios, ``2 * level + 1`` when it is only reported.
    """
    import numpy as np

    parts: list[tuple[np.ndarray, ...]] = []
    for counts, ok, level, offset in zip(counts_per_table, eligible, levels, gid_offsets, strict=True):
        g, y, p = np.nonzero(counts)
        parts.append(
            (
                y.astype(np.int64),
                p.astype(np.int64),
                counts[g, y, p].astype(np.int64),
                g + offset,
                level * 2 + (~ok[g]).astype(np.int64),
            )
        )
    return tuple(np.concatenate([part[k] for part in parts]) for k in range(5))


def _offsets(tables: Sequence[CountTable]) -> list[int]:
    """First group id of each table: group ids are unique across attributes."""
    import itertools

    return [0, *itertools.accumulate(len(t.group_labels) for t in tables)][: len(tables)]


def _metric_frame(
    cells: tuple[np.ndarray, ...], names: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``MetricFrame`` over the weighted cells: (by_group, difference(), ratio())."""
    import pandas as pd
    import sklearn
    from fairlearn.metrics import MetricFrame

    y, p, w, gid, ctl = cells
    functions = metric_functions(names)
    # Only skips scikit-learn's re-validation of arguments we built ourselves (integers 0/1,
    # positive integer weights); the arithmetic is unchanged.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        frame = MetricFrame(
            metrics=functions,
            y_true=y,
            y_pred=p,
            sensitive_features=pd.Series(gid, name="group"),
            control_features=pd.Series(ctl, name="level"),
            sample_params={name: {"sample_weight": w} for name in functions},
        )
        return frame.by_group, frame.difference(), frame.ratio()


def _attribute_figures(
    level: int, difference: pd.DataFrame, ratio: pd.DataFrame
) -> tuple[float | None, float | None, float | None]:
    """(disparate impact, DPD, EOD) of the eligible groups at control ``level``."""
    key = level * 2
    if key not in difference.index:
        return None, None, None
    diff = difference.loc[key]
    di = float(ratio.loc[key, "selection_rate"])
    dpd = float(diff["selection_rate"])
    # fairlearn.metrics.equalized_odds_difference(agg="worst_case"): max over [tpr, fpr].
    eod = float(max(diff[["tpr", "fpr"]]))
    return di, dpd, eod


def compute(
    tables: Sequence[CountTable], *, eligible: Sequence[np.ndarray], metrics: Sequence[str]
) -> list[TableMetrics]:
    """fairlearn's per-group metrics and between-group figures for every attribute."""
    import numpy as np

    names = list(dict.fromkeys([*CORE_METRICS, *metrics]))
    counts = [t.counts for t in tables]
    offsets = _offsets(tables)
    cells = _cells(counts, eligible, range(len(tables)), offsets)
    by_group, difference, ratio = _metric_frame(cells, names)
    out = []
    for level, (table, gid_offset) in enumerate(zip(tables, offsets, strict=True)):
        totals = table.counts.reshape(len(table.group_labels), 4).sum(axis=1)
        groups: dict[int, dict[str, float]] = {}
        for g in np.flatnonzero(totals):
            key = level * 2 + (0 if eligible[level][g] else 1)
            row = by_group.loc[(key, gid_offset + int(g))]
            groups[int(g)] = {name: float(row[name]) for name in names}
        di, dpd, eod = _attribute_figures(level, difference, ratio)
        out.append(
            TableMetrics(
                by_group=groups,
                disparate_impact=di,
                demographic_parity_difference=dpd,
                equalized_odds_difference=eod,
            )
        )
    return out


def bootstrap(
    tables: Sequence[CountTable],
    *,
    eligible: Sequence[np.ndarray],
    replicates: int,
    level: float,
    seed: int | None,
) -> list[TableIntervals]:
    """Percentile intervals from ``replicates`` bootstrap resamples of the rows.

    Resampling N rows with replacement draws the cell counts from a multinomial with the
    observed cell frequencies, so each replicate is a new weighted cell table; fairlearn
    computes every replicate (all replicates in one ``MetricFrame``, the replicate being
    part of the control level). fairlearn's own ``MetricFrame(n_boot=...)`` would resample
    the *cells*, which is not the same thing.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    ntables = len(tables)
    resampled: list[np.ndarray] = []
    for _ in range(replicates):
        for table in tables:
            flat = table.counts.reshape(-1)
            total = int(flat.sum())
            draw = rng.multinomial(total, flat / total) if total else flat
            resampled.append(draw.reshape(table.counts.shape))
    offsets = _offsets(tables)
    # Group ids repeat in every replicate; the replicate is part of the control level.
    cells = _cells(resampled, list(eligible) * replicates, range(replicates * ntables), offsets * replicates)
    by_group, difference, ratio = _metric_frame(cells, CORE_METRICS)
    q_low, q_high = (1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0

    def interval(values: list[float]) -> Interval:
        arr = np.asarray(values, dtype=float)
        if arr.size == 0 or np.isnan(arr).all():
            return Interval(low=None, high=None)
        lo, hi = np.nanquantile(arr, [q_low, q_high])
        return Interval(low=float(lo), high=float(hi))

    out = []
    for t, table in enumerate(tables):
        figures = [_attribute_figures(r * ntables + t, difference, ratio) for r in range(replicates)]
        per_group: dict[int, dict[str, Interval]] = {}
        for g in range(len(table.group_labels)):
            if table.counts[g].sum() == 0:
                continue
            values: dict[str, list[float]] = {name: [] for name in CORE_METRICS}
            for r in range(replicates):
                level_key = (r * ntables + t) * 2 + (0 if eligible[t][g] else 1)
                gid = offsets[t] + g
                if (level_key, gid) not in by_group.index:
                    continue
                row = by_group.loc[(level_key, gid)]
                for name in CORE_METRICS:
                    values[name].append(float(row[name]))
            per_group[g] = {name: interval(v) for name, v in values.items()}
        out.append(
            TableIntervals(
                by_group=per_group,
                disparate_impact=interval([f[0] for f in figures if f[0] is not None]),
                demographic_parity_difference=interval([f[1] for f in figures if f[1] is not None]),
                equalized_odds_difference=interval([f[2] for f in figures if f[2] is not None]),
            )
        )
    return out
