"""Betrieb: what an administrator needs to see that jobs, timers and instances are healthy.

Read straight from the tables the runners work on (``outbox``, ``scheduled_job``,
``process_instance``); nothing here changes state except :func:`retry_outbox`, which puts a
dead outbox row back to pending (audited, and harmless when repeated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.errors import NotFoundError
from engine.persistence.models import Outbox, ProcessInstance, ScheduledJob
from engine.read_models import Actor
from engine.runtime import audit

#: Rows shown per table; the counts above each table are always complete.
ROW_LIMIT = 100
#: Outbox states as the page groups them.
WAITING = ("pending", "failed")
IN_DELIVERY = ("processing",)
DEAD = ("dead",)
#: "Timers due soon" looks this far ahead.
SOON = timedelta(hours=1)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    status: str  # pending|failed|processing|dead
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    lease_expired: bool = False
    """In delivery, but the claim ran out: the delivering process ended without finishing (it
    is claimed again on the next round)."""


@dataclass(frozen=True)
class PeriodicJobRow:
    name: str
    dispatched_at: datetime | None
    finished_at: datetime | None
    running: bool  # published and no finish reported since


@dataclass(frozen=True)
class LateTimer:
    instance_id: int
    title: str
    process_key: str
    due_at: datetime
    late_seconds: int


@dataclass(frozen=True)
class TroubledInstance:
    instance_id: int
    title: str
    process_key: str
    status: str  # stuck|error
    reason: str | None
    started_at: datetime


@dataclass(frozen=True)
class OperationsOverview:
    now: datetime
    mode: str  # eingebettet|verteilt
    waiting_count: int
    in_delivery_count: int
    dead_count: int
    waiting: list[OutboxRow]
    in_delivery: list[OutboxRow]
    dead: list[OutboxRow]
    jobs: list[PeriodicJobRow]
    late_timers: list[LateTimer]
    late_timer_count: int
    timers_due_soon: int
    troubled: list[TroubledInstance]
    troubled_count: int


def _count(session: Session, statement: object) -> int:
    return int(session.scalar(statement) or 0)  # type: ignore[call-overload]


def _outbox(session: Session, statuses: tuple[str, ...], now: datetime) -> tuple[int, list[OutboxRow]]:
    total = _count(session, select(func.count()).select_from(Outbox).where(Outbox.status.in_(statuses)))
    rows = session.scalars(
        select(Outbox).where(Outbox.status.in_(statuses)).order_by(Outbox.id).limit(ROW_LIMIT)
    ).all()
    return total, [
        OutboxRow(
            r.id,
            r.kind,
            r.status,
            r.created_at,
            r.attempts,
            r.next_attempt_at,
            r.last_error,
            r.status == "processing" and r.next_attempt_at is not None and r.next_attempt_at <= now,
        )
        for r in rows
    ]


def _running(job: ScheduledJob) -> bool:
    """Published and no finish reported since."""
    last, finished = job.dispatched_at, job.finished_at
    return last is not None and (finished is None or finished < last)


def overview(session: Session, now: datetime, *, distributed: bool) -> OperationsOverview:
    """Everything the operations page shows, read in one transaction at ``now``."""
    waiting_count, waiting = _outbox(session, WAITING, now)
    in_delivery_count, in_delivery = _outbox(session, IN_DELIVERY, now)
    dead_count, dead = _outbox(session, DEAD, now)
    jobs = [
        PeriodicJobRow(job.name, job.dispatched_at, job.finished_at, _running(job))
        for job in session.scalars(select(ScheduledJob).order_by(ScheduledJob.name))
    ]
    pi = ProcessInstance
    late = (pi.status == "running", pi.next_timer_at.is_not(None), pi.next_timer_at < now)
    late_rows = session.execute(
        select(pi.id, pi.title, pi.process_key, pi.next_timer_at)
        .where(*late)
        .order_by(pi.next_timer_at, pi.id)
        .limit(ROW_LIMIT)
    ).all()
    late_timers = [
        LateTimer(i, title, key, due, int((now - due).total_seconds()))
        for i, title, key, due in late_rows
        if due is not None  # the query excludes None; this tells the type checker
    ]
    late_count = _count(session, select(func.count()).select_from(pi).where(*late))
    soon = _count(
        session,
        select(func.count())
        .select_from(pi)
        .where(pi.status == "running", pi.next_timer_at >= now, pi.next_timer_at <= now + SOON),
    )
    troubled_where = pi.status.in_(("stuck", "error"))
    troubled = [
        TroubledInstance(r.id, r.title, r.process_key, r.status, r.status_reason, r.started_at)
        for r in session.scalars(select(pi).where(troubled_where).order_by(pi.id).limit(ROW_LIMIT))
    ]
    troubled_count = _count(session, select(func.count()).select_from(pi).where(troubled_where))
    return OperationsOverview(
        now=now,
        mode="verteilt" if distributed else "eingebettet",
        waiting_count=waiting_count,
        in_delivery_count=in_delivery_count,
        dead_count=dead_count,
        waiting=waiting,
        in_delivery=in_delivery,
        dead=dead,
        jobs=jobs,
        late_timers=late_timers,
        late_timer_count=late_count,
        timers_due_soon=soon,
        troubled=troubled,
        troubled_count=troubled_count,
    )


def retry_outbox(session: Session, now: datetime, actor: Actor, outbox_id: int) -> bool:
    """Put a dead outbox row back to pending with fresh attempts; False (and nothing written)
    when it is no longer dead — a second click, or another administrator was quicker."""
    if session.get(Outbox, outbox_id) is None:
        raise NotFoundError("Auftrag nicht gefunden.")
    result = session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.status == "dead")
        .values(status="pending", attempts=0, next_attempt_at=None, dispatched_at=None)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    row = session.get(Outbox, outbox_id)
    assert row is not None
    audit(session, now, actor, "outbox_retried", None, detail={"outbox_id": outbox_id, "kind": row.kind})
    return True
