"""Model lifecycle: the states a model version passes through and the legal moves between them."""

from __future__ import annotations

from enum import StrEnum

from governance.errors import IllegalTransitionError

ERR_ILLEGAL_TRANSITION = (
    "model {model_id}: cannot move from {current} to {target}; from {current} the allowed next states are: {allowed}"
)
ERR_UNKNOWN_STATUS = "'{value}' is not a model status; choose one of {allowed}"


class ModelStatus(StrEnum):
    DEVELOPMENT = "DEVELOPMENT"
    REVIEW_PENDING = "REVIEW_PENDING"
    APPROVED = "APPROVED"
    DEPLOYED = "DEPLOYED"
    DEPRECATED = "DEPRECATED"
    RETIRED = "RETIRED"


S = ModelStatus

TRANSITIONS: dict[ModelStatus, frozenset[ModelStatus]] = {
    S.DEVELOPMENT: frozenset({S.REVIEW_PENDING, S.RETIRED}),
    # rejection (or a failed step) sends the model back to DEVELOPMENT
    S.REVIEW_PENDING: frozenset({S.APPROVED, S.DEVELOPMENT}),
    # an approved model may still be sent back before it is deployed
    S.APPROVED: frozenset({S.DEPLOYED, S.DEVELOPMENT, S.RETIRED}),
    S.DEPLOYED: frozenset({S.DEPRECATED}),
    S.DEPRECATED: frozenset({S.DEPLOYED, S.RETIRED}),
    S.RETIRED: frozenset(),
}
"""Every legal status change. Anything not listed here is refused."""


def parse_status(value: str | ModelStatus) -> ModelStatus:
    try:
        return ModelStatus(str(value).strip().upper())
    except ValueError:
        allowed = ", ".join(s.value for s in ModelStatus)
        raise IllegalTransitionError(ERR_UNKNOWN_STATUS.format(value=value, allowed=allowed)) from None


def check_transition(*, model_id: str, current: ModelStatus, target: ModelStatus) -> None:
    """Raise :class:`IllegalTransitionError` unless ``current → target`` is in :data:`TRANSITIONS`."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        names = ", ".join(sorted(s.value for s in allowed)) or "none (terminal state)"
        raise IllegalTransitionError(
            ERR_ILLEGAL_TRANSITION.format(model_id=model_id, current=current.value, target=target.value, allowed=names)
        )
