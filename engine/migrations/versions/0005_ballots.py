"""Steering-group ballots: electorate, votes as cast, tally without voters

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ballot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("applying_org", sa.String(80), nullable=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instance.id"), nullable=True),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_how", sa.String(20), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.Column("quorum_reached", sa.Boolean(), nullable=True),
        sa.Column("tie_applied", sa.Boolean(), nullable=True),
    )
    op.create_index("ix_ballot_instance_id", "ballot", ["instance_id"])
    op.create_index("ix_ballot_status", "ballot", ["status"])
    op.create_index("ix_ballot_deadline", "ballot", ["deadline"])
    op.create_table(
        "ballot_elector",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ballot_id", sa.Integer(), sa.ForeignKey("ballot.id"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("voter_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("organisation", sa.String(80), nullable=False),
        sa.Column("exclusion_reason", sa.String(200), nullable=True),
        sa.UniqueConstraint("ballot_id", "member_id", name="uq_ballot_elector_member"),
    )
    op.create_index("ix_ballot_elector_voter_id", "ballot_elector", ["voter_id"])
    op.create_table(
        "ballot_vote",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ballot_id", sa.Integer(), sa.ForeignKey("ballot.id"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("cast_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("cast_at", sa.DateTime(), nullable=False),
        sa.Column("choice", sa.String(12), nullable=True),
        sa.UniqueConstraint("ballot_id", "member_id", name="uq_ballot_vote_member"),
    )
    op.create_table(
        "ballot_tally",
        sa.Column("ballot_id", sa.Integer(), sa.ForeignKey("ballot.id"), primary_key=True),
        sa.Column("choice", sa.String(12), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ballot_tally")
    op.drop_table("ballot_vote")
    op.drop_index("ix_ballot_elector_voter_id", table_name="ballot_elector")
    op.drop_table("ballot_elector")
    op.drop_index("ix_ballot_deadline", table_name="ballot")
    op.drop_index("ix_ballot_status", table_name="ballot")
    op.drop_index("ix_ballot_instance_id", table_name="ballot")
    op.drop_table("ballot")
