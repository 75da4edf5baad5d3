"""Load, advance and save one instance inside the caller's transaction (never commits).

Every state change follows the same path: lock the instance row (``FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), restore the workflow, apply the change, run the engine, write
state and projections, and let the use case commit once. The final ``UPDATE`` of the instance is
conditional on the ``lock_version`` read at the start, so a lost race can never overwrite.

This is the hot path of every command, so it uses SQLAlchemy Core statements (one per table and
command, batched) rather than the ORM's unit of work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from engine.actions import ACTION_PROPERTY, STARTED_MARK, ActionContext, SystemSteps, unknown_action_message
from engine.audit_chain import note_unsealed
from engine.clock import Clock
from engine.definitions import LoadedVersion, SpecCache, SystemStep
from engine.element_trail import Snapshot, element_changes, snapshot
from engine.errors import ConflictError, HilfenetzError, NotFoundError, ScriptError
from engine.persistence.models import (
    AuditEvent,
    Kontaktdaten,
    Outbox,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    UserTask,
)
from engine.projection import TaskFacts, candidate_dicts, task_row_values
from engine.read_models import Actor
from engine.workflow_state import STATE_FORMAT, WorkflowCache, dump_state, load_state, using_clock

#: Engine passes per command before we stop; a real process needs two or three.
MAX_ADVANCE_ROUNDS = 50
#: Who gets a task whose candidate organisation does not exist.
FALLBACK_CANDIDATE = "Koordination@*"
#: Processes started by messages from processes started by messages …, over the whole chain.
MAX_MESSAGE_CHAIN = 5
#: Instances one command may start by messages (one P1 call-out starts one P1a per municipality).
MAX_MESSAGE_STARTS = 50
STUCK_REASON = (
    "Der Prozess kommt nicht weiter: Er ist nicht beendet, aber keine Aufgabe ist bereit "
    "und kein Ereignis wird erwartet. Häufige Ursache: eine Schleife mit mehr als etwa "
    "500 Durchläufen (Grenze von SpiffWorkflow). Bitte die Koordination informieren."
)
ALREADY_DONE = (
    "Diese Aufgabe wurde bereits erledigt oder ist nicht mehr aktiv. Bitte laden Sie Ihre Aufgabenliste neu."
)
CHANGED_MEANWHILE = (
    "Der Vorgang wurde gerade von jemand anderem geändert. Ihre Eingaben sind nicht "
    "verloren: Bitte laden Sie die Seite neu und prüfen Sie den aktuellen Stand."
)
_PI = cast(Table, ProcessInstance.__table__)
_UT = cast(Table, UserTask.__table__)
_KD = cast(Table, Kontaktdaten.__table__)
_TASK_COLUMNS = (
    _UT.c.id,
    _UT.c.status,
    _UT.c.assignee_id,
    _UT.c.candidates,
    _UT.c.form_id,
    _UT.c.element_id,
    _UT.c.name,
)
_INSTANCE_COLUMNS = (
    _PI.c.id,
    _PI.c.definition_id,
    _PI.c.process_key,
    _PI.c.title,
    _PI.c.status,
    _PI.c.lock_version,
    _PI.c.started_by_id,
    _PI.c.next_timer_at,
    _PI.c.message_generation,
    _PI.c.state,
    _PI.c.state_format,
)


@dataclass
class InstanceRow:
    """The instance columns a command needs (plain data, not an ORM object)."""

    id: int
    definition_id: int
    process_key: str
    title: str
    status: str
    lock_version: int
    started_by_id: int | None
    next_timer_at: datetime | None
    generation: int = 0  # how many message starts lie between this instance and a person's start


@dataclass
class Loaded:
    row: InstanceRow
    version: LoadedVersion
    workflow: BpmnWorkflow
    open_task_ids: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    started: list[int] = field(default_factory=lambda: [0])  # message starts in this command (shared)
    elements: Snapshot = field(default_factory=dict)  # element phases as last saved (element_trail)

    def audit(
        self,
        now: datetime,
        actor: Actor | None,
        action: str,
        *,
        task_id: str | None = None,
        element_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.events.append(audit_values(now, actor, action, self.row.id, task_id, element_id, detail))


def script_failure(exc: Exception, element: str | None = None) -> ScriptError:
    """Turn SpiffWorkflow's wrapped errors into one German ScriptError."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, HilfenetzError):
            return ScriptError(cause.message, element=element or cause.element)
        cause = getattr(cause, "exception", None) or cause.__cause__
    detail = getattr(exc, "message", None) or str(exc)
    task = getattr(exc, "task", None)
    element = element or (getattr(task.task_spec, "bpmn_id", None) if task is not None else None)
    return ScriptError(f"Im Prozess ist ein Ausdruck oder Skript fehlgeschlagen: {detail}", element=element)


