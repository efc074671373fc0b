"""governance.store.repository: the model registry (:class:`GovernanceStore`): model versions,
their evidence and decisions, each change audited.

Every write happens in one transaction together with its audit event, so a registration or
a status change either happens with exactly one event or not at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, RowMapping, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from governance._util import as_utc
from governance.audit import AuditTrail, lock_head, utc_now
from governance.errors import AlreadyRegisteredError, GovernanceError, ModelNotFoundError, ProhibitedPracticeError
from governance.lifecycle import ModelStatus, check_transition, parse_status
from governance.store.engine import make_engine
from governance.store.tables import decisions, evidence, model_versions

if TYPE_CHECKING:  # cards and risk load pydantic and YAML; reads (status, list) need neither
    from governance.cards import ModelCard
    from governance.risk import RiskAssessment

ERR_ALREADY_REGISTERED = (
    "model {name} version {version} is already registered (id {model_id}); "
    "bump the version in the card to submit a new one"
)
ERR_NOT_FOUND = "no model version matches {ref!r} (give a model id like m-1a2b3c4d5e6f or NAME[:VERSION])"
ERR_EMPTY_ACTOR = "an actor (the user making the change) is required"

EVENT_REGISTERED = "model.registered"
EVENT_STATUS = "model.status_changed"
EVENT_EVIDENCE = "model.evidence_recorded"
EVENT_DECISION = "model.decision_recorded"


def new_model_id() -> str:
    return "m-" + secrets.token_hex(6)


@dataclass(frozen=True, kw_only=True)
class ModelRecord:
    id: str
    name: str
    version: str
    status: ModelStatus
    owner: str
    owner_team: str
    domain: str
    risk_level: str
    risk_score: int
    risk_reasons: list[str]
    eu_ai_act_category: str
    eu_ai_act_rationale: str
    card: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    approved_by: list[str] | None
    approved_at: datetime | None
    status_reason: str | None

    @classmethod
    def from_row(cls, row: RowMapping) -> ModelRecord:
        return cls(
            id=row["id"],
            name=row["name"],
            version=row["version"],
            status=ModelStatus(row["status"]),
            owner=row["owner"],
            owner_team=row["owner_team"],
            domain=row["domain"],
            risk_level=row["risk_level"],
            risk_score=row["risk_score"],
            risk_reasons=list(row["risk_reasons"]),
            eu_ai_act_category=row["eu_ai_act_category"],
            eu_ai_act_rationale=row["eu_ai_act_rationale"],
            card=dict(row["card"]),
            created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
            approved_by=list(row["approved_by"]) if row["approved_by"] is not None else None,
            approved_at=as_utc(row["approved_at"]) if row["approved_at"] is not None else None,
            status_reason=row["status_reason"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "status": self.status.value,
            "owner": self.owner,
            "owner_team": self.owner_team,
            "domain": self.domain,
            "risk": {
                "level": self.risk_level,
                "score": self.risk_score,
                "reasons": self.risk_reasons,
                "eu_ai_act_category": self.eu_ai_act_category,
                "eu_ai_act_rationale": self.eu_ai_act_rationale,
            },
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "approved_by": self.approved_by,
            "approved_at": self.approved_at.isoformat() if self.approved_at else None,
            "status_reason": self.status_reason,
            "card": self.card,
        }


@dataclass(frozen=True, kw_only=True)
class Registration:
    model: ModelRecord
    risk: RiskAssessment


class GovernanceStore:
    """Registry and audit trail over one governance database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.audit = AuditTrail(engine)

    @classmethod
    def from_url(cls, url: str | None = None) -> GovernanceStore:
        return cls(make_engine(url))

    # ------------------------------------------------------------------ registry

    def register(self, card: ModelCard, *, owner: str, run_id: str | None = None) -> Registration:
        """Register a validated card as a new model version (status DEVELOPMENT).

        Raises :class:`AlreadyRegisteredError` if name + version exists; writes nothing then.
        """
        if not owner or not owner.strip():
            raise GovernanceError(ERR_EMPTY_ACTOR)
        from governance.risk import assess_risk

        risk = assess_risk(card)
        now = utc_now()
        model_id = new_model_id()
        row = {
            "id": model_id,
            "name": card.name,
            "version": card.version,
            "status": ModelStatus.DEVELOPMENT.value,
            "owner": owner,
            "owner_team": card.owner_team,
            "domain": card.domain.value,
            "risk_level": risk.level.value,
            "risk_score": risk.score,
            "risk_reasons": list(risk.reasons),
            "eu_ai_act_category": risk.eu_ai_act_category.value,
            "eu_ai_act_rationale": risk.eu_ai_act_rationale,
            "card": card.model_dump(mode="json"),
            "created_at": now,
            "updated_at": now,
            "approved_by": None,
            "approved_at": None,
            "status_reason": None,
        }
        try:
            with self.engine.begin() as conn:
                # Take the chain lock first: it serialises writers on both databases.
                lock_head(conn)
                existing = self._find_exact(conn, card.name, card.version)
                if existing is not None:
                    raise AlreadyRegisteredError(
                        ERR_ALREADY_REGISTERED.format(name=card.name, version=card.version, model_id=existing)
                    )
                conn.execute(insert(model_versions).values(**row))
                details: dict[str, Any] = {
                    "name": card.name,
                    "version": card.version,
                    "owner": owner,
                    "risk": risk.to_dict(),
                }
                if run_id:
                    details["run_id"] = run_id
                self.audit.append_in(conn, event_type=EVENT_REGISTERED, actor=owner, model_id=model_id, details=details)
        except IntegrityError:
            # Another writer won the race between our check and insert.
            with self.engine.connect() as conn:
                existing = self._find_exact(conn, card.name, card.version)
            raise AlreadyRegisteredError(
                ERR_ALREADY_REGISTERED.format(name=card.name, version=card.version, model_id=existing)
            ) from None
        return Registration(model=self.get(model_id), risk=risk)

    @staticmethod
    def _find_exact(conn: Connection, name: str, version: str) -> str | None:
        return conn.execute(
            select(model_versions.c.id).where(model_versions.c.name == name, model_versions.c.version == version)
        ).scalar_one_or_none()

    def get(self, model_id: str) -> ModelRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(model_versions).where(model_versions.c.id == model_id)).mappings().first()
        if row is None:
            raise ModelNotFoundError(ERR_NOT_FOUND.format(ref=model_id))
        return ModelRecord.from_row(row)

    def find(self, ref: str) -> ModelRecord:
        """Look up by model id, ``NAME:VERSION``, or ``NAME`` (its most recently registered version)."""
        ref = ref.strip()
        with self.engine.connect() as conn:
            row = conn.execute(select(model_versions).where(model_versions.c.id == ref)).mappings().first()
            if row is None:
                name, _, version = ref.partition(":")
                stmt = select(model_versions).where(model_versions.c.name == name)
                if version:
                    stmt = stmt.where(model_versions.c.version == version)
                stmt = stmt.order_by(model_versions.c.created_at.desc(), model_versions.c.id.desc()).limit(1)
                row = conn.execute(stmt).mappings().first()
        if row is None:
            raise ModelNotFoundError(ERR_NOT_FOUND.format(ref=ref))
        return ModelRecord.from_row(row)

    def list_models(self, *, status: ModelStatus | str | None = None) -> list[ModelRecord]:
        stmt = select(model_versions).order_by(model_versions.c.name, model_versions.c.created_at)
        if status is not None:
            stmt = stmt.where(model_versions.c.status == parse_status(status).value)
        with self.engine.connect() as conn:
            return [ModelRecord.from_row(r) for r in conn.execute(stmt).mappings().all()]

    def count_models(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model_versions)).scalar_one())

    # ------------------------------------------------------------------ lifecycle

    def transition(
        self,
        model_id: str,
        target: ModelStatus | str,
        *,
        actor: str,
        reason: str | None = None,
        approved_by: list[str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> ModelRecord:
        """Move a model to ``target`` if the lifecycle allows it; one audit event per change.

        Idempotent for reruns: asking for the status the model already has (with the same
        reason) changes nothing and writes no event.
        """
        if not actor or not actor.strip():
            raise GovernanceError(ERR_EMPTY_ACTOR)
        target = parse_status(target)
        with self.engine.begin() as conn:
            lock_head(conn)
            row = conn.execute(select(model_versions).where(model_versions.c.id == model_id)).mappings().first()
            if row is None:
                raise ModelNotFoundError(ERR_NOT_FOUND.format(ref=model_id))
            current = ModelStatus(row["status"])
            if current == target and (reason is None or reason == row["status_reason"]):
                return ModelRecord.from_row(row)
            check_transition(model_id=model_id, current=current, target=target)
            if target in (ModelStatus.APPROVED, ModelStatus.DEPLOYED):
                from governance.risk import prohibited_practice_reason

                prohibited = prohibited_practice_reason(
                    category=row["eu_ai_act_category"], practices=(row["card"] or {}).get("prohibited_practices") or []
                )
                if prohibited:
                    raise ProhibitedPracticeError(f"model {model_id}: {prohibited}")
            now = utc_now()
            values: dict[str, Any] = {"status": target.value, "updated_at": now, "status_reason": reason}
            if target == ModelStatus.APPROVED:
                values["approved_by"] = list(approved_by or [actor])
                values["approved_at"] = now
            elif target == ModelStatus.DEVELOPMENT:
                values["approved_by"] = None
                values["approved_at"] = None
            conn.execute(update(model_versions).where(model_versions.c.id == model_id).values(**values))
            ev_details: dict[str, Any] = {"from": current.value, "to": target.value}
            if reason:
                ev_details["reason"] = reason
            if target == ModelStatus.APPROVED:
                ev_details["approved_by"] = values["approved_by"]
            if details:
                ev_details.update(details)
            self.audit.append_in(conn, event_type=EVENT_STATUS, actor=actor, model_id=model_id, details=ev_details)
            row = conn.execute(select(model_versions).where(model_versions.c.id == model_id)).mappings().one()
        return ModelRecord.from_row(row)

    # ------------------------------------------------------------------ evidence & decisions

    def _insert_once(
        self,
        table: Any,
        *,
        key: Mapping[str, Any],
        values: Mapping[str, Any],
        event_type: str,
        actor: str,
        event_details: Mapping[str, Any],
    ) -> bool:
        """Insert ``key + values`` with one audit event, unless a row with ``key`` exists."""
        model_id = key["model_id"]
        with self.engine.begin() as conn:
            lock_head(conn)
            self._require_model(conn, model_id)
            where = [table.c[name] == value for name, value in key.items()]
            if conn.execute(select(table.c.id).where(*where)).first() is not None:
                return False
            conn.execute(insert(table).values(**key, **values, created_at=utc_now()))
            self.audit.append_in(
                conn, event_type=event_type, actor=actor, model_id=model_id, details=dict(event_details)
            )
        return True

    def record_evidence(
        self,
        model_id: str,
        *,
        step: str,
        kind: str,
        passed: bool,
        details: Mapping[str, Any],
        actor: str,
        run_id: str = "",
    ) -> bool:
        """Store one piece of evidence (idempotent per model, run, step and kind).

        Returns True if it was new, False if the same evidence was already stored.
        """
        return self._insert_once(
            evidence,
            key={"model_id": model_id, "run_id": run_id, "step": step, "kind": kind},
            values={"passed": passed, "details": dict(details)},
            event_type=EVENT_EVIDENCE,
            actor=actor,
            event_details={"step": step, "kind": kind, "passed": passed, "run_id": run_id},
        )

    def list_evidence(self, model_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(evidence).where(evidence.c.model_id == model_id).order_by(evidence.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def record_decision(
        self,
        model_id: str,
        *,
        step: str,
        actor: str,
        decision: str,
        comment: str | None = None,
        run_id: str = "",
    ) -> bool:
        """Store one human (or timeout) decision; idempotent per model, run, step and actor."""
        if not actor or not actor.strip():
            raise GovernanceError(ERR_EMPTY_ACTOR)
        return self._insert_once(
            decisions,
            key={"model_id": model_id, "run_id": run_id, "step": step, "actor": actor},
            values={"decision": decision, "comment": comment},
            event_type=EVENT_DECISION,
            actor=actor,
            event_details={"step": step, "decision": decision, "comment": comment, "run_id": run_id},
        )

    def list_decisions(self, model_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions).where(decisions.c.model_id == model_id).order_by(decisions.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    @staticmethod
    def _require_model(conn: Connection, model_id: str) -> None:
        if conn.execute(select(model_versions.c.id).where(model_versions.c.id == model_id)).first() is None:
            raise ModelNotFoundError(ERR_NOT_FOUND.format(ref=model_id))
