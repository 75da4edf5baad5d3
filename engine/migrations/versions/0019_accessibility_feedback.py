"""Accessibility feedback: reports sent with the form on the accessibility statement (BITV 2.0 § 7)

Revision ID: 0019
Revises: 0018

Name and e-mail are optional; no IP address or account is stored. The retention job deletes rows
older than HILFENETZ_BARRIEREFREIHEIT_AUFBEWAHRUNG_TAGE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accessibility_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("page", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("reply_wanted", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["answered_by_id"], ["app_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_accessibility_feedback_received_at", "accessibility_feedback", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_accessibility_feedback_received_at", table_name="accessibility_feedback")
    op.drop_table("accessibility_feedback")
