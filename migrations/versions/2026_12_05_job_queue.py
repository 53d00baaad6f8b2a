"""job queue: the report job's heartbeat and claim, its files in the database, scheduled runs

``report_job`` gains the queue's bookkeeping (params, attempts, first start, heartbeat, the
current claim's token and who holds it); ``job_file`` keeps a job's output and the pieces a
resumed job does not make again, so every instance serves them; ``scheduled_run`` lets one
process of many claim each slot of a periodic task.

Revision ID: b6503cb11c50
Revises: 5b0e7c1d2a94
Create Date: 2026-12-05 07:06:28.394332+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b6503cb11c50"
down_revision: str | Sequence[str] | None = "5b0e7c1d2a94"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduled_run",
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("ran_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task", "slot", name=op.f("pk_scheduled_run")),
    )
    op.create_table(
        "job_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["report_job.id"],
            name=op.f("fk_job_file_job_id_report_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_file")),
    )
    with op.batch_alter_table("job_file", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_file_job_id_name"), ["job_id", "name"], unique=True
        )

    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "params",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default="{}",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("run_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ran_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_job", schema=None) as batch_op:
        batch_op.drop_column("ran_by")
        batch_op.drop_column("run_token")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("params")

    with op.batch_alter_table("job_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_file_job_id_name"))

    op.drop_table("job_file")
    op.drop_table("scheduled_run")
