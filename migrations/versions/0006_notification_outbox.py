"""Notifications: the outbox of event notifications, written with the events and sent after
commit until a receiver acknowledges each.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sink", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('open', 'close')", name=op.f("ck_notification_outbox_kind")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["anomaly_events.id"],
            name=op.f("fk_notification_outbox_event_id_anomaly_events"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notification_outbox_idempotency_key")),
    )
    op.create_index(
        op.f("ix_notification_outbox_delivered_at_next_attempt_at"),
        "notification_outbox",
        ["delivered_at", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_notification_outbox_event_id"), "notification_outbox", ["event_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notification_outbox_event_id"), table_name="notification_outbox")
    op.drop_index(
        op.f("ix_notification_outbox_delivered_at_next_attempt_at"),
        table_name="notification_outbox",
    )
    op.drop_table("notification_outbox")
