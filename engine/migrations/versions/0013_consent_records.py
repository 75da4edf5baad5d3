"""Consent records (Einwilligungen) and their signed forms

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("kontaktdaten_id", sa.Integer(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("given_to_org", sa.String(length=80), nullable=False),
        sa.Column("given_to_user_id", sa.Integer(), nullable=True),
        sa.Column("given_on", sa.String(length=10), nullable=False),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_org", sa.String(length=80), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.Column("withdrawal_recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawal_recorded_by_org", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.ForeignKeyConstraint(["kontaktdaten_id"], ["kontaktdaten.id"]),
        sa.ForeignKeyConstraint(["given_to_user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["withdrawal_recorded_by_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_record_subject", "consent_record", ["subject"])
    op.create_index("ix_consent_record_instance_id", "consent_record", ["instance_id"])
    op.create_index("ix_consent_record_kontaktdaten_id", "consent_record", ["kontaktdaten_id"])
    op.create_table(
        "consent_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["consent_record.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("consent_id"),
    )
    _backfill_referral_consents()


def _backfill_referral_consents() -> None:
    """Contact records stored before this revision get the consent record their form captured,
    so recipients keep reading them (the transfer check finds no consent otherwise)."""
    kontaktdaten = sa.table(
        "kontaktdaten",
        sa.column("id", sa.Integer()),
        sa.column("instance_id", sa.Integer()),
        sa.column("recorded_at", sa.DateTime()),
        sa.column("recorded_by_id", sa.Integer()),
        sa.column("recorded_by_org", sa.String()),
        sa.column("consent_date", sa.String()),
        sa.column("consent_scope", sa.Text()),
        sa.column("recipients", sa.JSON()),
    )
    consent = sa.table(
        "consent_record",
        *(sa.column(name) for name in ("subject", "instance_id", "kontaktdaten_id", "purpose")),
        *(sa.column(name) for name in ("given_to_org", "given_to_user_id", "given_on", "form")),
        *(sa.column(name) for name in ("recorded_at", "recorded_by_id", "recorded_by_org")),
        sa.column("categories", sa.JSON()),
        sa.column("recipients", sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(kontaktdaten)).mappings().all()
    if not rows:
        return
    bind.execute(
        consent.insert(),
        [
            {
                "subject": f"Vorgang {r['instance_id']}",
                "instance_id": r["instance_id"],
                "kontaktdaten_id": r["id"],
                "categories": [
                    "kontaktdaten",
                    *(["falldaten"] if "sachverhalt" in (r["consent_scope"] or "") else []),
                ],
                "recipients": sorted(r["recipients"] or []),
                "purpose": "Vermittlung an die genannten Organisationen zur Kontaktaufnahme",
                "given_to_org": r["recorded_by_org"],
                "given_to_user_id": r["recorded_by_id"],
                "given_on": (r["consent_date"] or "")[:10],
                "form": "formular",
                "recorded_at": r["recorded_at"],
                "recorded_by_id": r["recorded_by_id"],
                "recorded_by_org": r["recorded_by_org"],
            }
            for r in rows
        ],
    )


def downgrade() -> None:
    op.drop_table("consent_document")
    op.drop_index("ix_consent_record_kontaktdaten_id", table_name="consent_record")
    op.drop_index("ix_consent_record_instance_id", table_name="consent_record")
    op.drop_index("ix_consent_record_subject", table_name="consent_record")
    op.drop_table("consent_record")
