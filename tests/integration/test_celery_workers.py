"""Distributed mode with real services: ``hilfenetz worker`` subprocesses (Celery prefork) against
the local PostgreSQL and Redis or RabbitMQ, the scheduler (the same Dispatcher as ``hilfenetz
beat``) in a thread. Unreachable services skip locally and fail under CI=true."""

from __future__ import annotations

import base64
import json
import os
import signal
from collections import Counter
from datetime import timedelta

import pytest
from kombu.exceptions import OperationalError as BrokerUnreachable
from sqlalchemy import create_engine, func, select, text

from engine.clock import SystemClock
from engine.distributed import FIRE_TIMER, FIRE_TIMERS, Dispatcher, make_celery, timer_chunks
from engine.persistence.models import AuditEvent, Outbox, ProcessInstance, UserTask
from tests.conftest import actor_lookup, build_engine, need_service
from tests.support.bpmn_factory import chain_bpmn, timer_bpmn, write_definitions
from tests.support.celery_workers import (
    RABBITMQ_URL,
    REDIS_URL,
    DispatcherThread,
    Worker,
    broker_unreachable,
    drop_queue,
    unique_queue,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["redis", "rabbitmq"])
def any_broker(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def redis_url() -> str:
    reason = broker_unreachable(REDIS_URL)
    if reason:
        need_service(reason)
    return REDIS_URL


@pytest.fixture
def rabbitmq_url() -> str:
    reason = broker_unreachable(RABBITMQ_URL)
    if reason:
        need_service(reason)
    return RABBITMQ_URL


@pytest.fixture
def workers():
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def engines():
    built = []
    yield built
    for hn in built:
        drop_queue(hn)
        hn.db.dispose()


def engine(tmp_path, postgres_url, broker, bpmn, built, **overrides):
    """An engine with real time and a broker queue of its own (removed with the engines fixture)."""
    defs = write_definitions(tmp_path / "defs", bpmn)
    hn = build_engine(
        tmp_path,
        postgres_url,
        SystemClock(),
        defs,
        broker_url=broker,
        broker_queue=unique_queue(),
        **overrides,
    )
    built.append(hn)
    return hn


def open_tasks(hn, instance_id: int) -> list[str]:
    with hn.db.read() as session:
        return sorted(
            session.scalars(
                select(UserTask.element_id).where(
                    UserTask.instance_id == instance_id, UserTask.status == "open"
                )
            )
        )


def timers_fired(hn, instance_id: int) -> int:
    with hn.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.instance_id == instance_id, AuditEvent.action == "timer_fired")
            )
            or 0
        )


def test_a_bpmn_timer_fires_on_a_worker_and_the_next_task_appears(
    tmp_path, postgres_url, any_broker, engines, workers
):
    hn = engine(tmp_path, postgres_url, any_broker, {"erinnerung": timer_bpmn(duration='"PT2S"')}, engines)
    workers.append(Worker(worker_env(hn, any_broker), tmp_path / "worker.log"))
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    instance = hn.start(user, "erinnerung", {})
    assert open_tasks(hn, instance) == ["bearbeiten"]
    with hn.db.read() as session:
        due = session.get(ProcessInstance, instance).next_timer_at
    with DispatcherThread(hn):
        wait_for(lambda: open_tasks(hn, instance) == ["eskalation"], 30, "Eskalation", workers)
    assert timers_fired(hn, instance) == 1
    with hn.db.read() as session:
        fired_at = session.scalar(
            select(AuditEvent.at).where(
                AuditEvent.instance_id == instance, AuditEvent.action == "timer_fired"
            )
        )
    assert due is not None and fired_at is not None and fired_at > due
    print(f"Verspätung: {(fired_at - due).total_seconds():.3f} s")  # a figure, not asserted


def test_each_outbox_mail_is_delivered_once_with_two_workers(
    tmp_path, postgres_url, redis_url, smtp, engines, workers
):
    hn = engine(
        tmp_path,
        postgres_url,
        redis_url,
        {"kette": chain_bpmn()},
        engines,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
    )
    env = worker_env(hn, redis_url)
    workers.extend(Worker(env, tmp_path / f"worker{i}.log", concurrency=2) for i in range(2))
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    for _ in range(8):
        hn.start(user, "kette", {})
    with hn.db.read() as session:
        ids = list(session.scalars(select(Outbox.id)))
    assert len(ids) == 8
    app = make_celery(hn.settings, lambda: hn)
    for outbox_id in ids * 2:  # every id also delivered twice more by hand: duplicates
        app.send_task("hilfenetz.deliver_outbox", args=[outbox_id], queue=hn.settings.broker_queue)

    def all_sent() -> bool:
        with hn.db.read() as session:
            return set(session.scalars(select(Outbox.status))) == {"sent"}

    with DispatcherThread(hn):
        wait_for(all_sent, 60, "Alle Benachrichtigungen versandt", workers)
        wait_for(lambda: len(smtp.sink.messages) >= 8 * 4, 30, "E-Mails angekommen", workers)
    for worker in workers:
        worker.stop()  # let the duplicates drain before counting
    counts = Counter(smtp.sink.recipients())
    assert len(smtp.sink.messages) == 8 * 4
    assert sorted(counts.values()) == [8, 8, 8, 8]  # 4 Fachkräfte × 8 tasks, each once


