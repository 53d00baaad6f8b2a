"""round repository signals: a `processlens repo-check` signals file attached to a round

Adds ``assessment_round.repository_signals`` (JSON, NULL: none attached). The file is shown
beside the round's results (docs/repository-check.md) and never enters a score.

Revision ID: 9d3b6e2f4a17
Revises: 5c1e0a7d2f41
Create Date: 2026-12-05 07:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9d3b6e2f4a17"
down_revision: str | Sequence[str] | None = "5c1e0a7d2f41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessment_round", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "repository_signals",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("assessment_round", schema=None) as batch_op:
        batch_op.drop_column("repository_signals")
