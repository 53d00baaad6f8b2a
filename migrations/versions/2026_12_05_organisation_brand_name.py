"""organisation brand name: the firm or brand name an organisation's reports show

Adds ``organisation.brand_name`` (NULL: the installation's PROCESSLENS_BRAND_NAME), set with
the organisation's colour, logo and consultant on its branding page, in the API and with
``processlens org brand``. The logo is already stored in ``organisation.logo`` (re-encoded
PNG bytes), so every instance serves it.

Revision ID: 5b0e7c1d2a94
Revises: 788f9af953d8
Create Date: 2026-12-05 07:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b0e7c1d2a94"
down_revision: str | Sequence[str] | None = "788f9af953d8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation") as batch_op:
        batch_op.add_column(sa.Column("brand_name", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organisation") as batch_op:
        batch_op.drop_column("brand_name")
