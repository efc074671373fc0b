"""Exceptions of the governance domain. Each one says what is wrong, where, and how to fix it."""

from __future__ import annotations


class GovernanceError(Exception):
    """Base class of every error the governance package raises on purpose."""


class CardValidationError(GovernanceError, ValueError):
    """A model card was refused. ``problems`` holds one line per field at fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(
            f"model card refused ({len(self.problems)} {noun}):\n" + "\n".join(f"  - {p}" for p in self.problems)
        )


class AlreadyRegisteredError(GovernanceError):
    """The name + version pair exists already."""


class ModelNotFoundError(GovernanceError, LookupError):
    """No model version matches the given id or name[:version]."""


class IllegalTransitionError(GovernanceError):
    """A status change that the lifecycle table does not allow."""


class ProhibitedPracticeError(IllegalTransitionError):
    """A model that declares an EU AI Act Art. 5 prohibited practice cannot be approved or deployed."""


class AuditChainError(GovernanceError):
    """The audit chain could not be extended (e.g. the database moved under us)."""


class DecisionNotFoundError(GovernanceError, LookupError):
    """No usage decision has the given id."""


class DecisionCompletedError(GovernanceError):
    """The usage decision was completed already (an inference is recorded once)."""


class PayloadTooLargeError(GovernanceError, ValueError):
    """A usage input or output is larger than the policy file's limit."""
