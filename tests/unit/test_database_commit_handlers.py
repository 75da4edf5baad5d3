"""``Database.after_write_commit``: the handlers run once a write session that committed is closed
(its connection back in the pool), not for one that was rolled back, and also when the block raised
after its commit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.persistence.database import Database


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'handlers.db'}")
    with database.write() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.commit()
    yield database
    database.dispose()


def test_handlers_run_after_close_with_the_connection_returned(db: Database) -> None:
    seen: list[tuple[bool, int, object]] = []

    def handler(session: Session) -> None:
        seen.append((session.in_transaction(), db.write_engine.pool.checkedout(), session.info.get("k")))

    db.after_write_commit(handler)
    with db.write() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.info["k"] = "v"
        session.commit()
        assert seen == []  # not yet: the session still holds its connection
    assert seen == [(False, 0, "v")]
    with db.write() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))  # left without commit: rolled back
    with db.read() as session:
        pass
    assert len(seen) == 1
    with pytest.raises(RuntimeError), db.write() as session:
        session.execute(text("INSERT INTO t VALUES (3)"))
        session.commit()
        raise RuntimeError("nach dem Commit")
    assert len(seen) == 2
    db.remove_after_write_commit(handler)
    with db.write() as session:
        session.execute(text("INSERT INTO t VALUES (4)"))
        session.commit()
    assert len(seen) == 2
