"""The automated step of every approval workflow: one call runs every check on a model card.

:func:`run_automated_checks` returns an :class:`AutomatedCheckReport` (JSON-serialisable through
``to_dict``). Nothing here raises for a bad model: a missing dataset, an unreadable artifact or an
unexpected error inside one check becomes a failed :class:`CheckResult` with a reason, so the
workflow always ends with reasons.

Checks, in order:

* ``card_completeness`` — a scored checklist of what the card must say (:func:`check_card_completeness`);
* ``evaluation_metrics`` — each declared metric reaches its threshold (GX suite over a metrics frame);
* ``evaluation_data`` — the GX suite on the evaluation dataset (schema, nulls, ranges, balance, rows);
* ``artifact_integrity`` — the artifact's SHA-256 matches the card;
* ``pickle_scan`` — picklescan finds no code-executing import in the artifact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.cards import ModelCard
from governance.checks.artifact import CHECK_ARTIFACT_INTEGRITY, CHECK_PICKLE_SCAN, check_artifact
from governance.checks.base import CheckResult, jsonable
from governance.checks.expectations import CHECK_EVALUATION_DATA, CHECK_METRICS, check_evaluation_data, check_metrics
from governance.risk import EUAIActCategory, RiskLevel, assess_risk

log = logging.getLogger(__name__)

CHECK_CARD_COMPLETENESS = "card_completeness"
CHECK_NAMES = (
    CHECK_CARD_COMPLETENESS,
    CHECK_METRICS,
    CHECK_EVALUATION_DATA,
    CHECK_ARTIFACT_INTEGRITY,
    CHECK_PICKLE_SCAN,
)
MIN_TEXT_CHARS = 20
"""A description or intended use shorter than this says too little to review."""

ERR_CHECK_CRASHED = "{check}: the check could not run ({problem}); this is a bug in the check, report it"
ERR_CARD_ITEM = "card.{field}: missing {requirement}; required {why}"


@dataclass(frozen=True, kw_only=True)
class ChecklistItem:
    field: str
    requirement: str
    applies: bool
    present: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "requirement": self.requirement,
            "applies": self.applies,
            "present": self.present,
            "why": self.why,
        }


def card_checklist(card: ModelCard) -> list[ChecklistItem]:
    """Every item a complete card covers, with whether it applies to this card and is present."""
    risk = assess_risk(card)
    high_tier = risk.level in (RiskLevel.HIGH, RiskLevel.CRITICAL)
    eu_high = risk.eu_ai_act_category == EUAIActCategory.HIGH_RISK
    no_threshold = sorted(n for n, m in card.evaluation.metrics.items() if m.threshold is None)
    return [
        ChecklistItem(
            field="description",
            requirement=f"a description of at least {MIN_TEXT_CHARS} characters",
            applies=True,
            present=len(card.description.strip()) >= MIN_TEXT_CHARS,
            why="for every card",
        ),
        ChecklistItem(
            field="intended_use",
            requirement=f"the intended use, at least {MIN_TEXT_CHARS} characters",
            applies=True,
            present=len(card.intended_use.strip()) >= MIN_TEXT_CHARS,
            why="for every card",
        ),
        ChecklistItem(
            field="limitations",
            requirement="at least one known limitation",
            applies=True,
            present=bool(card.limitations),
            why="for every card",
        ),
        ChecklistItem(
            field="evaluation.metrics",
            requirement="a threshold for every metric"
            + (f" (missing for: {', '.join(no_threshold)})" if no_threshold else ""),
            applies=True,
            present=not no_threshold,
            why="for every card (approval compares each metric with its threshold)",
        ),
        ChecklistItem(
            field="explainability_uri",
            requirement="an explainability report (e.g. SHAP values or a model explanation document)",
            applies=high_tier,
            present=card.explainability_uri is not None,
            why=f"when the risk tier is HIGH or CRITICAL (this model: {risk.level.value})",
        ),
        ChecklistItem(
            field="data_minimisation",
            requirement="a data-minimisation statement",
            applies=card.processes_pii,
            present=card.data_minimisation is not None,
            why="when the model processes personal data (processes_pii: true)",
        ),
        ChecklistItem(
            field="human_oversight",
            requirement="how people oversee and can override the model",
            applies=card.autonomous or eu_high,
            present=card.human_oversight is not None,
            why="when the model makes autonomous decisions or is high-risk under the EU AI Act, Art. 14 "
            f"(this model: autonomous {str(card.autonomous).lower()}, EU AI Act {risk.eu_ai_act_category.value})",
        ),
        ChecklistItem(
            field="protected_attributes",
            requirement="the protected attributes the bias audit groups by",
            applies=card.user_facing or card.processes_pii,
            present=bool(card.protected_attributes),
            why="when the model is user-facing or processes personal data (the nightly bias audit groups by them)",
        ),
        ChecklistItem(
            field="predictions_location",
            requirement="where production predictions are kept",
            applies=bool(card.protected_attributes),
            present=card.predictions_location is not None,
            why="when protected attributes are declared (the nightly bias audit reads the predictions)",
        ),
    ]


def check_card_completeness(card: ModelCard) -> CheckResult:
    """Scored checklist: ``details.score`` is the share of applicable items present; missing ones fail."""
    items = card_checklist(card)
    applicable = [i for i in items if i.applies]
    missing = [i for i in applicable if not i.present]
    score = round((len(applicable) - len(missing)) / len(applicable), 3) if applicable else 1.0
    reasons = [ERR_CARD_ITEM.format(field=i.field, requirement=i.requirement, why=i.why) for i in missing]
    details = {
        "score": score,
        "present": len(applicable) - len(missing),
        "applicable": len(applicable),
        "missing": [i.field for i in missing],
        "items": [i.to_dict() for i in items],
    }
    return CheckResult(name=CHECK_CARD_COMPLETENESS, passed=not missing, reasons=reasons, details=details)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, kw_only=True)
class AutomatedCheckReport:
    """Every automated check on one model card; ``passed`` only when all of them passed."""

    passed: bool
    checks: list[CheckResult]
    model: str | None = None
    duration_seconds: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def reasons(self) -> list[str]:
        """Every reason of every failed check, prefixed by the check's name."""
        return [f"{c.name}: {r}" for c in self.failed_checks for r in (c.reasons or ["failed"])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "model": self.model,
            "duration_seconds": self.duration_seconds,
            "timings": jsonable(self.timings),
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutomatedCheckReport:
        checks = [CheckResult.from_dict(c) for c in data.get("checks") or []]
        passed = data.get("passed")
        return cls(
            passed=bool(passed) if passed is not None else all(c.passed for c in checks),
            checks=checks,
            model=data.get("model"),
            duration_seconds=data.get("duration_seconds"),
            timings=dict(data.get("timings") or {}),
        )


def _guarded(name: str, run: Callable[[], list[CheckResult]], names: tuple[str, ...]) -> list[CheckResult]:
    try:
        return run()
    except Exception as exc:  # one broken check must not hide the others' results
        log.exception("automated check %s crashed", name)
        problem = f"{type(exc).__name__}: {exc}"
        return [
            CheckResult(name=n, passed=False, reasons=[ERR_CHECK_CRASHED.format(check=n, problem=problem)])
            for n in names
        ]


def run_automated_checks(card: ModelCard, *, include_dir: Path | None = None) -> AutomatedCheckReport:
    """Run every automated check on ``card``; relative URIs resolve against ``include_dir``
    (default :func:`governance.config.include_dir`)."""
    started = time.perf_counter()
    steps: list[tuple[str, tuple[str, ...], Callable[[], list[CheckResult]]]] = [
        (CHECK_CARD_COMPLETENESS, (CHECK_CARD_COMPLETENESS,), lambda: [check_card_completeness(card)]),
        (CHECK_METRICS, (CHECK_METRICS,), lambda: [check_metrics(card, include_dir=include_dir)]),
        (
            CHECK_EVALUATION_DATA,
            (CHECK_EVALUATION_DATA,),
            lambda: [check_evaluation_data(card, include_dir=include_dir)],
        ),
        (
            "artifact",
            (CHECK_ARTIFACT_INTEGRITY, CHECK_PICKLE_SCAN),
            lambda: list(check_artifact(card, include_dir=include_dir)),
        ),
    ]
    checks: list[CheckResult] = []
    timings: dict[str, float] = {}
    for label, names, run in steps:
        t0 = time.perf_counter()
        checks.extend(_guarded(label, run, names))
        timings[label] = round(time.perf_counter() - t0, 4)
    return AutomatedCheckReport(
        passed=all(c.passed for c in checks),
        checks=checks,
        model=card.key,
        duration_seconds=round(time.perf_counter() - started, 4),
        timings=timings,
    )
