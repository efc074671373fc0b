"""The evaluators behind each compliance check kind named in ``include/compliance/requirements.yaml``.

Each evaluator takes the :class:`EvidenceContext` of one model and returns an :class:`Outcome`:
pass/fail, human-readable reasons, and the evidence it looked at (a JSON-safe dict such as
``{"audit_events": 5, "chain_ok": true}``). The context reads everything lazily and once: the
model's audit events, the chain verification, stored evidence and decisions.

Encryption at rest (``encryption_at_rest``), the rule:

1. ``evidence_encrypted_at_rest`` given by the caller (the platform's declaration, e.g. an encrypted
   volume or RDS storage encryption) decides, and the report says it was declared;
2. otherwise both evidence stores must be encrypted in a way visible from configuration: the
   governance database must be SQLCipher (``sqlite+pysqlcipher://``); a plain SQLite file is not
   encrypted, and PostgreSQL's at-rest encryption cannot be seen from its URL (declare it); the S3
   archive must be AWS S3 (no custom endpoint), where SSE-S3 default encryption applies to every new
   object since January 2023; a custom endpoint (MinIO, SeaweedFS) cannot be verified (declare it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from governance.audit import MAX_QUERY_LIMIT, AuditEvent, VerifyResult
from governance.cards import ModelCard
from governance.checks.artifact import CHECK_ARTIFACT_INTEGRITY, CHECK_PICKLE_SCAN
from governance.checks.automated import card_checklist, check_card_completeness
from governance.checks.base import SourceError, resolve_uri, source_exists
from governance.checks.expectations import CHECK_EVALUATION_DATA, CHECK_METRICS
from governance.errors import GovernanceError, IllegalTransitionError
from governance.lifecycle import ModelStatus, check_transition
from governance.risk import EUAIActCategory, RiskLevel, assess_risk
from governance.s3 import resolve_settings
from governance.store.repository import (
    EVENT_DECISION,
    EVENT_EVIDENCE,
    EVENT_REGISTERED,
    EVENT_STATUS,
    GovernanceStore,
    ModelRecord,
)

ENCRYPTED_SQLITE_DRIVERS = frozenset({"pysqlcipher", "sqlcipher"})
TRANSPARENCY_FIELDS = ("intended_use", "limitations", "evaluation.metrics")

ERR_NO_EVENTS = "no audit events are recorded for model {model_id}"
ERR_CHAIN = "the audit chain does not verify: event {event_id} ({problem}): {message}"
ERR_NO_REGISTRATION = "no {event} audit event records the registration of model {model_id}"
ERR_EVIDENCE_UNAUDITED = "evidence {step}/{kind} (run '{run_id}') has no {event} audit event"
ERR_DECISION_UNAUDITED = "decision by {actor} on {step} (run '{run_id}') has no {event} audit event"
ERR_NO_OWNER = "the model has no owner"
ERR_NO_HUMAN_STEP = "the workflow ({steps}) has no human review step, so no named person controls the approval"
ERR_NO_REVIEWER = "human step '{step}' has no eligible reviewer other than the owner {owner}"
ERR_REVIEWERS_UNKNOWN = "the reviewer groups could not be read: {problem}"
ERR_STATUS_CHAIN = "status event {event_id} moves from {recorded} but the previous audited status was {expected}"
ERR_STATUS_ILLEGAL = "status event {event_id}: {problem}"
ERR_STATUS_DRIFT = "the current status is {current} but the last audited status is {audited}: an unaudited change"
ERR_ENC_DECLARED_NO = "the platform declares the evidence stores are not encrypted at rest"
ERR_ENC_SQLITE = (
    "the governance database is a plain SQLite file ({database}), not encrypted at rest; use SQLCipher "
    "(sqlite+pysqlcipher://) or an encrypted volume and declare it (evidence_encrypted_at_rest=True)"
)
ERR_ENC_POSTGRES = (
    "PostgreSQL encryption at rest cannot be verified from the database URL; declare it "
    "(evidence_encrypted_at_rest=True) once storage encryption is enabled"
)
ERR_ENC_OTHER_DB = "database backend {backend} has no known encryption-at-rest signal; declare it"
ERR_ENC_S3 = (
    "the S3 archive uses a custom endpoint ({endpoint}) whose server-side encryption cannot be verified "
    "from configuration; declare it (evidence_encrypted_at_rest=True) once enabled"
)
ERR_NO_EXPLAINABILITY = "card.explainability_uri is not declared"
ERR_NO_OVERSIGHT_TEXT = "card.human_oversight is not declared"
ERR_NO_OVERSIGHT_STEP = (
    "the model makes autonomous decisions but the workflow ({steps}) has no human-in-the-loop step "
    "(e.g. stakeholder_review)"
)
ERR_NO_MINIMISATION = "card.data_minimisation is not declared although the model processes personal data"
ERR_NO_RISK = "the model has no valid recorded risk tier ({value!r})"
ERR_RISK_EVENT_MISSING = "the registration audit event does not record the risk assessment"
ERR_RISK_EVENT_MISMATCH = "the registration audit event records risk {recorded}, but the model shows {current}"
ERR_CARD_UNREADABLE = "the stored model card no longer validates: {problem}"
ERR_NO_EVIDENCE = "no {kind} evidence is recorded for this model; run the automated_checks step first"
ERR_EVIDENCE_FAILED = "the latest {kind} evidence (run '{run_id}') failed: {reasons}"
ERR_METRIC_BELOW = "evaluation.metrics.{metric}: {value} does not meet the declared threshold {threshold}"
ERR_TRANSPARENCY_MISSING = "card.{field}: missing {requirement} (information deployers and users need)"
ERR_PROHIBITED = "the model is a prohibited AI practice under EU AI Act Art. 5 ({rationale}); it cannot be approved"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


def _outcome(reasons: list[str], evidence: dict[str, Any]) -> Outcome:
    return Outcome(passed=not reasons, reasons=reasons, evidence=evidence)


class EvidenceContext:
    """Everything the evaluators of one model look at, read lazily and at most once."""

    def __init__(
        self,
        *,
        model: ModelRecord,
        store: GovernanceStore,
        workflow_steps: Sequence[str],
        human_steps: Sequence[str],
        reviewers: dict[str, list[str]],
        reviewers_problem: str | None,
        encrypted_at_rest: bool | None,
        include_dir: Path | None,
        chain: VerifyResult | None,
    ) -> None:
        self.model = model
        self.store = store
        self.workflow_steps = list(workflow_steps)
        self.human_steps = list(human_steps)
        self.reviewers = reviewers
        self.reviewers_problem = reviewers_problem
        self.encrypted_at_rest = encrypted_at_rest
        self.include_dir = include_dir
        self._chain = chain

    @cached_property
    def chain(self) -> VerifyResult:
        return self._chain if self._chain is not None else self.store.audit.verify()

    @cached_property
    def events(self) -> list[AuditEvent]:
        out: list[AuditEvent] = []
        cursor: str | None = None
        while True:
            page = self.store.audit.query(model_id=self.model.id, limit=MAX_QUERY_LIMIT, cursor=cursor)
            out.extend(page.events)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    @cached_property
    def evidence(self) -> list[dict[str, Any]]:
        return self.store.list_evidence(self.model.id)

    @cached_property
    def decisions(self) -> list[dict[str, Any]]:
        return self.store.list_decisions(self.model.id)

    @cached_property
    def card_or_error(self) -> tuple[ModelCard | None, str | None]:
        from governance.cards import validate_card

        try:
            return validate_card(self.model.card), None
        except GovernanceError as exc:
            return None, str(exc).replace("\n", " ")

    def latest_evidence(self, kind: str) -> dict[str, Any] | None:
        rows = [e for e in self.evidence if e["kind"] == kind]
        return max(rows, key=lambda e: e["id"]) if rows else None


# --------------------------------------------------------------------------- evaluators


def audit_trail(ctx: EvidenceContext) -> Outcome:
    chain = ctx.chain
    reasons = []
    if not ctx.events:
        reasons.append(ERR_NO_EVENTS.format(model_id=ctx.model.id))
    if not chain.ok:
        reasons.append(ERR_CHAIN.format(event_id=chain.first_bad_id, problem=chain.problem, message=chain.message))
    evidence: dict[str, Any] = {
        "audit_events": len(ctx.events),
        "chain_ok": chain.ok,
        "chain_events_verified": chain.count,
    }
    if not chain.ok:
        evidence["first_bad_event"] = chain.first_bad_id
    return _outcome(reasons, evidence)


def record_keeping(ctx: EvidenceContext) -> Outcome:
    base = audit_trail(ctx)
    reasons = list(base.reasons)
    types = [e.event_type for e in ctx.events]
    if EVENT_REGISTERED not in types:
        reasons.append(ERR_NO_REGISTRATION.format(event=EVENT_REGISTERED, model_id=ctx.model.id))
    audited_evidence = {
        (e.details.get("step"), e.details.get("kind"), e.details.get("run_id", ""))
        for e in ctx.events
        if e.event_type == EVENT_EVIDENCE
    }
    for row in ctx.evidence:
        if (row["step"], row["kind"], row["run_id"]) not in audited_evidence:
            reasons.append(
                ERR_EVIDENCE_UNAUDITED.format(
                    step=row["step"], kind=row["kind"], run_id=row["run_id"], event=EVENT_EVIDENCE
                )
            )
    audited_decisions = {
        (e.actor, e.details.get("step"), e.details.get("run_id", ""))
        for e in ctx.events
        if e.event_type == EVENT_DECISION
    }
    for row in ctx.decisions:
        if (row["actor"], row["step"], row["run_id"]) not in audited_decisions:
            reasons.append(
                ERR_DECISION_UNAUDITED.format(
                    actor=row["actor"], step=row["step"], run_id=row["run_id"], event=EVENT_DECISION
                )
            )
    evidence = {
        **base.evidence,
        "registered_event": EVENT_REGISTERED in types,
        "evidence_rows": len(ctx.evidence),
        "decisions": len(ctx.decisions),
        "event_types": {t: types.count(t) for t in sorted(set(types))},
    }
    return _outcome(reasons, evidence)


def access_control(ctx: EvidenceContext) -> Outcome:
    owner = (ctx.model.owner or "").strip()
    reasons = []
    if not owner:
        reasons.append(ERR_NO_OWNER)
    if ctx.reviewers_problem:
        reasons.append(ERR_REVIEWERS_UNKNOWN.format(problem=ctx.reviewers_problem))
    if not ctx.human_steps:
        reasons.append(ERR_NO_HUMAN_STEP.format(steps=", ".join(ctx.workflow_steps) or "no steps"))
    for step in ctx.human_steps:
        eligible = [r for r in ctx.reviewers.get(step, []) if r != owner]
        if not eligible and not ctx.reviewers_problem:
            reasons.append(ERR_NO_REVIEWER.format(step=step, owner=owner or "(none)"))
    evidence = {
        "owner": owner or None,
        "workflow_steps": ctx.workflow_steps,
        "human_steps": ctx.human_steps,
        "reviewers": {s: [r for r in ctx.reviewers.get(s, []) if r != owner] for s in ctx.human_steps},
    }
    return _outcome(reasons, evidence)


def change_management(ctx: EvidenceContext) -> Outcome:
    reasons = []
    status = ModelStatus.DEVELOPMENT
    history = [status.value]
    if EVENT_REGISTERED not in {e.event_type for e in ctx.events}:
        reasons.append(ERR_NO_REGISTRATION.format(event=EVENT_REGISTERED, model_id=ctx.model.id))
    status_events = [e for e in ctx.events if e.event_type == EVENT_STATUS]
    for event in status_events:
        recorded_from = str(event.details.get("from"))
        target = str(event.details.get("to"))
        if recorded_from != status.value:
            reasons.append(ERR_STATUS_CHAIN.format(event_id=event.id, recorded=recorded_from, expected=status.value))
        try:
            new = ModelStatus(target)
            check_transition(model_id=ctx.model.id, current=ModelStatus(recorded_from), target=new)
        except (ValueError, IllegalTransitionError) as exc:
            reasons.append(ERR_STATUS_ILLEGAL.format(event_id=event.id, problem=exc))
            continue
        status = new
        history.append(status.value)
    if status != ctx.model.status:
        reasons.append(ERR_STATUS_DRIFT.format(current=ctx.model.status.value, audited=status.value))
    evidence = {
        "status_events": len(status_events),
        "audited_history": history,
        "current_status": ctx.model.status.value,
    }
    return _outcome(reasons, evidence)


def encryption_at_rest(ctx: EvidenceContext) -> Outcome:
    url = ctx.store.engine.url
    backend = url.get_backend_name()
    driver = url.get_driver_name()
    endpoint = resolve_settings().endpoint_url  # the endpoint really used, however configured
    evidence: dict[str, Any] = {
        "declared": ctx.encrypted_at_rest,
        "database_backend": backend,
        "database_driver": driver,
        "s3_endpoint": endpoint or "AWS S3 (default endpoint)",
    }
    if ctx.encrypted_at_rest is not None:
        evidence["source"] = "declared by the platform (evidence_encrypted_at_rest)"
        return _outcome([] if ctx.encrypted_at_rest else [ERR_ENC_DECLARED_NO], evidence)
    evidence["source"] = "inferred from the database URL and S3 settings"
    reasons = []
    if backend == "sqlite":
        if driver not in ENCRYPTED_SQLITE_DRIVERS:
            reasons.append(ERR_ENC_SQLITE.format(database=url.database or ":memory:"))
    elif backend == "postgresql":
        reasons.append(ERR_ENC_POSTGRES)
    else:
        reasons.append(ERR_ENC_OTHER_DB.format(backend=backend))
    if endpoint:
        reasons.append(ERR_ENC_S3.format(endpoint=endpoint))
    return _outcome(reasons, evidence)


def explainability(ctx: EvidenceContext) -> Outcome:
    uri = ctx.model.card.get("explainability_uri")
    if not uri:
        return _outcome([ERR_NO_EXPLAINABILITY], {"explainability_uri": None})
    evidence: dict[str, Any] = {"explainability_uri": uri}
    try:
        source = resolve_uri(uri, field="explainability_uri", include_dir=ctx.include_dir)
    except SourceError as exc:
        return _outcome([str(exc)], evidence)
    exists, problem = source_exists(source)
    evidence.update(resolved=source.where, exists=exists)
    return _outcome([] if exists else [problem or ERR_NO_EXPLAINABILITY], evidence)


def human_oversight(ctx: EvidenceContext) -> Outcome:
    card = ctx.model.card
    autonomous = bool(card.get("autonomous"))
    reasons = []
    if not card.get("human_oversight"):
        reasons.append(ERR_NO_OVERSIGHT_TEXT)
    if autonomous and not ctx.human_steps:
        reasons.append(ERR_NO_OVERSIGHT_STEP.format(steps=", ".join(ctx.workflow_steps) or "no steps"))
    evidence = {
        "autonomous": autonomous,
        "human_oversight": card.get("human_oversight"),
        "human_steps": ctx.human_steps,
    }
    return _outcome(reasons, evidence)


def data_minimisation(ctx: EvidenceContext) -> Outcome:
    card = ctx.model.card
    evidence = {"processes_pii": card.get("processes_pii"), "data_minimisation": card.get("data_minimisation")}
    return _outcome([] if card.get("data_minimisation") else [ERR_NO_MINIMISATION], evidence)


def risk_assessment(ctx: EvidenceContext) -> Outcome:
    model = ctx.model
    reasons = []
    if model.risk_level not in {r.value for r in RiskLevel}:
        reasons.append(ERR_NO_RISK.format(value=model.risk_level))
    registered = next((e for e in ctx.events if e.event_type == EVENT_REGISTERED), None)
    recorded = (registered.details.get("risk") or {}) if registered else {}
    if not registered:
        reasons.append(ERR_NO_REGISTRATION.format(event=EVENT_REGISTERED, model_id=model.id))
    elif not recorded:
        reasons.append(ERR_RISK_EVENT_MISSING)
    else:
        pair = (recorded.get("level"), recorded.get("eu_ai_act_category"))
        if pair != (model.risk_level, model.eu_ai_act_category):
            reasons.append(
                ERR_RISK_EVENT_MISMATCH.format(
                    recorded=f"{pair[0]} / {pair[1]}", current=f"{model.risk_level} / {model.eu_ai_act_category}"
                )
            )
    evidence: dict[str, Any] = {
        "risk_level": model.risk_level,
        "risk_score": model.risk_score,
        "eu_ai_act_category": model.eu_ai_act_category,
        "registration_event": registered.id if registered else None,
        "risk_evidence_recorded": ctx.latest_evidence("risk") is not None,
    }
    card, _ = ctx.card_or_error
    if card is not None:
        fresh = assess_risk(card)
        evidence["reassessed_with_current_rules"] = {
            "level": fresh.level.value,
            "eu_ai_act_category": fresh.eu_ai_act_category.value,
        }
    return _outcome(reasons, evidence)


def technical_documentation(ctx: EvidenceContext) -> Outcome:
    card, error = ctx.card_or_error
    if card is None:
        return _outcome([ERR_CARD_UNREADABLE.format(problem=error)], {})
    result = check_card_completeness(card)
    evidence = {k: result.details[k] for k in ("score", "present", "applicable", "missing")}
    return _outcome(list(result.reasons), evidence)


def transparency(ctx: EvidenceContext) -> Outcome:
    card, error = ctx.card_or_error
    if card is None:
        return _outcome([ERR_CARD_UNREADABLE.format(problem=error)], {})
    items = [i for i in card_checklist(card) if i.field in TRANSPARENCY_FIELDS]
    reasons = [
        ERR_TRANSPARENCY_MISSING.format(field=i.field, requirement=i.requirement) for i in items if not i.present
    ]
    evidence = {i.field: i.present for i in items}
    evidence["user_facing"] = card.user_facing
    return _outcome(reasons, evidence)


def _evidence_check(ctx: EvidenceContext, kinds: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    reasons: list[str] = []
    evidence: dict[str, Any] = {}
    for kind in kinds:
        row = ctx.latest_evidence(kind)
        if row is None:
            reasons.append(ERR_NO_EVIDENCE.format(kind=kind))
            evidence[kind] = None
            continue
        details = row["details"] or {}
        evidence[kind] = {"passed": bool(row["passed"]), "run_id": row["run_id"], "evidence_id": row["id"]}
        if not row["passed"]:
            why = "; ".join(details.get("reasons") or []) or "no reason recorded"
            reasons.append(ERR_EVIDENCE_FAILED.format(kind=kind, run_id=row["run_id"], reasons=why))
    return reasons, evidence


def data_governance(ctx: EvidenceContext) -> Outcome:
    reasons, evidence = _evidence_check(ctx, [CHECK_EVALUATION_DATA])
    row = ctx.latest_evidence(CHECK_EVALUATION_DATA)
    if row is not None:
        inner = (row["details"] or {}).get("details") or {}
        evidence["rows"] = inner.get("rows")
        evidence["suite"] = inner.get("suite")
    return _outcome(reasons, evidence)


def accuracy_robustness(ctx: EvidenceContext) -> Outcome:
    reasons, evidence = _evidence_check(ctx, [CHECK_METRICS])
    card, error = ctx.card_or_error
    if card is None:
        reasons.append(ERR_CARD_UNREADABLE.format(problem=error))
    else:
        for name, metric in card.evaluation.metrics.items():
            if not metric.meets_threshold():
                reasons.append(ERR_METRIC_BELOW.format(metric=name, value=metric.value, threshold=metric.threshold))
        evidence["metrics"] = {n: m.model_dump() for n, m in card.evaluation.metrics.items()}
    return _outcome(reasons, evidence)


def cybersecurity(ctx: EvidenceContext) -> Outcome:
    reasons, evidence = _evidence_check(ctx, [CHECK_ARTIFACT_INTEGRITY, CHECK_PICKLE_SCAN])
    return _outcome(reasons, evidence)


def not_prohibited(ctx: EvidenceContext) -> Outcome:
    model = ctx.model
    evidence = {
        "eu_ai_act_category": model.eu_ai_act_category,
        "rationale": model.eu_ai_act_rationale,
        "prohibited_practices": list(model.card.get("prohibited_practices") or []),
    }
    if model.eu_ai_act_category == EUAIActCategory.PROHIBITED.value:
        return _outcome([ERR_PROHIBITED.format(rationale=model.eu_ai_act_rationale)], evidence)
    return _outcome([], evidence)


EVALUATORS: dict[str, Callable[[EvidenceContext], Outcome]] = {
    "audit_trail": audit_trail,
    "record_keeping": record_keeping,
    "access_control": access_control,
    "change_management": change_management,
    "encryption_at_rest": encryption_at_rest,
    "explainability": explainability,
    "human_oversight": human_oversight,
    "data_minimisation": data_minimisation,
    "risk_assessment": risk_assessment,
    "technical_documentation": technical_documentation,
    "transparency": transparency,
    "data_governance": data_governance,
    "accuracy_robustness": accuracy_robustness,
    "cybersecurity": cybersecurity,
    "not_prohibited": not_prohibited,
}
"""Check kind (as named in requirements.yaml) → evaluator."""
