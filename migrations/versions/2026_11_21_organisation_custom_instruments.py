"""organisation: the custom instruments its new rounds include

Custom instruments come from server-configured extra questionnaire folders; an organisation
enables the ones it wants (``processlens rubric enable``). An empty list means built-in only.

Revision ID: 3cfd43ea1baf
Revises: 294b108b8d79
Create Date: 2026-11-21 11:34:24.523202+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3cfd43ea1baf"
down_revision: str | Sequence[str] | None = "294b108b8d79"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "custom_instruments",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default="[]",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("custom_instruments")