def test_a_worker_killed_while_holding_a_task_gets_it_redelivered_and_the_step_commits_once(
    tmp_path, postgres_url, redis_url, engines, workers
):
    """The worker process running ``fire_timer`` is killed with SIGKILL while it waits for the
    instance's lock (held by the test); ``task_reject_on_worker_lost`` puts the message back, a
    new worker process takes it, and once the lock is released the timer fires exactly once."""
    hn = engine(tmp_path, postgres_url, redis_url, {"erinnerung": timer_bpmn(duration='"PT1S"')}, engines)
    holder = create_engine(postgres_url)
    try:
        worker = Worker(worker_env(hn, redis_url), tmp_path / "worker.log", concurrency=1)
        workers.append(worker)
        instance = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "erinnerung", {})
        wait_for(lambda: _due(hn, instance), 10, "Frist fällig", [])
        app = make_celery(hn.settings, lambda: hn)
        with holder.connect() as conn:
            conn.execute(text("SELECT id FROM process_instance WHERE id = :i FOR UPDATE"), {"i": instance})
            app.send_task(FIRE_TIMER, args=[instance], queue=hn.settings.broker_queue)
            first = wait_for(lambda: running_pid(app, worker, instance), 30, "Auftrag läuft", workers)
            os.kill(first, signal.SIGKILL)
            second = wait_for(
                lambda: (pid := running_pid(app, worker, instance)) and pid != first and pid,
                30,
                "Auftrag erneut zugestellt",
                workers,
            )
            assert second != first
            assert timers_fired(hn, instance) == 0
            conn.rollback()  # release the lock: the redelivered task goes on
        wait_for(lambda: open_tasks(hn, instance) == ["eskalation"], 30, "Eskalation", workers)
        assert timers_fired(hn, instance) == 1
        assert "WorkerLostError" in worker.output()
        with hn.db.read() as session:
            rows = session.scalar(
                select(func.count()).select_from(UserTask).where(UserTask.element_id == "eskalation")
            )
        assert rows == 1
    finally:
        holder.dispose()


def test_a_whole_worker_lost_on_rabbitmq_hands_the_task_to_another_and_the_step_commits_once(
    tmp_path, postgres_url, rabbitmq_url, engines, workers
):
    """Worker and its process killed with SIGKILL (a lost machine) while the task waits for the
    instance's lock: RabbitMQ requeues the unacknowledged message when the connection drops, the
    second worker takes it, and the timer fires exactly once."""
    hn = engine(tmp_path, postgres_url, rabbitmq_url, {"erinnerung": timer_bpmn(duration='"PT1S"')}, engines)
    holder = create_engine(postgres_url)
    try:
        env = worker_env(hn, rabbitmq_url)
        pair = [Worker(env, tmp_path / f"worker{i}.log", concurrency=1) for i in range(2)]
        workers.extend(pair)
        instance = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "erinnerung", {})
        wait_for(lambda: _due(hn, instance), 10, "Frist fällig", [])
        app = make_celery(hn.settings, lambda: hn)

        def running_on() -> tuple[Worker, int] | None:
            for worker in pair:
                if worker.process.poll() is None and (pid := running_pid(app, worker, instance)):
                    return worker, pid
            return None

        with holder.connect() as conn:
            conn.execute(text("SELECT id FROM process_instance WHERE id = :i FOR UPDATE"), {"i": instance})
            app.send_task(FIRE_TIMER, args=[instance], queue=hn.settings.broker_queue)
            lost, child = wait_for(running_on, 30, "Auftrag läuft", pair)
            os.kill(lost.pid, signal.SIGKILL)  # the worker first: no chance to requeue itself
            os.kill(child, signal.SIGKILL)
            lost.process.wait(10)
            survivor, _ = wait_for(running_on, 30, "Auftrag beim zweiten Worker", pair)
            assert survivor is not lost
            assert timers_fired(hn, instance) == 0
            conn.rollback()
        wait_for(lambda: open_tasks(hn, instance) == ["eskalation"], 30, "Eskalation", pair)
        assert timers_fired(hn, instance) == 1
    finally:
        holder.dispose()


def running_pid(app, worker: Worker, instance_id: int) -> int | None:
    """The process of ``worker`` currently executing ``fire_timer(instance_id)`` (Celery inspect)."""
    active = app.control.inspect(destination=[worker.nodename], timeout=0.5).active() or {}
    for tasks in active.values():
        for task in tasks:
            if task.get("name") == FIRE_TIMER and list(task.get("args") or []) == [instance_id]:
                return int(task["worker_pid"])
    return None


