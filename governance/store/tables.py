"""governance.store.tables: the SQLAlchemy tables of the governance database (schema changes
go through the Alembic migrations in governance/store/migrations/)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("version", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("owner_team", String(200), nullable=False),
    Column("domain", String(40), nullable=False),
    Column("risk_level", String(10), nullable=False),
    Column("risk_score", Integer, nullable=False),
    Column("risk_reasons", JSON, nullable=False),
    Column("eu_ai_act_category", String(20), nullable=False),
    Column("eu_ai_act_rationale", Text, nullable=False),
    Column("card", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", JSON, nullable=True),
    Column("approved_at", DateTime(timezone=True), nullable=True),
    Column("status_reason", Text, nullable=True),
    UniqueConstraint("name", "version"),
    Index("ix_model_versions_status", "status"),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(32), ForeignKey("model_versions.id"), nullable=False),
    Column("run_id", String(250), nullable=False, server_default=""),
    Column("step", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("model_id", "run_id", "step", "kind"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(32), ForeignKey("model_versions.id"), nullable=False),
    Column("run_id", String(250), nullable=False, server_default=""),
    Column("step", String(64), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("comment", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("model_id", "run_id", "step", "actor"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("timestamp", String(32), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("model_id", String(32), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_model_id_id", "model_id", "id"),
    Index("ix_audit_events_actor_id", "actor", "id"),
    Index("ix_audit_events_event_type_id", "event_type", "id"),
    Index("ix_audit_events_timestamp_id", "timestamp", "id"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("last_timestamp", String(32), nullable=False),
    Column("base_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("base_hash", String(64), nullable=False),
)
"""One row (id=1): the chain's tip, locked to serialise appends; ``base_*`` is where the
chain in the database starts (moves forward when archived events are purged)."""

bias_audits = Table(
    "bias_audits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(32), ForeignKey("model_versions.id"), nullable=False),
    Column("report_date", Date, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bias_detected", Boolean, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("json_uri", Text, nullable=False),
    Column("html_uri", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("model_id", "report_date"),
    Index("ix_bias_audits_report_date", "report_date"),
)
"""One row per model version and day of the nightly bias audit: the summary a dashboard needs
(per attribute: flag, disparate impact, flagged groups) and where the full reports are.
``fingerprint`` is the SHA-256 of the audit's outcome, so a rerun that finds the same result
changes nothing."""

compliance_reports = Table(
    "compliance_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_date", Date, nullable=False),
    Column("models", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("failed_checks", Integer, nullable=False),
    Column("audit_chain_ok", Boolean, nullable=False),
    Column("outcomes", JSON, nullable=False),
    Column("json_uri", Text, nullable=False),
    Column("html_uri", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("report_date"),
)
"""One row per day of the nightly compliance report: the totals, each model's outcome
(``outcomes``: model id → passed, failing checks, trend) and where the full reports are."""

usage_decisions = Table(
    "usage_decisions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("day", String(10), nullable=False),
    Column("model_id", String(32), ForeignKey("model_versions.id"), nullable=False),
    Column("model_status", String(20), nullable=False),
    Column("end_user", String(200), nullable=False),
    Column("caller", String(200), nullable=False),
    Column("compliant", Boolean, nullable=False),
    Column("policy_ids", Text, nullable=False, server_default=""),
    Column("warning_ids", Text, nullable=False, server_default=""),
    Column("pii_kinds", Text, nullable=False, server_default=""),
    Column("content_categories", Text, nullable=False, server_default=""),
    Column("input_sha256", String(64), nullable=False),
    Column("input_bytes", Integer, nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("output_compliant", Boolean, nullable=True),
    Column("output_policy_ids", Text, nullable=True),
    Column("output_pii_kinds", Text, nullable=True),
    Column("output_categories", Text, nullable=True),
    Column("output_sha256", String(64), nullable=True),
    Column("completion_event_id", BigInteger().with_variant(Integer, "sqlite"), nullable=True),
    Index("ix_usage_decisions_day_model_id", "day", "model_id"),
    Index("ix_usage_decisions_model_id_day", "model_id", "day"),
    Index("ix_usage_decisions_end_user_day", "end_user", "day"),
)
"""One row per usage check (``decision_id``): what was decided and why, by policy ids, PII kinds
and content categories only, with the SHA-256 of the input, never its text; ``completed_*`` and
``output_*`` are filled in by the inference's completion. ``end_user`` is the end user's id as the
gateway sent it, or ``sha256:<hex>`` of it when the id itself is personal data (an e-mail)."""

usage_quota = Table(
    "usage_quota",
    metadata,
    Column("policy_id", String(64), primary_key=True),
    Column("model_id", String(32), primary_key=True),
    Column("end_user", String(200), primary_key=True),
    Column("period", String(4), primary_key=True),
    Column("window_start", String(20), primary_key=True),
    Column("count", Integer, nullable=False),
)
"""Requests admitted per quota policy, model, end user and UTC period (``hour``: window_start
``YYYY-MM-DDTHH``, ``day``: ``YYYY-MM-DD``): counted and decided in one statement (an upsert that
increments only below the limit), so quotas are exact across processes and restarts."""

usage_payloads = Table(
    "usage_payloads",
    metadata,
    Column("decision_id", String(32), ForeignKey("usage_decisions.id"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("text", Text, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_usage_payloads_expires_at", "expires_at"),
)
"""Request inputs and model outputs kept for a model whose data_retention policy sets a retention
of N > 0 days, and only when no PII was found in them; the daily ``usage_retention`` DAG deletes
them after N days."""
