"""Load, advance and save one instance inside the caller's transaction (never commits).

Every state change follows the same path: lock the instance row (``FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite, the version column everywhere), restore the workflow, apply the
change, run the engine, write state and projections, and let the use case commit once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.clock import Clock
from engine.definitions import LoadedVersion, SpecCache
from engine.errors import ConflictError, HilfenetzError, NotFoundError, ScriptError
from engine.persistence.models import AuditEvent, Outbox, ProcessDefinition, ProcessInstance, UserTask
from engine.projection import TaskFacts, drop_candidates, new_task_row, next_timer, ready_user_tasks
from engine.read_models import Actor
from engine.workflow_state import STATE_FORMAT, WorkflowCache, dump_state, load_state, using_clock

#: Engine passes per command before we call an instance stuck instead of looping forever.
MAX_ADVANCE_ROUNDS = 50
STUCK_REASON = ("Der Prozess kommt nicht weiter: Er ist nicht beendet, aber keine Aufgabe ist bereit "
                "und kein Ereignis wird erwartet. Häufige Ursache: eine Schleife mit mehr als etwa "
                "500 Durchläufen (Grenze von SpiffWorkflow). Bitte die Koordination informieren.")


@dataclass
class Loaded:
    row: ProcessInstance
    version: LoadedVersion
    workflow: BpmnWorkflow


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
    def __init__(self, clock: Clock, specs: SpecCache, workflows: WorkflowCache,
                 script_engine: Any) -> None:
        self.clock = clock
        self.specs = specs
        self.workflows = workflows
        self.script_engine = script_engine

    # --- loading -------------------------------------------------------------------------
    def version(self, session: Session, definition_id: int) -> LoadedVersion:
        cached = self.specs.peek(definition_id)
        if cached is not None:
            return cached
        definition = session.get(ProcessDefinition, definition_id)
        if definition is None:
            raise NotFoundError("Prozessversion nicht gefunden.")
        return self.specs.get(definition.id, definition.process_key, definition.spec_json,
                              definition.forms_json)

    def lock(self, session: Session, instance_id: int) -> Loaded:
        row = session.scalars(
            select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise NotFoundError("Vorgang nicht gefunden.")
        version = self.version(session, row.definition_id)
        workflow = self.workflows.take(row.id, row.lock_version)
        if workflow is None:
            workflow = load_state(row.state, row.state_format, version, self.script_engine)
        return Loaded(row, version, workflow)

    def peek(self, session: Session, row: ProcessInstance) -> BpmnWorkflow:
        """A read-only restore for views; never cached, never saved."""
        version = self.version(session, row.definition_id)
        return load_state(row.state, row.state_format, version, self.script_engine)

    def new_workflow(self, version: LoadedVersion) -> BpmnWorkflow:
        return BpmnWorkflow(version.spec, version.subprocess_specs, script_engine=self.script_engine)

    # --- running -------------------------------------------------------------------------
    def advance(self, workflow: BpmnWorkflow) -> None:
        """Run engine steps and fire due timers until only user tasks and waits remain."""
        try:
            with using_clock(self.clock):
                for _ in range(MAX_ADVANCE_ROUNDS):
                    workflow.refresh_waiting_tasks()
                    workflow.do_engine_steps()
                    if not workflow.get_tasks(state=TaskState.READY, manual=False):
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
    def save(self, session: Session, loaded: Loaded, actor: Actor | None, *, completed_task: str | None = None,
             ) -> list[UserTask]:
        """Advance, then write state, status, next timer and worklist rows. Returns new tasks."""
        workflow, row = loaded.workflow, loaded.row
        self.advance(workflow)
        now = self.clock.now()
        new_tasks = self._sync_tasks(session, loaded, now, completed_task)
        self._update_status(session, row, workflow, actor, now)
        row.state = dump_state(workflow)
        row.state_format = STATE_FORMAT
        row.next_timer_at = next_timer(workflow) if row.status == "running" else None
        return new_tasks

    def remember(self, loaded: Loaded) -> None:
        """After a successful commit: keep the restored workflow for the next command."""
        self.workflows.put(loaded.row.id, loaded.row.lock_version, loaded.workflow)

    def _sync_tasks(self, session: Session, loaded: Loaded, now: datetime,
                    completed_task: str | None) -> list[UserTask]:
        ready = {str(t.id): t for t in ready_user_tasks(loaded.workflow)}
        open_rows = session.scalars(select(UserTask).where(
            UserTask.instance_id == loaded.row.id, UserTask.status == "open")).all()
        known = {r.id for r in open_rows}
        for r in open_rows:
            if r.id not in ready and r.id != completed_task:
                r.status = "cancelled"
                r.completed_at = now
                drop_candidates(session, r.id)
        created = []
        for task_id, task in ready.items():
            if task_id in known:
                continue
            facts = TaskFacts(task, self.evaluator(task), now)
            row = new_task_row(session, loaded.row.id, loaded.row.process_key, task, facts, now,
                               loaded.row.title)
            created.append(row)
            session.execute(insert(Outbox), [{"created_at": now, "kind": "task_created", "status": "pending",
                                              "attempts": 0, "payload": {"task_id": row.id}}])
        return created

    def _update_status(self, session: Session, row: ProcessInstance, workflow: BpmnWorkflow,
                       actor: Actor | None, now: datetime) -> None:
        if workflow.is_completed() and _reached_end(workflow):
            if row.status != "completed":
                row.status, row.ended_at = "completed", now
                row.end_event = _end_event(workflow)
                audit(session, now, actor, "instance_completed", row.id, detail={"end_event": row.end_event})
            return
        if _is_stuck(workflow):
            if row.status != "stuck":
                row.status, row.status_reason = "stuck", STUCK_REASON
                audit(session, now, actor, "instance_stuck", row.id, detail={"reason": STUCK_REASON})
            return
        row.status, row.status_reason = "running", None


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
    ends = [t for t in workflow.tasks.values()
            if t.state == TaskState.COMPLETED and type(t.task_spec).__name__ == "EndEvent"]
    if not ends:
        return None
    return str(max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id)


def audit(session: Session, now: datetime, actor: Actor | None, action: str, instance_id: int | None,
          *, task_id: str | None = None, element_id: str | None = None,
          detail: dict[str, Any] | None = None) -> None:
    session.execute(insert(AuditEvent), [{
        "at": now, "actor_id": actor.id if actor else None,
        "actor_name": actor.display_name if actor else "System", "action": action,
        "instance_id": instance_id, "task_id": task_id, "element_id": element_id,
        "detail": json.loads(json.dumps(detail or {}, default=str))}])


def ensure_open(row: UserTask | None) -> UserTask:
    if row is None:
        raise NotFoundError("Aufgabe nicht gefunden.")
    if row.status != "open":
        raise ConflictError("Diese Aufgabe wurde bereits erledigt oder ist nicht mehr aktiv. "
                            "Bitte laden Sie Ihre Aufgabenliste neu.", task=row.id)
    return row
