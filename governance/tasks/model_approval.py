"""What the ``model_approval_<tier>`` DAGs' tasks do: ``governance.tasks.model_approval.<task>``.

One module for the four tier DAGs, which ``governance.orchestration.dag_factory`` generates
from ``include/workflows/approval.yaml``. Step names are configurable in that file, so a step's
function is named after its step KIND's default task id, and the DAG passes the step's real
name (its task id) as ``step``:

- ``automated_checks`` — a step of kind ``automated`` (GX suite, card completeness, artifact,
  pickle scan);
- ``compliance_check`` — the evaluation of a step of kind ``compliance`` (its ``_confirm`` task
  is a review);
- ``record_decision`` — not a step: the fixed last task of every tier (APPROVED, or back to
  DEVELOPMENT).

The review tasks (``security_review``, ``compliance_check_confirm``, ``stakeholder_review_N``)
are ``GovernanceReviewOperator`` tasks; what they run is here too: ``review_request`` (subject,
body, assignees), ``record_answer`` and ``recorded_answer``; ``step_for_task`` and
``record_task_set_by_hand`` serve the API server's answer capture.

Airflow-free: plain values in, JSON-serialisable dicts out. Every step result and every human
answer is stored (evidence / decisions) with one audit event each; reruns of a task never
duplicate them (keyed by model, run and step).
"""

from __future__ import annotations

from typing import Any

from governance import config
from governance._util import as_utc
from governance.cards import validate_card
from governance.errors import GovernanceError
from governance.lifecycle import ModelStatus
from governance.risk import prohibited_practice_reason
from governance.store import GovernanceStore
from governance.tasks._review_text import review_body
from governance.tasks._shared import SYSTEM_ACTOR, governance_store
from governance.workflows import (
    OPTIONS,
    StepDefinition,
    StepKind,
    WorkflowDefinition,
    load_groups,
    load_workflows,
)

TIMEOUT_ACTOR = "system:timeout"
TIMED_OUT = "timed out"

ERR_TIER_MISMATCH = (
    "model {model_id} is risk tier {actual} but this is the {tier} approval workflow; "
    "it must go through model_approval_{actual_lower}"
)
ERR_NOT_PENDING = "model {model_id} is {status}, not REVIEW_PENDING; submit it for review first"
ENDED_UNANSWERED = "ended_unanswered"
"""Evidence kind: a review task that ended with no reviewer's answer on record."""
REASON_UNANSWERED = "task {task_id} ended without a reviewer's answer on record ({how})"
REASON_SET_BY_HAND = "marked {state} by hand by {user}"
REASON_NO_ANSWER_UNKNOWN = (
    "nobody answered it: the task failed, or was marked, cleared or skipped by hand; see its log in Airflow"
)
EU_AI_ACT_STEP = "eu_ai_act_art5"
"""The failed step named when a model declares a prohibited practice (not a workflow step)."""
ERR_NO_REVIEWER = "no eligible reviewer in group '{group}' (the owner {owner} and earlier approvers are excluded)"


# ----------------------------------------------------------------------------- approval steps


def _check_run(store: GovernanceStore, *, model_id: str, tier: str) -> Any:
    model = store.get(model_id)
    if model.risk_level.lower() != tier.lower():
        raise GovernanceError(
            ERR_TIER_MISMATCH.format(
                model_id=model_id, actual=model.risk_level, tier=tier.upper(), actual_lower=model.risk_level.lower()
            )
        )
    if model.status != ModelStatus.REVIEW_PENDING:
        raise GovernanceError(ERR_NOT_PENDING.format(model_id=model_id, status=model.status.value))
    return model


def _existing_result(store: GovernanceStore, model_id: str, run_id: str, step: str) -> dict[str, Any] | None:
    for ev in store.list_evidence(model_id):
        if ev["run_id"] == run_id and ev["step"] == step and ev["kind"] == "result":
            return {"step": step, "passed": bool(ev["passed"]), "reasons": ev["details"].get("reasons", [])}
    return None


