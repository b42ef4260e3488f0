"""A series' fixed grid origin, and where each pipeline must re-score late or corrected data.

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


def downgrade() -> None:
    with op.batch_alter_table("watermarks") as batch:
        batch.drop_column("rescore_from")
    with op.batch_alter_table("series") as batch:
        batch.drop_column("grid_origin")
