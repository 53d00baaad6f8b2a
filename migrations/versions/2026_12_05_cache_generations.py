"""cache generations: counters that tell every instance's caches a change was made

``cache_generation`` holds one counter per organisation (and one installation-wide) that
writers bump in their own transaction; each instance's dashboard cache keeps an entry only
while the counters it was built under are unchanged.

Revision ID: 7a4c2e9b1d53
Revises: 55b5eace66c1
Create Date: 2026-12-05 10:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a4c2e9b1d53"
down_revision: str | Sequence[str] | None = "55b5eace66c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cache_generation",
        sa.Column("scope", sa.String(length=60), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_cache_generation")),
    )


def downgrade() -> None:
    op.drop_table("cache_generation")
