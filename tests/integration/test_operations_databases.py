"""Betrieb (issue 6): the operations read model and the retry of a dead job, on SQLite and
PostgreSQL — outbox rows by state, periodic jobs, late timers, stuck instances."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine.dispatch import PERIODIC_JOBS
from engine.errors import NotFoundError, NotPermittedError
from engine.persistence.models import AuditEvent, Notification, Outbox, ProcessInstance
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import chain_bpmn, timer_bpmn, write_definitions


@pytest.fixture
def ops_engine(tmp_path, any_db_url, clock):
    defs = write_definitions(
        tmp_path / "defs", {"erinnerung": timer_bpmn(duration='"PT1H"'), "kette": chain_bpmn()}
    )
    hn = build_engine(tmp_path, any_db_url, clock, defs)
    yield hn
    hn.db.dispose()


def outbox_ids(hn) -> list[int]:
    with hn.db.read() as session:
        return list(session.scalars(select(Outbox.id).order_by(Outbox.id)))


def set_outbox(hn, outbox_id: int, **values) -> None:
    with hn.db.write() as session:
        session.execute(update(Outbox).where(Outbox.id == outbox_id).values(**values))
        session.commit()


def test_overview_and_retry(ops_engine, clock):
    hn = ops_engine
    actor = actor_lookup(hn)
    admin, lena = actor("admin"), actor("fachkraft.frauenberatung")
    empty = hn.operations_overview(admin)
    assert (empty.waiting_count, empty.in_delivery_count, empty.dead_count) == (0, 0, 0)
    assert (empty.late_timer_count, empty.timers_due_soon, empty.troubled_count) == (0, 0, 0)
    assert empty.mode == "eingebettet" and empty.jobs == []

    for _ in range(3):
        hn.start(lena, "kette", {})
    timer_instance = hn.start(lena, "erinnerung", {})
    first, second, third, fourth = outbox_ids(hn)
    # what a delivery that failed five times and one that is under way leave behind
    set_outbox(hn, first, status="dead", attempts=5, last_error="SMTP: 550 Postfach voll")
    lease = clock.now() + timedelta(minutes=5)
    set_outbox(hn, second, status="processing", attempts=1, next_attempt_at=lease)
    with hn.db.write() as session:
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == timer_instance - 1)
            .values(status="stuck", status_reason="Kein weiterer Schritt möglich.", next_timer_at=None)
        )
        session.commit()
    hn.dispatch_due()  # the scheduler's first tick: every periodic job is published once
    hn.run_job("send_digests")

    soon = hn.operations_overview(admin)
    assert soon.timers_due_soon == 1 and soon.late_timer_count == 0
    clock.advance(timedelta(hours=1, seconds=90))
    o = hn.operations_overview(admin)
    assert [r.id for r in o.dead] == [first] and o.dead[0].last_error == "SMTP: 550 Postfach voll"
    assert o.dead[0].attempts == 5 and o.dead_count == 1
    assert [r.id for r in o.in_delivery] == [second] and o.in_delivery_count == 1
    assert o.in_delivery[0].lease_expired  # its five-minute claim ran out an hour ago
    assert not soon.in_delivery[0].lease_expired
    assert {r.id for r in o.waiting} == {third, fourth} and o.waiting_count == 2
    assert [(t.instance_id, t.late_seconds) for t in o.late_timers] == [(timer_instance, 90)]
    assert o.late_timer_count == 1 and o.timers_due_soon == 0
    assert [(i.instance_id, i.status, i.reason) for i in o.troubled] == [
        (timer_instance - 1, "stuck", "Kein weiterer Schritt möglich.")
    ]
    jobs = {j.name: j for j in o.jobs}
    assert (
        len(jobs) == len(PERIODIC_JOBS)
        and jobs["send_digests"].running is False
        and jobs["send_ballot_reminders"].running
    )

    with pytest.raises(NotPermittedError):
        hn.operations_overview(lena)
    with pytest.raises(NotPermittedError):
        hn.retry_outbox(lena, first)
    with pytest.raises(NotFoundError):
        hn.retry_outbox(admin, 999_999)
    assert hn.retry_outbox(admin, second) is False  # not dead: nothing to do
    assert hn.retry_outbox(admin, first) is True
    assert hn.retry_outbox(admin, first) is False  # the second click changes nothing
    with hn.db.read() as session:
        row = session.get(Outbox, first)
        assert row is not None and (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, None)
        audits = session.scalars(select(AuditEvent).where(AuditEvent.action == "outbox_retried")).all()
        assert [(a.actor_name, a.detail) for a in audits] == [
            ("Administration Hilfenetz", {"outbox_id": first, "kind": "task_created"})
        ]
    assert hn.operations_overview(admin).dead_count == 0
    hn.deliver_outbox()  # the retried row is delivered like any other
    with hn.db.read() as session:
        row = session.get(Outbox, first)
        assert row is not None and row.status == "sent"
        assert session.scalar(select(Notification.id).where(Notification.outbox_id == first)) is not None
