"""Session generation per account; linked single sign-on accounts lose their local password

Revision ID: 0020
Revises: 0019

``account_security.session_generation`` is bumped at logout, password change, password reset and
deactivation; a web session remembers the generation it started with and is refused once it moved on
(a replayed cookie no longer works). Accounts already linked to the county's provider get the
unusable password marker of ``engine/single_sign_on.py``: they sign in only through the provider.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

#: The unusable password marker of engine/single_sign_on.py (no argon2 hash equals it).
KREIS_KONTO_MARKER = "!kreis-konto"


def upgrade() -> None:
    op.add_column(
        "account_security",
        sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        sa.text(
            "UPDATE app_user SET password_hash = :marker WHERE id IN "
            "(SELECT user_id FROM account_security WHERE oidc_subject IS NOT NULL)"
        ).bindparams(marker=KREIS_KONTO_MARKER)
    )


def downgrade() -> None:
    with op.batch_alter_table("account_security") as batch:
        batch.drop_column("session_generation")
