"""The distributed scheduler's claims, on SQLite and PostgreSQL (no broker needed here):
due rows are claimed once, published again only after the redispatch timeout, and every task
does its work once however often it is delivered."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.dispatch import PERIODIC_JOBS, Dispatch
from engine.errors import HilfenetzError, NotFoundError
from engine.jobs import EmbeddedJobRunner
from engine.persistence.models import AuditEvent, Notification, Outbox, ProcessInstance, UserTask
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import timer_bpmn, write_definitions


@pytest.fixture
def timer_engine(tmp_path, any_db_url, clock):
    defs = write_definitions(tmp_path / "defs", {"erinnerung": timer_bpmn(duration='"PT1H"')})
    hn = build_engine(tmp_path, any_db_url, clock, defs)
    yield hn
    hn.db.dispose()


def count(hn, statement) -> int:
    with hn.db.read() as session:
        return int(session.scalar(statement) or 0)


def open_tasks(hn, instance_id: int) -> list[str]:
    with hn.db.read() as session:
        return sorted(
            session.scalars(
                select(UserTask.element_id).where(
                    UserTask.instance_id == instance_id, UserTask.status == "open"
                )
            )
        )


def test_a_due_timer_is_claimed_once_republished_after_the_timeout_and_fired_once(timer_engine, clock):
    hn = timer_engine
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    instance = hn.start(user, "erinnerung", {})
    hn.dispatch_due()  # the periodic jobs' first round; not what this test is about
    assert hn.dispatch_due().timers == []  # not due yet
    clock.advance(timedelta(hours=1, seconds=1))
    assert hn.dispatch_due().timers == [instance]
    assert hn.dispatch_due().timers == []  # published, not again every tick
    clock.advance(timedelta(seconds=hn.settings.redispatch_seconds + 1))
    assert hn.dispatch_due().timers == [instance]  # the task was lost: published again
    assert hn.fire_timer(instance) == 1
    assert hn.fire_timer(instance) == 0  # the redelivered duplicate does nothing
    assert open_tasks(hn, instance) == ["eskalation"]
    fired = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "timer_fired")
    assert count(hn, fired) == 1
    assert hn.dispatch_due().timers == []  # no timer left
    assert hn.fire_timer(999_999) == 0  # an unknown id (instance deleted) is not an error


def test_a_new_due_time_is_published_at_once_despite_an_earlier_mark(timer_engine, clock):
    """The mark names the due time it was published for: a later timer of the same instance is
    published when it is due, not only after the redispatch timeout."""
    hn = timer_engine
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    instance = hn.start(user, "erinnerung", {})
    clock.advance(timedelta(hours=2))
    assert hn.dispatch_due().timers == [instance]
    later = clock.now() - timedelta(seconds=1)
    with hn.db.write() as session:  # as if the instance had moved on to its next timer
        session.get(ProcessInstance, instance).next_timer_at = later
        session.commit()
    assert hn.dispatch_due().timers == [instance]


def test_failed_publishing_is_undone_and_claimed_again(timer_engine, clock):
    hn = timer_engine
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    instance = hn.start(user, "erinnerung", {})
    clock.advance(timedelta(hours=2))
    dispatch = hn.dispatch_due()
    assert dispatch.timers == [instance] and dispatch.outbox
    assert sorted(dispatch.jobs) == sorted(PERIODIC_JOBS)
    hn.undo_dispatch(dispatch)
    again = hn.dispatch_due()
    assert (again.timers, again.outbox, sorted(again.jobs)) == (
        dispatch.timers,
        dispatch.outbox,
        sorted(dispatch.jobs),
    )


def test_outbox_rows_are_published_once_and_delivered_once(timer_engine, clock):
    hn = timer_engine
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    hn.start(user, "erinnerung", {})
    outbox = hn.dispatch_due().outbox
    assert len(outbox) == 1
    assert hn.dispatch_due().outbox == []
    notifications = select(func.count()).select_from(Notification)
    assert hn.deliver_outbox_row(outbox[0]) == 1
    delivered = count(hn, notifications)
    assert delivered >= 2  # every Fachkraft of the Frauenberatung
    assert hn.deliver_outbox_row(outbox[0]) == 0  # duplicate delivery: nothing more
    assert count(hn, notifications) == delivered
    with hn.db.read() as session:
        row = session.get(Outbox, outbox[0])
        assert (row.status, row.dispatched_at) == ("sent", None)
    clock.advance(timedelta(seconds=hn.settings.redispatch_seconds + 1))
    assert hn.dispatch_due().outbox == []  # sent rows are never published again


def test_periodic_jobs_wait_for_their_run_and_interval(timer_engine, clock):
    hn = timer_engine
    assert sorted(hn.dispatch_due().jobs) == sorted(PERIODIC_JOBS)
    for name in PERIODIC_JOBS:
        # a job that fails (here: a Frist missing from the test's fristen.json) counts as finished
        with contextlib.suppress(HilfenetzError):
            hn.run_job(name)
    assert hn.dispatch_due().jobs == []  # finished, but the interval is not over
    clock.advance(timedelta(seconds=hn.settings.job_interval_seconds))
    assert sorted(hn.dispatch_due().jobs) == sorted(PERIODIC_JOBS)
    clock.advance(timedelta(seconds=hn.settings.job_interval_seconds + 1))
    assert hn.dispatch_due().jobs == []  # still running (not finished): not published again
    clock.advance(timedelta(seconds=hn.settings.redispatch_seconds + 1))
    assert sorted(hn.dispatch_due().jobs) == sorted(PERIODIC_JOBS)  # never reported back: lost
    with pytest.raises(NotFoundError, match="Unbekannter Job"):
        hn.run_job("drop_everything")


def test_embedded_runner_runs_the_same_jobs_as_the_workers(timer_engine):
    names = {name for name, _ in EmbeddedJobRunner(timer_engine, 1.0)._jobs()}
    assert names == {"fire_due_timers", "deliver_outbox", *PERIODIC_JOBS}


def test_two_schedulers_never_claim_the_same_timer(tmp_path, postgres_url, clock):
    defs = write_definitions(tmp_path / "defs", {"erinnerung": timer_bpmn(duration='"PT1H"')})
    first = build_engine(tmp_path, postgres_url, clock, defs)
    second = build_engine(tmp_path, postgres_url, clock, defs)
    try:
        user = actor_lookup(first)("fachkraft.frauenberatung")
        instances = {first.start(user, "erinnerung", {}) for _ in range(40)}
        clock.advance(timedelta(hours=2))
        barrier = threading.Barrier(2)
        results: list[Dispatch] = []
        errors: list[BaseException] = []

        def tick(engine) -> None:
            try:
                barrier.wait()
                while True:
                    dispatch = engine.dispatch_due(limit=5)
                    results.append(dispatch)
                    if not dispatch.timers:
                        return
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=tick, args=(e,)) for e in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        claimed = [i for d in results for i in d.timers]
        assert sorted(claimed) == sorted(instances)  # each exactly once
        jobs = [j for d in results for j in d.jobs]
        assert sorted(jobs) == sorted(PERIODIC_JOBS)
    finally:
        first.db.dispose()
        second.db.dispose()


def test_settings_drive_the_timeouts(tmp_path, sqlite_url, clock):
    defs = write_definitions(tmp_path / "defs", {"erinnerung": timer_bpmn(duration='"PT1H"')})
    hn = build_engine(tmp_path, sqlite_url, clock, defs)
    try:
        hn.settings = replace(hn.settings, redispatch_seconds=5.0)
        instance = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "erinnerung", {})
        clock.advance(timedelta(hours=2))
        assert hn.dispatch_due().timers == [instance]
        clock.advance(timedelta(seconds=6))
        assert hn.dispatch_due().timers == [instance]
    finally:
        hn.db.dispose()


def test_a_worker_clock_behind_the_scheduler_does_not_hold_jobs_or_timers_back(timer_engine, clock):
    """The scheduler and the workers run on different machines; their clocks differ slightly."""
    hn = timer_engine
    assert sorted(hn.dispatch_due().jobs) == sorted(PERIODIC_JOBS)
    clock.advance(timedelta(milliseconds=-5))  # the worker's clock is 5 ms behind
    for name in PERIODIC_JOBS:
        with contextlib.suppress(HilfenetzError):
            hn.run_job(name)
    clock.advance(timedelta(milliseconds=5, seconds=hn.settings.job_interval_seconds))
    assert sorted(hn.dispatch_due().jobs) == sorted(PERIODIC_JOBS)  # not only after the redispatch

    instance = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "erinnerung", {})
    clock.advance(timedelta(hours=1, seconds=1))
    assert hn.dispatch_due().timers == [instance]
    clock.advance(timedelta(seconds=-2))  # the worker still sees the timer as not due
    assert hn.fire_timer(instance) == 0
    clock.advance(timedelta(seconds=2))
    assert hn.dispatch_due().timers == [instance]  # released: published again at the next tick
    assert hn.fire_timer(instance) == 1