def automated_checks(*, model_id: str, run_id: str, tier: str, step: str = "automated_checks") -> dict[str, Any]:
    """Task ``automated_checks`` (an ``automated`` step named ``step``): GX suite, card completeness,
    artifact SHA-256 and pickle scan, each one evidence; a prohibited practice fails it too."""
    store = governance_store()
    model = _check_run(store, model_id=model_id, tier=tier)
    done = _existing_result(store, model_id, run_id, step)
    if done is not None:
        return done
    from governance.checks.automated import run_automated_checks

    card = validate_card(model.card)
    report = run_automated_checks(card, include_dir=config.include_dir())
    data = report.to_dict()
    # A prohibited practice fails the first step too, so no reviewer is asked about it
    # (record_decision rejects it in any case, whatever the workflow file lists).
    prohibited = _prohibited(model)
    passed = report.passed and prohibited is None
    reasons = ([prohibited] if prohibited else []) + report.reasons
    for check in report.checks:
        store.record_evidence(
            model_id,
            step=step,
            kind=check.name,
            passed=check.passed,
            details={"reasons": list(check.reasons), "details": check.details},
            actor=SYSTEM_ACTOR,
            run_id=run_id,
        )
    store.record_evidence(
        model_id, step=step, kind="report", passed=report.passed, details=data, actor=SYSTEM_ACTOR, run_id=run_id
    )
    store.record_evidence(
        model_id,
        step=step,
        kind="result",
        passed=passed,
        details={"reasons": reasons, "summary": {c.name: c.passed for c in report.checks}},
        actor=SYSTEM_ACTOR,
        run_id=run_id,
    )
    return {"step": step, "passed": passed, "reasons": reasons, "checks": len(data.get("checks", []))}


def compliance_check(*, model_id: str, run_id: str, tier: str, step: str = "compliance_check") -> dict[str, Any]:
    """Task ``compliance_check`` (a ``compliance`` step named ``step``): evaluate the card's
    compliance requirements against the evidence on record; its ``_confirm`` task is a review."""
    store = governance_store()
    model = _check_run(store, model_id=model_id, tier=tier)
    done = _existing_result(store, model_id, run_id, step)
    if done is not None:
        return done
    from governance.compliance.report import evaluate_compliance

    wf = load_workflows()
    report = evaluate_compliance(
        model=model,
        store=store,
        workflow_steps=list(wf.tiers[tier.lower()]),
        evidence_encrypted_at_rest=config.evidence_encrypted_at_rest(),
    )
    data = report.to_dict()
    reasons = report.reasons
    store.record_evidence(
        model_id,
        step=step,
        kind="compliance_report",
        passed=report.passed,
        details=data,
        actor=SYSTEM_ACTOR,
        run_id=run_id,
    )
    store.record_evidence(
        model_id,
        step=step,
        kind="result",
        passed=report.passed,
        details={"reasons": reasons},
        actor=SYSTEM_ACTOR,
        run_id=run_id,
    )
    return {"step": step, "passed": report.passed, "reasons": reasons}


# ----------------------------------------------------------------------------- human steps


def review_request(
    *, model_id: str, run_id: str, tier: str, step: str, task_id: str, group: str, kind: str
) -> dict[str, Any]:
    """What a review task asks, when it starts: subject, Markdown body and assignees (owner and
    earlier approvers excluded)."""
    store = governance_store()
    model = _check_run(store, model_id=model_id, tier=tier)
    exclude = {model.owner}
    if StepKind(kind) == StepKind.APPROVAL:
        exclude |= {
            d["actor"]
            for d in store.list_decisions(model_id)
            if d["run_id"] == run_id and d["step"].startswith(step) and d["step"] != task_id
        }
    assignees = load_groups().members(group, exclude=exclude)
    if not assignees:
        raise GovernanceError(ERR_NO_REVIEWER.format(group=group, owner=model.owner))
    body = review_body(store, model, run_id=run_id, step=step, kind=StepKind(kind))
    title = load_workflows().steps[step].title
    subject = f"{title}: {model.name} {model.version} ({model.risk_level})"
    return {"subject": subject, "body": body, "assigned_users": assignees}


