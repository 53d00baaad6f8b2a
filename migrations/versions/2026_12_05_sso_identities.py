"""single sign-on identities: an account's issuer and subject at the OpenID Connect provider

``sso_identity`` links an account to the provider's subject once the person has proven both
(app.accounts.sso); later sign-ins match the subject, never the e-mail alone.

Revision ID: 12b75ccac7e2
Revises: 7a4c2e9b1d53
Create Date: 2026-12-05 10:09:17.351136+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "12b75ccac7e2"
down_revision: str | Sequence[str] | None = "7a4c2e9b1d53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sso_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_sso_identity_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_identity")),
    )
    with op.batch_alter_table("sso_identity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sso_identity_issuer_subject"), ["issuer", "subject"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_sso_identity_user_id_issuer"), ["user_id", "issuer"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("sso_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_identity_user_id_issuer"))
        batch_op.drop_index(batch_op.f("ix_sso_identity_issuer_subject"))

    op.drop_table("sso_identity")
