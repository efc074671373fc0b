"""The usage section of the nightly compliance report: what each model in the report's scope
(the DEPLOYED models) served on the report's day, and the models that served while not DEPLOYED.

:func:`build_usage_section` reads the day's rows of ``usage_decisions`` (one per usage check,
written by :mod:`governance.usage.governor`; the day is the UTC day of the check) in one grouped
query and returns a :class:`UsageSection`, whose :meth:`~UsageSection.to_dict` is the report
JSON's ``usage`` key:

* per model (:class:`ModelUsage`): requests, compliant, refused, refusals by policy id, the top
  :data:`TOP_USERS` end users by volume (ids as stored: pseudonymous, or ``sha256:<hex>`` when the
  id was personal data), PII detections and content-filter hits per kind / category, for the
  input and the output, completed inferences and refused outputs. A model with no request that
  day shows zeros. Completions count with the day of their check (a check at 23:59 completed at
  00:01 counts on the check's day);
* ``totals`` over every decision of the day, of any model;
* ``findings`` (:class:`UsageFinding`): per model and status, the compliant checks made while the
  model was not DEPLOYED (``model_status`` is the status at the time of the check; e.g. a
  DEPRECATED model is allowed with a warning) and how many of them completed an inference. Each
  finding is one failed check of the report, named ``usage/served-while-<STATUS>``.

Every list and mapping is sorted, and nothing in the section is a time of generation: the same
rows give the same section (the nightly report's fingerprint includes it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select

from governance.store.engine import read_connection
from governance.store.tables import model_versions, usage_decisions

TOP_USERS = 10
"""How many end users each model's section lists (by requests, then id)."""

STATUS_DEPLOYED = "DEPLOYED"
FINDING_CHECK = "usage/served-while-{status}"
"""Name of a usage finding among the report's failed checks (as ``REQ/CHECK-ID`` and ``blocker/…``)."""
FINDING_REASON = (
    "{model} served {requests} request(s) while {status}, not DEPLOYED ({completed} completed inference(s))"
)
ERR_DAY = "day={value!r} is not a date (expected YYYY-MM-DD, e.g. 2026-11-27)"


def _split(joined: str | None) -> list[str]:
    return [part for part in (joined or "").split(",") if part]


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))


@dataclass(frozen=True, kw_only=True)
class UserUsage:
    """One end user's requests of one model that day."""

    user: str
    requests: int
    compliant: int
    refused: int

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "requests": self.requests, "compliant": self.compliant, "refused": self.refused}


@dataclass(frozen=True, kw_only=True)
class ModelUsage:
    """What one model in scope served that day (zeros when it had no request)."""

    model_id: str
    model: str
    requests: int = 0
    compliant: int = 0
    refused: int = 0
    refused_by_policy: dict[str, int] = field(default_factory=dict)
    users: int = 0
    top_users: list[UserUsage] = field(default_factory=list)
    pii_detections: dict[str, dict[str, int]] = field(default_factory=lambda: {"input": {}, "output": {}})
    content_filter_hits: dict[str, dict[str, int]] = field(default_factory=lambda: {"input": {}, "output": {}})
    completed: int = 0
    outputs_refused: int = 0
    outputs_refused_by_policy: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "model": self.model,
            "requests": self.requests,
            "compliant": self.compliant,
            "refused": self.refused,
            "refused_by_policy": dict(self.refused_by_policy),
            "users": self.users,
            "top_users": [u.to_dict() for u in self.top_users],
            "pii_detections": {k: dict(v) for k, v in self.pii_detections.items()},
            "content_filter_hits": {k: dict(v) for k, v in self.content_filter_hits.items()},
            "completed": self.completed,
            "outputs_refused": self.outputs_refused,
            "outputs_refused_by_policy": dict(self.outputs_refused_by_policy),
        }


@dataclass(frozen=True, kw_only=True)
class UsageFinding:
    """A model that served requests that day while its status was not DEPLOYED."""

    model_id: str
    model: str
    status: str
    """The model's status at the time of the checks (``usage_decisions.model_status``)."""
    current_status: str
    """Its status when the report was built."""
    requests: int
    """Compliant checks made while the model had that status."""
    completed: int
    """How many of them completed an inference."""

    @property
    def check(self) -> str:
        return FINDING_CHECK.format(status=self.status)

    @property
    def reason(self) -> str:
        return FINDING_REASON.format(
            model=self.model, requests=self.requests, status=self.status, completed=self.completed
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "model_id": self.model_id,
            "model": self.model,
            "status": self.status,
            "current_status": self.current_status,
            "requests": self.requests,
            "completed": self.completed,
            "reason": self.reason,
        }


