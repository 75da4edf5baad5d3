"""The element trail's bookkeeping (engine/element_trail.py) on hand-made task states.

The scenarios through the real engine are in test_process_analytics.py; these cover the cases a
process rarely shows: a task dropped from the tree, one set back, a boundary event armed and fired.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent
from SpiffWorkflow.util.task import TaskState

from engine.element_trail import ENTERED, LEFT, element_changes, snapshot


def task(element: str, state: int, *, boundary: bool = False) -> Any:
    spec: Any = object.__new__(BoundaryEvent) if boundary else SimpleNamespace()
    spec.bpmn_id = element
    return SimpleNamespace(id=uuid4(), state=state, task_spec=spec)


def workflow(*tasks: Any) -> Any:
    return SimpleNamespace(tasks={t.id: t for t in tasks}, subprocesses={})


def actions(changes: list[tuple[str, str, str, bool]]) -> list[tuple[str, str, bool]]:
    return [(action, element, cancelled) for action, element, _, cancelled in changes]


def test_entered_left_and_passed_through() -> None:
    waiting = task("aufgabe", TaskState.FUTURE)
    gateway = task("weiche", TaskState.FUTURE)
    hidden = task("", TaskState.READY)  # SpiffWorkflow's own tasks have no bpmn_id
    flow = workflow(waiting, gateway, hidden)
    before = snapshot(flow)
    waiting.state, gateway.state = TaskState.READY, TaskState.COMPLETED
    changes, after = element_changes(before, flow)
    assert actions(changes) == [
        (ENTERED, "aufgabe", False),
        (ENTERED, "weiche", False),
        (LEFT, "weiche", False),
    ]
    waiting.state = TaskState.COMPLETED
    changes, _ = element_changes(after, flow)
    assert actions(changes) == [(LEFT, "aufgabe", False)]


def test_a_dropped_or_set_back_task_is_left_as_cancelled() -> None:
    dropped, reset = task("a", TaskState.READY), task("b", TaskState.WAITING)
    flow = workflow(dropped, reset)
    before = snapshot(flow)
    del flow.tasks[dropped.id]
    reset.state = TaskState.FUTURE
    changes, after = element_changes(before, flow)
    assert sorted(actions(changes)) == [(LEFT, "a", True), (LEFT, "b", True)]
    assert dropped.id not in after and isinstance(next(iter(after)), UUID)


def test_a_boundary_event_counts_only_when_it_fires() -> None:
    armed = task("frist", TaskState.WAITING, boundary=True)
    flow = workflow(armed)
    before = snapshot(flow)
    assert element_changes(before, flow)[0] == []
    armed.state = TaskState.COMPLETED
    assert actions(element_changes(before, flow)[0]) == [(ENTERED, "frist", False), (LEFT, "frist", False)]
    armed.state = TaskState.CANCELLED  # the activity finished first: never counted
    assert element_changes(before, flow)[0] == []
