"""The trend of the nightly compliance report: each model against yesterday's snapshot.

A model is *new* (not in yesterday's report), *fixed*, *now failing*, *still failing* or *still
passing*; the trend also names the checks that newly fail or were fixed, the models no longer in
scope, and how many failed yesterday. A model's failing checks are named
``<requirement>/<check id>`` and ``blocker/<reason>`` (:func:`failing_checks`): the same names in
the snapshot's trend, the ``compliance_reports`` row and the nightly audit events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TREND_NEW = "new"
TREND_FIXED = "fixed"
TREND_NOW_FAILING = "now failing"
TREND_STILL_FAILING = "still failing"
TREND_STILL_PASSING = "still passing"


def failing_checks(model: Mapping[str, Any]) -> list[str]:
    """The failed checks (``REQ/CHECK-ID``) and blockers (``blocker/…``) of one model of a snapshot, sorted."""
    ids = [
        f"{req}/{check['id']}"
        for req, body in (model.get("requirements") or {}).items()
        for check in body.get("checks") or []
        if not check.get("passed")
    ]
    return sorted(ids + [f"blocker/{b}" for b in model.get("blockers") or []])


def compare_with_previous(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """Per-model trend against yesterday's snapshot: new / fixed / now failing / still …, and which checks moved."""
    if not previous:
        return {"baseline": None, "models": {}, "removed": [], "failing_before": None}
    before = {m["model_id"]: m for m in previous.get("models") or []}
    trends: dict[str, Any] = {}
    for model in current.get("models") or []:
        old = before.get(model["model_id"])
        failing_now = set(failing_checks(model))
        if old is None:
            trends[model["model_id"]] = {"trend": TREND_NEW, "newly_failing": sorted(failing_now), "fixed": []}
            continue
        failing_then = set(failing_checks(old))
        if model["passed"] and old["passed"]:
            trend = TREND_STILL_PASSING
        elif model["passed"]:
            trend = TREND_FIXED
        elif old["passed"]:
            trend = TREND_NOW_FAILING
        else:
            trend = TREND_STILL_FAILING
        trends[model["model_id"]] = {
            "trend": trend,
            "newly_failing": sorted(failing_now - failing_then),
            "fixed": sorted(failing_then - failing_now),
        }
    current_ids = {m["model_id"] for m in current.get("models") or []}
    removed = [f"{m['model']} ({m['model_id']})" for m in before.values() if m["model_id"] not in current_ids]
    return {
        "baseline": previous.get("generated_at"),
        "models": trends,
        "removed": removed,
        "failing_before": sum(1 for m in before.values() if not m["passed"]),
    }