def record_answer(
    *,
    model_id: str,
    run_id: str,
    step: str,
    task_id: str,
    kind: str,
    chosen_options: list[str],
    comment: str | None,
    responder: str | None,
) -> dict[str, Any]:
    """Record a human answer (or a timeout, when there is no responder) for one review task."""
    store = governance_store()
    model = store.get(model_id)
    positive, _negative = OPTIONS[StepKind(kind)]
    timed_out = responder is None
    if timed_out:
        actor, decision, comment = TIMEOUT_ACTOR, "timeout", TIMED_OUT
    else:
        actor = str(responder)
        decision = "approve" if chosen_options == [positive] else "reject"
    passed = decision == "approve"
    reasons: list[str] = []
    if actor == model.owner:
        # Defence in depth: Airflow refuses the owner (not assigned), but never count it.
        passed, reasons = False, [f"{task_id}: the owner {actor} cannot review their own model"]
    store.record_decision(model_id, step=task_id, actor=actor, decision=decision, comment=comment, run_id=run_id)
    if not passed and not reasons:
        why = TIMED_OUT if timed_out else f"rejected by {actor}" + (f": {comment}" if comment else "")
        reasons = [f"{task_id}: {why}"]
    return {
        "step": step,
        "task_id": task_id,
        "passed": passed,
        "timed_out": timed_out,
        "actor": actor,
        "reasons": reasons,
    }


def step_for_task(task_id: str, *, workflow: WorkflowDefinition | None = None) -> tuple[str, StepDefinition]:
    """The workflow step a review task belongs to (``security_review``, ``compliance_check_confirm``,
    ``stakeholder_review_2`` …)."""
    wf = workflow or load_workflows()
    for name, step in wf.steps.items():
        if task_id in step.review_task_ids(name):
            return name, step
    raise GovernanceError(f"task {task_id!r} is not a step of the approval workflow (steps: {', '.join(wf.steps)})")


