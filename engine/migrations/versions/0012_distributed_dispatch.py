"""Distributed mode: dispatch marks for timers and outbox rows, periodic job rows

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("timer_dispatched_for", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("timer_dispatched_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(), nullable=True))
    op.create_table(
        "scheduled_job",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_job")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("dispatched_at")
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_column("timer_dispatched_at")
        batch.drop_column("timer_dispatched_for")
