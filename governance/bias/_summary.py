"""What the nightly bias audit records of a report (:meth:`BiasAuditResult.to_dict`): the per-attribute
summary a dashboard needs (the ``bias_audits`` row), the flagged attributes with their groups (the
audit event and the notification), and the report's outcome without what changes on every run
(timings, generation time), which decides whether a rerun changed anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SUMMARY_KEYS = (
    "bias_detected",
    "disparate_impact",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "reference_group",
    "flagged_groups",
    "small_groups",
)
"""The keys of each attribute's result kept in the summary."""


def attribute_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute → its :data:`SUMMARY_KEYS` in a report dict."""
    return {name: {k: attr.get(k) for k in SUMMARY_KEYS} for name, attr in (report.get("attributes") or {}).items()}


def flagged_attributes(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The attributes of a summary whose screening flag is raised, with their flagged groups."""
    return [
        {
            "attribute": name,
            "groups": list(a.get("flagged_groups") or []),
            "reference_group": a.get("reference_group"),
            "disparate_impact": a.get("disparate_impact"),
        }
        for name, a in attributes.items()
        if a.get("bias_detected") is True
    ]


def flag_text(flags: list[dict[str, Any]]) -> str:
    """The flagged attributes in one line, for a notification."""
    parts = []
    for f in flags:
        di = f["disparate_impact"]
        groups = ", ".join(f["groups"]) or "no single group (the overall ratio)"
        ratio = f"{di:.2f}" if isinstance(di, int | float) else "n/a"
        parts.append(
            f"{f['attribute']} (groups {groups}; disparate impact {ratio}, reference group {f['reference_group']})"
        )
    return "; ".join(parts)


def report_outcome(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report dict without its timings and its generation time: equal for equal outcomes."""
    stable = {k: v for k, v in report.items() if k != "timings"}
    stable["provenance"] = {k: v for k, v in (report.get("provenance") or {}).items() if k != "generated_at"}
    return stable