class Runtime:
    def __init__(
        self,
        clock: Clock,
        specs: SpecCache,
        workflows: WorkflowCache,
        script_engine: Any,
        known_organisations: Callable[[], set[str]] | None = None,
        contact_grace: Callable[[], Any] | None = None,
        system_steps: SystemSteps | None = None,
    ) -> None:
        self.clock = clock
        self.specs = specs
        self.workflows = workflows
        self.script_engine = script_engine
        self.known_organisations = known_organisations
        self.contact_grace = contact_grace
        self.system_steps = system_steps

    # --- loading -------------------------------------------------------------------------
    def version(self, session: Session, definition_id: int) -> LoadedVersion:
        cached = self.specs.peek(definition_id)
        if cached is not None:
            return cached
        definition = session.get(ProcessDefinition, definition_id)
        if definition is None:
            raise NotFoundError("Prozessversion nicht gefunden.")
        return self.specs.get(
            definition.id, definition.process_key, definition.spec_json, definition.forms_json
        )

    def lock(self, session: Session, instance_id: int) -> Loaded:
        """Lock and restore an instance."""
        found = (
            session.connection()
            .execute(select(*_INSTANCE_COLUMNS).where(_PI.c.id == instance_id).with_for_update())
            .one_or_none()
        )
        if found is None:
            raise NotFoundError("Vorgang nicht gefunden.")
        return self._restore(session, found)

    def lock_task(self, session: Session, task_id: str) -> tuple[Loaded, Any]:
        """Lock and restore the instance of a user task, and read the task row, in one statement.

        The task row may predate a change that committed while we waited for the lock; that is
        harmless, because the restored state (from the locked row) decides whether the task is
        still READY.
        """
        found = (
            session.connection()
            .execute(
                select(*_INSTANCE_COLUMNS, *(c.label(f"task_{c.key}") for c in _TASK_COLUMNS))
                .join(_UT, _UT.c.instance_id == _PI.c.id)
                .where(_UT.c.id == task_id)
                .with_for_update(of=_PI)
            )
            .one_or_none()
        )
        if found is None:
            raise NotFoundError("Aufgabe nicht gefunden.")
        task = SimpleNamespace(**{c.key: getattr(found, f"task_{c.key}") for c in _TASK_COLUMNS})
        return self._restore(session, found), task

    def _restore(self, session: Session, found: Any) -> Loaded:
        row = InstanceRow(
            found.id,
            found.definition_id,
            found.process_key,
            found.title,
            found.status,
            found.lock_version,
            found.started_by_id,
            found.next_timer_at,
            found.message_generation or 0,
        )
        version = self.version(session, row.definition_id)
        workflow = self.workflows.take(row.id, row.lock_version)
        if workflow is None:
            workflow = load_state(found.state, found.state_format, version, self.script_engine)
        open_ids = {str(t.id) for t in ready_user_tasks(workflow)}
        return Loaded(row, version, workflow, open_ids, elements=snapshot(workflow))

    def create(
        self,
        session: Session,
        version: LoadedVersion,
        definition_id: int,
        title_prefix: str,
        actor: Actor | None,
        org_id: int | None,
        start_data: dict[str, Any],
        parent_id: int | None = None,
        generation: int = 0,
    ) -> Loaded:
        """Insert a new instance row and its fresh workflow (saved by :meth:`save`).

        A process whose start event waits for a message is opened at once by delivering that
        message, so a person's start and another process's message take the same path.
        """
        now = self.clock.now()
        workflow = BpmnWorkflow(version.spec, version.subprocess_specs, script_engine=self.script_engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(start_data)
        instance_id = (
            session.connection()
            .execute(
                insert(_PI)
                .values(
                    definition_id=definition_id,
                    process_key=version.process_key,
                    title="",
                    status="running",
                    state=b"",
                    state_format=STATE_FORMAT,
                    lock_version=1,
                    started_at=now,
                    started_by_id=actor.id if actor else None,
                    initiator_org_id=org_id,
                    parent_instance_id=parent_id,
                    message_generation=generation,
                )
                .returning(_PI.c.id)
            )
            .scalar_one()
        )
        row = InstanceRow(
            instance_id,
            definition_id,
            version.process_key,
            f"{title_prefix} #{instance_id}",
            "running",
            1,
            actor.id if actor else None,
            None,
            generation,
        )
        loaded = Loaded(row, version, workflow)
        self._open_message_start(loaded)
        return loaded

    def _open_message_start(self, loaded: Loaded) -> None:
        self.advance(loaded.workflow)
        for task in loaded.workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if isinstance(task.task_spec, StartEvent) and isinstance(definition, MessageEventDefinition):
                meta = {"vorgang": loaded.row.id}
                result_var = definition.result_var or "startnachricht"
                loaded.workflow.catch(BpmnEvent(definition, {"payload": meta, "result_var": result_var}))
                return

    def peek(self, session: Session, row: Any) -> BpmnWorkflow:
        """A read-only restore for views; never cached, never saved."""
        version = self.version(session, row.definition_id)
        return load_state(row.state, row.state_format, version, self.script_engine)

    # --- running -------------------------------------------------------------------------
    def advance(self, workflow: BpmnWorkflow) -> None:
        """Run engine steps and fire due timers until only user tasks and waits remain."""
        try:
            with using_clock(self.clock):
                for _ in range(MAX_ADVANCE_ROUNDS):
                    workflow.refresh_waiting_tasks()
                    workflow.do_engine_steps()
                    workflow.refresh_waiting_tasks()
                    if not workflow.get_tasks(state=TaskState.READY, manual=False):
                        return
        except HilfenetzError:
            raise
        except (SpiffWorkflowException, WorkflowException) as exc:
            raise script_failure(exc) from None

    def evaluator(self, task: Any) -> Callable[[str], Any]:
        def evaluate(expression: str) -> Any:
            try:
                return self.script_engine.evaluate(task, expression)
            except HilfenetzError:
                raise
            except Exception as exc:
                raise script_failure(exc, task.task_spec.bpmn_id) from None

        return evaluate

    # --- saving --------------------------------------------------------------------------
    def save(
        self, session: Session, loaded: Loaded, actor: Actor | None, *, completed_task: str | None = None
    ) -> list[str]:
        """Advance, then write worklist rows, audit, outbox and the instance. Returns new task ids."""
        workflow, row = loaded.workflow, loaded.row
        self.advance(workflow)
        for _ in range(MAX_ADVANCE_ROUNDS):
            if not self._run_system_steps(session, loaded, actor):
                break
            self.advance(workflow)
        outgoing = outgoing_messages(workflow)
        now = self.clock.now()
        conn = session.connection()
        created = self._sync_tasks(conn, loaded, now, completed_task)
        self._record_element_visits(loaded, now)
        status, reason, end_event = self._status(loaded, actor, now)
        if loaded.events:
            conn.execute(insert(AuditEvent), loaded.events)
            note_unsealed(session)
        values: dict[str, Any] = {
            "state": dump_state(workflow),
            "state_format": STATE_FORMAT,
            "status": status,
            "status_reason": reason,
            "title": row.title,
            "lock_version": row.lock_version + 1,
            "next_timer_at": next_timer(workflow) if status == "running" else None,
        }
        if status == "completed":
            values.update(end_event=end_event, ended_at=now)
            if row.status != "completed":
                self._shorten_contact_retention(conn, row.id, now)
        updated = conn.execute(
            update(_PI).where(_PI.c.id == row.id, _PI.c.lock_version == row.lock_version).values(**values)
        )
        if updated.rowcount != 1:
            raise ConflictError(CHANGED_MEANWHILE)
        row.lock_version += 1
        row.status = status
        for message in outgoing:
            self.start_by_message(session, loaded, message, actor)
        return created

    def _record_element_visits(self, loaded: Loaded, now: datetime) -> None:
        """Audit which elements were entered and left in this command (engine/element_trail.py)."""
        changes, loaded.elements = element_changes(loaded.elements, loaded.workflow)
        for action, element, task_id, cancelled in changes:
            detail = {"abgebrochen": True} if cancelled else None
            loaded.audit(now, None, action, task_id=task_id, element_id=element, detail=detail)

    # --- system steps (engine/actions.py) -------------------------------------------------
    def _run_system_steps(self, session: Session, loaded: Loaded, actor: Actor | None) -> bool:
        """Call the handler of every system step that was reached and not yet handled.

        Returns True when one completed, so the caller advances the workflow again.
        """
        completed = False
        for task in loaded.workflow.get_tasks(state=TaskState.STARTED):
            spec = task.task_spec
            if not isinstance(spec, SystemStep) or task.internal_data.get(STARTED_MARK):
                continue
            name = str((spec.extensions or {}).get(ACTION_PROPERTY) or "")
            handler = self.system_steps.handlers.get(name) if self.system_steps else None
            if handler is None or self.system_steps is None:
                raise ScriptError(unknown_action_message([name]), element=spec.bpmn_id)
            now = self.clock.now()
            context = ActionContext(
                session=session,
                now=now,
                actor=actor,
                instance_id=loaded.row.id,
                process_key=loaded.row.process_key,
                element_id=spec.bpmn_id,
                task_id=str(task.id),
                data=dict(task.data),
                properties=dict(spec.extensions or {}),
                fristen=self.system_steps.fristen,
                processes_dir=self.system_steps.processes_dir,
            )
            result = handler(context)
            task.internal_data[STARTED_MARK] = True
            loaded.audit(
                now,
                actor,
                "system_step",
                task_id=str(task.id),
                element_id=spec.bpmn_id,
                detail={"aktion": name, "wartet": result is None},
            )
            if result is not None:
                self.finish_system_step(loaded, task, result)
                completed = True
        return completed

    def finish_system_step(self, loaded: Loaded, task: Any, data: dict[str, Any]) -> None:
        """Complete a waiting system step with its result (the caller saves)."""
        task.data.update(data)
        with using_clock(self.clock):
            task.complete()

    def waiting_system_step(self, loaded: Loaded, task_id: str) -> Any:
        """The system step ``task_id`` if it still waits; ConflictError otherwise."""
        for task in loaded.workflow.get_tasks(state=TaskState.STARTED):
            if str(task.id) == task_id and isinstance(task.task_spec, SystemStep):
                return task
        raise ConflictError("Der Vorgang wartet an dieser Stelle nicht mehr; nichts wurde geändert.")

    def start_by_message(self, session: Session, sender: Loaded, message: Any, actor: Actor | None) -> None:
        """Start every process whose start event waits for ``message``, in this transaction.

        The message payload (a dict from ``camunda:expression``) becomes the new instance's
        start data; the new instance remembers its sender (``parent_instance_id``).
        """
        name = str(message.event_definition.name)
        payload = (message.payload or {}).get("payload")
        data = dict(payload) if isinstance(payload, dict) else {"nachricht": payload}
        generation = sender.row.generation + 1
        if generation > MAX_MESSAGE_CHAIN:
            raise ScriptError(
                f"Zu viele verkettete Prozessstarts über die Nachricht „{name}“ "
                f"(höchstens {MAX_MESSAGE_CHAIN} hintereinander)."
            )
        targets = self._definitions_started_by(session, name)
        if not targets:
            raise ScriptError(f"Kein bereitgestellter Prozess startet mit der Nachricht „{name}“.")
        for definition in targets:
            sender.started[0] += 1
            if sender.started[0] > MAX_MESSAGE_STARTS:
                raise ScriptError(
                    f"Zu viele Prozessstarts in einem Schritt (höchstens {MAX_MESSAGE_STARTS}); "
                    "nichts wurde gespeichert."
                )
            version = self.version(session, definition.id)
            child = self.create(
                session,
                version,
                definition.id,
                definition.name,
                None,
                None,
                data,
                parent_id=sender.row.id,
                generation=generation,
            )
            child.started = sender.started
            child.audit(
                self.clock.now(),
                actor,
                "instance_started_by_message",
                detail={"message": name, "von_vorgang": sender.row.id, "version": definition.version},
            )
            audit(  # the sender's own events are already written
                session,
                self.clock.now(),
                actor,
                "message_sent",
                sender.row.id,
                detail={"message": name, "an_vorgang": child.row.id},
            )
            self.save(session, child, None)

    def _definitions_started_by(self, session: Session, name: str) -> list[ProcessDefinition]:
        """The newest version of each process key whose start event waits for ``name``."""
        rows = session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.start_message == name)
            .order_by(ProcessDefinition.process_key, ProcessDefinition.version.desc())
        ).all()
        newest: dict[str, ProcessDefinition] = {}
        for row in rows:
            newest.setdefault(row.process_key, row)
        current = []
        for key, row in newest.items():
            latest = session.scalar(
                select(ProcessDefinition.id)
                .where(ProcessDefinition.process_key == key)
                .order_by(ProcessDefinition.version.desc())
                .limit(1)
            )
            if latest == row.id:
                current.append(row)
        return current

    def _shorten_contact_retention(self, conn: Any, instance_id: int, now: datetime) -> None:
        """Kontaktdaten serve the case that recorded them: once it has ended they go after a short
        grace period (for questions), unless their retention period ends earlier anyway."""
        if self.contact_grace is None:
            return
        until = now + self.contact_grace()
        conn.execute(
            update(_KD)
            .where(
                _KD.c.instance_id == instance_id, _KD.c.deleted_at.is_(None), _KD.c.retention_until > until
            )
            .values(retention_until=until)
        )

    def remember(self, loaded: Loaded) -> None:
        """After a successful commit: keep the restored workflow for the next command."""
        self.workflows.put(loaded.row.id, loaded.row.lock_version, loaded.workflow)

    def _sync_tasks(self, conn: Any, loaded: Loaded, now: datetime, completed_task: str | None) -> list[str]:
        ready = {str(t.id): t for t in ready_user_tasks(loaded.workflow)}
        gone = sorted(loaded.open_task_ids - set(ready) - {completed_task})
        if gone:
            conn.execute(update(_UT).where(_UT.c.id.in_(gone)).values(status="cancelled", completed_at=now))
            conn.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(gone)))
        rows, candidates = [], []
        for task_id, task in ready.items():
            if task_id in loaded.open_task_ids:
                continue
            facts = TaskFacts(task, self.evaluator(task), now)
            self._route_unknown_to_coordination(loaded, facts, now)
            values = task_row_values(
                conn, loaded.row.id, loaded.row.process_key, task_id, facts, now, loaded.row.title
            )
            rows.append(values)
            if values["assignee_id"] is None:
                candidates.extend(candidate_dicts(values))
        if rows:
            conn.execute(insert(_UT), rows)
            conn.execute(
                insert(Outbox),
                [
                    {
                        "created_at": now,
                        "kind": "task_created",
                        "status": "pending",
                        "attempts": 0,
                        "payload": {"task_id": r["id"]},
                    }
                    for r in rows
                ],
            )
        if candidates:
            conn.execute(insert(TaskCandidate), candidates)
        loaded.open_task_ids = set(ready)
        return [r["id"] for r in rows]

    def _route_unknown_to_coordination(self, loaded: Loaded, facts: TaskFacts, now: datetime) -> None:
        """A candidate naming an organisation that does not exist (a typo in a DMN table, an empty
        result) would leave the task with nobody; the coordinators get it instead, audited."""
        if self.known_organisations is None:
            return
        known = self.known_organisations()
        unknown = sorted(
            {k.split("@", 1)[1] for k in facts.candidate_keys if "@" in k and not k.startswith("user:")}
            - known
            - {"*"}
        )
        if not unknown:
            return
        kept = [k for k in facts.candidate_keys if k.startswith("user:") or k.split("@", 1)[1] not in unknown]
        facts.candidate_keys = sorted({*kept, FALLBACK_CANDIDATE})
        loaded.audit(
            now,
            None,
            "routing_fallback",
            element_id=facts.element_id,
            detail={"task": facts.name, "unbekannt": unknown},
        )

    def _status(
        self, loaded: Loaded, actor: Actor | None, now: datetime
    ) -> tuple[str, str | None, str | None]:
        workflow, row = loaded.workflow, loaded.row
        if workflow.is_completed() and _reached_end(workflow):
            end_event = _end_event(workflow)
            if row.status != "completed":
                loaded.audit(now, actor, "instance_completed", detail={"end_event": end_event})
            return "completed", None, end_event
        if _is_stuck(workflow):
            if row.status != "stuck":
                loaded.audit(now, actor, "instance_stuck", detail={"reason": STUCK_REASON})
            return "stuck", STUCK_REASON, None
        return "running", None, None


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Any]:
    return list(workflow.get_tasks(state=TaskState.READY, manual=True))


