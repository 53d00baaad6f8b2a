"""covering indexes for a round's dimension scores and each team's latest closed round

``ix_response_score_round_totals`` (round_id, sub_dimension, dimension, score, coverage)
replaces ``ix_response_score_round_id_dimension``: averaging a round's dimension scores (the
rows whose sub_dimension is "") then reads only the index, not ~60 table rows per round of
which 13 are wanted. ``ix_assessment_round_latest_closed`` (team_id, status, closed_at, id)
finds each team's latest closed round from the index alone.

Revision ID: 1dd0f9df120b
Revises: d93dee2ee186
Create Date: 2026-11-21 14:58:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1dd0f9df120b"
down_revision: str | Sequence[str] | None = "d93dee2ee186"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("response_score", schema=None) as batch_op:
        batch_op.create_index(
            "ix_response_score_round_totals",
            ["round_id", "sub_dimension", "dimension", "score", "coverage"],
            unique=False,
        )
        batch_op.drop_index(batch_op.f("ix_response_score_round_id_dimension"))

    with op.batch_alter_table("assessment_round", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assessment_round_latest_closed",
            ["team_id", "status", "closed_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("assessment_round", schema=None) as batch_op:
        batch_op.drop_index("ix_assessment_round_latest_closed")

    with op.batch_alter_table("response_score", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_response_score_round_id_dimension"),
            ["round_id", "dimension"],
            unique=False,
        )
        batch_op.drop_index("ix_response_score_round_totals")
