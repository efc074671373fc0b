"""governance.usage.governor: :class:`UsageGovernor`, the usage check and the completion.

``check`` answers whether an end user may make a request of a model now: it resolves the model,
evaluates the policies that apply to it (:mod:`~governance.usage.evaluate`), and then, in one
transaction shared with concurrent callers (:mod:`~governance.usage.writer`), counts the request
against its quotas (only when nothing else refused it), writes the decision and its audit event
(``usage.allowed`` / ``usage.denied``) and answers once that committed. ``complete`` checks the
model's output and writes the ``inference`` event. Neither ever writes the text: decisions,
events and logs hold SHA-256 hashes, policy ids, categories and PII kinds; a payload is kept
only where a data_retention policy allows it and no PII was found in it.

Fail closed: when the policy file is invalid or the store cannot be reached, the answer is a
refusal whose one violation (``policy_id`` ``governance``, type ``fail_closed``) says why.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from governance._util import as_utc
from governance.audit.append import EVENT_INFERENCE
from governance.audit.chain import AuditEvent, NewEvent
from governance.errors import (
    DecisionCompletedError,
    DecisionNotFoundError,
    GovernanceError,
    ModelNotFoundError,
    PayloadTooLargeError,
)
from governance.store.engine import dbapi_sql
from governance.usage.evaluate import Assessment, assess_input, assess_output, assess_status, stored_user
from governance.usage.policies import LoadedPolicies, ModelRef, current_policies
from governance.usage.quotas import QuotaOutcome, admit
from governance.usage.results import Completion, Decision, Violation, fail_closed
from governance.usage.writer import Batch, committer_for

log = logging.getLogger(__name__)

EVENT_USAGE_ALLOWED = "usage.allowed"
EVENT_USAGE_DENIED = "usage.denied"

ERR_INPUT_TOO_LARGE = "input is {size} bytes; the limit is {limit} (limits.max_input_bytes in {path})"
ERR_OUTPUT_TOO_LARGE = "output is {size} bytes; the limit is {limit} (limits.max_output_bytes in {path})"
ERR_DECISION_NOT_FOUND = "no usage decision {id!r}: complete the decision_id that a check returned"
ERR_DECISION_COMPLETED = "usage decision {id!r} was completed already: an inference is recorded once"
ERR_DECISION_REFUSED = "usage decision {id!r} refused the request: a refused request has no inference to complete"
ERR_MODEL_NOT_FOUND = "no model version {ref!r} (give NAME, NAME:VERSION or a model id)"
ERR_EMPTY_USER = "user must name the end user (a stable id from the calling application)"
REASON_STORE = "the governance store cannot be reached ({error}): request refused (fail closed)"
REASON_POLICIES = "the usage policies cannot be applied ({error}): request refused (fail closed)"

METADATA_MAX_KEYS = 20
REF_CACHE_MAX = 4096
_FINAL_TIER = frozenset({"APPROVED", "DEPLOYED", "DEPRECATED", "RETIRED"})
_refs_lock = threading.Lock()
_governors: dict[tuple[int, Path | None], UsageGovernor] = {}
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+-]{0,64}$")

_SQL_MODEL_BY_ID = "SELECT id, name, version, risk_level, status FROM model_versions WHERE id = {p}"
_SQL_MODEL_BY_NAME_VERSION = (
    "SELECT id, name, version, risk_level, status FROM model_versions WHERE name = {p} AND version = {p}"
)
_SQL_MODEL_BY_NAME = (
    "SELECT id, name, version, risk_level, status FROM model_versions WHERE name = {p} "
    "ORDER BY CASE status WHEN 'DEPLOYED' THEN 0 WHEN 'DEPRECATED' THEN 1 ELSE 2 END, created_at DESC, id DESC "
    "LIMIT 1"
)
_SQL_DECISION = (
    "SELECT d.model_id, d.compliant, d.completed_at, m.name, m.version, m.risk_level, m.status "
    "FROM usage_decisions d JOIN model_versions m ON m.id = d.model_id WHERE d.id = {p}"
)
_SQL_DECISION_FOR_UPDATE = "SELECT compliant, completed_at, created_at, end_user, input_sha256, input_bytes FROM usage_decisions WHERE id = {p}"
_SQL_INSERT_DECISION = (
    "INSERT INTO usage_decisions (id, created_at, day, model_id, model_status, end_user, caller, compliant, "
    "policy_ids, warning_ids, pii_kinds, content_categories, input_sha256, input_bytes, policy_sha256, event_id) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
)
_SQL_COMPLETE = (
    "UPDATE usage_decisions SET completed_at = {p}, output_compliant = {p}, output_policy_ids = {p}, "
    "output_pii_kinds = {p}, output_categories = {p}, output_sha256 = {p}, completion_event_id = {p} WHERE id = {p}"
)
_SQL_PAYLOAD = (
    "INSERT INTO usage_payloads (decision_id, kind, text, stored_at, expires_at) VALUES ({p}, {p}, {p}, {p}, {p})"
)


def _sha256(text: str) -> tuple[str, int]:
    raw = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest(), len(raw)


def _joined(items: Sequence[str] | frozenset[str]) -> str:
    return ",".join(sorted(set(items)))


def db_time(t: datetime, dialect: str) -> Any:
    """A UTC time as the usage tables store it (SQLite: SQLAlchemy's text form; PostgreSQL: aware)."""
    return (
        t.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if dialect == "sqlite" else t
    )


def from_db_time(value: Any) -> datetime:
    """A time read back from the usage tables, as aware UTC (SQLite hands back text)."""
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def short_error(exc: BaseException) -> str:
    """An error's class and first line (never the SQL parameters SQLAlchemy appends)."""
    inner = getattr(exc, "orig", None) or exc
    first = (str(inner).strip().splitlines() or [""])[0][:200]
    return f"{type(inner).__name__}: {first}" if first else type(inner).__name__


def safe_metadata(metadata: Mapping[str, Any] | None, policies: LoadedPolicies) -> dict[str, Any]:
    """The metadata values that may be recorded: numbers, booleans and short identifiers with no
    PII in them; other keys are named under ``dropped`` (their values are never written)."""
    if not metadata:
        return {}
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    detector = policies.detectors["builtin"]
    for key, value in list(metadata.items())[:METADATA_MAX_KEYS]:
        key_ok = isinstance(key, str) and _SAFE_VALUE.match(key) is not None and not detector.kinds(key)
        if not key_ok:
            dropped.append("?")
        elif isinstance(value, bool | int | float):
            kept[key] = value
        elif isinstance(value, str) and _SAFE_VALUE.match(value) and not detector.kinds(value):
            kept[key] = value
        else:
            dropped.append(key)
    if len(metadata) > METADATA_MAX_KEYS:
        dropped.append(f"+{len(metadata) - METADATA_MAX_KEYS} more")
    if dropped:
        kept["dropped"] = dropped
    return kept


@dataclass
class _CheckJob:
    decision_id: str
    policies: LoadedPolicies
    model: ModelRef
    user: str
    caller: str
    assessment: Assessment
    input_sha256: str
    input_bytes: int
    policy_sha256: str
    keep_text: str | None
    metadata: dict[str, Any]
    result: Decision | None = None
    _pending: tuple[datetime, QuotaOutcome, list[Violation], list[Violation], str] | None = field(
        default=None, repr=False
    )
    _status: str = field(default="UNKNOWN", repr=False)

    @classmethod
    def prefetch(cls, cur: Any, dialect: str, jobs: list[_CheckJob]) -> None:
        """The models' statuses as of this transaction (one query for the batch): a model
        retired a moment ago is refused."""
        ids = sorted({j.model.id for j in jobs})
        marks = ", ".join(["{p}"] * len(ids))
        cur.execute(dbapi_sql(f"SELECT id, status FROM model_versions WHERE id IN ({marks})", dialect), ids)
        statuses = {str(r[0]): str(r[1]) for r in cur.fetchall()}
        for j in jobs:
            j._status = statuses.get(j.model.id, "UNKNOWN")

    def apply(self, cur: Any, dialect: str, now: datetime, batch: Batch) -> list[NewEvent]:
        a = self.assessment
        status = self._status
        status_violations, status_warnings = assess_status(self.policies, model=replace(self.model, status=status))
        before = [*status_violations, *a.violations]
        q = admit(cur, dialect, policies=a.quotas, model_id=self.model.id, user=self.user, now=now, consume=not before)
        violations = [*before, *([q.violation] if q.violation else [])]
        warnings = [*status_warnings, *a.warnings]
        self._pending = (now, q, violations, warnings, status)
        details: dict[str, Any] = {
            "decision_id": self.decision_id,
            "user": self.user,
            "model": self.model.ref,
            "model_status": status,
            "violated": sorted({v.policy_id for v in violations}),
            "warnings": sorted({w.policy_id for w in warnings}),
            "policy_sha256": self.policy_sha256,
            "input_sha256": self.input_sha256,
            "input_bytes": self.input_bytes,
            "pii_kinds": sorted(a.pii_kinds),
            "content_categories": sorted(a.categories),
        }
        if self.metadata:
            details["metadata"] = self.metadata
        kind = EVENT_USAGE_DENIED if violations else EVENT_USAGE_ALLOWED
        return [NewEvent(event_type=kind, actor=self.caller, model_id=self.model.id, details=details)]

    def after(self, cur: Any, dialect: str, events: Sequence[AuditEvent], batch: Batch) -> None:
        assert self._pending is not None
        now, q, violations, warnings, status = self._pending
        a = self.assessment
        compliant = not violations
        batch.add(
            dbapi_sql(_SQL_INSERT_DECISION, dialect),
            (
                self.decision_id,
                db_time(now, dialect),
                now.strftime("%Y-%m-%d"),
                self.model.id,
                status,
                self.user,
                self.caller,
                compliant,
                _joined([v.policy_id for v in violations]),
                _joined([w.policy_id for w in warnings]),
                _joined(a.pii_kinds),
                _joined(a.categories),
                self.input_sha256,
                self.input_bytes,
                self.policy_sha256,
                events[0].id,
            ),
        )
        if compliant and self.keep_text is not None and a.retention_days > 0:
            expires = now + timedelta(days=a.retention_days)
            batch.add(
                dbapi_sql(_SQL_PAYLOAD, dialect),
                (self.decision_id, "input", self.keep_text, db_time(now, dialect), db_time(expires, dialect)),
                stage=2,
            )
        self.result = Decision(
            compliant=compliant,
            decision_id=self.decision_id,
            model_id=self.model.id,
            violations=violations,
            warnings=warnings,
            quota=q.windows,
            policy_sha256=self.policy_sha256,
        )


@dataclass
class _CompleteJob:
    decision_id: str
    model: ModelRef
    caller: str
    assessment: Assessment
    output_sha256: str
    output_bytes: int
    policy_sha256: str
    keep_text: str | None
    metadata: dict[str, Any]
    refusal: GovernanceError | None = None
    result: Completion | None = None
    _now: datetime | None = field(default=None, repr=False)

    def apply(self, cur: Any, dialect: str, now: datetime, batch: Batch) -> list[NewEvent]:
        self.refusal = None
        self._now = now
        cur.execute(dbapi_sql(_SQL_DECISION_FOR_UPDATE, dialect), (self.decision_id,))
        row = cur.fetchone()
        if row is None:
            self.refusal = DecisionNotFoundError(ERR_DECISION_NOT_FOUND.format(id=self.decision_id))
            return []
        compliant, completed_at, created_at, user, input_sha256, input_bytes = row
        completed_here: set[str] = batch.state.setdefault("completed", set())  # rows not written yet
        if completed_at is not None or self.decision_id in completed_here:
            self.refusal = DecisionCompletedError(ERR_DECISION_COMPLETED.format(id=self.decision_id))
            return []
        if not compliant:
            self.refusal = DecisionCompletedError(ERR_DECISION_REFUSED.format(id=self.decision_id))
            return []
        a = self.assessment
        details: dict[str, Any] = {
            "decision_id": self.decision_id,
            "user": user,
            "model": self.model.ref,
            "compliant": not a.violations,
            "violated": sorted({v.policy_id for v in a.violations}),
            "warnings": sorted({w.policy_id for w in a.warnings}),
            "policy_sha256": self.policy_sha256,
            "input_sha256": input_sha256,
            "input_bytes": input_bytes,
            "output_sha256": self.output_sha256,
            "output_bytes": self.output_bytes,
            "pii_kinds": sorted(a.pii_kinds),
            "content_categories": sorted(a.categories),
            "latency_ms": round((now - from_db_time(created_at)).total_seconds() * 1000, 3),
        }
        if self.metadata:
            details["metadata"] = self.metadata
        completed_here.add(self.decision_id)
        return [NewEvent(event_type=EVENT_INFERENCE, actor=self.caller, model_id=self.model.id, details=details)]

    def after(self, cur: Any, dialect: str, events: Sequence[AuditEvent], batch: Batch) -> None:
        if self.refusal is not None:
            return
        assert self._now is not None
        a = self.assessment
        now = self._now
        batch.add(
            dbapi_sql(_SQL_COMPLETE, dialect),
            (
                db_time(now, dialect),
                not a.violations,
                _joined([v.policy_id for v in a.violations]),
                _joined(a.pii_kinds),
                _joined(a.categories),
                self.output_sha256,
                events[0].id,
                self.decision_id,
            ),
            stage=1,
        )
        if not a.violations and self.keep_text is not None and a.retention_days > 0:
            expires = now + timedelta(days=a.retention_days)
            batch.add(
                dbapi_sql(_SQL_PAYLOAD, dialect),
                (self.decision_id, "output", self.keep_text, db_time(now, dialect), db_time(expires, dialect)),
                stage=2,
            )
        self.result = Completion(
            compliant=not a.violations,
            decision_id=self.decision_id,
            violations=list(a.violations),
            warnings=list(a.warnings),
        )


class UsageGovernor:
    """Usage checks and completions on one governance database (see the module docstring)."""

    def __init__(self, engine: Engine, *, policies_path: Path | None = None) -> None:
        self.engine = engine
        self.policies_path = policies_path
        self._committer = committer_for(engine)
        self._refs: dict[str, ModelRef] = {}

    @classmethod
    def shared(cls, *, policies_path: Path | None = None) -> UsageGovernor:
        """This process's governor over its shared engine for ``GOVERNANCE_DB_URL``."""
        from governance.store import shared_engine

        engine = shared_engine()
        key = (id(engine), policies_path)
        gov = _governors.get(key)
        if gov is None or gov.engine is not engine:
            gov = _governors[key] = cls(engine, policies_path=policies_path)
        return gov

    # ------------------------------------------------------------------ check

    def check(
        self, *, model: str, user: str, input: str, caller: str, metadata: Mapping[str, Any] | None = None
    ) -> Decision:
        """May ``user`` make this request of ``model`` now? Raises :class:`ModelNotFoundError`
        (unknown model), :class:`PayloadTooLargeError` (input over the limit) and ``ValueError``
        (empty user); every other failure is a refusal (fail closed)."""
        if not user or not user.strip():
            raise ValueError(ERR_EMPTY_USER)
        try:
            policies = current_policies(self.policies_path)
        except GovernanceError as exc:
            return self._refuse(REASON_POLICIES.format(error=exc))
        input_sha256, input_bytes = _sha256(input)
        if input_bytes > policies.limits.max_input_bytes:
            raise PayloadTooLargeError(
                ERR_INPUT_TOO_LARGE.format(size=input_bytes, limit=policies.limits.max_input_bytes, path=policies.path)
            )
        try:
            ref = self.resolve(model)
        except ModelNotFoundError:
            raise
        except Exception as exc:
            return self._refuse(REASON_STORE.format(error=short_error(exc)))
        try:
            assessment = assess_input(policies, model=ref, user=user, text=input)
            user_key = stored_user(policies, user)
            meta = safe_metadata(metadata, policies)
        except Exception as exc:  # a detector or a plug-in failed: refuse, never admit
            return self._refuse(REASON_POLICIES.format(error=short_error(exc)), model_id=ref.id)
        job = _CheckJob(
            decision_id=uuid.uuid4().hex,
            policies=policies,
            model=ref,
            user=user_key,
            caller=caller,
            assessment=assessment,
            input_sha256=input_sha256,
            input_bytes=input_bytes,
            policy_sha256=policies.sha256,
            keep_text=input if assessment.retention_days > 0 else None,
            metadata=meta,
        )
        try:
            self._committer.submit(job)
        except Exception as exc:
            return self._refuse(REASON_STORE.format(error=short_error(exc)), model_id=ref.id)
        assert job.result is not None
        return job.result

    def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of one read on a pooled DBAPI connection (no SQLAlchemy statement
        machinery: this is on every request)."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                cur.execute(dbapi_sql(sql, self.engine.dialect.name), params)
                row = cur.fetchone()
            finally:
                cur.close()
            raw.rollback()
        finally:
            raw.close()
        return tuple(row) if row is not None else None

    def _refuse(self, reason: str, *, model_id: str | None = None) -> Decision:
        log.warning("usage request refused, fail closed: %s", reason)
        return Decision(compliant=False, decision_id=None, model_id=model_id, violations=[fail_closed(reason)])

    def resolve(self, ref: str) -> ModelRef:
        """The model version ``ref`` names: an id, ``NAME:VERSION``, or ``NAME`` (its DEPLOYED
        version, else its DEPRECATED one, else the latest registered)."""
        ref = ref.strip()
        hit = self._refs.get(ref)
        if hit is not None:
            return hit
        row = self._one(_SQL_MODEL_BY_ID, (ref,))
        if row is None:
            name, sep, version = ref.partition(":")
            if sep:
                row = self._one(_SQL_MODEL_BY_NAME_VERSION, (name, version))
            else:
                row = self._one(_SQL_MODEL_BY_NAME, (name,))
        if row is None:
            raise ModelNotFoundError(ERR_MODEL_NOT_FOUND.format(ref=ref))
        found = ModelRef(id=row[0], name=row[1], version=row[2], risk_level=row[3], status=row[4])
        # Once approved, a version's id, name and tier never change: later checks skip this
        # lookup (a bare NAME may move to another version, so it is looked up every time). The
        # status is read again in the transaction of each decision.
        if found.status in _FINAL_TIER and (":" in ref or ref == found.id):
            with _refs_lock:
                if len(self._refs) >= REF_CACHE_MAX:
                    self._refs.clear()
                self._refs[ref] = found
        return found

    # ------------------------------------------------------------------ completion

    def complete(
        self, decision_id: str, *, output: str, caller: str, metadata: Mapping[str, Any] | None = None
    ) -> Completion:
        """Check the model's output for ``decision_id`` and record the inference. Raises
        :class:`DecisionNotFoundError`, :class:`DecisionCompletedError` (completed already, or
        the check refused the request) and :class:`PayloadTooLargeError`; other failures
        answer a non-compliant completion (fail closed)."""
        try:
            policies = current_policies(self.policies_path)
        except GovernanceError as exc:
            return self._refuse_completion(decision_id, REASON_POLICIES.format(error=exc))
        output_sha256, output_bytes = _sha256(output)
        if output_bytes > policies.limits.max_output_bytes:
            raise PayloadTooLargeError(
                ERR_OUTPUT_TOO_LARGE.format(
                    size=output_bytes, limit=policies.limits.max_output_bytes, path=policies.path
                )
            )
        try:
            model = self._decision_model(decision_id)
        except GovernanceError:
            raise
        except Exception as exc:
            return self._refuse_completion(decision_id, REASON_STORE.format(error=short_error(exc)))
        try:
            assessment = assess_output(policies, model=model, text=output)
            meta = safe_metadata(metadata, policies)
        except Exception as exc:
            return self._refuse_completion(decision_id, REASON_POLICIES.format(error=short_error(exc)))
        job = _CompleteJob(
            decision_id=decision_id,
            model=model,
            caller=caller,
            assessment=assessment,
            output_sha256=output_sha256,
            output_bytes=output_bytes,
            policy_sha256=policies.sha256,
            keep_text=output if assessment.retention_days > 0 else None,
            metadata=meta,
        )
        try:
            self._committer.submit(job)
        except Exception as exc:
            return self._refuse_completion(decision_id, REASON_STORE.format(error=short_error(exc)))
        if job.refusal is not None:
            raise job.refusal
        assert job.result is not None
        return job.result

    def _refuse_completion(self, decision_id: str, reason: str) -> Completion:
        log.warning("usage completion refused, fail closed: %s", reason)
        return Completion(compliant=False, decision_id=decision_id, violations=[fail_closed(reason)])

    def _decision_model(self, decision_id: str) -> ModelRef:
        row = self._one(_SQL_DECISION, (decision_id,))
        if row is None:
            raise DecisionNotFoundError(ERR_DECISION_NOT_FOUND.format(id=decision_id))
        model_id, compliant, completed_at, name, version, risk_level, status = row
        if completed_at is not None:
            raise DecisionCompletedError(ERR_DECISION_COMPLETED.format(id=decision_id))
        if not compliant:
            raise DecisionCompletedError(ERR_DECISION_REFUSED.format(id=decision_id))
        return ModelRef(id=model_id, name=name, version=version, risk_level=risk_level, status=status)

    # ------------------------------------------------------------------ summary

    def summary(
        self,
        *,
        model: str | None = None,
        user: str | None = None,
        since: str | date | datetime | None = None,
        until: str | date | datetime | None = None,
    ) -> dict[str, Any]:
        """Compliant and refused requests per model, user, day and policy; ``model`` is resolved
        like a check's, ``user`` matched the way it is stored (hashed when it is personal data)."""
        from governance.usage.reporting import summary

        model_id = self.resolve(model).id if model else None
        user_key = stored_user(current_policies(self.policies_path), user) if user else None
        return summary(self.engine, model_id=model_id, user=user_key, since=since, until=until)
