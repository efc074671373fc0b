"""governance.usage.reporting: counts of compliant and refused requests per model, end user, day
and policy (``GET /governance/v1/usage/summary``, ``governance usage summary``, the nightly
compliance report's usage section).

One grouped query over ``usage_decisions`` (indexed by day): the rows it returns are already
aggregated per (day, model, user, outcome, violated policies, PII kinds, categories).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select

from governance.store.engine import read_connection
from governance.store.tables import model_versions, usage_decisions

ERR_DAY = "{name}={value!r} is not a date or time (expected YYYY-MM-DD or an ISO 8601 time, e.g. 2026-12-01)"
ERR_RANGE = "since ({since}) is after until ({until})"
TOP_USERS = 10


def parse_day(value: str | date | datetime | None, *, name: str) -> str | None:
    """The UTC day (``YYYY-MM-DD``) of a date or ISO time, None for None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat() if value.tzinfo else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(ERR_DAY.format(name=name, value=value)) from None
    return parse_day(t, name=name)


@dataclass
class _Counts:
    requests: int = 0
    compliant: int = 0
    refused: int = 0
    by_policy: Counter[str] = field(default_factory=Counter)

    def add(self, n: int, compliant: bool, policies: list[str]) -> None:
        self.requests += n
        if compliant:
            self.compliant += n
        else:
            self.refused += n
            for p in policies:
                self.by_policy[p] += n

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "compliant": self.compliant,
            "refused": self.refused,
            "refused_by_policy": dict(sorted(self.by_policy.items())),
        }


def summary(
    engine: Engine,
    *,
    model_id: str | None = None,
    user: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
) -> dict[str, Any]:
    """Counts per model, user, day and policy for the days ``since``..``until`` (inclusive, UTC)."""
    since_day = parse_day(since, name="since")
    until_day = parse_day(until, name="until")
    if since_day and until_day and since_day > until_day:
        raise ValueError(ERR_RANGE.format(since=since_day, until=until_day))
    d = usage_decisions.c
    n = func.count().label("n")
    stmt = select(
        d.day, d.model_id, d.end_user, d.compliant, d.policy_ids, d.pii_kinds, d.content_categories, n
    ).group_by(d.day, d.model_id, d.end_user, d.compliant, d.policy_ids, d.pii_kinds, d.content_categories)
    conds = []
    if since_day:
        conds.append(d.day >= since_day)
    if until_day:
        conds.append(d.day <= until_day)
    if model_id:
        conds.append(d.model_id == model_id)
    if user:
        conds.append(d.end_user == user)
    if conds:
        stmt = stmt.where(and_(*conds))
    total = _Counts()
    per_model: dict[str, _Counts] = defaultdict(_Counts)
    per_user: dict[str, _Counts] = defaultdict(_Counts)
    per_day: dict[str, _Counts] = defaultdict(_Counts)
    pii: Counter[str] = Counter()
    content: Counter[str] = Counter()
    with read_connection(engine) as conn:
        rows = conn.execute(stmt).all()
        ids = sorted({r.model_id for r in rows})
        names = {
            r.id: f"{r.name}:{r.version}"
            for r in conn.execute(
                select(model_versions.c.id, model_versions.c.name, model_versions.c.version).where(
                    model_versions.c.id.in_(ids)
                )
            )
        }
    for r in rows:
        policies = [p for p in (r.policy_ids or "").split(",") if p]
        compliant = bool(r.compliant)
        for bucket in (total, per_model[r.model_id], per_user[r.end_user], per_day[r.day]):
            bucket.add(r.n, compliant, policies)
        for kind in (r.pii_kinds or "").split(","):
            if kind:
                pii[kind] += r.n
        for cat in (r.content_categories or "").split(","):
            if cat:
                content[cat] += r.n
    users = sorted(per_user.items(), key=lambda kv: (-kv[1].requests, kv[0]))
    return {
        "since": since_day,
        "until": until_day,
        "total": total.to_dict(),
        "by_model": [
            {"model_id": mid, "model": names.get(mid, mid), **c.to_dict()} for mid, c in sorted(per_model.items())
        ],
        "by_user": [{"user": u, **c.to_dict()} for u, c in users],
        "by_day": [{"day": day, **c.to_dict()} for day, c in sorted(per_day.items())],
        "by_policy": [{"policy_id": p, "refused": k} for p, k in sorted(total.by_policy.items())],
        "pii_detections": dict(sorted(pii.items())),
        "content_filter_hits": dict(sorted(content.items())),
    }
