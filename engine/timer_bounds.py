"""The timer bounds of the check (engine/executable_rules.py) applied again when a timer value is computed.

The check can bound only quoted literals. A timer like ``${erinnerung_nach}`` or ``str('P99999999Y')``
gets its value at run time, and SpiffWorkflow's ``get_timedelta_from_start`` loops once per month of a
duration: a huge value would hang the worker. SpiffWorkflow evaluates every timer expression through the
script engine right before it parses the value, so the engine checks the value there and refuses it with a
German :class:`ScriptError` naming the element.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
)

from engine.errors import ScriptError
from engine.executable_rules import timer_reason
from engine.scripting import RestrictedScriptEngine, task_error

__all__ = ["TimerBoundedScriptEngine", "timer_value_reason"]

_KINDS = ((DurationTimerEventDefinition, "timeDuration"), (CycleTimerEventDefinition, "timeCycle"))


def timer_value_reason(kind: str, value: Any) -> str | None:
    """Why a computed duration or cycle is refused (too long, too often, unreadable), or None."""
    if not isinstance(value, str):
        return f"Der Zeitgeber ergibt {type(value).__name__} statt einer ISO-8601-Angabe (z. B. P3D)."
    try:
        return timer_reason(kind, value.strip())
    except (ValueError, OverflowError):
        return f"„{value[:60]}“ ist keine gültige ISO-8601-Angabe (z. B. P3D, PT4H, R3/P1D)."


def _timer_kind(task: Any, expression: str) -> str | None:
    """``timeDuration``/``timeCycle`` when ``expression`` is the value of one of the task's timers."""
    definition = getattr(task.task_spec, "event_definition", None)
    for each in [definition, *getattr(definition, "event_definitions", [])]:
        for cls, kind in _KINDS:
            if isinstance(each, cls) and each.expression == expression:
                return kind
    return None


class TimerBoundedScriptEngine(RestrictedScriptEngine):
    """The restricted script engine; a computed duration or cycle must stay within the check's bounds."""

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        value = super().evaluate(task, expression, external_context)
        kind = _timer_kind(task, expression)
        reason = timer_value_reason(kind, value) if kind else None
        if reason:
            element = task.task_spec.bpmn_id or task.task_spec.name
            err = ScriptError(f"Zeitgeber „{element}“: {reason}", element=element)
            raise task_error(task, err) from err
        return value
