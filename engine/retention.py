"""The retention job: erase per ended instance and data category what its period allows no longer.

Each process version declares its periods in the BPMN (``engine/retention_rules.py``); a version
deployed before a declaration existed takes the period from the newest version of the same process
that declares it (:func:`effective_periods`; versions still without one are listed on the
Datenschutz page, :func:`retention_gaps`). A category
of an instance is due when the instance has ended (``status = completed``) and ``ended_at +
period`` has passed, and no instance its messages started is still running (that case may still
read it). What "erase" means per category:

* ``falldaten`` — every variable in the stored workflow (workflow, task and subprocess data and
  their deltas) gets the value :data:`MARKER`; the state stays restorable, so the case pages still
  render. The instance title becomes "Vorgang #id (Daten gelöscht)"; the tasks' context labels and
  instructions are emptied; a ballot's copied application documents keep only their labels.
* ``entwuerfe`` — the tasks' drafts are dropped.
* ``kontaktdaten`` — the instance's contact records are emptied (as the contact-data purge does).
* ``benachrichtigungen`` — the in-app notifications about the instance are deleted.
* ``einwilligungen`` — the consent records of the instance lose their signed form (deleted) and
  the names in them (witness, who withdrew, the free-text purpose become :data:`MARKER`); date,
  categories and recipients stay as proof without names.

Each erasure writes one ``retention_erasure`` row (the key makes it at most once per instance and
category) and one audit entry with instance, category, period and count — never the data. The
whole run holds the database-wide lock ``aufbewahrung``; a second runner waits and then finds
nothing due.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, aliased

from engine.definitions import declared_retention
from engine.persistence.database import exclusive
from engine.persistence.models import (
    Ballot,
    ConsentDocument,
    ConsentRecord,
    Kontaktdaten,
    Notification,
    ProcessDefinition,
    ProcessInstance,
    RetentionErasure,
    UserTask,
)
from engine.projection import parse_iso_duration
from engine.retention_rules import CATEGORY_KEYS, LABELS
from engine.runtime import audit

MARKER = "[gelöscht]"
LOCK = "aufbewahrung"
ENDED = "completed"
#: The SQL pre-selection is a little generous (months differ in length); Python decides exactly.
SLACK = timedelta(days=4)


@dataclass(frozen=True)
class DueErasure:
    """One category of one instance that is (or will be) due: no data, only what and when."""

    instance_id: int
    process_key: str
    process_name: str
    category: str
    category_label: str
    period: str
    due_at: datetime


def _running_child() -> Any:
    child = aliased(ProcessInstance)
    return exists().where(child.parent_instance_id == ProcessInstance.id, child.status != ENDED)


@dataclass(frozen=True)
class RetentionGap:
    """A deployed process version for which some categories have no period (nothing is erased)."""

    process_key: str
    process_name: str
    version: int
    missing: tuple[str, ...]


def effective_periods(session: Session) -> list[tuple[Any, dict[str, str]]]:
    """Every stored version with its periods. A version that declares no period for a category
    (deployed before the declarations existed) takes it from the newest version of the same process
    that declares one, so its instances are erased too."""
    versions = session.execute(
        select(
            ProcessDefinition.id,
            ProcessDefinition.process_key,
            ProcessDefinition.name,
            ProcessDefinition.version,
            ProcessDefinition.bpmn_xml,
        ).order_by(ProcessDefinition.process_key, ProcessDefinition.version.desc())
    ).all()
    declared = [(v, declared_retention(v.bpmn_xml, v.process_key)) for v in versions]
    newest: dict[tuple[str, str], str] = {}
    for v, periods in declared:  # newest version first per process
        for category, period in periods.items():
            newest.setdefault((v.process_key, category), period)
    result = []
    for v, periods in sorted(declared, key=lambda pair: pair[0].id):
        fallback = {c: newest[(v.process_key, c)] for c in CATEGORY_KEYS if (v.process_key, c) in newest}
        result.append((v, {**fallback, **periods}))
    return result


def retention_gaps(session: Session) -> list[RetentionGap]:
    """Versions whose instances keep some category for ever: no version of the process declares it."""
    return [
        RetentionGap(v.process_key, v.name, v.version, tuple(c for c in CATEGORY_KEYS if c not in periods))
        for v, periods in effective_periods(session)
        if any(c not in periods for c in CATEGORY_KEYS)
    ]


def due_erasures(session: Session, until: datetime, limit: int) -> list[DueErasure]:
    """Categories of ended instances whose period is over at ``until``, oldest first."""
    found: list[DueErasure] = []
    for definition, periods in effective_periods(session):
        for category in CATEGORY_KEYS:
            if category in periods and len(found) < limit:
                found.extend(
                    _due_of(session, definition, category, periods[category], until, limit - len(found))
                )
    return sorted(found, key=lambda d: (d.due_at, d.instance_id, CATEGORY_KEYS.index(d.category)))


def _due_of(
    session: Session, definition: Any, category: str, period: str, until: datetime, limit: int
) -> Iterator[DueErasure]:
    length = parse_iso_duration(period)
    pi = ProcessInstance
    done = exists().where(RetentionErasure.instance_id == pi.id, RetentionErasure.category == category)
    rows = session.execute(
        select(pi.id, pi.ended_at)
        .where(
            pi.definition_id == definition.id,
            pi.status == ENDED,
            pi.ended_at.is_not(None),
            pi.ended_at <= until - length + SLACK,
            ~done,
            ~_running_child(),
        )
        .order_by(pi.ended_at, pi.id)
        .limit(limit)
    )
    for instance_id, ended_at in rows:
        due_at = ended_at + length if ended_at is not None else None
        if due_at is not None and due_at <= until:
            yield DueErasure(
                instance_id,
                definition.process_key,
                definition.name,
                category,
                LABELS[category],
                period,
                due_at,
            )


def erase_due(session: Session, now: datetime, limit: int) -> tuple[int, bool]:
    """Erase what is due now (at most ``limit`` instance categories). Returns how many were erased
    and whether that was everything due. The caller commits."""
    exclusive(session.connection(), LOCK)
    due = due_erasures(session, now, limit)
    for item in due:
        count = ERASERS[item.category](session, item.instance_id, now)
        session.add(
            RetentionErasure(
                instance_id=item.instance_id,
                category=item.category,
                erased_at=now,
                period=item.period,
                items=count,
            )
        )
        audit(
            session,
            now,
            None,
            "aufbewahrung_geloescht",
            item.instance_id,
            detail={"kategorie": item.category, "frist": item.period, "anzahl": count},
        )
    session.flush()
    return len(due), len(due) < limit


# --- erasing one category of one instance ---------------------------------------------------
def _scrub(mapping: Any) -> int:
    if not isinstance(mapping, dict):
        return 0
    count = 0
    for key, value in mapping.items():
        if value != MARKER:
            mapping[key] = MARKER
            count += 1
    return count


def _scrub_workflow(dct: dict[str, Any], names: set[str]) -> None:
    for source in [dct.get("data"), *(t.get("data") for t in dct.get("tasks", {}).values())]:
        if isinstance(source, dict):
            names.update(k for k, v in source.items() if v != MARKER)
            _scrub(source)
    for task in dct.get("tasks", {}).values():
        delta = task.get("delta")
        if isinstance(delta, dict):
            _scrub(delta.get("updates"))
    dct["bpmn_events"] = []
    for sub in dct.get("subprocesses", {}).values():
        _scrub_workflow(sub, names)


def erase_case_data(session: Session, instance_id: int, now: datetime) -> int:
    """Falldaten: variables replaced by the marker (restorable), title and labels neutral."""
    row = session.get(ProcessInstance, instance_id)
    if row is None:
        return 0
    dct = json.loads(row.state)
    names: set[str] = set()
    _scrub_workflow(dct, names)
    row.state = json.dumps(dct, separators=(",", ":")).encode("utf-8")
    row.title = f"Vorgang #{row.id} (Daten gelöscht)"  # a new lock_version: cached workflows go stale
    session.execute(
        update(UserTask).where(UserTask.instance_id == instance_id).values(context_label="", instructions="")
    )
    for ballot in session.scalars(select(Ballot).where(Ballot.instance_id == instance_id)):
        if ballot.documents:
            ballot.documents = [{"label": d.get("label", ""), "value": MARKER} for d in ballot.documents]
    return len(names)


def erase_drafts(session: Session, instance_id: int, now: datetime) -> int:
    result = session.execute(
        update(UserTask)
        .where(UserTask.instance_id == instance_id, UserTask.draft.is_not(None))
        .values(draft=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def erase_contact_records(session: Session, instance_id: int, now: datetime) -> int:
    result = session.execute(
        update(Kontaktdaten)
        .where(Kontaktdaten.instance_id == instance_id, Kontaktdaten.deleted_at.is_(None))
        .values(fields={}, deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def erase_notifications(session: Session, instance_id: int, now: datetime) -> int:
    result = session.execute(
        delete(Notification)
        .where(Notification.instance_id == instance_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def erase_consents(session: Session, instance_id: int, now: datetime) -> int:
    """Einwilligungen: the signed forms are deleted; witness, who withdrew and the purpose (free
    text that may hold names) become the marker. Returns how many consent records were touched."""
    records = session.scalars(
        select(ConsentRecord).where(ConsentRecord.instance_id == instance_id).order_by(ConsentRecord.id)
    ).all()
    ids = [r.id for r in records]
    if ids:
        session.execute(
            delete(ConsentDocument)
            .where(ConsentDocument.consent_id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    count = 0
    for record in records:
        changed = False
        for name in ("witness", "withdrawn_by"):
            if getattr(record, name) not in (None, MARKER):
                setattr(record, name, MARKER)
                changed = True
        if record.purpose != MARKER:
            record.purpose = MARKER
            changed = True
        count += changed
    return count


ERASERS: dict[str, Callable[[Session, int, datetime], int]] = {
    "falldaten": erase_case_data,
    "entwuerfe": erase_drafts,
    "kontaktdaten": erase_contact_records,
    "benachrichtigungen": erase_notifications,
    "einwilligungen": erase_consents,
}
