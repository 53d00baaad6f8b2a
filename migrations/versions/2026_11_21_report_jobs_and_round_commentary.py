"""reports: background report jobs, and the consultant's commentary on a round

Adds ``report_job`` (a batch of report PDFs made in the background: status and progress in
the database, so every web worker can show them; the zip itself is a file in the data folder)
and ``assessment_round.commentary`` (free text for the team report; NULL when none).

Revision ID: d93dee2ee186
Revises: 72073cde628b
Create Date: 2026-11-21 14:19:14.029072+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d93dee2ee186"
down_revision: str | Sequence[str] | None = "72073cde628b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_report_job_status")
        ),
        sa.CheckConstraint("done >= 0 AND failed >= 0", name=op.f("ck_report_job_counts")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_report_job_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_report_job_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_job")),
    )
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_job_created_by_id"), ["created_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_report_job_organisation_id_created_at"),
            ["organisation_id", "created_at"],
            unique=False,
        )

    with op.batch_alter_table("assessment_round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commentary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assessment_round", schema=None) as batch_op:
        batch_op.drop_column("commentary")

    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_job_organisation_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_report_job_created_by_id"))

    op.drop_table("report_job")
