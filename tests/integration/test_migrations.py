"""The Alembic migrations build exactly the tables the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.persistence.database import Database
from engine.persistence.models import Base
from engine.persistence.schema import upgrade


def _differences(url: str) -> list[object]:
    database = Database(url)
    try:
        upgrade(database)
        with database.write_engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            diff = compare_metadata(context, Base.metadata)
    finally:
        database.dispose()
    # SQLite keeps no server defaults in a comparable form; anything else is a real drift
    return [d for d in diff if not (isinstance(d, tuple) and d[0] == "modify_default")]


def test_migrations_match_the_models(any_db_url: str) -> None:
    assert _differences(any_db_url) == []
