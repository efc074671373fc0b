"""Audit events: index (timestamp, id) instead of (timestamp).

Time-range queries turn ``since``/``until`` into an id range with one probe each
(``ORDER BY timestamp, id LIMIT 1``); with events of one batch sharing a timestamp, only a
(timestamp, id) index answers that without sorting the whole batch.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_timestamp", table_name="audit_events")
    op.create_index("ix_audit_events_timestamp_id", "audit_events", ["timestamp", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_timestamp_id", table_name="audit_events")
    op.create_index("ix_audit_events_timestamp", "audit_events", ["timestamp"])
