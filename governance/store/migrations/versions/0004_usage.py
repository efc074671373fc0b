"""Usage policies: decisions (hashes, policy ids, PII kinds; never the text), exact quota
counters per UTC window, and the payloads kept only where a retention policy allows it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "usage_decisions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("model_status", sa.String(20), nullable=False),
        sa.Column("end_user", sa.String(200), nullable=False),
        sa.Column("caller", sa.String(200), nullable=False),
        sa.Column("compliant", sa.Boolean, nullable=False),
        sa.Column("policy_ids", sa.Text, nullable=False, server_default=""),
        sa.Column("warning_ids", sa.Text, nullable=False, server_default=""),
        sa.Column("pii_kinds", sa.Text, nullable=False, server_default=""),
        sa.Column("content_categories", sa.Text, nullable=False, server_default=""),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("input_bytes", sa.Integer, nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("event_id", big, nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("output_compliant", sa.Boolean, nullable=True),
        sa.Column("output_policy_ids", sa.Text, nullable=True),
        sa.Column("output_pii_kinds", sa.Text, nullable=True),
        sa.Column("output_categories", sa.Text, nullable=True),
        sa.Column("output_sha256", sa.String(64), nullable=True),
        sa.Column("completion_event_id", big, nullable=True),
        sa.ForeignKeyConstraint(["model_id"], ["model_versions.id"], name="fk_usage_decisions_model_id_model_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_usage_decisions"),
    )
    op.create_index("ix_usage_decisions_day_model_id", "usage_decisions", ["day", "model_id"])
    op.create_index("ix_usage_decisions_model_id_day", "usage_decisions", ["model_id", "day"])
    op.create_index("ix_usage_decisions_end_user_day", "usage_decisions", ["end_user", "day"])
    op.create_table(
        "usage_quota",
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("end_user", sa.String(200), nullable=False),
        sa.Column("period", sa.String(4), nullable=False),
        sa.Column("window_start", sa.String(20), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "model_id", "end_user", "period", "window_start", name="pk_usage_quota"),
    )
    op.create_table(
        "usage_payloads",
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["usage_decisions.id"], name="fk_usage_payloads_decision_id_usage_decisions"
        ),
        sa.PrimaryKeyConstraint("decision_id", "kind", name="pk_usage_payloads"),
    )
    op.create_index("ix_usage_payloads_expires_at", "usage_payloads", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_payloads_expires_at", table_name="usage_payloads")
    op.drop_table("usage_payloads")
    op.drop_table("usage_quota")
    op.drop_index("ix_usage_decisions_end_user_day", table_name="usage_decisions")
    op.drop_index("ix_usage_decisions_model_id_day", table_name="usage_decisions")
    op.drop_index("ix_usage_decisions_day_model_id", table_name="usage_decisions")
    op.drop_table("usage_decisions")
