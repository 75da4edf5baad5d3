"""Moving running instances to a newer process version (issue 5), with SpiffWorkflow's diff helpers.

``plan`` is the dry run: every task of the instance (done, open or predicted) whose element the
target version lacks is named — such an instance is never migrated, because its state could not be
restored against the new specs. ``apply`` swaps the specs (``migrate_workflow``): open tasks keep
their ids and are predicted again from the new version; waiting timers keep their due time. The
worklist rows of open tasks whose element changed (name, form, candidates, due date) are written
anew from the new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from SpiffWorkflow.bpmn.util.diff import WorkflowDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, delete, insert, select, update

from engine.clock import Clock
from engine.definitions import LoadedVersion, make_serializer
from engine.persistence.models import TaskCandidate, UserTask
from engine.projection import TaskFacts, candidate_dicts, task_row_values
from engine.runtime import Loaded, Runtime, ready_user_tasks
from engine.workflow_state import using_clock

_REGISTRY = make_serializer().registry
_UT = cast(Table, UserTask.__table__)
_STATES = {
    TaskState.COMPLETED: "erledigt",
    TaskState.READY: "offen",
    TaskState.WAITING: "wartend",
    TaskState.STARTED: "begonnen",
    TaskState.CANCELLED: "abgebrochen",
    TaskState.ERROR: "fehlerhaft",
}


@dataclass(frozen=True)
class Plan:
    """The dry run of one instance against one target version."""

    unmapped: tuple[str, ...]
    """German lines: tasks whose element the target lacks (any: no migration)."""
    changed_open: tuple[str, ...]
    """Open or waiting steps whose element changed: they continue under the new definition."""
    diffs: tuple[WorkflowDiff, dict[str, WorkflowDiff | None]] | None = None

    @property
    def ok(self) -> bool:
        return not self.unmapped


def _label(task: Any) -> str:
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name
    state = _STATES.get(task.state, "vorhergesagt")
    return f"„{name}“ ({getattr(spec, 'bpmn_id', None) or spec.name}, {state})"


def plan(workflow: Any, target: LoadedVersion) -> Plan:
    top, subs = diff_workflow(_REGISTRY, workflow, target.spec, target.subprocess_specs)
    unmapped = [f"Schritt {_label(t)} gibt es in der Zielversion nicht." for t in top.removed]
    changed = [_label(t) for t in top.changed if t.state in (TaskState.READY, TaskState.WAITING)]
    for sp_id, diff in subs.items():
        sub = workflow.subprocesses[sp_id]
        if diff is None:
            unmapped.append(f"Teilprozess „{sub.spec.name}“ gibt es in der Zielversion nicht.")
            continue
        unmapped.extend(
            f"Schritt {_label(t)} im Teilprozess gibt es in der Zielversion nicht." for t in diff.removed
        )
        changed.extend(_label(t) for t in diff.changed if t.state in (TaskState.READY, TaskState.WAITING))
    return Plan(tuple(unmapped), tuple(changed), (top, subs))


def apply(workflow: Any, target: LoadedVersion, planned: Plan, clock: Clock) -> set[str]:
    """Swap the workflow onto the target specs; the ids of open user tasks whose element changed.

    Only READY tasks are predicted again (their next steps come from the new version); waiting
    events keep their state, so a running timer keeps its due time instead of starting over.
    """
    assert planned.ok and planned.diffs is not None
    top, subs = planned.diffs
    changed = {str(t.id) for t in top.changed}
    with using_clock(clock):
        migrate_workflow(top, workflow, target.spec, reset_mask=TaskState.READY)
        workflow.subprocess_specs = dict(target.subprocess_specs)
        for sp_id, diff in subs.items():
            assert diff is not None
            sub = workflow.subprocesses[sp_id]
            changed.update(str(t.id) for t in diff.changed)
            migrate_workflow(diff, sub, target.subprocess_specs[sub.spec.name], reset_mask=TaskState.READY)
    return changed


def refresh_open_rows(conn: Any, runtime: Runtime, loaded: Loaded, changed: set[str], now: datetime) -> None:
    """Write the worklist rows of open tasks whose element changed from the new version (same ids:
    claims and saved drafts stay), with the routing and assignee lookup of a normal step: a
    candidate naming an unknown organisation goes to the Koordination, a named assignee is looked up."""
    for task in ready_user_tasks(loaded.workflow):
        task_id = str(task.id)
        if task_id not in changed or task_id not in loaded.open_task_ids:
            continue
        facts = TaskFacts(task, runtime.evaluator(task), now)
        row = conn.execute(
            select(_UT.c.assignee_id, _UT.c.created_at).where(_UT.c.id == task_id)
        ).one_or_none()
        if row is None:
            continue
        runtime._route_unknown_to_coordination(loaded, facts, now)  # the same routing as _sync_tasks
        fresh = task_row_values(
            conn, loaded.row.id, loaded.row.process_key, task_id, facts, row.created_at, loaded.row.title
        )
        keys = ("name", "instructions", "form_id", "candidates", "priority", "due_at", "follow_up_at")
        values = {key: fresh[key] for key in keys}
        # a user the new version names takes the task; otherwise a claim stays
        values["assignee_id"] = fresh["assignee_id"] if facts.assignee else row.assignee_id
        conn.execute(update(_UT).where(_UT.c.id == task_id).values(**values))
        conn.execute(delete(TaskCandidate).where(TaskCandidate.task_id == task_id))
        if values["assignee_id"] is None:
            rows = candidate_dicts(fresh)
            if rows:
                conn.execute(insert(TaskCandidate), rows)
