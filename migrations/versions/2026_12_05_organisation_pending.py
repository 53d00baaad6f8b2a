"""organisation pending: a long writer's organisation stays hidden until it is complete

Adds ``organisation.pending`` (NOT NULL, default false). `processlens seed` and `restore`
write an organisation in short transactions (each holding SQLite's write lock briefly, so
respondents keep saving); while it is being written it is pending, and tenancy hides it, so
nobody sees half of it; at the end it is flipped visible, or removed if the writer failed.

Revision ID: 5c1e0a7d2f41
Revises: b6503cb11c50
Create Date: 2026-12-05 07:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e0a7d2f41"
down_revision: str | Sequence[str] | None = "b6503cb11c50"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pending", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("pending")
