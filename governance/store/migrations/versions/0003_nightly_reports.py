"""Nightly reports: one row per model and day of the bias audit, one row per day of the
compliance report (summaries, report URIs and a fingerprint of the outcome for idempotent reruns).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bias_audits",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("report_date", sa.Date, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("bias_detected", sa.Boolean, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("json_uri", sa.Text, nullable=False),
        sa.Column("html_uri", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["model_versions.id"], name="fk_bias_audits_model_id_model_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_bias_audits"),
        sa.UniqueConstraint("model_id", "report_date", name="uq_bias_audits_model_id_report_date"),
    )
    op.create_index("ix_bias_audits_report_date", "bias_audits", ["report_date"])
    op.create_table(
        "compliance_reports",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("report_date", sa.Date, nullable=False),
        sa.Column("models", sa.Integer, nullable=False),
        sa.Column("passed", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("failed_checks", sa.Integer, nullable=False),
        sa.Column("audit_chain_ok", sa.Boolean, nullable=False),
        sa.Column("outcomes", sa.JSON, nullable=False),
        sa.Column("json_uri", sa.Text, nullable=False),
        sa.Column("html_uri", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_compliance_reports"),
        sa.UniqueConstraint("report_date", name="uq_compliance_reports_report_date"),
    )


def downgrade() -> None:
    op.drop_table("compliance_reports")
    op.drop_index("ix_bias_audits_report_date", table_name="bias_audits")
    op.drop_table("bias_audits")
