"""The result of a bias audit and its JSON form."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from governance.bias._metrics import Interval

FOUR_FIFTHS_NOTE = (
    "The 0.8 threshold is the 'four-fifths rule' of the US Uniform Guidelines on Employee "
    "Selection Procedures (29 CFR 1607.4(D), 1978), written for hiring and other employment "
    "decisions. Here it is a screening flag: a ratio outside the 0.8-1.2 band calls for a "
    "closer look at the model and its data. It is not a finding of discrimination, and a "
    "ratio inside the band is not proof of fairness."
)


def _num(value: float | None) -> float | None:
    """JSON has no NaN: undefined figures become ``null``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _interval(ci: Interval) -> list[float | None]:
    return [_num(ci.low), _num(ci.high)]


@dataclass(frozen=True, kw_only=True)
class GroupResult:
    """One group of one attribute."""

    name: str
    count: int
    tp: int
    fp: int
    tn: int
    fn: int
    metrics: dict[str, float | None]
    """selection_rate, tpr, fpr, fnr, precision, accuracy (``None`` when not computed)."""
    impact_ratio: float | None
    """Selection rate divided by the reference group's selection rate."""
    mean_score: float | None
    small: bool
    """Fewer rows than ``min_group_size``: reported, not used for flags."""
    flagged: bool
    ci: dict[str, Interval] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count}
        out.update({name: _num(value) for name, value in self.metrics.items()})
        out["impact_ratio"] = _num(self.impact_ratio)
        out["confusion"] = {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn}
        out["small"] = self.small
        out["flagged"] = self.flagged
        if self.mean_score is not None:
            out["mean_score"] = _num(self.mean_score)
        if self.ci is not None:
            out["ci"] = {name: _interval(ci) for name, ci in self.ci.items()}
        return out


@dataclass(frozen=True, kw_only=True)
class AttributeResult:
    """One protected attribute (or intersection such as ``race*sex``)."""

    name: str
    columns: tuple[str, ...]
    groups: list[GroupResult]
    reference_group: str | None
    disparate_impact: float | None
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    bias_detected: bool | None
    """``None`` when fewer than two groups are large enough to compare."""
    note: str | None = None
    empty_groups: list[str] = field(default_factory=list)
    ci: dict[str, Interval] | None = None

    @property
    def small_groups(self) -> list[str]:
        return [g.name for g in self.groups if g.small]

    @property
    def flagged_groups(self) -> list[str]:
        return [g.name for g in self.groups if g.flagged]

    def group(self, name: str) -> GroupResult:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "columns": list(self.columns),
            "groups": {g.name: g.to_dict() for g in self.groups},
            "reference_group": self.reference_group,
            "disparate_impact": _num(self.disparate_impact),
            "demographic_parity_difference": _num(self.demographic_parity_difference),
            "equalized_odds_difference": _num(self.equalized_odds_difference),
            "bias_detected": self.bias_detected,
            "small_groups": self.small_groups,
            "flagged_groups": self.flagged_groups,
            "empty_groups": list(self.empty_groups),
            "note": self.note,
        }
        if self.ci is not None:
            out["ci"] = {name: _interval(ci) for name, ci in self.ci.items()}
        return out


@dataclass(frozen=True, kw_only=True)
class BiasAuditResult:
    """Everything an audit found; :meth:`to_dict` is the JSON report."""

    rows: int
    label: str
    prediction: str
    score: str | None
    min_group_size: int
    band: tuple[float, float]
    attributes: dict[str, AttributeResult]
    provenance: dict[str, Any]
    method: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def bias_detected(self) -> bool:
        """True when any attribute raised the screening flag."""
        return any(a.bias_detected for a in self.attributes.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "label": self.label,
            "prediction": self.prediction,
            "score": self.score,
            "min_group_size": self.min_group_size,
            "band": list(self.band),
            "bias_detected": self.bias_detected,
            "attributes": {name: a.to_dict() for name, a in self.attributes.items()},
            "provenance": dict(self.provenance),
            "method": dict(self.method),
            "timings": dict(self.timings),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, allow_nan=False)
