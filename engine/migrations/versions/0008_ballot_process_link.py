"""Ballots opened by a process step: the waiting task, the documents shown, the elector reminder

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ballot") as batch:
        batch.add_column(sa.Column("task_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("documents", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ballot") as batch:
        batch.drop_column("reminded_at")
        batch.drop_column("documents")
        batch.drop_column("task_id")
