"""Audit trail: hash chain (chain_seq, chain_hash, chain head), actor organisation, append-only triggers

Revision ID: 0015
Revises: 0012

Rows are inserted unsealed; the sealer (``engine/audit_chain.py``) sets ``chain_seq`` and
``chain_hash`` once. The triggers refuse every other UPDATE and every DELETE (and TRUNCATE on
PostgreSQL), so not even the application can rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_DELETE_REFUSED = "Das Audit-Protokoll ist unveränderlich: Einträge werden nie gelöscht."
_UPDATE_REFUSED = "Das Audit-Protokoll ist unveränderlich: nur das einmalige Versiegeln ist erlaubt."
_CONTENT = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "actor_org",
    "action",
    "instance_id",
    "task_id",
    "element_id",
)

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION '{_DELETE_REFUSED}';
  END IF;
  IF OLD.chain_seq IS NOT NULL OR OLD.chain_hash IS NOT NULL
     OR NEW.chain_seq IS NULL OR NEW.chain_hash IS NULL
     OR {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _CONTENT)}
     OR NEW.detail::text IS DISTINCT FROM OLD.detail::text THEN
    RAISE EXCEPTION '{_UPDATE_REFUSED}';
  END IF;
  RETURN NEW;
END $$
"""

_SQLITE_UPDATE_TRIGGER = f"""
CREATE TRIGGER audit_event_seal_once BEFORE UPDATE ON audit_event
WHEN OLD.chain_seq IS NOT NULL OR OLD.chain_hash IS NOT NULL
  OR NEW.chain_seq IS NULL OR NEW.chain_hash IS NULL
  OR {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _CONTENT)} OR NEW.detail IS NOT OLD.detail
BEGIN SELECT RAISE(ABORT, '{_UPDATE_REFUSED}'); END
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("actor_org", sa.String(length=80), server_default="", nullable=False))
        batch.add_column(sa.Column("chain_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("chain_hash", sa.String(length=64), nullable=True))
        batch.create_index("ux_audit_event_chain_seq", ["chain_seq"], unique=True)
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
        )
    else:
        op.execute(_SQLITE_UPDATE_TRIGGER)
        op.execute(
            "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
            f"BEGIN SELECT RAISE(ABORT, '{_DELETE_REFUSED}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_event_seal_once")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("ux_audit_event_chain_seq")
        batch.drop_column("chain_hash")
        batch.drop_column("chain_seq")
        batch.drop_column("actor_org")
