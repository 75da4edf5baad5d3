"""Account security: start passwords to be changed, single sign-on subjects, unknown login names

Revision ID: 0018
Revises: 0017

``account_security`` holds per-account state beside ``app_user`` (no change to that table);
``unknown_login_name`` counts failed logins for names without an account by a keyed digest, so the
lock-out answers the same for every name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_security",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), primary_key=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("password_changed_at", sa.DateTime(), nullable=True),
        sa.Column("oidc_issuer", sa.String(300), nullable=True),
        sa.Column("oidc_subject", sa.String(255), nullable=True),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_account_security_oidc"),
    )
    op.create_table(
        "unknown_login_name",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("unknown_login_name")
    op.drop_table("account_security")
