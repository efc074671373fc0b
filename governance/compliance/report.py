"""The compliance report of one model: :func:`evaluate_compliance` runs the checks of each
requirement the card declares (defined in ``include/compliance/requirements.yaml``, read by
:func:`governance.compliance.requirements.load_requirements`; each check's evaluator is in
:data:`governance.compliance.evaluators.EVALUATORS`) and returns a :class:`ComplianceReport`
of :class:`RequirementResult` and :class:`ComplianceCheck` (JSON and Markdown forms).

Scope rules:

* only requirements the card declares are evaluated; the report lists the others as not evaluated;
* a check whose ``applies_when`` conditions do not hold is *not applicable* (it passes, and says why);
  HIPAA as a whole applies only to protected health information (personal data, healthcare domain);
* EU AI Act high-risk obligations (Art. 9–15) apply when the model's recorded EU AI Act category is
  ``high-risk``; a ``prohibited`` model fails the whole report with a blocker, whether or not the
  card declares EU_AI_ACT, because an Art. 5 practice cannot be approved at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.audit import VerifyResult, format_ts, utc_now
from governance.checks.base import jsonable
from governance.compliance.evaluators import ERR_PROHIBITED, EVALUATORS, EvidenceContext
from governance.compliance.requirements import CONDITIONS, RequirementsDefinition, load_requirements
from governance.errors import GovernanceError
from governance.risk import EUAIActCategory
from governance.store.repository import GovernanceStore, ModelRecord

STATUS_PASSED = "passed"
STATUS_FAILED = "failed"
STATUS_NOT_APPLICABLE = "not_applicable"

ERR_UNDEFINED_REQUIREMENT = (
    "the card declares {name}, but {name} is not defined in the compliance requirements file; add it there"
)
NOTE_NOT_DECLARED = (
    "Only the requirements the card declares are evaluated. Declared: {declared}. Not evaluated: {others}."
)
NOTE_NOTHING_DECLARED = "The card declares no compliance requirement, so none was evaluated."
NOTE_NOT_APPLICABLE = "not applicable: {why}"
NOTE_UNMET = "not the case that {condition}"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, kw_only=True)
class ComplianceCheck:
    id: str
    title: str
    reference: str
    kind: str
    status: str
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    looks_at: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status != STATUS_FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "reference": self.reference,
            "kind": self.kind,
            "status": self.status,
            "passed": self.passed,
            "reasons": list(self.reasons),
            "evidence": jsonable(self.evidence),
            "looks_at": list(self.looks_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComplianceCheck:
        status = data.get("status") or (STATUS_PASSED if data.get("passed") else STATUS_FAILED)
        return cls(
            id=str(data["id"]),
            title=str(data.get("title", "")),
            reference=str(data.get("reference", "")),
            kind=str(data.get("kind", "")),
            status=str(status),
            reasons=list(data.get("reasons") or []),
            evidence=dict(data.get("evidence") or {}),
            looks_at=list(data.get("looks_at") or []),
        )


@dataclass(frozen=True, kw_only=True)
class RequirementResult:
    name: str
    title: str
    applicable: bool
    checks: list[ComplianceCheck]
    note: str | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "applicable": self.applicable,
            "passed": self.passed,
            "note": self.note,
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> RequirementResult:
        return cls(
            name=name,
            title=str(data.get("title", name)),
            applicable=bool(data.get("applicable", True)),
            note=data.get("note"),
            checks=[ComplianceCheck.from_dict(c) for c in data.get("checks") or []],
        )


@dataclass(frozen=True, kw_only=True)
class ComplianceReport:
    model_id: str
    model: str
    risk_level: str
    eu_ai_act_category: str
    declared: list[str]
    not_evaluated: list[str]
    requirements: dict[str, RequirementResult]
    blockers: list[str] = field(default_factory=list)
    scope_note: str = ""
    generated_at: str = ""

    @property
    def passed(self) -> bool:
        return not self.blockers and all(r.passed for r in self.requirements.values())

    @property
    def failed_checks(self) -> list[tuple[str, ComplianceCheck]]:
        return [(name, c) for name, r in self.requirements.items() for c in r.checks if not c.passed]

    @property
    def reasons(self) -> list[str]:
        """Blockers, then one line per failed check reason (``REQ CHECK-ID: reason``)."""
        out = list(self.blockers)
        for name, check in self.failed_checks:
            out += [f"{name} {check.id}: {r}" for r in (check.reasons or [f"{check.title} failed"])]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "model": self.model,
            "passed": self.passed,
            "risk_level": self.risk_level,
            "eu_ai_act_category": self.eu_ai_act_category,
            "declared": list(self.declared),
            "not_evaluated": list(self.not_evaluated),
            "scope_note": self.scope_note,
            "blockers": list(self.blockers),
            "generated_at": self.generated_at,
            "requirements": {name: r.to_dict() for name, r in self.requirements.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComplianceReport:
        return cls(
            model_id=str(data.get("model_id", "")),
            model=str(data.get("model", "")),
            risk_level=str(data.get("risk_level", "")),
            eu_ai_act_category=str(data.get("eu_ai_act_category", "")),
            declared=list(data.get("declared") or []),
            not_evaluated=list(data.get("not_evaluated") or []),
            requirements={
                name: RequirementResult.from_dict(name, body) for name, body in (data.get("requirements") or {}).items()
            },
            blockers=list(data.get("blockers") or []),
            scope_note=str(data.get("scope_note", "")),
            generated_at=str(data.get("generated_at", "")),
        )

    def to_markdown(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"### Compliance: {_md(self.model)} (`{self.model_id}`): **{verdict}**",
            "",
            f"Risk tier **{self.risk_level}**, EU AI Act category **{self.eu_ai_act_category}**. {_md(self.scope_note)}",
        ]
        if self.blockers:
            lines += ["", "**Blockers**", *[f"- {_md(b)}" for b in self.blockers]]
        for name, req in self.requirements.items():
            applicable = [c for c in req.checks if c.status != STATUS_NOT_APPLICABLE]
            ok = sum(1 for c in applicable if c.passed)
            state = "passed" if req.passed else "FAILED"
            lines += ["", f"#### {name}: {_md(req.title)}: {state} ({ok}/{len(applicable)} applicable checks pass)"]
            if req.note:
                lines.append(f"_{_md(req.note)}_")
            lines += ["", "| Check | Result | Evidence |", "| --- | --- | --- |"]
            for c in req.checks:
                if c.status == STATUS_FAILED:
                    result = "FAIL: " + "; ".join(c.reasons)
                elif c.status == STATUS_NOT_APPLICABLE:
                    result = "n/a: " + "; ".join(c.reasons)
                else:
                    result = "pass"
                title = f"**{c.id}** {c.title}" + (f" ({c.reference})" if c.reference else "")
                lines.append(f"| {_md(title)} | {_md(result)} | {_md(_evidence_text(c.evidence))} |")
        return "\n".join(lines)


def _md(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _evidence_text(evidence: Mapping[str, Any], limit: int = 300) -> str:
    parts = []
    for key, value in evidence.items():
        shown = (
            value if isinstance(value, str) else json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
        )
        parts.append(f"{key}={shown}")
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- evaluation


def _conditions(model: ModelRecord) -> dict[str, bool]:
    card = model.card
    pii = bool(card.get("processes_pii"))
    return {
        "processes_pii": pii,
        "autonomous": bool(card.get("autonomous")),
        "user_facing": bool(card.get("user_facing")),
        "phi": pii and model.domain == "healthcare",
        "eu_high_risk": model.eu_ai_act_category == EUAIActCategory.HIGH_RISK.value,
        "eu_limited": model.eu_ai_act_category == EUAIActCategory.LIMITED.value,
    }


def _unmet(conditions: Sequence[str], state: Mapping[str, bool]) -> list[str]:
    return [CONDITIONS[c] for c in conditions if not state[c]]


def _workflow_reviewers(
    *, workflow_steps: Sequence[str], owner: str, fallback_human_steps: Sequence[str]
) -> tuple[list[str], dict[str, list[str]], str | None]:
    """(human steps, eligible reviewers per human step, problem) from the workflow definition and groups."""
    try:
        from governance.workflows import load_groups, load_workflows

        groups = load_groups()
        workflow = load_workflows(groups=groups)
    except (ImportError, GovernanceError) as exc:
        return [s for s in workflow_steps if s in fallback_human_steps], {}, str(exc)
    human: list[str] = []
    reviewers: dict[str, list[str]] = {}
    for step in workflow_steps:
        definition = workflow.steps.get(step)
        if definition is None or not definition.is_human:
            continue
        human.append(step)
        reviewers[step] = groups.members(definition.group or "", exclude={owner})
    return human, reviewers, None


def evaluate_compliance(
    *,
    model: ModelRecord,
    store: GovernanceStore,
    workflow_steps: Sequence[str],
    evidence_encrypted_at_rest: bool | None = None,
    reviewers: Mapping[str, Sequence[str]] | None = None,
    include_dir: Path | None = None,
    requirements: RequirementsDefinition | None = None,
    chain: VerifyResult | None = None,
) -> ComplianceReport:
    """Evaluate each requirement ``model``'s card declares against the evidence in ``store``.

    ``workflow_steps`` are the steps of the model's approval workflow. ``reviewers`` maps each human
    step to the people who may answer it; by default it comes from the workflow definition and the
    reviewer groups (``governance.workflows``), with the owner removed. ``evidence_encrypted_at_rest``
    is the platform's declaration (see :mod:`governance.compliance.evaluators` for the rule when it
    is None). ``chain`` lets a caller evaluating many models verify the audit chain once.
    """
    definition = requirements or load_requirements(include_dir=include_dir)
    if reviewers is None:
        human_steps, eligible, problem = _workflow_reviewers(
            workflow_steps=workflow_steps, owner=model.owner, fallback_human_steps=definition.human_review_steps
        )
    else:
        human_steps = [s for s in workflow_steps if s in reviewers]
        eligible = {s: [r for r in reviewers[s] if r != model.owner] for s in human_steps}
        problem = None
    ctx = EvidenceContext(
        model=model,
        store=store,
        workflow_steps=workflow_steps,
        human_steps=human_steps,
        reviewers=eligible,
        reviewers_problem=problem,
        encrypted_at_rest=evidence_encrypted_at_rest,
        include_dir=include_dir,
        chain=chain,
    )
    state = _conditions(model)
    declared = [str(r) for r in model.card.get("compliance_requirements") or []]
    results: dict[str, RequirementResult] = {}
    blockers = []
    if model.eu_ai_act_category == EUAIActCategory.PROHIBITED.value:
        blockers.append(ERR_PROHIBITED.format(rationale=model.eu_ai_act_rationale))
    for name in declared:
        req = definition.requirements.get(name)
        if req is None:
            blockers.append(ERR_UNDEFINED_REQUIREMENT.format(name=name))
            continue
        unmet_req = _unmet(req.applies_when, state)
        checks: list[ComplianceCheck] = []
        for chk in req.checks:
            common: dict[str, Any] = {"id": chk.id, "title": chk.title, "reference": chk.reference, "kind": chk.check}
            unmet = unmet_req or _unmet(chk.applies_when, state)
            if unmet:
                why = NOTE_NOT_APPLICABLE.format(why="; ".join(NOTE_UNMET.format(condition=u) for u in unmet))
                checks.append(
                    ComplianceCheck(**common, status=STATUS_NOT_APPLICABLE, reasons=[why], looks_at=chk.evidence)
                )
                continue
            outcome = EVALUATORS[chk.check](ctx)
            checks.append(
                ComplianceCheck(
                    **common,
                    status=STATUS_PASSED if outcome.passed else STATUS_FAILED,
                    reasons=list(outcome.reasons),
                    evidence=jsonable(outcome.evidence),
                    looks_at=chk.evidence,
                )
            )
        note = None
        if unmet_req:
            note = req.not_applicable_note or NOTE_NOT_APPLICABLE.format(why="; ".join(unmet_req))
        results[name] = RequirementResult(
            name=name, title=req.title, applicable=not unmet_req, checks=checks, note=note
        )
    others = [n for n in definition.requirements if n not in declared]
    scope = (
        NOTE_NOT_DECLARED.format(declared=", ".join(declared), others=", ".join(others) or "none")
        if declared
        else NOTE_NOTHING_DECLARED
    )
    return ComplianceReport(
        model_id=model.id,
        model=f"{model.name} {model.version}",
        risk_level=model.risk_level,
        eu_ai_act_category=model.eu_ai_act_category,
        declared=declared,
        not_evaluated=others,
        requirements=results,
        blockers=blockers,
        scope_note=scope,
        generated_at=format_ts(utc_now()),
    )
