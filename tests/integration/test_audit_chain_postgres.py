"""The audit chain on PostgreSQL: concurrent writers in parallel transactions (also one that commits
a lower id after a higher one was sealed) still give one gap-free, valid chain; the trigger refuses
UPDATE, DELETE and TRUNCATE; tampering with the trigger disabled is found by the verification."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from engine.persistence.database import Database
from engine.persistence.models import AuditEvent
from engine.runtime import audit
from engine.service import Hilfenetz
from tests.conftest import actor_lookup, build_engine, make_settings

WRITERS = 4
PER_WRITER = 40


@pytest.fixture
def pg(tmp_path, postgres_url, clock, definitions):
    engine = build_engine(tmp_path, postgres_url, clock, definitions)
    yield engine
    engine.db.dispose()


def _rows(hn) -> list[Any]:
    with hn.db.read() as session:
        return list(session.execute(select(AuditEvent.__table__).order_by(AuditEvent.chain_seq)))


def _write(hn, actor, n: int, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        barrier.wait()
        for i in range(n):
            with hn.db.write() as session:  # one transaction per entry, sealed after its commit
                audit(session, hn.clock.now(), actor, "test_gelesen", None, detail={"n": i})
                session.commit()
    except BaseException as exc:
        errors.append(exc)


def test_concurrent_writers_and_a_late_commit_give_one_valid_chain(pg):
    user = actor_lookup(pg)("fachkraft.frauenberatung")
    # a transaction takes a low id and commits only after the others were written and sealed
    late = pg.db.write_engine.connect()
    late_tx = late.begin()
    late.execute(
        text(
            "INSERT INTO audit_event (at, actor_name, actor_org, action, detail) "
            "VALUES (now() AT TIME ZONE 'UTC', 'Spät', '', 'spaet', '{}')"
        )
    )
    late_id = late.execute(text("SELECT max(id) FROM audit_event")).scalar_one()

    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_write, args=(pg, user, PER_WRITER, barrier, errors)) for _ in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(r.chain_seq is not None for r in _rows(pg))  # the others are sealed already
    late_tx.commit()
    late.close()

    report = pg.verify_audit_trail()  # seals the late row first
    rows = _rows(pg)
    assert report.intact, report.summary
    assert [r.chain_seq for r in rows] == list(range(1, len(rows) + 1))
    assert sum(r.action == "test_gelesen" for r in rows) == WRITERS * PER_WRITER
    late_row = next(r for r in rows if r.id == late_id)
    assert late_row.chain_seq == len(rows)  # sealed last although its id is low
    assert any(r.id > late_id and r.chain_seq < late_row.chain_seq for r in rows)


def test_the_trigger_refuses_changes_and_tampering_is_found(pg):
    pg.login("fachkraft.frauenberatung", "Hilfenetz-Demo-2026")
    user = actor_lookup(pg)("fachkraft.frauenberatung")
    for _ in range(3):
        pg.logout(user)
    rows = _rows(pg)
    victim = rows[1]
    for sql in (
        "UPDATE audit_event SET detail = '{\"x\": 1}' WHERE id = :id",
        "UPDATE audit_event SET chain_seq = NULL, chain_hash = NULL WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
        "TRUNCATE audit_event",
    ):
        with pytest.raises(DatabaseError, match="unveränderlich"), pg.db.write_engine.begin() as conn:
            conn.execute(text(sql), {"id": victim.id})
    assert pg.verify_audit_trail().intact

    with pg.db.write_engine.begin() as conn:  # a superuser can switch the trigger off …
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        conn.execute(text("UPDATE audit_event SET detail = '{\"x\": 1}' WHERE id = :id"), {"id": victim.id})
    report = pg.verify_audit_trail()  # … but not unnoticed
    assert (report.broken.kind, report.broken.event_id) == ("changed", victim.id)

    with pg.db.write_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": victim.id})
    report = pg.verify_audit_trail()
    assert (report.broken.kind, report.broken.seq) == ("deleted", victim.chain_seq)


@pytest.mark.parametrize(("pool_size", "writers"), [(1, 1), (2, 6)])
def test_sealing_after_commit_needs_no_second_connection(
    tmp_path, postgres_url, clock, definitions, caplog, pool_size, writers
):
    """The seal after a commit used to run while the writer's connection was still checked out, so it
    took a second one from the pool: with every connection held by a writer, all seals waited for the
    pool timeout (30 s by default; 1 s here) and failed. Now each writer holds one connection at a time."""
    settings = make_settings(tmp_path, postgres_url, *definitions)
    database = Database(postgres_url, pool_size=pool_size, max_overflow=0, pool_timeout=1)
    hn = Hilfenetz(settings, clock=clock, database=database)
    try:
        hn.prepare_demo()
        hn.seal_audit_trail()
        user = actor_lookup(hn)("fachkraft.frauenberatung")
        barrier = threading.Barrier(writers)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_write, args=(hn, user, 5, barrier, errors)) for _ in range(writers)
        ]
        with caplog.at_level(logging.ERROR, logger="engine.audit_trail"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert errors == []
        assert not [r.getMessage() for r in caplog.records if "Versiegeln" in r.getMessage()]
        rows = _rows(hn)
        assert sum(r.action == "test_gelesen" for r in rows) == 5 * writers
        assert all(r.chain_seq is not None for r in rows)  # sealed right after each commit
    finally:
        database.dispose()
