"""survey: where a respondent's resume link returns to, and whether respondents see results

Adds ``response.resume_at`` (the survey page a respondent last moved to, so the resume link
returns there on any device) and ``assessment_round.respondents_see_results`` (the team lead
lets respondents see the team results once the threshold is reached; off by default).

Revision ID: 294b108b8d79
Revises: 2ffaa9e18798
Create Date: 2026-11-21 11:28:31.663442+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "294b108b8d79"
down_revision: str | Sequence[str] | None = "2ffaa9e18798"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessment_round", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "respondents_see_results", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )

    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resume_at", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_column("resume_at")

    with op.batch_alter_table("assessment_round", schema=None) as batch_op:
        batch_op.drop_column("respondents_see_results")
