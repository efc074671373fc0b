"""What the ``model_submission`` DAG's tasks do: ``governance.tasks.model_submission.<task>``.

One function per task (``validate_card`` → ``register`` → ``assess_risk`` →
``request_review``; ``start_approval`` is Airflow's ``TriggerDagRunOperator`` and runs no code
of ours). Airflow-free: plain values in, JSON-serialisable dicts out. ``card_from_trigger`` and
``validate_submission`` are the two halves of ``validate_card``. Every result is stored with
its audit event; rerunning a task of the same run never duplicates them.
"""

from __future__ import annotations

from typing import Any

from governance import cards
from governance.errors import GovernanceError
from governance.lifecycle import ModelStatus
from governance.tasks._shared import SYSTEM_ACTOR, governance_store

ERR_NO_SUBMITTER = (
    "the submission has no authenticated submitter; trigger model_submission as a logged-in "
    "user (Airflow UI, REST API with a token, or `governance submit`)"
)
ERR_ALREADY_OTHER_RUN = "model {name} {version} is already registered (id {model_id}) by an earlier submission"
ERR_SUBMISSION_INCOMPLETE = (
    "the submitted card (the run's conf) lacks required field(s): {fields}; send the whole card as "
    "the run's conf (e.g. `governance submit card.yaml`): a field left out is never filled in from "
    "the trigger form's pre-filled values"
)


def validate_card(*, conf: dict[str, Any] | None) -> dict[str, Any]:
    """Task ``validate_card``: the submitted card (the run's conf alone), validated; raises
    CardValidationError listing every problem, and nothing is written."""
    return validate_submission(card=card_from_trigger(conf=conf))


def card_from_trigger(*, conf: dict[str, Any] | None) -> dict[str, Any]:
    """The submitted card: exactly the run's conf, what the client sent, nothing else.

    Never the run's ``params``: Airflow fills them with the trigger form's defaults (on the
    embedded default, the demo card that pre-fills the form) for every field a REST or CLI
    client left out, and a model card must not inherit values nobody submitted. A top-level
    ``null`` counts as a field not given, so it is dropped (it adds nothing the client did not send).
    """
    return {k: v for k, v in (conf or {}).items() if v is not None}


def validate_submission(*, card: dict[str, Any]) -> dict[str, Any]:
    """Validate a submitted card; raises CardValidationError listing every problem, led by
    :data:`ERR_SUBMISSION_INCOMPLETE` naming each missing required field when there are any."""
    from governance.errors import CardValidationError

    try:
        return cards.validate_card(card).model_dump(mode="json")
    except CardValidationError as exc:
        missing = cards.missing_required_fields(card)
        if not missing:
            raise
        problems = [ERR_SUBMISSION_INCOMPLETE.format(fields=", ".join(missing)), *exc.problems]
        raise CardValidationError(problems) from None


def register(*, card: dict[str, Any], submitter: str | None, run_id: str) -> dict[str, Any]:
    """Task ``register``: validate and register a submitted card (status DEVELOPMENT); the owner
    is the authenticated submitter.

    Rerunning the same submission run returns the model it registered instead of failing.
    """
    if not submitter:
        raise GovernanceError(ERR_NO_SUBMITTER)
    parsed: cards.ModelCard = cards.validate_card(card)
    store = governance_store()
    from governance.errors import AlreadyRegisteredError

    try:
        reg = store.register(parsed, owner=submitter, run_id=run_id)
        model = reg.model
    except AlreadyRegisteredError:
        model = store.find(f"{parsed.name}:{parsed.version}")
        events = store.audit.query(model_id=model.id, event_type="model.registered", limit=1).events
        if not events or events[0].details.get("run_id") != run_id:
            raise GovernanceError(
                ERR_ALREADY_OTHER_RUN.format(name=parsed.name, version=parsed.version, model_id=model.id)
            ) from None
    return {"model_id": model.id, "name": model.name, "version": model.version, "owner": model.owner}


def assess_risk(*, model_id: str, run_id: str) -> dict[str, Any]:
    """Task ``assess_risk``: record the risk assessment as evidence and return the tier that
    picks the approval workflow."""
    store = governance_store()
    model = store.get(model_id)
    details = {
        "level": model.risk_level,
        "score": model.risk_score,
        "reasons": model.risk_reasons,
        "eu_ai_act_category": model.eu_ai_act_category,
        "eu_ai_act_rationale": model.eu_ai_act_rationale,
    }
    store.record_evidence(
        model_id, step="risk_assessment", kind="risk", passed=True, details=details, actor=SYSTEM_ACTOR, run_id=run_id
    )
    return {"model_id": model_id, "tier": model.risk_level.lower(), **details}


def request_review(*, model_id: str, run_id: str) -> dict[str, Any]:
    """Task ``request_review``: DEVELOPMENT → REVIEW_PENDING (idempotent); the submitter is the actor."""
    store = governance_store()
    model = store.get(model_id)
    if model.status != ModelStatus.REVIEW_PENDING:
        model = store.transition(model_id, ModelStatus.REVIEW_PENDING, actor=model.owner, details={"run_id": run_id})
    return {"model_id": model_id, "status": model.status.value}
