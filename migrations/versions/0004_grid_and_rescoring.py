"""Real-world data: a series' fixed grid origin, where each pipeline must re-score late or
corrected data, the observed (regular) value beside each one-step forecast, which rule
reported an anomaly, and why a run left a series unscored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("series") as batch:
        batch.add_column(sa.Column("grid_origin", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("watermarks") as batch:
        batch.add_column(sa.Column("rescore_from", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("forecasts") as batch:
        batch.add_column(sa.Column("observed", sa.Double(), nullable=True))
    with op.batch_alter_table("anomalies") as batch:
        batch.add_column(sa.Column("rule", sa.String(16), nullable=True))
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.add_column(sa.Column("series_notes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.drop_column("series_notes")
    with op.batch_alter_table("anomalies") as batch:
        batch.drop_column("rule")
    with op.batch_alter_table("forecasts") as batch:
        batch.drop_column("observed")
    with op.batch_alter_table("watermarks") as batch:
        batch.drop_column("rescore_from")
    with op.batch_alter_table("series") as batch:
        batch.drop_column("grid_origin")
