"""Netzwerkverzeichnis (P9) and the agreement's versions, proposals and signatures (P11)

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("angebote", sa.Text(), nullable=False),
        sa.Column("themen", sa.JSON(), nullable=False),
        sa.Column("gemeinden", sa.JSON(), nullable=False),
        sa.Column("kontakte", sa.JSON(), nullable=False),
        sa.Column("erreichbarkeit", sa.Text(), nullable=False),
        sa.Column("zugangswege", sa.JSON(), nullable=False),
        sa.Column("sprachen", sa.String(300), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_by", sa.String(200), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("organisation_id"),
    )
    op.create_index("ix_directory_entry_status", "directory_entry", ["status"])
    op.create_table(
        "directory_review",
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), primary_key=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "agreement_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instance.id"), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("review_started_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("valid_from", "kind", name="uq_agreement_version_day_kind"),
    )
    op.create_index("ix_agreement_version_valid_from", "agreement_version", ["valid_from"])
    op.create_table(
        "agreement_signature",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("instance_id", "organisation_id", name="uq_agreement_signature_org"),
    )
    op.create_index("ix_agreement_signature_instance_id", "agreement_signature", ["instance_id"])
    op.create_table(
        "agreement_proposal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_agreement_proposal_instance_id", "agreement_proposal", ["instance_id"])


def downgrade() -> None:
    op.drop_index("ix_agreement_proposal_instance_id", table_name="agreement_proposal")
    op.drop_table("agreement_proposal")
    op.drop_index("ix_agreement_signature_instance_id", table_name="agreement_signature")
    op.drop_table("agreement_signature")
    op.drop_index("ix_agreement_version_valid_from", table_name="agreement_version")
    op.drop_table("agreement_version")
    op.drop_table("directory_review")
    op.drop_index("ix_directory_entry_status", table_name="directory_entry")
    op.drop_table("directory_entry")
