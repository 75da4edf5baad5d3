"""task_candidate.multi and a covering index for the group worklist

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COVERING = ["key", "due_at", "priority", "created_at", "task_id", "multi"]


def upgrade() -> None:
    with op.batch_alter_table("task_candidate") as batch:
        batch.add_column(sa.Column("multi", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.drop_index("ix_task_candidate_key_due")
    op.execute(
        "UPDATE task_candidate SET multi = true WHERE task_id IN "
        "(SELECT task_id FROM task_candidate GROUP BY task_id HAVING count(*) > 1)"
    )
    op.create_index("ix_task_candidate_key_due", "task_candidate", COVERING)


def downgrade() -> None:
    op.drop_index("ix_task_candidate_key_due", table_name="task_candidate")
    with op.batch_alter_table("task_candidate") as batch:
        batch.drop_column("multi")
    op.create_index("ix_task_candidate_key_due", "task_candidate", ["key", "due_at"])
