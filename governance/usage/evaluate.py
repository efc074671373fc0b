"""governance.usage.evaluate: the policies a request or an output breaks, before any counting.

The order is the one of the request flow: the model's status and access control, the content
filter, then the PII rules. Quotas are decided afterwards, in the database, and only for a
request nothing else refused (:mod:`governance.usage.quotas`). Every reason names statuses,
tiers, categories and PII kinds only: never the text, never the end user's id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from governance.usage.policies import (
    AccessControlPolicy,
    ContentFilterPolicy,
    DataRetentionPolicy,
    LoadedPolicies,
    ModelRef,
    Policy,
    UsageQuotaPolicy,
)
from governance.usage.results import Violation

REASON_NOT_DEPLOYED = "model {ref} is {status}, not DEPLOYED: only deployed models may be used"
REASON_DEPRECATED = "model {ref} is DEPRECATED: allowed until it is retired; move callers to its successor"
REASON_DENIED_RULE = "a deny rule of this policy covers this user for {ref}"
REASON_NOT_ALLOWED = (
    "{ref} is a {tier} model and no allow rule of this policy names this user or one of their groups "
    "({tier} models are denied by default)"
)
REASON_CONTENT = "{where} matches the blocked content category {category!r}"
REASON_PII_REFUSED = "{where} contains {kind}: sensitive data this policy refuses (it is never stored)"
REASON_PII_NOT_STORED = "{where} contains {kinds}: not stored, only its SHA-256"
HASHED_USER_PREFIX = "sha256:"


@dataclass
class Assessment:
    """What the policies say about one text (an input or an output)."""

    violations: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    pii_kinds: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    quotas: list[UsageQuotaPolicy] = field(default_factory=list)
    retention_days: int = 0
    """Days the text may be kept: 0 when any PII was found, else the longest
    ``payload_retention_days`` of the data_retention policies that apply (0: never)."""


def _violation(p: Policy, reason: str) -> Violation:
    return Violation(policy_id=p.id, policy_name=p.name, type=p.type, severity=p.severity, reason=reason)


def assess_input(policies: LoadedPolicies, *, model: ModelRef, user: str, text: str) -> Assessment:
    """The violations and warnings of a request before its model's status (:func:`assess_status`)
    and its quotas, and the quota policies that apply."""
    out = Assessment()
    applicable = policies.for_model(model)
    for p in applicable:
        if isinstance(p, AccessControlPolicy):
            _access(out, p, model, user)
    _text_rules(out, policies, applicable, text, where="input")
    out.quotas = [p for p in applicable if isinstance(p, UsageQuotaPolicy)]
    return out


def assess_output(policies: LoadedPolicies, *, model: ModelRef, text: str) -> Assessment:
    """The violations and warnings of a model's output (content filter and PII rules)."""
    out = Assessment()
    _text_rules(out, policies, policies.for_model(model), text, where="output")
    return out


def assess_status(policies: LoadedPolicies, *, model: ModelRef) -> tuple[list[Violation], list[Violation]]:
    """Violations and warnings for the model's status now: only DEPLOYED models may be used,
    DEPRECATED ones with a warning (one per access_control policy that applies)."""
    violations: list[Violation] = []
    warnings: list[Violation] = []
    for p in policies.for_model(model):
        if not isinstance(p, AccessControlPolicy):
            continue
        if model.status == "DEPRECATED":
            warnings.append(_violation(p, REASON_DEPRECATED.format(ref=model.ref)))
        elif model.status != "DEPLOYED":
            violations.append(_violation(p, REASON_NOT_DEPLOYED.format(ref=model.ref, status=model.status)))
    return violations, warnings


def _access(out: Assessment, p: AccessControlPolicy, model: ModelRef, user: str) -> None:
    """Deny rules, then allow rules for tiers outside ``default_allow_tiers`` (the status is
    :func:`assess_status`'s, decided in the transaction that records the decision)."""
    cfg = p.config
    groups = cfg.groups_of(user)
    if any(rule.covers(model, user, groups) for rule in cfg.deny):
        out.violations.append(_violation(p, REASON_DENIED_RULE.format(ref=model.ref)))
    elif model.risk_level not in cfg.default_allow_tiers and not any(
        rule.covers(model, user, groups) for rule in cfg.allow
    ):
        out.violations.append(_violation(p, REASON_NOT_ALLOWED.format(ref=model.ref, tier=model.risk_level)))


def _text_rules(out: Assessment, policies: LoadedPolicies, applicable: list[Policy], text: str, *, where: str) -> None:
    categories: set[str] = set()
    for p in applicable:
        if isinstance(p, ContentFilterPolicy) and where in p.config.check:
            hits = policies.classifiers[p.config.classifier].categories(text)
            categories |= hits
            for category in sorted(hits & set(p.config.block_categories)):
                out.violations.append(_violation(p, REASON_CONTENT.format(where=where, category=category)))
    out.categories = frozenset(categories)
    # every kind the built-in detector knows decides whether the text is PII-free (and may be
    # kept); the policies decide which kinds are refused or warned about
    kinds = set(policies.detectors["builtin"].kinds(text))
    retention: list[int] = []
    for p in applicable:
        if not isinstance(p, DataRetentionPolicy) or where not in p.config.check:
            continue
        found: set[str] = (
            set(policies.detectors[p.config.detector].kinds(text)) if p.config.detector != "builtin" else set(kinds)
        )
        kinds |= found
        watched = found & set(p.config.pii_kinds)
        refused = sorted(watched & set(p.config.refuse_kinds))
        for kind in refused:
            out.violations.append(_violation(p, REASON_PII_REFUSED.format(where=where, kind=kind)))
        if watched and not refused:
            out.warnings.append(
                _violation(p, REASON_PII_NOT_STORED.format(where=where, kinds=", ".join(sorted(watched))))
            )
        retention.append(p.config.payload_retention_days)
    out.pii_kinds = frozenset(kinds)
    out.retention_days = max(retention) if retention and not kinds else 0


def stored_user(policies: LoadedPolicies, user: str) -> str:
    """The end user's id as stored: as given, or ``sha256:<hex>`` when the id is itself personal
    data (an e-mail address, a phone number), so that it is never written anywhere."""
    if policies.detectors["builtin"].kinds(user):
        return HASHED_USER_PREFIX + hashlib.sha256(user.encode("utf-8")).hexdigest()
    return user
