"""Distributed mode: which timers, outbox rows and periodic jobs the scheduler publishes now.

The database is the truth (design.md §5); the broker only carries ids. Each ``claim_*`` function
runs inside the scheduler's transaction: it locks the due rows with ``FOR UPDATE SKIP LOCKED``
(a row that a worker or a second scheduler holds is skipped, not waited for), marks them as
dispatched and returns their ids. The caller commits and only then publishes. A marked row is
not published again on the next tick, but it is once ``redispatch`` has passed and it is still
due — the task was lost (broker restart, a worker killed before it acknowledged, a publish that
failed after the commit). A second delivery is harmless: every task re-checks, under the row's
lock, that its work is still due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.notifications import HANDLED_KINDS
from engine.persistence.models import Outbox, ProcessInstance, ScheduledJob

#: The periodic jobs besides timers and the outbox, in the order the embedded runner runs them
#: (each is safe to run twice and on several workers at once, see their use cases).
PERIODIC_JOBS = (
    "send_due_reminders",
    "send_ballot_reminders",
    "warn_second_meeting",
    "send_digests",
    "purge_contact_data",
    "close_due_ballots",
    "start_yearly_directory_reviews",
    "start_due_agreement_review",
    "apply_retention",
    "purge_accessibility_feedback",
    "seal_audit_trail",
)


@dataclass(frozen=True)
class Dispatch:
    """What one scheduler tick claimed (committed) and now publishes: ids and job names only."""

    timers: list[int]
    outbox: list[int]
    jobs: list[str]

    def __len__(self) -> int:
        return len(self.timers) + len(self.outbox) + len(self.jobs)


def claim_due_timers(session: Session, now: datetime, limit: int, redispatch: timedelta) -> list[int]:
    """Running instances whose next timer is due and not already published for that due time."""
    pi = ProcessInstance
    ids = session.scalars(
        select(pi.id)
        .where(
            pi.status == "running",
            pi.next_timer_at < now,  # SpiffWorkflow fires when due < now (as the embedded runner)
            or_(
                pi.timer_dispatched_for.is_(None),
                pi.timer_dispatched_for != pi.next_timer_at,
                pi.timer_dispatched_at < now - redispatch,
            ),
        )
        .order_by(pi.next_timer_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if ids:  # the rows are locked: next_timer_at is the value just read
        session.execute(
            update(pi)
            .where(pi.id.in_(ids))
            .values(timer_dispatched_for=pi.next_timer_at, timer_dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    return list(ids)


def claim_due_outbox(session: Session, now: datetime, limit: int, redispatch: timedelta) -> list[int]:
    """Outbox rows the delivery would claim now (pending, failed and due, or an expired lease) that
    are not published yet. The delivery's claim clears ``dispatched_at`` again."""
    rows = session.scalars(
        select(Outbox.id)
        .where(
            Outbox.kind.in_(HANDLED_KINDS),
            Outbox.status.in_(("pending", "failed", "processing")),
            or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now),
            or_(Outbox.dispatched_at.is_(None), Outbox.dispatched_at < now - redispatch),
        )
        .order_by(Outbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(rows))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    return list(rows)


def claim_due_jobs(
    session: Session, now: datetime, intervals: Mapping[str, timedelta], redispatch: timedelta
) -> list[str]:
    """Periodic jobs to publish now: never run, or finished and their interval over, or lost."""
    known = set(session.scalars(select(ScheduledJob.name).where(ScheduledJob.name.in_(intervals))))
    missing = sorted(set(intervals) - known)
    if missing:  # first start; a second scheduler may be inserting the same rows right now
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(ScheduledJob).values([{"name": n} for n in missing]).on_conflict_do_nothing())
    rows = session.scalars(
        select(ScheduledJob)
        .where(ScheduledJob.name.in_(intervals))
        .order_by(ScheduledJob.name)
        .with_for_update(skip_locked=True)
    ).all()
    due = []
    for job in rows:
        last = job.dispatched_at
        finished = last is not None and job.finished_at is not None and job.finished_at >= last
        if last is None or (finished and last + intervals[job.name] <= now) or last < now - redispatch:
            job.dispatched_at = now
            due.append(job.name)
    return due


def job_finished(session: Session, name: str, now: datetime) -> None:
    """A worker ran the job (successfully or not): it may be published again after its interval.

    Never earlier than the dispatch it answers: the worker's clock may run behind the scheduler's,
    and a finish that looks older than its dispatch would hold the job back until the redispatch.
    """
    job = ScheduledJob.__table__.c
    session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.name == name)
        .values(finished_at=case((job.dispatched_at > now, job.dispatched_at), else_=now))
        .execution_options(synchronize_session=False)
    )


def undo_dispatch(session: Session, dispatch: Dispatch) -> None:
    """Publishing failed after the commit (broker down): clear the marks so the next tick retries."""
    timers, outbox, jobs = dispatch.timers, dispatch.outbox, dispatch.jobs
    if timers:
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id.in_(timers))
            .values(timer_dispatched_for=None, timer_dispatched_at=None)
            .execution_options(synchronize_session=False)
        )
    if outbox:
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(outbox))
            .values(dispatched_at=None)
            .execution_options(synchronize_session=False)
        )
    if jobs:
        session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.name.in_(jobs))
            .values(dispatched_at=None)
            .execution_options(synchronize_session=False)
        )
