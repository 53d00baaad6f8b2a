"""round creation keys: a repeated request to start a round gets the first round

Adds ``round_creation_key`` (team_id, key, round_id): the new-round form's per-form token or
the API's Idempotency-Key header, unique per team and NOT NULL, so a double submit or a
retried call cannot start a second round. Replaces searching the audit log for the form's
token.

Revision ID: 788f9af953d8
Revises: 1dd0f9df120b
Create Date: 2026-12-05 04:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "788f9af953d8"
down_revision: str | Sequence[str] | None = "1dd0f9df120b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "round_creation_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["assessment_round.id"],
            name=op.f("fk_round_creation_key_round_id_assessment_round"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
            name=op.f("fk_round_creation_key_team_id_team"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_creation_key")),
    )
    with op.batch_alter_table("round_creation_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_round_creation_key_round_id"), ["round_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_round_creation_key_team_id_key"), ["team_id", "key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("round_creation_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_creation_key_team_id_key"))
        batch_op.drop_index(batch_op.f("ix_round_creation_key_round_id"))

    op.drop_table("round_creation_key")
