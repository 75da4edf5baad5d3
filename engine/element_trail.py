"""Element visits in the audit trail: when a BPMN element became active and when it was left.

The runtime takes a :func:`snapshot` of the workflow when it restores an instance and, when it
saves, turns the difference into ``element_entered`` / ``element_left`` audit events, written in
the same transaction as the step (so they exist exactly when the step exists). Process analytics
(``engine/process_analytics.py``) reads only these rows.

What counts as a visit, per SpiffWorkflow task of an element with a ``bpmn_id``:

* entered: the task became READY, WAITING, STARTED (or ERROR) — a user task offered, a timer or
  message event waiting, a system step waiting for its result, a join waiting for other branches;
  a step that the engine passed straight through is entered and left in the same command;
* left: the task COMPLETED, or it was cancelled or dropped after it had been entered
  (``detail.abgebrochen``), e.g. a user task interrupted by a boundary timer;
* a boundary event is only "armed" while its activity runs; it counts only when it fires.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState

ENTERED = "element_entered"
LEFT = "element_left"
#: Phases of one task: not reached (or only predicted / armed), active, finished.
NOT_REACHED, ACTIVE, FINISHED = 0, 1, 2
_ACTIVE_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
_FINISHED_STATES = TaskState.COMPLETED | TaskState.CANCELLED

Snapshot = dict[UUID, tuple[int, str]]
"""Task id → (phase, element id)."""
Change = tuple[str, str, str, bool]
"""(action, element id, task id, cancelled)."""


def _element_tasks(workflow: Any) -> Iterator[Any]:
    """Tasks of BPMN elements in the workflow and its subprocesses (not Spiff's own Start/End)."""
    for each in (workflow, *workflow.subprocesses.values()):
        for task in each.tasks.values():
            if getattr(task.task_spec, "bpmn_id", None):
                yield task


def _phase(task: Any) -> int:
    state = task.state
    if state & _FINISHED_STATES:
        return FINISHED
    if state & _ACTIVE_STATES and not isinstance(task.task_spec, BoundaryEvent):
        return ACTIVE
    return NOT_REACHED


def snapshot(workflow: Any) -> Snapshot:
    """The phase of every element task now (finished tasks included, so they are never reported)."""
    return {task.id: (_phase(task), str(task.task_spec.bpmn_id)) for task in _element_tasks(workflow)}


def element_changes(before: Snapshot, workflow: Any) -> tuple[list[Change], Snapshot]:
    """Every visit that began or ended since ``before`` (entered before left for the same task),
    and the snapshot of now."""
    changes: list[Change] = []
    after: Snapshot = {}
    for task in _element_tasks(workflow):
        element = str(task.task_spec.bpmn_id)
        was, now = before.get(task.id, (NOT_REACHED, ""))[0], _phase(task)
        after[task.id] = (now, element)
        if was in (now, FINISHED):
            continue
        task_id = str(task.id)
        completed = bool(task.state & TaskState.COMPLETED)
        if was == NOT_REACHED and (now == ACTIVE or completed):
            changes.append((ENTERED, element, task_id, False))
        if now == FINISHED and (was == ACTIVE or completed):
            changes.append((LEFT, element, task_id, not completed))
        elif was == ACTIVE and now == NOT_REACHED:  # set back (not done by the engine today)
            changes.append((LEFT, element, task_id, True))
    # Active tasks that disappeared: SpiffWorkflow drops the tasks of a cancelled branch.
    changes.extend(
        (LEFT, element, str(task_id), True)
        for task_id, (phase, element) in before.items()
        if phase == ACTIVE and task_id not in after
    )
    return changes, after


__all__ = ["ENTERED", "LEFT", "Change", "Snapshot", "element_changes", "snapshot"]
