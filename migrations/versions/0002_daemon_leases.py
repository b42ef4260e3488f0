"""Daemon: series leases for replicas, cycle time and replica of each run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "series_leases",
        sa.Column("pipeline", sa.String(length=100), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detect_cycle", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retrain_cycle", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_series_leases_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pipeline", "series_id", name=op.f("pk_series_leases")),
    )
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.add_column(sa.Column("cycle_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("replica", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.drop_column("replica")
        batch.drop_column("cycle_at")
    op.drop_table("series_leases")
