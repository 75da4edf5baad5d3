"""Instance state: SpiffWorkflow's serialization *without* the spec, a format version, migrations,
and a small in-memory cache of restored workflows.

The spec of a version is stored once (``process_definition.spec_json``) and restored once per
process (:class:`engine.definitions.SpecCache`); an instance's state holds only its tasks and data.

The workflow cache avoids the deserialization on the next command of the same instance: an entry
is valid only for the ``lock_version`` it was saved with, and is *taken out* while a command runs,
so two threads never share one workflow object and a failed command leaves no stale entry.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from engine.clock import Clock, SystemClock
from engine.definitions import LoadedVersion

#: Our own state format; bump it and add a function to MIGRATIONS when the stored shape changes.
STATE_FORMAT = 1

#: format -> function that upgrades a state dict from that format to format + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], None]] = {}


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Writes the spec's *name* only and restores with spec objects handed in by the caller."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: dict[str, Any] | None = None
    ) -> BpmnWorkflow:
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_state_serializer() -> BpmnWorkflowSerializer:
    config = deepcopy(CAMUNDA_CONFIG)
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_STATE_SERIALIZER = _make_state_serializer()


def dump_state(workflow: BpmnWorkflow) -> bytes:
    dct = _STATE_SERIALIZER.to_dict(workflow)
    dct["serializer_version"] = _STATE_SERIALIZER.VERSION
    return json.dumps(dct, separators=(",", ":"), cls=_STATE_SERIALIZER._encoder_cls).encode("utf-8")


def load_state(blob: bytes, state_format: int, version: LoadedVersion, script_engine: Any) -> BpmnWorkflow:
    """Restore a workflow; re-attach the script engine (SpiffWorkflow does not serialize it)."""
    dct = json.loads(blob, cls=_STATE_SERIALIZER.json_decoder_cls)
    for fmt in range(state_format, STATE_FORMAT):
        MIGRATIONS[fmt](dct)
    dct.pop("serializer_version", None)
    workflow: BpmnWorkflow = _STATE_SERIALIZER.registry.restore(
        dct, spec=version.spec, subprocess_specs=version.subprocess_specs
    )
    workflow.script_engine = script_engine
    return workflow


class WorkflowCache:
    """Restored workflows keyed by instance id, valid for exactly one ``lock_version``."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def take(self, instance_id: int, lock_version: int) -> BpmnWorkflow | None:
        with self._lock:
            found = self._items.pop(instance_id, None)
        if found is None or found[0] != lock_version:
            return None
        return found[1]

    def put(self, instance_id: int, lock_version: int, workflow: BpmnWorkflow) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._items[instance_id] = (lock_version, workflow)
            self._items.move_to_end(instance_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


# --- SpiffWorkflow's timers read the wall clock; route them through the injected clock. ---

_SYSTEM_CLOCK = SystemClock()
_CURRENT_CLOCK: contextvars.ContextVar[Clock] = contextvars.ContextVar("hilfenetz_clock")


class _ClockedDatetime(datetime):
    """``datetime`` whose ``now()`` asks the clock of the running command."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _ClockedDatetime:
        current = _CURRENT_CLOCK.get(_SYSTEM_CLOCK).now()
        moved = current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)
        return (
            cls.fromtimestamp(moved.timestamp(), tz)
            if tz is not None
            else cls(
                moved.year, moved.month, moved.day, moved.hour, moved.minute, moved.second, moved.microsecond
            )
        )


spiff_timer.datetime = _ClockedDatetime


@contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    token = _CURRENT_CLOCK.set(clock)
    try:
        yield
    finally:
        _CURRENT_CLOCK.reset(token)