def test_the_scheduler_publishes_ids_only(tmp_path, postgres_url, redis_url, engines):
    """What lands on the broker is the task name and an id — never case data."""
    import redis

    hn = engine(tmp_path, postgres_url, redis_url, {"erinnerung": timer_bpmn(duration='"PT1S"')}, engines)
    instance = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "erinnerung", {})
    wait_for(lambda: _due(hn, instance), 10, "Frist fällig", [])
    dispatcher = Dispatcher(hn, make_celery(hn.settings, lambda: hn), 0.5)
    dispatch = dispatcher.tick()
    assert dispatch.timers == [instance] and len(dispatch.outbox) == 1
    client = redis.Redis.from_url(redis_url)
    try:
        messages = [json.loads(raw) for raw in client.lrange(hn.settings.broker_queue, 0, -1)]
    finally:
        client.close()
    published = sorted((m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages)
    jobs = sorted(("hilfenetz.run_job", [name]) for name in dispatch.jobs)
    assert published == sorted(
        [("hilfenetz.deliver_outbox", dispatch.outbox), ("hilfenetz.fire_timers", [[instance]]), *jobs]
    )
    assert dispatcher.tick().timers == []  # published once, not every tick


def test_a_backlog_goes_out_in_groups_and_each_timer_fires_once(
    tmp_path, postgres_url, redis_url, engines, workers
):
    """Many due timers: fewer messages than timers, every id in exactly one, each fired once."""
    import redis

    hn = engine(tmp_path, postgres_url, redis_url, {"erinnerung": timer_bpmn(duration='"PT1S"')}, engines)
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    instances = [hn.start(user, "erinnerung", {}) for _ in range(40)]
    wait_for(lambda: all(_due(hn, i) for i in instances), 10, "Fristen fällig", [])
    app = make_celery(hn.settings, lambda: hn)
    assert sorted(Dispatcher(hn, app, 0.5).tick().timers) == instances
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.lrange(hn.settings.broker_queue, 0, -1)
    finally:
        client.close()
    messages = [json.loads(m) for m in raw]
    groups = [
        json.loads(base64.b64decode(m["body"]))[0][0] for m in messages if m["headers"]["task"] == FIRE_TIMERS
    ]
    assert len(groups) == len(timer_chunks(instances)) < len(instances)
    assert sorted(i for group in groups for i in group) == instances
    workers.append(Worker(worker_env(hn, redis_url), tmp_path / "worker.log"))
    wait_for(lambda: all(open_tasks(hn, i) == ["eskalation"] for i in instances), 60, "Eskalationen", workers)
    assert [timers_fired(hn, i) for i in instances] == [1] * len(instances)
    # A second delivery of a whole group (redispatch, worker lost mid-group) changes nothing.
    assert app.tasks[FIRE_TIMERS](instances[:5]) == 0
    assert [timers_fired(hn, i) for i in instances[:5]] == [1] * 5


def test_no_redispatch_while_the_queue_still_holds_a_backlog(
    tmp_path, postgres_url, redis_url, clock, engines
):
    """A timer published long ago but still queued behind a backlog is not published again;
    once the queue is short, a still-due (lost) one is."""
    defs = write_definitions(tmp_path / "defs", {"erinnerung": timer_bpmn(duration='"PT1H"')})
    hn = build_engine(tmp_path, postgres_url, clock, defs, broker_url=redis_url, broker_queue=unique_queue())
    engines.append(hn)
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    instances = [hn.start(user, "erinnerung", {}) for _ in range(3)]
    clock.advance(timedelta(hours=2))
    dispatcher = Dispatcher(hn, make_celery(hn.settings, lambda: hn), 0.5, batch=2)
    assert dispatcher.queued() == 0
    assert sorted(dispatcher.tick().timers + dispatcher.tick().timers) == instances
    assert dispatcher.queued() >= 2  # nobody consumes: the messages wait
    clock.advance(timedelta(seconds=hn.settings.redispatch_seconds + 1))
    assert dispatcher.tick().timers == []  # still queued, not lost: not published again
    drop_queue(hn)  # the messages are lost
    assert dispatcher.queued() == 0
    again = dispatcher.tick().timers
    assert len(again) == 2  # the queue is short: published again …
    drop_queue(hn)
    assert sorted(again + dispatcher.tick().timers) == instances  # … all of them


def _due(hn, instance_id: int) -> bool:
    with hn.db.read() as session:
        due = session.get(ProcessInstance, instance_id).next_timer_at
    return due is not None and hn.clock.now() > due


def test_broker_down_keeps_the_claimed_rows_for_the_next_round(tmp_path, postgres_url, clock):
    defs = write_definitions(tmp_path / "defs", {"erinnerung": timer_bpmn(duration='"PT1H"')})
    hn = build_engine(tmp_path, postgres_url, clock, defs, broker_url="redis://127.0.0.1:1/0")
    try:
        instance = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "erinnerung", {})
        clock.advance(timedelta(hours=2))
        dispatcher = Dispatcher(hn, make_celery(hn.settings, lambda: hn), 0.5)
        with pytest.raises(BrokerUnreachable):
            dispatcher.tick()
        assert hn.dispatch_due().timers == [instance]  # the marks were undone: nothing lost
    finally:
        hn.db.dispose()