@dataclass(frozen=True, kw_only=True)
class UsageSection:
    """The usage section of one day's report (see the module docstring)."""

    day: str
    models: list[ModelUsage]
    findings: list[UsageFinding]
    totals: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "top_users": TOP_USERS,
            "totals": dict(self.totals),
            "models": [m.to_dict() for m in self.models],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class _Tally:
    """Running counts of one model while the rows are read."""

    requests: int = 0
    compliant: int = 0
    refused: int = 0
    by_policy: Counter[str] = field(default_factory=Counter)
    users: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    pii: dict[str, Counter[str]] = field(default_factory=lambda: {"input": Counter(), "output": Counter()})
    content: dict[str, Counter[str]] = field(default_factory=lambda: {"input": Counter(), "output": Counter()})
    completed: int = 0
    outputs_refused: int = 0
    outputs_by_policy: Counter[str] = field(default_factory=Counter)

    def add(self, r: Any) -> None:
        n = int(r.n)
        compliant = bool(r.compliant)
        self.requests += n
        user = self.users[r.end_user]
        user[0] += n
        if compliant:
            self.compliant += n
            user[1] += n
        else:
            self.refused += n
            user[2] += n
            for p in _split(r.policy_ids):
                self.by_policy[p] += n
        for kind in _split(r.pii_kinds):
            self.pii["input"][kind] += n
        for cat in _split(r.content_categories):
            self.content["input"][cat] += n
        if r.completed:
            self.completed += n
            if not r.output_compliant:
                self.outputs_refused += n
                for p in _split(r.output_policy_ids):
                    self.outputs_by_policy[p] += n
            for kind in _split(r.output_pii_kinds):
                self.pii["output"][kind] += n
            for cat in _split(r.output_categories):
                self.content["output"][cat] += n

    def freeze(self, *, model_id: str, model: str) -> ModelUsage:
        ranked = sorted(self.users.items(), key=lambda kv: (-kv[1][0], kv[0]))[:TOP_USERS]
        return ModelUsage(
            model_id=model_id,
            model=model,
            requests=self.requests,
            compliant=self.compliant,
            refused=self.refused,
            refused_by_policy=_sorted(self.by_policy),
            users=len(self.users),
            top_users=[UserUsage(user=u, requests=c[0], compliant=c[1], refused=c[2]) for u, c in ranked],
            pii_detections={k: _sorted(v) for k, v in self.pii.items()},
            content_filter_hits={k: _sorted(v) for k, v in self.content.items()},
            completed=self.completed,
            outputs_refused=self.outputs_refused,
            outputs_refused_by_policy=_sorted(self.outputs_by_policy),
        )


def _day(value: date | str) -> str:
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(ERR_DAY.format(value=value)) from None


def build_usage_section(engine: Engine, *, day: date | str, model_ids: Sequence[str] | None = None) -> UsageSection:
    """The usage section of ``day`` (UTC) for ``model_ids`` (default: the models DEPLOYED now,
    by name and registration, as the report lists them), with the findings of every model."""
    day_text = _day(day)
    d = usage_decisions.c
    completed = d.completed_at.is_not(None).label("completed")
    keys = (
        d.model_id,
        d.model_status,
        d.end_user,
        d.compliant,
        d.policy_ids,
        d.pii_kinds,
        d.content_categories,
        completed,
        d.output_compliant,
        d.output_policy_ids,
        d.output_pii_kinds,
        d.output_categories,
    )
    stmt = select(*keys, func.count().label("n")).where(d.day == day_text).group_by(*keys)
    m = model_versions.c
    with read_connection(engine) as conn:
        rows = conn.execute(stmt).all()
        if model_ids is None:
            deployed = select(m.id).where(m.status == STATUS_DEPLOYED).order_by(m.name, m.created_at)
            model_ids = [str(i) for i in conn.execute(deployed).scalars()]
        scope = list(dict.fromkeys(model_ids))
        served = {str(r.model_id) for r in rows if r.compliant and r.model_status != STATUS_DEPLOYED}
        known = conn.execute(select(m.id, m.name, m.version, m.status).where(m.id.in_(sorted({*scope, *served}))))
        names, statuses = {}, {}
        for k in known:
            names[str(k.id)], statuses[str(k.id)] = f"{k.name}:{k.version}", str(k.status)
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    totals = _Tally()
    found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        tallies[r.model_id].add(r)
        totals.add(r)
        if r.compliant and r.model_status != STATUS_DEPLOYED:
            counts = found[(r.model_id, r.model_status)]
            counts[0] += int(r.n)
            counts[1] += int(r.n) if r.completed else 0
    findings = [
        UsageFinding(
            model_id=mid,
            model=names.get(mid, mid),
            status=status,
            current_status=statuses.get(mid, ""),
            requests=c[0],
            completed=c[1],
        )
        for (mid, status), c in found.items()
    ]
    findings.sort(key=lambda f: (f.model, f.model_id, f.status))
    with_requests = len(tallies)
    return UsageSection(
        day=day_text,
        models=[tallies[mid].freeze(model_id=mid, model=names.get(mid, mid)) for mid in scope],
        findings=findings,
        totals={
            "requests": totals.requests,
            "compliant": totals.compliant,
            "refused": totals.refused,
            "completed": totals.completed,
            "outputs_refused": totals.outputs_refused,
            "models": with_requests,
            "users": len(totals.users),
        },
    )
