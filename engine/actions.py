"""System steps: BPMN service tasks the engine carries out itself (``camunda:property aktion``).

A ``serviceTask`` names its handler in the property ``aktion``. When the token reaches it, the
task waits (state STARTED, see :class:`engine.definitions.SystemStep`) and the runtime calls the
handler inside the same transaction as the step that reached it:

* the handler returns a dict → the service task completes at once, the dict joins the data;
* it returns ``None`` → the service task keeps waiting until the engine resumes it (a ballot of
  the Steuerungsgruppe resumes it when it closes);
* it raises a :class:`~engine.errors.HilfenetzError` → the whole step is refused, nothing saved.

Handlers receive an :class:`ActionContext`; they may use the database session, but they must not
import the instance or service layers (import-linter keeps the layering).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import ScriptError
from engine.parameters import Fristen
from engine.read_models import Actor

#: The camunda:property that names the handler of a service task.
ACTION_PROPERTY = "aktion"
#: Marks (in the task's internal data) that the handler ran and the step now waits.
STARTED_MARK = "systemschritt_gestartet"


@dataclass(frozen=True)
class ActionContext:
    session: Session
    now: datetime
    actor: Actor | None
    """Who caused the step; None when a job, timer or message did."""
    instance_id: int
    process_key: str
    element_id: str
    task_id: str
    data: Mapping[str, Any]
    properties: Mapping[str, str]
    fristen: Fristen
    processes_dir: Path

    def prop(self, name: str, default: str | None = None) -> str:
        """A camunda:property of the step; a missing required one is a modelling error."""
        value = self.properties.get(name, default)
        if value is None or not str(value).strip():
            raise ScriptError(
                f"Dem Systemschritt „{self.element_id}“ fehlt die Eigenschaft „{name}“.",
                element=self.element_id,
            )
        return str(value).strip()

    def value(self, key: str) -> Any:
        """A process variable the step needs; missing is a modelling error, not a user error."""
        if key not in self.data:
            raise ScriptError(
                f"Der Systemschritt „{self.element_id}“ braucht die Variable „{key}“, sie fehlt.",
                element=self.element_id,
            )
        return self.data[key]

    def fill(self, template: str) -> str:
        """``Förderantrag „{projekt_titel}“`` → the template with plain ``{name}`` fields from the data."""
        parts = []
        for literal, field, spec, conversion in string.Formatter().parse(template):
            parts.append(literal)
            if field is None:
                continue
            if spec or conversion or not field.isidentifier():
                raise ScriptError(
                    f"Im Systemschritt „{self.element_id}“ ist „{{{field}}}“ kein einfacher Variablenname.",
                    element=self.element_id,
                )
            parts.append(str(self.value(field)))
        return "".join(parts)


ActionHandler = Callable[[ActionContext], dict[str, Any] | None]


@dataclass(frozen=True)
class SystemSteps:
    """What the runtime needs to carry out system steps (built once by the service)."""

    handlers: Mapping[str, ActionHandler]
    fristen: Fristen
    processes_dir: Path


def unknown_action_message(names: list[str]) -> str:
    listed = ", ".join(f"„{n}“" for n in names)
    return (
        f"Unbekannter Systemschritt (aktion) {listed}; "
        "die Engine kennt ihn nicht und kann ihn nicht ausführen."
    )