def recorded_answer(*, model_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
    """The human answer already on record for this review task in this run, if any."""
    for d in governance_store().list_decisions(model_id):
        if d["run_id"] == run_id and d["step"] == task_id and d["actor"] != TIMEOUT_ACTOR:
            return {
                "actor": d["actor"],
                "decision": d["decision"],
                "comment": d["comment"],
                "at": as_utc(d["created_at"]),
            }
    return None


def record_task_set_by_hand(*, model_id: str, run_id: str, task_id: str, state: str, user: str) -> bool:
    """Record that ``user`` set a review task's state by hand (mark success / failed / skipped) in
    Airflow, with no reviewer's answer on record for it: one evidence row and its audit event,
    whose actor is that user. Returns False when the task already has an answer or the event is
    already on record."""
    store = governance_store()
    if any(d["run_id"] == run_id and d["step"] == task_id for d in store.list_decisions(model_id)):
        return False
    return store.record_evidence(
        model_id,
        step=task_id,
        kind=ENDED_UNANSWERED,
        passed=False,
        details={"state": state, "by": user, "reason": REASON_SET_BY_HAND.format(state=state, user=user)},
        actor=user,
        run_id=run_id,
    )


# ----------------------------------------------------------------------------- final decision


def record_decision(
    *, model_id: str, run_id: str, tier: str, workflow: WorkflowDefinition | None = None
) -> dict[str, Any]:
    """Task ``record_decision``: APPROVED (with the humans who approved) or back to DEVELOPMENT
    with the failed step and reasons."""
    store = governance_store()
    wf = workflow or load_workflows()
    model = store.get(model_id)
    if model.risk_level.lower() != tier.lower():
        _check_run(store, model_id=model_id, tier=tier)  # raises: another tier's workflow
    if model.status != ModelStatus.REVIEW_PENDING:
        return {
            "model_id": model_id,
            "status": model.status.value,
            "approved_by": model.approved_by,
            "note": "decision already recorded",
        }
    evidence = [e for e in store.list_evidence(model_id) if e["run_id"] == run_id]
    decisions = [d for d in store.list_decisions(model_id) if d["run_id"] == run_id]
    approvers: list[str] = []
    failed_step, reasons, unanswered_task = None, [], None
    prohibited = _prohibited(model)
    if prohibited:
        # Not a step of the workflow file: no edit of approval.yaml can drop this rule.
        failed_step, reasons = EU_AI_ACT_STEP, [prohibited]
    else:
        for name, step in wf.steps_for(tier):
            ok, why, humans, unanswered_task = _step_outcome(name, step, evidence, decisions, owner=model.owner)
            approvers += [h for h in humans if h not in approvers]
            if not ok:
                failed_step, reasons = name, why
                break
    if failed_step is None:
        approved_by = approvers or [f"{SYSTEM_ACTOR}:automated_checks"]
        m = store.transition(
            model_id,
            ModelStatus.APPROVED,
            actor=SYSTEM_ACTOR,
            approved_by=approved_by,
            reason=f"all {tier.upper()} steps passed",
            details={"run_id": run_id},
        )
        return {"model_id": model_id, "status": m.status.value, "approved_by": m.approved_by}
    if unanswered_task is not None:
        _record_unanswered(store, model_id=model_id, run_id=run_id, task_id=unanswered_task)
    reason = f"{failed_step}: " + "; ".join(reasons)
    m = store.transition(
        model_id,
        ModelStatus.DEVELOPMENT,
        actor=SYSTEM_ACTOR,
        reason=reason,
        details={"run_id": run_id, "failed_step": failed_step, "reasons": reasons},
    )
    return {"model_id": model_id, "status": m.status.value, "failed_step": failed_step, "reasons": reasons}


def unanswered_reason(task_id: str, evidence: list[dict[str, Any]]) -> str:
    """Why a review task counts as failed when no reviewer's answer is on record for it."""
    done = next((e for e in evidence if e["step"] == task_id and e["kind"] == ENDED_UNANSWERED), None)
    if done is not None and done["details"].get("by"):
        how = REASON_SET_BY_HAND.format(state=done["details"]["state"], user=done["details"]["by"])
    else:
        how = REASON_NO_ANSWER_UNKNOWN
    return REASON_UNANSWERED.format(task_id=task_id, how=how)


def _record_unanswered(store: GovernanceStore, *, model_id: str, run_id: str, task_id: str) -> None:
    """The one audit event of a review that ended without an answer, when nobody was seen
    setting its state (its task failed, or was changed outside the API server)."""
    store.record_evidence(
        model_id,
        step=task_id,
        kind=ENDED_UNANSWERED,
        passed=False,
        details={"state": None, "by": None, "reason": REASON_NO_ANSWER_UNKNOWN},
        actor=SYSTEM_ACTOR,
        run_id=run_id,
    )


def _prohibited(model: Any) -> str | None:
    """The Art. 5 reason a model can never be approved, or None."""
    return prohibited_practice_reason(
        category=model.eu_ai_act_category, practices=model.card.get("prohibited_practices") or []
    )


def _step_outcome(
    name: str, step: StepDefinition, evidence: list[dict[str, Any]], decisions: list[dict[str, Any]], *, owner: str
) -> tuple[bool, list[str], list[str], str | None]:
    """(passed, reasons, the humans who approved, the review task that ended unanswered)."""
    if step.kind == StepKind.AUTOMATED:
        results = [e for e in evidence if e["step"] == name and e["kind"] == "result"]
        if not results:
            return False, ["did not complete"], [], None
        return bool(results[0]["passed"]), list(results[0]["details"].get("reasons") or ["failed"]), [], None
    if step.kind == StepKind.COMPLIANCE:
        results = [e for e in evidence if e["step"] == name and e["kind"] == "result"]
        if not results:
            return False, ["compliance evaluation did not complete"], [], None
        if not results[0]["passed"]:
            return False, list(results[0]["details"].get("reasons") or ["failed"]), [], None
    task_ids = step.review_task_ids(name)
    mine = [d for d in decisions if d["step"] in task_ids]
    negative = [d for d in mine if d["decision"] != "approve"]
    if negative:
        d = negative[0]
        why = TIMED_OUT if d["decision"] == "timeout" else f"rejected by {d['actor']}"
        if d["comment"] and d["decision"] != "timeout":
            why += f": {d['comment']}"
        return False, [why], [], None
    answered = {d["step"] for d in mine}
    unanswered = [t for t in task_ids if t not in answered]
    if unanswered:
        return False, [unanswered_reason(unanswered[0], evidence)], [], unanswered[0]
    humans = []
    for d in mine:
        if d["actor"] != owner and d["actor"] not in humans:
            humans.append(d["actor"])
    if len(humans) < step.approvals:
        return (
            False,
            [f"needs {step.approvals} distinct approvers other than the owner, got {len(humans)}"],
            humans,
            None,
        )
    return True, [], humans, None
