"""Approval workflow definitions: which steps each risk tier runs, and who reviews them.

Loaded from ``include/workflows/approval.yaml`` and ``include/reviewer_groups.yaml`` (or the
files named by ``GOVERNANCE_WORKFLOWS_FILE`` / ``GOVERNANCE_GROUPS_FILE``). The approval DAGs
are generated from this definition, so editing the YAML changes them with no code change.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from governance import config
from governance._pydantic import StrictModel
from governance.errors import GovernanceError

DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TIERS = ("low", "medium", "high", "critical")

ERR_BAD_DURATION = "'{value}' is not a duration (expected e.g. 30s, 15m, 12h or 3d)"
ERR_UNKNOWN_STEP = "tier '{tier}' lists step '{step}', which is not defined under steps (defined: {known})"
ERR_MISSING_TIER = "tier '{tier}' is missing; every tier ({tiers}) needs a list of steps"
ERR_UNKNOWN_GROUP = "step '{step}' names reviewer group '{group}', which is not defined in {path} (defined: {known})"
ERR_NEEDS_GROUP = "step '{step}' of kind {kind} needs a reviewer group and a response_timeout"
ERR_FIRST_AUTOMATED = "tier '{tier}' must start with an automated step"
ERR_FILE = "{path}: {problem}"


class StepKind(StrEnum):
    AUTOMATED = "automated"
    REVIEW = "review"
    COMPLIANCE = "compliance"
    APPROVAL = "approval"


HUMAN_KINDS = frozenset({StepKind.REVIEW, StepKind.COMPLIANCE, StepKind.APPROVAL})

OPTIONS: dict[StepKind, tuple[str, str]] = {
    StepKind.REVIEW: ("Pass", "Fail"),
    StepKind.COMPLIANCE: ("Confirm", "Reject"),
    StepKind.APPROVAL: ("Approve", "Reject"),
}
"""(positive, negative) answer of each human step kind."""


def parse_duration(value: str | int | float) -> timedelta:
    """``30s``/``15m``/``12h``/``3d``/``1w`` (a bare number is seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    match = DURATION_RE.match(str(value))
    if not match:
        raise ValueError(ERR_BAD_DURATION.format(value=value))
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class StepDefinition(StrictModel):
    kind: StepKind
    title: str
    group: str | None = None
    response_timeout: timedelta | None = None
    approvals: Annotated[int, Field(ge=1, le=5)] = 1

    @field_validator("response_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if value is None or isinstance(value, timedelta):
            return value
        return parse_duration(value)  # type: ignore[arg-type]

    @property
    def is_human(self) -> bool:
        return self.kind in HUMAN_KINDS

    def review_task_ids(self, name: str) -> list[str]:
        """The Airflow task ids of this step's human answers, in order: ``security_review``,
        ``compliance_check_confirm``, ``stakeholder_review_1`` … ``_N``; none for an automated step."""
        if self.kind == StepKind.APPROVAL:
            return [f"{name}_{i}" for i in range(1, self.approvals + 1)]
        if self.kind == StepKind.COMPLIANCE:
            return [f"{name}_confirm"]
        if self.kind == StepKind.REVIEW:
            return [name]
        return []


class WorkflowDefinition(StrictModel):
    version: int = 1
    steps: dict[str, StepDefinition]
    tiers: dict[str, list[str]]

    @model_validator(mode="after")
    def _check(self) -> WorkflowDefinition:
        known = ", ".join(self.steps)
        for tier in TIERS:
            if tier not in self.tiers:
                raise ValueError(ERR_MISSING_TIER.format(tier=tier, tiers=", ".join(TIERS)))
        for tier, steps in self.tiers.items():
            for step_name in steps:
                if step_name not in self.steps:
                    raise ValueError(ERR_UNKNOWN_STEP.format(tier=tier, step=step_name, known=known))
            if not steps or self.steps[steps[0]].kind != StepKind.AUTOMATED:
                raise ValueError(ERR_FIRST_AUTOMATED.format(tier=tier))
        for name, step in self.steps.items():
            if step.is_human and (not step.group or step.response_timeout is None):
                raise ValueError(ERR_NEEDS_GROUP.format(step=name, kind=step.kind.value))
        return self

    def steps_for(self, tier: str) -> list[tuple[str, StepDefinition]]:
        return [(name, self.steps[name]) for name in self.tiers[tier.lower()]]


class ReviewerGroups(StrictModel):
    groups: dict[str, list[str]]

    def members(self, group: str, *, exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
        return [m for m in self.groups.get(group, []) if m not in exclude]


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GovernanceError(ERR_FILE.format(path=path, problem=f"cannot read: {exc.strerror}")) from None
    except yaml.YAMLError as exc:
        raise GovernanceError(ERR_FILE.format(path=path, problem=f"not valid YAML: {exc}")) from None


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


def load_groups(path: Path | None = None) -> ReviewerGroups:
    path = path or config.groups_file()
    try:
        return ReviewerGroups.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise GovernanceError(ERR_FILE.format(path=path, problem=_errors(exc))) from None


def load_workflows(path: Path | None = None, *, groups: ReviewerGroups | None = None) -> WorkflowDefinition:
    """Load and check the workflow definition (every group it names must exist)."""
    path = path or config.workflows_file()
    try:
        wf = WorkflowDefinition.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise GovernanceError(ERR_FILE.format(path=path, problem=_errors(exc))) from None
    groups = groups or load_groups()
    for name, step in wf.steps.items():
        if step.group and step.group not in groups.groups:
            raise GovernanceError(
                ERR_UNKNOWN_GROUP.format(
                    step=name, group=step.group, path=config.groups_file(), known=", ".join(groups.groups)
                )
            )
    return wf
