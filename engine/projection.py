"""Worklist projection: turn READY user tasks of a workflow into ``user_task`` rows.

Written in the same transaction as the instance state; never commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.assignment import candidate_keys, interpolate, parse_candidate_groups
from engine.definitions import form_reference
from engine.errors import HilfenetzError, ScriptError
from engine.persistence.models import TaskCandidate, User

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULT_PRIORITY = 50
_DURATION_UNITS = {"Y": "years", "M": "months", "W": "weeks", "D": "days"}
_TIME_UNITS = {"H": "hours", "M": "minutes", "S": "seconds"}


def parse_iso_duration(text: str) -> relativedelta:
    """``P1Y2M3DT4H`` → relativedelta; raises ValueError with the text on anything else."""
    body = text.strip().upper()
    if not body.startswith("P") or len(body) < 3:
        raise ValueError(text)
    date_part, _, time_part = body[1:].partition("T")
    values: dict[str, int] = {}
    for part, units in ((date_part, _DURATION_UNITS), (time_part, _TIME_UNITS)):
        number = ""
        for char in part:
            if char.isdigit():
                number += char
            elif char in units and number:
                values[units[char]] = int(number)
                number = ""
            else:
                raise ValueError(text)
        if number:
            raise ValueError(text)
    if not values:
        raise ValueError(text)
    return relativedelta(**values)  # type: ignore[arg-type]


def resolve_due(value: Any, now: datetime) -> datetime | None:
    """A due value is a duration from now, an ISO date (end of that day, Berlin) or datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=BERLIN)
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59), BERLIN)
    text = str(value).strip()
    if text.upper().startswith("P"):
        return now + parse_iso_duration(text)
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(23, 59), BERLIN)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BERLIN)


def due_literal_reason(text: str) -> str | None:
    """Why a literal dueDate/followUpDate (one without ``${…}``) would make resolve_due fail, or None.

    The check runs resolve_due itself, so check and runtime cannot disagree on what a due value is.
    """
    try:
        resolve_due(text, datetime(2000, 1, 1, tzinfo=BERLIN))
    except (ValueError, TypeError, OverflowError):
        return (
            f"„{text.strip()[:60]}“ ist keine gültige Frist; erlaubt sind eine Dauer (z. B. P3D), "
            "ein Datum (z. B. 2026-12-31) oder ein Ausdruck ${…}."
        )
    return None


class TaskFacts:
    """What the worklist needs to know about one READY user task, evaluated in its data."""

    def __init__(self, task: Any, evaluate: Callable[[str], Any], now: datetime) -> None:
        spec = task.task_spec
        ext = getattr(spec, "extensions", None) or {}
        self.element_id: str = spec.bpmn_id or spec.name
        self.name: str = spec.bpmn_name or self.element_id
        self.instructions: str = spec.documentation or ""
        self.form_id = form_reference(spec)
        try:
            groups_text = ext.get("candidateGroups") or (spec.lane or "")
            groups = parse_candidate_groups(interpolate(groups_text, evaluate)) if groups_text else []
            users = interpolate(ext.get("candidateUsers", ""), evaluate).split(",")
            self.candidate_keys = candidate_keys(groups, users)
            self.assignee = interpolate(ext["assignee"], evaluate).strip() if ext.get("assignee") else None
            self.due_at = resolve_due(_value(ext.get("dueDate"), evaluate), now)
            self.follow_up_at = resolve_due(_value(ext.get("followUpDate"), evaluate), now)
            self.priority = int(_value(ext.get("priority"), evaluate) or DEFAULT_PRIORITY)
        except (ValueError, TypeError) as exc:
            raise ScriptError(
                f"Aufgabe „{self.name}“: Zuständigkeit, Frist oder Priorität ungültig ({exc}).",
                element=self.element_id,
            ) from None
        except HilfenetzError as exc:
            raise ScriptError(f"Aufgabe „{self.name}“: {exc.message}", element=self.element_id) from None


def _value(text: str | None, evaluate: Callable[[str], Any]) -> Any:
    """An attribute is a literal, or ``${expr}`` evaluated in the task's data."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped.startswith("${") and stripped.endswith("}") and stripped.count("${") == 1:
        return evaluate(stripped[2:-1])
    return interpolate(stripped, evaluate)


def candidate_dicts(values: dict[str, Any]) -> list[dict[str, Any]]:
    """``task_candidate`` rows for a ``user_task`` row given as a dict of column values."""
    keys = [k for k in values["candidates"].split(",") if k]
    return [
        {
            "task_id": values["id"],
            "key": k,
            "due_at": values["due_at"],
            "priority": values["priority"],
            "created_at": values["created_at"],
            "process_key": values["process_key"],
            "multi": len(keys) > 1,
        }
        for k in keys
    ]


def drop_candidates(session: Session, task_id: str) -> None:
    session.execute(delete(TaskCandidate).where(TaskCandidate.task_id == task_id))


def task_row_values(
    conn: Any,
    instance_id: int,
    process_key: str,
    task_id: str,
    facts: TaskFacts,
    now: datetime,
    context_label: str,
) -> dict[str, Any]:
    """Column values of a new ``user_task`` row; a named assignee is looked up by username."""
    assignee_id = None
    if facts.assignee:
        assignee_id = conn.execute(select(User.id).where(User.username == facts.assignee)).scalar()
    return {
        "id": task_id,
        "instance_id": instance_id,
        "process_key": process_key,
        "element_id": facts.element_id,
        "name": facts.name,
        "instructions": facts.instructions,
        "form_id": facts.form_id,
        "candidates": ",".join(facts.candidate_keys),
        "assignee_id": assignee_id,
        "status": "open",
        "priority": facts.priority,
        "due_at": facts.due_at,
        "follow_up_at": facts.follow_up_at,
        "created_at": now,
        "completed_at": None,
        "completed_by_id": None,
        "draft": None,
        "context_label": context_label,
    }


def overdue(due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and due_at < now


__all__ = [
    "TaskFacts",
    "candidate_dicts",
    "drop_candidates",
    "overdue",
    "parse_iso_duration",
    "resolve_due",
    "task_row_values",
]
