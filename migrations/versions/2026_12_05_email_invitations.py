"""email invitations: addresses invited to a round, outgoing messages, a round's e-mail totals

``invitation_address`` is the one join of an address to a response (deleted at close, never
in a backup); ``outgoing_mail`` holds messages until sent (its key sends each once);
``round_mailing`` keeps counts and the reminder schedule, never who.

Revision ID: 55b5eace66c1
Revises: 9d3b6e2f4a17
Create Date: 2026-12-05 07:36:43.394512+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "55b5eace66c1"
down_revision: str | Sequence[str] | None = "9d3b6e2f4a17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invitation_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("submitted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('data_scientist', 'ml_engineer', 'software_engineer', 'product_manager', 'team_lead', 'other')",
            name=op.f("ck_invitation_address_role"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["assessment_round.id"],
            name=op.f("fk_invitation_address_round_id_assessment_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_address")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitation_address_token_hash")),
    )
    with op.batch_alter_table("invitation_address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitation_address_round_id_address"),
            ["round_id", "address"],
            unique=True,
        )

    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'refused', 'failed')",
            name=op.f("ck_outgoing_mail_status"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["assessment_round.id"],
            name=op.f("fk_outgoing_mail_round_id_assessment_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outgoing_mail_idempotency_key")),
    )
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outgoing_mail_round_id"), ["round_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outgoing_mail_status"), ["status"], unique=False)

    op.create_table(
        "round_mailing",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("reminder_every_days", sa.Integer(), nullable=True),
        sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invitations_sent", sa.Integer(), nullable=False),
        sa.Column("invitations_refused", sa.Integer(), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("reminders_refused", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["assessment_round.id"],
            name=op.f("fk_round_mailing_round_id_assessment_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_round_mailing")),
    )


def downgrade() -> None:
    op.drop_table("round_mailing")
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outgoing_mail_status"))
        batch_op.drop_index(batch_op.f("ix_outgoing_mail_round_id"))

    op.drop_table("outgoing_mail")
    with op.batch_alter_table("invitation_address", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_address_round_id_address"))

    op.drop_table("invitation_address")
