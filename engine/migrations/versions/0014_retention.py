"""Retention per process: what the daily job erased per instance and category, and its daily runs

Revision ID: 0014
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_erasure",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("instance_id", "category"),
    )
    op.create_table(
        "retention_run",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("erased", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("retention_run")
    op.drop_table("retention_erasure")
