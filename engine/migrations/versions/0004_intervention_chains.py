"""Intervention chains: message starts, linked instances, confidential processes, Kontaktdaten

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_definition") as batch:
        batch.add_column(sa.Column("start_message", sa.String(200), nullable=True))
        batch.add_column(sa.Column("confidential", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index("ix_process_definition_start_message", ["start_message"])
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(sa.Column("parent_instance_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("message_generation", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.create_foreign_key(
            "fk_process_instance_parent", "process_instance", ["parent_instance_id"], ["id"]
        )
        batch.create_index("ix_process_instance_parent_instance_id", ["parent_instance_id"])
    op.create_table(
        "kontaktdaten",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instance.id"), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("recorded_by_org", sa.String(80), nullable=False),
        sa.Column("consent_date", sa.String(10), nullable=False),
        sa.Column("consent_scope", sa.Text(), nullable=False, server_default=""),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("retention_until", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_kontaktdaten_instance", "kontaktdaten", ["instance_id"])
    op.create_index("ix_kontaktdaten_retention", "kontaktdaten", ["deleted_at", "retention_until"])


def downgrade() -> None:
    op.drop_index("ix_kontaktdaten_retention", table_name="kontaktdaten")
    op.drop_index("ix_kontaktdaten_instance", table_name="kontaktdaten")
    op.drop_table("kontaktdaten")
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_index("ix_process_instance_parent_instance_id")
        batch.drop_constraint("fk_process_instance_parent", type_="foreignkey")
        batch.drop_column("message_generation")
        batch.drop_column("parent_instance_id")
    with op.batch_alter_table("process_definition") as batch:
        batch.drop_index("ix_process_definition_start_message")
        batch.drop_column("confidential")
        batch.drop_column("start_message")
