"""Shared fixtures: an engine on a temporary SQLite file or a real PostgreSQL database.

Tests that need a service skip with a reason when it is unreachable — and fail under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.clock import Clock, ManualClock
from engine.directory import actor_of
from engine.persistence.database import Database
from engine.persistence.models import User
from engine.read_models import Actor
from engine.service import Hilfenetz
from engine.settings import Settings
from tests.support.bpmn_factory import chain_bpmn, write_definitions

POSTGRES_ADMIN_URL = os.environ.get(
    "HILFENETZ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def need_service(reason: str) -> None:
    """Skip locally, fail in CI: a CI run must never pass by skipping integration tests."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: Dienste müssen erreichbar sein)")
    pytest.skip(reason)


def make_settings(tmp_path: Path, url: str, processes: Path, forms: Path) -> Settings:
    return Settings(
        database_url=url,
        secret_key="test-secret",
        dev=True,
        processes_dir=processes,
        forms_dir=forms,
        base_url="http://127.0.0.1:5000",
        script_time_limit=1.0,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def definitions(tmp_path: Path) -> tuple[Path, Path]:
    return write_definitions(tmp_path / "defs", {"kette": chain_bpmn()})


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hilfenetz.db'}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Admin URL of the local PostgreSQL server (skips or fails when unreachable)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        need_service(f"PostgreSQL unter {POSTGRES_ADMIN_URL} nicht erreichbar: {exc.orig}")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"hilfenetz_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build_engine(
    tmp_path: Path, url: str, clock: Clock, definitions: tuple[Path, Path], **overrides: Any
) -> Hilfenetz:
    """An engine on ``url`` with the demo directory and the given definitions deployed."""
    settings = replace(make_settings(tmp_path, url, *definitions), **overrides)
    hn = Hilfenetz(settings, clock=clock, database=Database(url))
    hn.prepare_demo()
    return hn


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hilfenetz.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def hn(
    tmp_path: Path, sqlite_url: str, clock: ManualClock, definitions: tuple[Path, Path]
) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, sqlite_url, clock, definitions)
    yield engine
    engine.db.dispose()


def actor_lookup(hn: Hilfenetz) -> Callable[[str], Actor]:
    """Look up a demo user as an Actor by username."""

    def get(username: str) -> Actor:
        with hn.db.read() as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            return actor_of(user)

    return get


@pytest.fixture
def actor(hn: Hilfenetz) -> Callable[[str], Actor]:
    return actor_lookup(hn)


@pytest.fixture
def engine_for(tmp_path: Path, sqlite_url: str, clock: ManualClock) -> Iterator[Callable[..., Hilfenetz]]:
    """Build an engine deploying the given BPMN texts (file stem -> xml) and extra forms."""
    built: list[Hilfenetz] = []

    def make(
        bpmn: dict[str, str], forms: dict[str, dict[str, object]] | None = None, url: str | None = None
    ) -> Hilfenetz:
        defs = write_definitions(tmp_path / f"defs{len(built)}", bpmn, forms)
        engine = build_engine(tmp_path, url or sqlite_url, clock, defs)
        built.append(engine)
        return engine

    yield make
    for engine in built:
        engine.db.dispose()


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A running SMTP sink on 127.0.0.1 (aiosmtpd); ``smtp.sink.messages`` holds what it accepted."""
    from tests.support.smtp_sink import SmtpSink

    server = SmtpSink().start()
    yield server
    server.stop()
