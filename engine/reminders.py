"""User-task due dates: a reminder before the due date, an escalation after it (issue 6).

Each runs at most once per task, also with several runners: a conditional ``UPDATE … WHERE
reminded_at IS NULL`` (``escalated_at``) claims the task, and only the runner whose update changed
exactly one row writes the outbox row and the audit entry — in the same transaction.
How long before / after is configured per process in ``processes/fristen.json``
(``<process>.erinnerung_vorlauf``, ``<process>.eskalation_nach``; network-wide defaults
``erinnerung.vorlauf`` and ``eskalation.nach``; ``aus`` switches either off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, insert, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.parameters import Fristen
from engine.persistence.models import Outbox, UserTask
from engine.runtime import audit

REMINDER_LEAD = "erinnerung.vorlauf"
ESCALATION_DELAY = "eskalation.nach"
BATCH = 200


@dataclass(frozen=True)
class Step:
    """One kind of due-date notification: which column marks it done and what it writes."""

    column: InstrumentedAttribute[datetime | None]
    outbox_kind: str
    audit_action: str


REMINDER = Step(UserTask.reminded_at, "task_reminder", "task_reminder_sent")
ESCALATION = Step(UserTask.escalated_at, "task_escalated", "task_escalated")


def reminder_moment(fristen: Fristen, task: UserTask) -> datetime | None:
    """When the task's assignee or candidates are reminded; None when off or not before creation."""
    lead = fristen.optional_duration(f"{task.process_key}.erinnerung_vorlauf", REMINDER_LEAD)
    if lead is None or task.due_at is None:
        return None
    moment = task.due_at - lead
    return moment if moment > task.created_at else None  # no reminder right with the new task


def escalation_moment(fristen: Fristen, task: UserTask) -> datetime | None:
    """When an overdue task goes to the Leitung (or the coordinators); None when off."""
    delay = fristen.optional_duration(f"{task.process_key}.eskalation_nach", ESCALATION_DELAY)
    if delay is None or task.due_at is None:
        return None
    return task.due_at + delay


def send_due_reminders(session: Session, fristen: Fristen, now: datetime) -> int:
    """Write the reminders and escalations that are due now; returns how many. Does not commit."""
    sent = 0
    for task in _reminder_candidates(session, fristen, now):
        moment = reminder_moment(fristen, task)
        if moment is not None and moment <= now:
            sent += _record(session, task, REMINDER, now)
    for task in _escalation_candidates(session, fristen, now):
        moment = escalation_moment(fristen, task)
        if moment is not None and moment <= now:
            sent += _record(session, task, ESCALATION, now)
    return sent


def _reminder_candidates(session: Session, fristen: Fristen, now: datetime) -> list[UserTask]:
    """Open tasks not yet reminded whose due date is ahead, within their process's lead."""
    window = _within(fristen, "erinnerung_vorlauf", REMINDER_LEAD, now, +1)
    if window is None:
        return []
    query = select(UserTask).where(
        UserTask.status == "open", UserTask.reminded_at.is_(None), UserTask.due_at > now, window
    )
    return list(session.scalars(query.order_by(UserTask.id)))


def _escalation_candidates(session: Session, fristen: Fristen, now: datetime) -> list[UserTask]:
    """Open tasks not yet escalated whose due date lies longer ago than their process's delay."""
    window = _within(fristen, "eskalation_nach", ESCALATION_DELAY, now, -1)
    if window is None:
        return []
    query = select(UserTask).where(UserTask.status == "open", UserTask.escalated_at.is_(None), window)
    return list(session.scalars(query.order_by(UserTask.id).limit(BATCH)))


def _within(fristen: Fristen, suffix: str, default: str, now: datetime, sign: int) -> Any:
    """``due_at <= now ± duration`` for each process (its own value or the default); None when all off."""
    own = fristen.per_process(suffix)
    conditions = [
        and_(
            UserTask.process_key.not_in(own) if process is None else UserTask.process_key == process,
            UserTask.due_at <= bound,
        )
        for process, bound in fristen.moments(suffix, default, now, sign).items()
    ]
    return or_(*conditions) if conditions else None


def _record(session: Session, task: UserTask, step: Step, now: datetime) -> int:
    """Claim the step for this task; only the runner that changed the row writes outbox and audit."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(UserTask)
            .where(UserTask.id == task.id, UserTask.status == "open", step.column.is_(None))
            .values({step.column.key: now})
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return 0
    session.execute(
        insert(Outbox).values(
            created_at=now, kind=step.outbox_kind, status="pending", attempts=0, payload={"task_id": task.id}
        )
    )
    audit(
        session,
        now,
        None,
        step.audit_action,
        task.instance_id,
        task_id=task.id,
        element_id=task.element_id,
        detail={"task": task.name, "faellig": task.due_at},
    )
    return 1
