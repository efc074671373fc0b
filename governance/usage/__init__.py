"""governance.usage: usage policies at request time.

Before a deployed model answers, a gateway asks whether this end user may make this request
now; the answer and the inference are recorded in the audit trail by hashes, never the text.

>>> from governance import usage
>>> d = usage.check(model="doc-tagger", user="u-42", input="Tag this memo", caller="gateway")  # doctest: +SKIP
>>> d.compliant, d.decision_id, [v.policy_id for v in d.violations]  # doctest: +SKIP
>>> usage.complete(d.decision_id, output="finance, memo", caller="gateway")  # doctest: +SKIP

The policies live in ``include/policies/usage.yaml`` (:mod:`~governance.usage.policies`); the
check and the completion in :class:`UsageGovernor` (:mod:`~governance.usage.governor`); exact
quotas in :mod:`~governance.usage.quotas`; group commit in :mod:`~governance.usage.writer`;
the offline detectors and their plug-in interface in :mod:`~governance.usage.detectors`.
The module-level functions use this process's governor for ``GOVERNANCE_DB_URL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from governance._util import lazy_exports

if TYPE_CHECKING:
    from governance.usage.detectors import ContentClassifier, PIIDetector
    from governance.usage.governor import EVENT_USAGE_ALLOWED, EVENT_USAGE_DENIED, UsageGovernor
    from governance.usage.policies import LoadedPolicies, UsagePolicyFile, current_policies, load_policies
    from governance.usage.results import Completion, Decision, QuotaWindow, Violation

_EXPORTS = {
    "ContentClassifier": "governance.usage.detectors",
    "PIIDetector": "governance.usage.detectors",
    "EVENT_USAGE_ALLOWED": "governance.usage.governor",
    "EVENT_USAGE_DENIED": "governance.usage.governor",
    "UsageGovernor": "governance.usage.governor",
    "LoadedPolicies": "governance.usage.policies",
    "UsagePolicyFile": "governance.usage.policies",
    "current_policies": "governance.usage.policies",
    "load_policies": "governance.usage.policies",
    "Completion": "governance.usage.results",
    "Decision": "governance.usage.results",
    "QuotaWindow": "governance.usage.results",
    "Violation": "governance.usage.results",
}

__all__ = [
    "EVENT_USAGE_ALLOWED",
    "EVENT_USAGE_DENIED",
    "Completion",
    "ContentClassifier",
    "Decision",
    "LoadedPolicies",
    "PIIDetector",
    "QuotaWindow",
    "UsageGovernor",
    "UsagePolicyFile",
    "Violation",
    "check",
    "complete",
    "current_policies",
    "load_policies",
    "summary",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)


def _governor() -> UsageGovernor:
    from governance.usage.governor import UsageGovernor

    return UsageGovernor.shared()


def check(*, model: str, user: str, input: str, caller: str, metadata: Mapping[str, Any] | None = None) -> Decision:
    """May ``user`` make this request of ``model`` now? (see :meth:`UsageGovernor.check`)."""
    return _governor().check(model=model, user=user, input=input, caller=caller, metadata=metadata)


def complete(decision_id: str, *, output: str, caller: str, metadata: Mapping[str, Any] | None = None) -> Completion:
    """Check the model's output and record the inference (see :meth:`UsageGovernor.complete`)."""
    return _governor().complete(decision_id, output=output, caller=caller, metadata=metadata)


def summary(
    *,
    model: str | None = None,
    user: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
) -> dict[str, Any]:
    """Compliant and refused requests per model, user, day and policy (see
    :func:`governance.usage.reporting.summary`)."""
    return _governor().summary(model=model, user=user, since=since, until=until)
