"""Create or upgrade the schema through Alembic — from the first table on."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from engine.persistence.database import Database, exclusive

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database: Database) -> None:
    """Bring the database to the newest revision (idempotent)."""
    config = alembic_config(database.url)
    with database.write_engine.connect() as connection:
        exclusive(connection, "hilfenetz.schema")  # web processes and workers start together
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
