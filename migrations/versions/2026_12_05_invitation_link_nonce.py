"""invitation link nonce: a reminder resends the invitation's personal link

Adds ``invitation_address.link_nonce``: a random value that, with the server's secret key,
derives the personal link of an address invited by e-mail (only its hash is stored, as
before). A reminder then sends the same link instead of replacing it, so a respondent's open
tab keeps saving. The column goes with its row when the round closes.

Revision ID: c4e1a7d90b35
Revises: 12b75ccac7e2
Create Date: 2026-12-05 10:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e1a7d90b35"
down_revision: str | Sequence[str] | None = "12b75ccac7e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitation_address") as batch_op:
        batch_op.add_column(sa.Column("link_nonce", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitation_address") as batch_op:
        batch_op.drop_column("link_nonce")
