"""governance.usage.results: what a usage check and a completion answer (plain dataclasses that
serialise to the JSON of the HTTP API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FAIL_CLOSED_ID = "governance"
"""``policy_id`` of the violation given when the check could not be made (store unreachable,
policy file invalid): the request is refused, never admitted."""
FAIL_CLOSED_TYPE = "fail_closed"


@dataclass(frozen=True)
class Violation:
    """A policy a request (or an output) breaks, or warns about; ``reason`` names policy kinds,
    categories and limits, never any of the text."""

    policy_id: str
    policy_name: str
    type: str
    severity: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class QuotaWindow:
    limit: int
    remaining: int
    resets_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """The answer to a usage check. ``decision_id`` is None only when the check could not be made
    (then ``compliant`` is False and the one violation says why: fail closed)."""

    compliant: bool
    decision_id: str | None
    model_id: str | None
    violations: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    quota: dict[str, QuotaWindow] = field(default_factory=dict)
    policy_sha256: str | None = None

    @property
    def failed_closed(self) -> bool:
        return any(v.type == FAIL_CLOSED_TYPE for v in self.violations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "compliant": self.compliant,
            "decision_id": self.decision_id,
            "model_id": self.model_id,
            "violations": [v.to_dict() for v in self.violations],
            "warnings": [w.to_dict() for w in self.warnings],
            "quota": {k: q.to_dict() for k, q in self.quota.items()},
            "policy_sha256": self.policy_sha256,
        }


@dataclass(frozen=True)
class Completion:
    """The answer to a completion: whether the model's output passes the output policies."""

    compliant: bool
    decision_id: str
    violations: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)

    @property
    def failed_closed(self) -> bool:
        return any(v.type == FAIL_CLOSED_TYPE for v in self.violations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "compliant": self.compliant,
            "decision_id": self.decision_id,
            "violations": [v.to_dict() for v in self.violations],
            "warnings": [w.to_dict() for w in self.warnings],
        }


def fail_closed(reason: str) -> Violation:
    return Violation(
        policy_id=FAIL_CLOSED_ID, policy_name="Fail closed", type=FAIL_CLOSED_TYPE, severity="critical", reason=reason
    )
