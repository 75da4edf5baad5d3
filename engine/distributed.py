"""Distributed mode: Celery workers execute, ``hilfenetz beat`` schedules (issue 6, design.md §5).

One code path, two transports: a Celery task calls exactly the engine method the embedded runner
calls (``Hilfenetz.fire_timer`` → ``Instances.fire_timer``, ``deliver_outbox_row`` →
``Notifications.deliver_outbox``, ``run_job`` → ``send_due_reminders``, ``send_digests``,
``purge_contact_data``, ``close_due_ballots``). A message carries an id or a job name, nothing
else; the database row is the truth and every task re-checks under the row's lock that its work
is still due, so a task delivered twice does its work once.

Delivery guarantees: ``acks_late`` (a message is acknowledged only after the task returned) and
``task_reject_on_worker_lost`` (a worker process killed mid-task puts its message back on the
queue), one message prefetched per process. Messages lost anyway (a broker restart without
persistence, a whole worker host lost with Redis's visibility timeout still running) are covered
by the scheduler: a row still due ``HILFENETZ_REDISPATCH_SECONDS`` after it was published is
published again.

Why a dispatcher loop of our own and not Celery beat: beat publishes fixed tasks on a schedule,
so a "look for due timers" task every 0.5 s would queue up behind busy workers (and make timers
later exactly when there is much to do), and beat keeps a schedule file of its own. The
:class:`Dispatcher` instead claims due rows in one short transaction (``FOR UPDATE SKIP LOCKED``,
marking them dispatched), commits, and only then publishes their ids — so nothing is published
that is not committed, nothing is published twice per tick, and two schedulers (for
availability) never publish the same row in the same round. ``hilfenetz beat`` runs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from sqlalchemy.exc import DBAPIError

from engine.dispatch import Dispatch
from engine.errors import ConfigurationError
from engine.service import Hilfenetz
from engine.settings import Settings

log = logging.getLogger(__name__)

FIRE_TIMER = "hilfenetz.fire_timer"
FIRE_TIMERS = "hilfenetz.fire_timers"
DELIVER_OUTBOX = "hilfenetz.deliver_outbox"
RUN_JOB = "hilfenetz.run_job"
#: Redis only: an unacknowledged message is handed out again after this long (a worker host lost
#: while holding it). Longer than any task; the scheduler's redispatch is usually faster.
VISIBILITY_TIMEOUT_SECONDS = 3600
#: At most this many timer ids per ``fire_timers`` message (bench/timer_backlog.py).
TIMER_CHUNK = 25
#: A dispatch is split into at least this many messages before ids are grouped, so a few due
#: timers still go to all workers in parallel; only a backlog is grouped.
TIMER_SPREAD = 8


def timer_chunks(ids: list[int]) -> list[list[int]]:
    """The timer ids of one dispatch, grouped into ``fire_timers`` messages.

    One message per timer costs the broker round trip, the hand-over to the pool process and the
    acknowledgement for every timer; in a backlog that is a large share of a step. Up to
    ``TIMER_SPREAD`` timers stay one per message (no added latency while little is due); more are
    grouped, at most ``TIMER_CHUNK`` per message. Each timer still fires in its own transaction.
    """
    size = max(1, min(TIMER_CHUNK, len(ids) // TIMER_SPREAD))
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def check_distributed(settings: Settings) -> None:
    """The distributed mode needs a broker and a database server (not the embedded SQLite file)."""
    if not settings.broker_url:
        raise ConfigurationError(
            "Kein Broker eingestellt: HILFENETZ_BROKER_URL (redis://… oder amqp://…) setzen. "
            "Ohne Broker läuft Hilfenetz eingebettet mit „hilfenetz run“."
        )
    if settings.database_url.startswith("sqlite"):
        raise ConfigurationError(
            "Der verteilte Betrieb braucht PostgreSQL (HILFENETZ_DATABASE_URL=postgresql+psycopg://…); "
            "SQLite ist nur für den eingebetteten Betrieb mit „hilfenetz run“."
        )


#: A worker re-reads organisations and Fristen from the database at most this often.
CACHE_REFRESH_SECONDS = 30.0


class _EngineHolder:
    """One engine per worker process, made on first use — after the fork, so no database
    connection is shared between processes. Its caches (organisations, Fristen) are refreshed
    from the database every :data:`CACHE_REFRESH_SECONDS`, as changes come from other processes."""

    def __init__(self, factory: Callable[[], Hilfenetz]) -> None:
        self._factory = factory
        self._engine: Hilfenetz | None = None
        self._refreshed = 0.0
        self._lock = threading.Lock()

    def get(self) -> Hilfenetz:
        with self._lock:
            if self._engine is None:
                self._engine = self._factory()
            if time.monotonic() - self._refreshed > CACHE_REFRESH_SECONDS:
                self._engine.refresh_caches()
                self._refreshed = time.monotonic()
            return self._engine


def make_celery(settings: Settings, engine: Callable[[], Hilfenetz] | None = None) -> Celery:
    """The Celery app with Hilfenetz's three tasks; ``engine`` builds the engine in a worker process."""
    check_distributed(settings)
    app = Celery("hilfenetz", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.worker_concurrency,
        task_default_queue=settings.broker_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    holder = _EngineHolder(engine or (lambda: Hilfenetz(settings)))
    retry: dict[str, Any] = {
        "autoretry_for": (DBAPIError,),  # the database is restarting: try again soon
        "retry_backoff": 1,
        "retry_backoff_max": 30,
        "max_retries": 20,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "shared": False,  # this app only: tests and the scheduler build several apps in one process
    }

    def fire_timer(instance_id: int) -> int:
        return holder.get().fire_timer(int(instance_id))

    def fire_timers(instance_ids: list[int]) -> int:
        # One transaction per timer: a failing or conflicting one does not hold back the others,
        # and a redelivered message (worker lost mid-list) fires only what is still due.
        return sum(holder.get().fire_timer(int(i)) for i in instance_ids)

    def deliver_outbox(outbox_id: int) -> int:
        return holder.get().deliver_outbox_row(int(outbox_id))

    def run_job(name: str) -> int:
        return holder.get().run_job(str(name))

    app.task(name=FIRE_TIMER, **retry)(fire_timer)  # single ids: earlier schedulers, tests
    app.task(name=FIRE_TIMERS, **retry)(fire_timers)
    app.task(name=DELIVER_OUTBOX, **retry)(deliver_outbox)
    app.task(name=RUN_JOB, **retry)(run_job)
    return app


def publish(app: Celery, dispatch: Dispatch) -> None:
    """Send the ids of one committed dispatch to the broker: timers grouped (:func:`timer_chunks`),
    one message per outbox row or job."""
    queue = app.conf.task_default_queue
    with app.producer_or_acquire() as producer:
        for chunk in timer_chunks(dispatch.timers):
            app.send_task(FIRE_TIMERS, args=[chunk], queue=queue, producer=producer)
        for outbox_id in dispatch.outbox:
            app.send_task(DELIVER_OUTBOX, args=[outbox_id], queue=queue, producer=producer)
        for name in dispatch.jobs:
            app.send_task(RUN_JOB, args=[name], queue=queue, producer=producer)


class Dispatcher:
    """``hilfenetz beat``: every ``interval`` seconds claim what is due, commit, publish."""

    def __init__(self, hilfenetz: Hilfenetz, app: Celery, interval: float, batch: int = 500) -> None:
        self.hilfenetz = hilfenetz
        self.app = app
        self.interval = interval
        self.batch = batch

    def queued(self) -> int:
        """Messages waiting in the queue (0 when the broker cannot say).

        While the workers still have a backlog queued, a row published more than
        ``HILFENETZ_REDISPATCH_SECONDS`` ago is most likely still waiting in that queue, not lost:
        publishing it again would only lengthen the queue (100,000 timers due at once were
        republished every minute until drained). So the redispatch waits until the queue is
        short; a message really lost is then published again.
        """
        try:
            with self.app.connection_for_write() as conn:
                declared = conn.default_channel.queue_declare(
                    queue=self.app.conf.task_default_queue, passive=True
                )
                return int(declared.message_count)
        except Exception:  # no such queue yet, or a broker without the count: redispatch as usual
            return 0

    def tick(self) -> Dispatch:
        """One round; returns what was published. Nothing claimed is lost: when publishing fails
        the marks are cleared and the next round claims the same rows again."""
        dispatch = self.hilfenetz.dispatch_due(self.batch, redispatch_lost=self.queued() < self.batch)
        if not len(dispatch):
            return dispatch
        try:
            publish(self.app, dispatch)
        except Exception:
            log.exception("Broker nicht erreichbar: %s Aufträge werden erneut veröffentlicht", len(dispatch))
            self.hilfenetz.undo_dispatch(dispatch)
            raise
        return dispatch

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set; a full batch is followed by the next one at once (a backlog)."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                dispatch = self.tick()
            except Exception:  # database or broker restarting: keep going
                log.exception("Planungsrunde fehlgeschlagen, nächster Versuch gleich")
                stop.wait(min(self.interval * 4, 5.0))
                continue
            if len(dispatch.timers) >= self.batch or len(dispatch.outbox) >= self.batch:
                continue
            stop.wait(max(self.interval - (time.monotonic() - started), 0.0))
