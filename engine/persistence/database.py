"""Database engines and the unit of work.

SQLite (the embedded default) runs in WAL mode with a busy timeout; write transactions start
with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way. PostgreSQL locks the
instance row with ``SELECT … FOR UPDATE``. Both also check the instance's version column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_COMMITTED = "hilfenetz.committed"


def _note_commit(session: Session) -> None:
    session.info[_COMMITTED] = True


class Database:
    """Owns the engines and session factories for one database URL."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int = 10,
        pool_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _prepare_sqlite_file(url)
            kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 15}}
            self.write_engine = create_engine(url, echo=echo, **kwargs)
            self.read_engine = create_engine(url, echo=echo, **kwargs)
            _configure_sqlite(self.write_engine, immediate=True)
            _configure_sqlite(self.read_engine, immediate=False)
        else:
            self.write_engine = create_engine(
                url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                pool_recycle=1800,
            )
            self.read_engine = self.write_engine
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self._after_close: list[Callable[[Session], None]] = []
        event.listen(self._write_sessions, "after_commit", _note_commit)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed by the caller's use case via ``session.commit()``,
        rolled back if the block leaves without committing. Once the session is closed (its
        connection back in the pool) and if it committed, the ``after_write_commit`` handlers run."""
        session = self._write_sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()
            if session.info.pop(_COMMITTED, False):
                for handler in self._after_close:
                    handler(session)

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def before_write_commit(self, handler: Callable[[Session], None]) -> None:
        """Call ``handler(session)`` just before a write transaction commits (still inside it)."""
        event.listen(self._write_sessions, "before_commit", handler)

    def after_write_commit(self, handler: Callable[[Session], None]) -> None:
        """Call ``handler(session)`` after a write session committed, once ``write()`` has closed it:
        the handler may open its own transaction without needing a second pooled connection (with
        every connection held by a writer waiting for a second one, all would wait for the pool
        timeout). ``session.info`` is still readable; the session must not be used otherwise."""
        self._after_close.append(handler)

    def remove_after_write_commit(self, handler: Callable[[Session], None]) -> None:
        self._after_close.remove(handler)

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def exclusive(connection: Any, name: str) -> None:
    """Hold a database-wide lock called ``name`` until the transaction ends, so that two processes
    (schedulers, workers, web processes) never run the same once-only work side by side.

    PostgreSQL: a transaction-level advisory lock. SQLite: writes already run one at a time
    (``BEGIN IMMEDIATE``), so nothing more is needed.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
