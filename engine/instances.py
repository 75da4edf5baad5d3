"""Use cases that change process instances. Each opens one transaction and commits once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.anonymity.guard import AUDIT_ACTION as ANONYMITY_OVERRIDE
from engine.anonymity.guard import AnonymityGuard
from engine.assignment import may_start, user_keys
from engine.clock import Clock
from engine.directory import actor_of, effective_identity
from engine.errors import ConflictError, InvalidSubmissionError, NotFoundError, NotPermittedError, ScriptError
from engine.forms import CheckedSubmission, check_draft, check_submission
from engine.kontaktdaten import ContactSubmission, contact_field_keys, split_contact_data, store_contact_data
from engine.persistence.database import Database
from engine.persistence.models import (
    Organisation,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    User,
    UserTask,
)
from engine.projection import candidate_dicts, drop_candidates
from engine.read_models import Actor
from engine.runtime import (
    ALREADY_DONE,
    CHANGED_MEANWHILE,
    Loaded,
    Runtime,
    audit,
    ensure_open,
    waiting_messages,
)
from engine.workflow_state import using_clock


@dataclass(frozen=True)
class Completion:
    instance_id: int
    new_task_ids: tuple[str, ...]


_UT = cast(Table, UserTask.__table__)


@contextmanager
def conflicts_as_409() -> Iterator[None]:
    """A lost race (version check, lock timeout) becomes a ConflictError with a plain message."""
    try:
        yield
    except OperationalError as exc:
        text = str(exc).lower()
        if any(s in text for s in ("locked", "could not obtain lock", "deadlock", "could not serialize")):
            raise ConflictError(CHANGED_MEANWHILE) from None
        raise


class Instances:
    def __init__(
        self,
        db: Database,
        runtime: Runtime,
        clock: Clock,
        form_context: Callable[[Session], dict[str, Any]],
        contact_retention: Callable[[datetime], datetime] | None = None,
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.clock = clock
        self.form_context = form_context
        self.contact_retention = contact_retention or (lambda now: now)

    # --- start ---------------------------------------------------------------------------
    def start(self, actor: Actor, process_key: str, data: Mapping[str, Any]) -> int:
        with conflicts_as_409(), self.db.write() as session:
            definition = latest_definition(session, process_key)
            if not may_start(definition.starter_groups, actor):
                raise NotPermittedError("Sie dürfen diesen Prozess nicht starten.", process=process_key)
            version = self.runtime.version(session, definition.id)
            form = version.forms.get(definition.start_form or "")
            checked = self._validate(session, form, data, {})
            cleaned, contact = split_contact_data(form, checked.data)
            start_data = {**cleaned, "initiator_user": actor.username, "initiator_org": actor.organisation}
            start_data["kontaktdaten_erfasst"] = contact is not None
            org_id = session.scalar(select(Organisation.id).where(Organisation.slug == actor.organisation))
            loaded = self.runtime.create(
                session, version, definition.id, definition.name, actor, org_id, start_data
            )
            self._store_contact(session, contact, loaded.row.id, None, actor)
            loaded.audit(self.clock.now(), actor, "instance_started", detail={"version": definition.version})
            if checked.guard.overridden:
                loaded.audit(self.clock.now(), actor, ANONYMITY_OVERRIDE, detail=checked.guard.audit_detail())
            self.runtime.save(session, loaded, actor)
            session.commit()
            self.runtime.remember(loaded)
            return loaded.row.id

    # --- complete ------------------------------------------------------------------------
    def complete(self, actor: Actor, task_id: str, data: Mapping[str, Any]) -> Completion:
        """Validate and complete a user task; returns the instance and the tasks it created."""
        with conflicts_as_409(), self.db.write() as session:
            conn = session.connection()
            loaded, task_row = self.runtime.lock_task(session, task_id)
            instance_id = loaded.row.id
            row = ensure_open(task_row)
            self._check_may_work(session, actor, row)
            task = _ready_task(loaded, task_id)
            _check_four_eyes(session, actor, instance_id, task)
            form = loaded.version.forms.get(row.form_id or "")
            checked = self._validate(session, form, data, dict(task.data))
            cleaned, contact = split_contact_data(form, checked.data)
            if contact is not None:
                cleaned["kontaktdaten_erfasst"] = True
            self._store_contact(session, contact, instance_id, task_id, actor)
            task.data.update(cleaned)
            with using_clock(self.clock):  # run() also refreshes timers waiting in other branches
                task.run()
            now = self.clock.now()
            conn.execute(
                update(_UT)
                .where(_UT.c.id == task_id)
                .values(
                    status="completed",
                    completed_at=now,
                    completed_by_id=actor.id,
                    draft=None,
                    assignee_id=row.assignee_id or actor.id,
                )
            )
            if row.assignee_id is None:
                conn.execute(delete(TaskCandidate).where(TaskCandidate.task_id == task_id))
            loaded.audit(
                now,
                actor,
                "task_completed",
                task_id=task_id,
                element_id=row.element_id,
                detail={"task": row.name, "fields": sorted(cleaned)},
            )
            if checked.guard.overridden:
                loaded.audit(
                    now,
                    actor,
                    ANONYMITY_OVERRIDE,
                    task_id=task_id,
                    element_id=row.element_id,
                    detail=checked.guard.audit_detail(),
                )
            created = self.runtime.save(session, loaded, actor, completed_task=task_id)
            session.commit()
            self.runtime.remember(loaded)
            return Completion(instance_id, tuple(created))

    def save_draft(self, actor: Actor, task_id: str, data: Mapping[str, Any]) -> None:
        """Store unvalidated input on the server: only the form's own fields, in their shapes, and
        only after the anonymity guard has seen them, as on completion."""
        with conflicts_as_409(), self.db.write() as session:
            row = ensure_open(session.get(UserTask, task_id))
            self._check_may_work(session, actor, row)
            version = self.runtime.version(session, _definition_id(session, row))
            form = version.forms.get(row.form_id or "")
            # only what the guard has seen is stored; contact data never sit in a draft
            row.draft, guard = check_draft(form, data, leave_out=contact_field_keys(form))
            _audit_draft_override(session, self.clock.now(), actor, row, guard)
            audit(
                session,
                self.clock.now(),
                actor,
                "draft_saved",
                row.instance_id,
                task_id=row.id,
                element_id=row.element_id,
            )
            session.commit()

    # --- claim / release / reassign ------------------------------------------------------
    def claim(self, actor: Actor, task_id: str) -> None:
        with conflicts_as_409(), self.db.write() as session:
            row = ensure_open(session.get(UserTask, task_id))
            if row.assignee_id is not None:
                holder = session.get(User, row.assignee_id)
                raise ConflictError(
                    f"Die Aufgabe wurde bereits von {holder.display_name if holder else '—'} übernommen.",
                    task=task_id,
                )
            self._check_may_work(session, actor, row)
            taken = session.execute(
                update(UserTask)
                .where(
                    UserTask.id == task_id,
                    UserTask.assignee_id.is_(None),
                    UserTask.status == "open",
                )
                .values(assignee_id=actor.id)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise ConflictError("Die Aufgabe wurde gerade von jemand anderem übernommen.", task=task_id)
            drop_candidates(session, task_id)
            audit(
                session,
                self.clock.now(),
                actor,
                "task_claimed",
                row.instance_id,
                task_id=task_id,
                element_id=row.element_id,
            )
            session.commit()

    def release(self, actor: Actor, task_id: str) -> None:
        with conflicts_as_409(), self.db.write() as session:
            row = ensure_open(session.get(UserTask, task_id))
            ids, _ = effective_identity(session, actor, self.clock.now())
            if row.assignee_id not in ids and not _leads_org_of(session, actor, row.assignee_id):
                raise NotPermittedError("Sie können nur eigene Aufgaben zurückgeben.", task=task_id)
            row.assignee_id = None
            session.flush()
            session.execute(insert(TaskCandidate), candidate_dicts(_values(row)))
            audit(
                session,
                self.clock.now(),
                actor,
                "task_released",
                row.instance_id,
                task_id=task_id,
                element_id=row.element_id,
            )
            session.commit()

    def reassign(self, actor: Actor, task_id: str, username: str) -> None:
        """A team lead (Leitung) hands a task to a colleague of the same organisation."""
        with conflicts_as_409(), self.db.write() as session:
            row = ensure_open(session.get(UserTask, task_id))
            if not actor.has_role("Leitung"):
                raise NotPermittedError("Nur eine Leitung kann Aufgaben neu zuweisen.", task=task_id)
            target = session.scalars(
                select(User).where(User.username == username, User.active.is_(True))
            ).first()
            if target is None or target.organisation.slug != actor.organisation:
                raise NotPermittedError(
                    "Aufgaben können nur innerhalb der eigenen Organisation zugewiesen werden.", task=task_id
                )
            target_actor = actor_of(target)
            _, keys = effective_identity(session, target_actor, self.clock.now())
            if not keys & set(row.candidates.split(",")):
                raise NotPermittedError(
                    f"{target.display_name} ist für diese Aufgabe nicht zuständig "
                    "(Rolle oder Organisation passt nicht).",
                    task=task_id,
                )
            self._check_may_work(session, actor, row, lead_override=True)
            row.assignee_id = target.id
            drop_candidates(session, task_id)
            audit(
                session,
                self.clock.now(),
                actor,
                "task_reassigned",
                row.instance_id,
                task_id=task_id,
                element_id=row.element_id,
                detail={"to": target.display_name},
            )
            session.commit()

    # --- events --------------------------------------------------------------------------
    def send_message(
        self, actor: Actor, instance_id: int, name: str, payload: Mapping[str, Any] | None = None
    ) -> None:
        with conflicts_as_409(), self.db.write() as session:
            loaded = self.runtime.lock(session, instance_id)
            self.check_may_view(session, actor, loaded.row)
            if name not in waiting_messages(loaded.workflow):
                raise ConflictError(f"Der Vorgang wartet derzeit nicht auf „{name}“.")
            # Camunda message handling expects this dict shape; the payload lands in `result_var`.
            event = BpmnEvent(
                MessageEventDefinition(name), {"payload": dict(payload or {}), "result_var": name}
            )
            with using_clock(self.clock):
                loaded.workflow.send_event(event)
            loaded.audit(self.clock.now(), actor, "message_received", detail={"message": name})
            self.runtime.save(session, loaded, actor)
            session.commit()
            self.runtime.remember(loaded)

    def fire_due_timers(self, limit: int = 50) -> int:
        """Advance every instance whose next timer is due; returns how many were advanced."""
        now = self.clock.now()
        with self.db.read() as session:
            due = session.scalars(
                select(ProcessInstance.id)
                .where(
                    ProcessInstance.status == "running",
                    ProcessInstance.next_timer_at < now,  # SpiffWorkflow fires when due < now
                )
                .order_by(ProcessInstance.next_timer_at)
                .limit(limit)
            ).all()
        return sum(self.fire_timer(instance_id, now) for instance_id in due)

    def fire_timer(self, instance_id: int, now: datetime | None = None) -> int:
        """Advance one instance if its next timer is due (1) or do nothing (0) — the one code path
        of the embedded runner and the Celery task ``fire_timer``: the instance is locked and
        ``next_timer_at`` re-checked, so a duplicate or late delivery changes nothing."""
        now = now or self.clock.now()
        try:
            return self._fire_timer(instance_id, now)
        except (ConflictError, NotFoundError):
            return 0  # changed meanwhile (the next round looks again) or gone
        except ScriptError as exc:
            self._mark_failed(instance_id, now, exc)
            return 0

    def _fire_timer(self, instance_id: int, now: datetime) -> int:
        with conflicts_as_409(), self.db.write() as session:
            # Lock the row and look before restoring the workflow: a second delivery (the
            # scheduler's redispatch during a backlog) then costs one short query, not a restore.
            due = session.execute(
                select(ProcessInstance.status, ProcessInstance.next_timer_at)
                .where(ProcessInstance.id == instance_id)
                .with_for_update()
            ).one_or_none()
            if due is None or due.status != "running" or due.next_timer_at is None:
                return 0  # gone, or another runner got there first
            if due.next_timer_at >= now:
                # Not due (any more): a duplicate after the timer fired, or published a moment early
                # because the scheduler's clock runs ahead of ours. Release the mark, so the next
                # scheduler tick publishes it again when due instead of after the redispatch.
                session.execute(
                    update(ProcessInstance)
                    .where(ProcessInstance.id == instance_id)
                    .values(timer_dispatched_for=None, timer_dispatched_at=None)
                )
                session.commit()
                return 0
            loaded = self.runtime.lock(session, instance_id)
            loaded.audit(now, None, "timer_fired")
            self.runtime.save(session, loaded, None)
            session.commit()
            self.runtime.remember(loaded)
            return 1

    def _mark_failed(self, instance_id: int, now: datetime, exc: ScriptError) -> None:
        """A timer whose follow-up fails must not block the others: the state stays as it was,
        the instance shows the German reason and waits for a person (no endless retries)."""
        with self.db.write() as session:
            _record_failure(
                session, instance_id, now, f"Fehler nach Fristablauf ({exc.element or 'Prozess'})", exc
            )
            session.commit()

    # --- system steps (engine/actions.py) ----------------------------------------------------
    def resume_system_step(
        self, session: Session, instance_id: int, task_id: str, data: dict[str, Any], actor: Actor | None
    ) -> Loaded | None:
        """Continue a waiting system step with its result, inside the caller's transaction.

        Returns the saved instance (to remember after commit), or None when the instance no
        longer waits there. If what follows fails, the caller's own change (e.g. the vote that
        closed a ballot) still commits: the instance keeps its state and shows the German reason.
        """
        now = self.clock.now()
        savepoint = session.begin_nested()
        try:
            loaded = self.runtime.lock(session, instance_id)
            task = self.runtime.waiting_system_step(loaded, task_id)
            self.runtime.finish_system_step(loaded, task, data)
            loaded.audit(
                now,
                actor,
                "system_step_resumed",
                task_id=task_id,
                element_id=task.task_spec.bpmn_id,
                detail={"ergebnis": {k: v for k, v in data.items() if isinstance(v, str | int | bool)}},
            )
            self.runtime.save(session, loaded, actor)
        except ConflictError:
            savepoint.rollback()
            return None
        except ScriptError as exc:
            savepoint.rollback()
            _record_failure(
                session, instance_id, now, f"Fehler beim Fortsetzen ({exc.element or 'Prozess'})", exc
            )
            return None
        savepoint.commit()
        return loaded

    def _store_contact(
        self,
        session: Session,
        contact: ContactSubmission | None,
        instance_id: int,
        task_id: str | None,
        actor: Actor,
    ) -> None:
        if contact is None:
            return
        now = self.clock.now()
        store_contact_data(
            session,
            contact,
            instance_id=instance_id,
            task_id=task_id,
            actor=actor,
            now=now,
            retention_until=self.contact_retention(now),
        )

    # --- checks --------------------------------------------------------------------------
    def _check_may_work(
        self, session: Session, actor: Actor, row: Any, *, lead_override: bool = False
    ) -> None:
        own = user_keys(actor.username, actor.organisation, actor.roles)
        candidates = set(row.candidates.split(","))
        if row.assignee_id == actor.id or (row.assignee_id is None and candidates & set(own)):
            return  # the common case needs no look-up of absences
        ids, keys = effective_identity(session, actor, self.clock.now())
        if row.assignee_id is not None:
            if row.assignee_id in ids or (lead_override and _leads_org_of(session, actor, row.assignee_id)):
                return
            raise NotPermittedError("Diese Aufgabe ist einer anderen Person zugewiesen.", task=row.id)
        if lead_override and actor.has_role("Leitung") and f"*@{actor.organisation}" in _org_keys(row):
            return
        if not keys & candidates:
            raise NotPermittedError("Sie sind für diese Aufgabe nicht zuständig.", task=row.id)

    def check_may_view(self, session: Session, actor: Actor, row: Any) -> None:
        """Involved: is or was a candidate or assignee of one of its tasks; in processes that are
        not confidential also whoever started it and the coordinators."""
        confidential = session.scalar(
            select(ProcessDefinition.confidential).where(ProcessDefinition.id == row.definition_id)
        )
        if not confidential and (
            row.started_by_id == actor.id
            or actor.has_role("Koordination")
            or actor.has_role("Administration")
        ):
            return  # in a confidential case, reporting it does not make one part of it
        ids, keys = effective_identity(session, actor, self.clock.now())
        for task in session.scalars(select(UserTask).where(UserTask.instance_id == row.id)):
            if (
                task.assignee_id in ids
                or task.completed_by_id in ids
                or keys & set(task.candidates.split(","))
            ):
                return
        raise NotFoundError("Vorgang nicht gefunden.")

    def _validate(
        self, session: Session, form: Any, data: Mapping[str, Any], task_data: dict[str, Any]
    ) -> CheckedSubmission:
        if form is None:
            return CheckedSubmission({}, AnonymityGuard())
        if not isinstance(data, Mapping):
            raise InvalidSubmissionError("Die Formulardaten sind ungültig.", {})
        context = {**task_data, **self.form_context(session)}
        return check_submission(form, data, context=context)


def _audit_draft_override(
    session: Session, now: datetime, actor: Actor, row: Any, guard: AnonymityGuard
) -> None:
    if guard.overridden:
        audit(
            session,
            now,
            actor,
            ANONYMITY_OVERRIDE,
            row.instance_id,
            task_id=row.id,
            element_id=row.element_id,
            detail={**guard.audit_detail(), "entwurf": True},
        )


def _check_four_eyes(session: Session, actor: Actor, instance_id: int, task: Any) -> None:
    """``<camunda:property name="vier_augen_mit" value="Task_X"/>`` on a user task: whoever
    completed Task_X in this instance may not complete this one (e.g. two specialists, § 8a)."""
    other = (getattr(task.task_spec, "extensions", None) or {}).get("vier_augen_mit")
    if not other:
        return
    name = session.scalar(
        select(UserTask.name)
        .where(
            UserTask.instance_id == instance_id,
            UserTask.element_id == str(other),
            UserTask.completed_by_id == actor.id,
        )
        .limit(1)
    )
    if name is not None:
        raise NotPermittedError(
            f"Vier-Augen-Prinzip: Diese Aufgabe muss eine andere Person erledigen als „{name}“."
        )


def _values(row: UserTask) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in _UT.columns}


def _org_keys(row: Any) -> set[str]:
    keys = set()
    for key in row.candidates.split(","):
        if "@" in key and not key.startswith("user:"):
            keys.add("*@" + key.split("@", 1)[1])
    return keys


def _leads_org_of(session: Session, actor: Actor, user_id: int | None) -> bool:
    if user_id is None or not actor.has_role("Leitung"):
        return False
    user = session.get(User, user_id)
    return user is not None and user.organisation.slug == actor.organisation


def _ready_task(loaded: Loaded, task_id: str) -> Any:
    task = loaded.workflow.get_task_from_id(UUID(task_id))
    if task is None or task.state != TaskState.READY:
        raise ConflictError(ALREADY_DONE, task=task_id)
    return task


def _definition_id(session: Session, row: UserTask) -> int:
    definition_id = session.scalar(
        select(ProcessInstance.definition_id).where(ProcessInstance.id == row.instance_id)
    )
    if definition_id is None:
        raise NotFoundError("Vorgang nicht gefunden.")
    return int(definition_id)


def latest_definition(session: Session, process_key: str) -> ProcessDefinition:
    definition = session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_key == process_key)
        .order_by(ProcessDefinition.version.desc())
    ).first()
    if definition is None:
        raise NotFoundError(f"Prozess „{process_key}“ ist nicht bereitgestellt.", process=process_key)
    return definition


def _record_failure(session: Session, instance_id: int, now: datetime, prefix: str, exc: ScriptError) -> None:
    reason = f"{prefix} ({exc.element or 'Prozess'}): {exc.message}"
    session.execute(
        update(ProcessInstance)
        .where(ProcessInstance.id == instance_id)
        .values(status="error", status_reason=reason, next_timer_at=None)
    )
    audit(
        session, now, None, "instance_error", instance_id, element_id=exc.element, detail={"reason": reason}
    )