def next_timer(workflow: BpmnWorkflow) -> datetime | None:
    """Earliest due time among waiting timers (stored for the job runner).

    Read from each WAITING task's ``event_value``: an event-based gateway reports its pending
    event as a ``MultipleEventDefinition`` without a value, but keeps the timer's due time there.
    """
    due: list[datetime] = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            value = value.get("next")
        if not isinstance(value, str):
            continue
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            continue
        due.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return min(due) if due else None


def outgoing_messages(workflow: BpmnWorkflow) -> list[Any]:
    """Messages thrown that no task of this instance caught (drained before the state is saved,
    so a restored instance never sends them twice). Other escaping events are dropped."""
    return [
        event
        for event in workflow.get_events()
        if isinstance(event.event_definition, MessageEventDefinition) and event.event_definition.name
    ]


def waiting_messages(workflow: BpmnWorkflow) -> list[str]:
    """Names of the messages the instance waits for now (also behind an event-based gateway)."""
    names: set[str] = set()
    for task in workflow.get_tasks(state=TaskState.WAITING | TaskState.READY):
        definition = getattr(task.task_spec, "event_definition", None)
        # An event-based gateway waits with a MultipleEventDefinition holding the real ones.
        for each in [definition, *getattr(definition, "event_definitions", [])]:
            if type(each).__name__ == "MessageEventDefinition" and each.name:
                names.add(each.name)
    return sorted(names)


