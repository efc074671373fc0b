"""governance.usage.policies: the usage policy file (``include/policies/usage.yaml``).

A list of policies, each with an ``id``, a ``name``, a ``type``, a ``severity``, an optional
``applies_to`` (model names / ``NAME:VERSION`` / ids and risk tiers; empty = every model) and a
``config`` whose keys depend on the type:

- ``access_control``: who may use which model. A model must be DEPLOYED (DEPRECATED: allowed
  with a warning until it is retired); ``deny`` rules first, then ``allow`` rules; a model whose
  tier is not in ``default_allow_tiers`` (default LOW and MEDIUM) is usable only by the users
  and groups an ``allow`` rule names.
- ``usage_quota``: ``requests_per_hour`` / ``requests_per_day`` per end user and model, counted
  in UTC-aligned windows (a user may spend a whole hour's quota at 10:59 and another at 11:00:
  the window-edge burst of fixed windows is up to twice the limit within a few minutes).
- ``content_filter``: ``block_categories`` checked on ``input`` and/or ``output`` by a
  classifier (``builtin`` or ``package.module:factory``).
- ``data_retention``: PII kinds detected offline; PII is never stored (``max_retention_days``
  must be 0), ``refuse_kinds`` are refused outright; payloads without PII are kept
  ``payload_retention_days`` days (0: never).

The file is read again when it changes (size, mtime or inode), so an edit takes effect on the
next request without restarting anything; every decision records the SHA-256 of the file it
was made under. Unknown keys are refused, with the key, the place and the known keys named.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from governance import config
from governance._pydantic import StrictModel
from governance._util import load_when_changed
from governance.errors import GovernanceError
from governance.usage.detectors import (
    CONTENT_CATEGORIES,
    PII_KINDS,
    ContentClassifier,
    PIIDetector,
    load_content_classifier,
    load_pii_detector,
)

ERR_FILE = "usage policies {path}: {problem}"
ERR_NO_ACCESS_POLICY = (
    "no access_control policy: add one (every model must be DEPLOYED to be used, and HIGH and CRITICAL "
    "models are denied by default; see include/policies/usage.yaml for an example)"
)
ERR_DUPLICATE_ID = "policy id {id!r} is used twice: give each policy its own id"
ERR_PII_RETENTION = "max_retention_days must be 0: PII and sensitive data are never stored (got {value})"
ERR_QUOTA_EMPTY = "set requests_per_hour, requests_per_day or both (e.g. requests_per_hour: 1000)"
ERR_UNKNOWN_GROUP = "allow/deny names the group {group!r}, which config.groups does not define (defined: {known})"

Tier = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
Severity = Literal["low", "medium", "high", "critical"]
Check = Literal["input", "output"]
PolicyId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]


class Selector(StrictModel):
    """Which models a policy or rule covers: by name, ``NAME:VERSION`` or id, and by risk tier
    (a model matches when it matches both lists; an empty list matches every model)."""

    models: list[str] = []
    risk_tiers: list[Tier] = []

    def matches(self, model: ModelRef) -> bool:
        if self.models and not ({model.name, model.ref, model.id} & set(self.models)):
            return False
        return not self.risk_tiers or model.risk_level in self.risk_tiers


class AccessRule(Selector):
    """Models (by name, version, id or tier) and the end users / groups the rule covers;
    ``users: ["*"]`` covers everyone."""

    users: list[str] = []
    groups: list[str] = []

    def covers(self, model: ModelRef, user: str, user_groups: frozenset[str]) -> bool:
        if not self.matches(model):
            return False
        return "*" in self.users or user in self.users or bool(user_groups & set(self.groups))


class AccessControlConfig(StrictModel):
    default_allow_tiers: list[Tier] = ["LOW", "MEDIUM"]
    groups: dict[str, list[str]] = {}
    allow: list[AccessRule] = []
    deny: list[AccessRule] = []

    @model_validator(mode="after")
    def _groups_defined(self) -> AccessControlConfig:
        for rule in [*self.allow, *self.deny]:
            for group in rule.groups:
                if group not in self.groups:
                    known = ", ".join(self.groups) or "none"
                    raise ValueError(ERR_UNKNOWN_GROUP.format(group=group, known=known))
        return self

    def groups_of(self, user: str) -> frozenset[str]:
        return frozenset(g for g, members in self.groups.items() if user in members)


class UsageQuotaConfig(StrictModel):
    requests_per_hour: Annotated[int, Field(ge=1)] | None = None
    requests_per_day: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _some_limit(self) -> UsageQuotaConfig:
        if self.requests_per_hour is None and self.requests_per_day is None:
            raise ValueError(ERR_QUOTA_EMPTY)
        return self

    def limits(self) -> list[tuple[str, int]]:
        """(period, limit) pairs, ``hour`` before ``day``."""
        out = []
        if self.requests_per_hour is not None:
            out.append(("hour", self.requests_per_hour))
        if self.requests_per_day is not None:
            out.append(("day", self.requests_per_day))
        return out


ContentCategory = Literal[CONTENT_CATEGORIES]  # type: ignore[valid-type]
PIIKind = Literal[PII_KINDS]  # type: ignore[valid-type]


class ContentFilterConfig(StrictModel):
    block_categories: Annotated[list[str], Field(min_length=1)]
    check: Annotated[list[Check], Field(min_length=1)] = ["input", "output"]
    classifier: str = "builtin"

    @model_validator(mode="after")
    def _known_categories(self) -> ContentFilterConfig:
        if self.classifier == "builtin":
            unknown = [c for c in self.block_categories if c not in CONTENT_CATEGORIES]
            if unknown:
                raise ValueError(
                    f"block_categories: {', '.join(map(repr, unknown))} not known to the builtin classifier "
                    f"(known: {', '.join(CONTENT_CATEGORIES)})"
                )
        return self


class DataRetentionConfig(StrictModel):
    pii_kinds: list[PIIKind] = list(PII_KINDS)
    refuse_kinds: list[PIIKind] = []
    max_retention_days: int = 0
    payload_retention_days: Annotated[int, Field(ge=0, le=3650)] = 0
    check: Annotated[list[Check], Field(min_length=1)] = ["input", "output"]
    detector: str = "builtin"

    @field_validator("max_retention_days")
    @classmethod
    def _never_stored(cls, value: int) -> int:
        if value != 0:
            raise ValueError(ERR_PII_RETENTION.format(value=value))
        return value


class _PolicyBase(StrictModel):
    id: PolicyId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    severity: Severity
    description: str = ""
    applies_to: Selector = Selector()


class AccessControlPolicy(_PolicyBase):
    type: Literal["access_control"]
    config: AccessControlConfig = AccessControlConfig()


class UsageQuotaPolicy(_PolicyBase):
    type: Literal["usage_quota"]
    config: UsageQuotaConfig


class ContentFilterPolicy(_PolicyBase):
    type: Literal["content_filter"]
    config: ContentFilterConfig


class DataRetentionPolicy(_PolicyBase):
    type: Literal["data_retention"]
    config: DataRetentionConfig = DataRetentionConfig()


Policy = Annotated[
    AccessControlPolicy | UsageQuotaPolicy | ContentFilterPolicy | DataRetentionPolicy,
    Field(discriminator="type"),
]
_BY_TYPE: dict[str, type[_PolicyBase]] = {
    "access_control": AccessControlPolicy,
    "usage_quota": UsageQuotaPolicy,
    "content_filter": ContentFilterPolicy,
    "data_retention": DataRetentionPolicy,
}


class Limits(StrictModel):
    max_input_bytes: Annotated[int, Field(ge=1, le=16 * 1024 * 1024)] = 65_536
    max_output_bytes: Annotated[int, Field(ge=1, le=16 * 1024 * 1024)] = 262_144


class UsagePolicyFile(StrictModel):
    limits: Limits = Limits()
    policies: Annotated[list[Policy], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> UsagePolicyFile:
        seen: set[str] = set()
        for p in self.policies:
            if p.id in seen:
                raise ValueError(ERR_DUPLICATE_ID.format(id=p.id))
            seen.add(p.id)
        if not any(p.type == "access_control" for p in self.policies):
            raise ValueError(ERR_NO_ACCESS_POLICY)
        return self


@dataclass(frozen=True)
class ModelRef:
    """What a policy needs to know about a model version."""

    id: str
    name: str
    version: str
    risk_level: str
    status: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class LoadedPolicies:
    """A validated policy file, its SHA-256 and the detectors its policies name."""

    path: Path
    sha256: str
    file: UsagePolicyFile
    classifiers: dict[str, ContentClassifier]
    detectors: dict[str, PIIDetector]

    @property
    def limits(self) -> Limits:
        return self.file.limits

    def for_model(self, model: ModelRef) -> list[Policy]:
        return [p for p in self.file.policies if p.applies_to.matches(model)]


def load_policies(path: Path | None = None) -> LoadedPolicies:
    """Read and validate a policy file (default :func:`governance.config.usage_policies_file`)."""
    path = path or config.usage_policies_file()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GovernanceError(ERR_FILE.format(path=path, problem=f"cannot read: {exc.strerror}")) from None
    return _parse(path, raw)


def _parse(path: Path, raw: bytes) -> LoadedPolicies:
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GovernanceError(ERR_FILE.format(path=path, problem=f"not valid YAML: {exc}")) from None
    try:
        parsed = UsagePolicyFile.model_validate(data)
    except ValidationError as exc:
        raise GovernanceError(ERR_FILE.format(path=path, problem=_errors(exc, data))) from None
    classifiers: dict[str, ContentClassifier] = {}
    detectors: dict[str, PIIDetector] = {}
    for p in parsed.policies:
        if isinstance(p, ContentFilterPolicy):
            classifiers.setdefault(p.config.classifier, load_content_classifier(p.config.classifier))
        elif isinstance(p, DataRetentionPolicy):
            detectors.setdefault(p.config.detector, load_pii_detector(p.config.detector))
    detectors.setdefault("builtin", load_pii_detector("builtin"))  # user ids and "PII-free" checks
    return LoadedPolicies(
        path=path, sha256=hashlib.sha256(raw).hexdigest(), file=parsed, classifiers=classifiers, detectors=detectors
    )


def _errors(exc: ValidationError, data: Any) -> str:
    """Pydantic errors as ``policies[1] (id quota).config.requests_per_hour: …`` lines that name the
    key and say how to fix it (unknown keys list the known ones)."""
    out = []
    for e in exc.errors():
        loc = list(e["loc"])
        where: list[str] = []
        model: type[StrictModel] | None = UsagePolicyFile
        i = 0
        while i < len(loc):
            part = loc[i]
            if loc[:1] == ["policies"] and i == 1 and isinstance(part, int):
                pid = _policy_id(data, part)
                where[-1] = f"policies[{part}]" + (f" (id {pid})" if pid else "")
                if i + 1 < len(loc) and loc[i + 1] in _BY_TYPE:  # the union's tag
                    model = _BY_TYPE[str(loc[i + 1])]
                    i += 1
                else:
                    model = None
            else:
                where.append(str(part))
                model = _field_model(model, str(part)) if i < len(loc) - 1 else model
            i += 1
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            known = ", ".join(model.model_fields) if model is not None else ""
            key = where.pop() if where else "?"
            msg = f"unknown key {key!r}: remove it or fix its spelling" + (f" (known keys: {known})" if known else "")
        elif e["type"] == "union_tag_invalid":
            msg = f"type must be one of {', '.join(_BY_TYPE)}"
        elif e["type"] == "union_tag_not_found":
            msg = f"each policy needs a type ({', '.join(_BY_TYPE)})"
        out.append(f"{'.'.join(where) or 'file'}: {msg}")
    return "; ".join(out)


def _policy_id(data: Any, index: int) -> str | None:
    try:
        pid = data["policies"][index].get("id")
    except (TypeError, KeyError, IndexError, AttributeError):
        return None
    return pid if isinstance(pid, str) else None


def _field_model(model: type[StrictModel] | None, name: str) -> type[StrictModel] | None:
    """The pydantic model class of field ``name`` of ``model`` (None when it is not a model)."""
    if model is None or name not in model.model_fields:
        return None
    annotation = model.model_fields[name].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, StrictModel) else None


def current_policies(path: Path | None = None) -> LoadedPolicies:
    """The policy file as it is now: re-read and re-validated when its size, mtime or inode
    changed since the last call (one ``stat`` per call otherwise)."""
    path = path or config.usage_policies_file()
    try:
        return load_when_changed(path, load_policies, kind="usage-policies")
    except OSError as exc:
        raise GovernanceError(ERR_FILE.format(path=path, problem=f"cannot read: {exc.strerror}")) from None


__all__ = [
    "AccessControlPolicy",
    "ContentFilterPolicy",
    "DataRetentionPolicy",
    "LoadedPolicies",
    "ModelRef",
    "Policy",
    "UsagePolicyFile",
    "UsageQuotaPolicy",
    "current_policies",
    "load_policies",
]