def _reached_end(workflow: BpmnWorkflow) -> bool:
    """True only if the process really finished.

    ``is_completed()`` walks the task tree with a depth-limited iterator (about 1000 levels, i.e.
    ~500 loop rounds); past it, a running instance looks *completed*. ``workflow.tasks`` holds
    every task regardless of depth.
    """
    return any(t.task_spec.name == "End" and t.state == TaskState.COMPLETED for t in workflow.tasks.values())


def _is_stuck(workflow: BpmnWorkflow) -> bool:
    """Not finished, and nothing the engine can see is ready, waiting or started."""
    if workflow.is_completed():
        return True  # is_completed() but no End reached: the iterator lost the tasks
    active = TaskState.READY | TaskState.WAITING | TaskState.STARTED
    return not workflow.get_tasks(state=active)


def _end_event(workflow: BpmnWorkflow) -> str | None:
    """The bpmn id of the top-level end event the instance finished at."""
    ends = [
        t
        for t in workflow.tasks.values()
        if t.state == TaskState.COMPLETED and type(t.task_spec).__name__ == "EndEvent"
    ]
    if not ends:
        return None
    return str(max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id)


def audit_values(
    now: datetime,
    actor: Actor | None,
    action: str,
    instance_id: int | None,
    task_id: str | None = None,
    element_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "at": now,
        "actor_id": actor.id if actor else None,
        "actor_name": actor.display_name if actor else "System",
        "actor_org": actor.organisation if actor else "",
        "action": action,
        "instance_id": instance_id,
        "task_id": task_id,
        "element_id": element_id,
        "detail": json.loads(json.dumps(detail or {}, default=str)),
    }


def audit(
    session: Session,
    now: datetime,
    actor: Actor | None,
    action: str,
    instance_id: int | None,
    *,
    task_id: str | None = None,
    element_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit event now (for use cases outside the instance hot path)."""
    session.connection().execute(
        insert(AuditEvent), [audit_values(now, actor, action, instance_id, task_id, element_id, detail)]
    )
    note_unsealed(session)


def ensure_open(row: Any) -> Any:
    if row is None:
        raise NotFoundError("Aufgabe nicht gefunden.")
    if row.status != "open":
        raise ConflictError(ALREADY_DONE, task=row.id)
    return row


__all__ = [
    "ALREADY_DONE",
    "CHANGED_MEANWHILE",
    "InstanceRow",
    "Loaded",
    "Runtime",
    "audit",
    "audit_values",
    "ensure_open",
    "next_timer",
    "ready_user_tasks",
    "waiting_messages",
]


def enqueue(session: Session, now: datetime, kind: str, payload: dict[str, Any]) -> None:
    """Queue a notification in the outbox, in the caller's transaction (engine/notifications.py
    delivers it once)."""
    session.add(Outbox(created_at=now, kind=kind, status="pending", attempts=0, payload=payload))
