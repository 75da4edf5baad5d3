"""A process as a table: user tasks (lane, candidates, form, due date) and timers, editable by keyboard.

The bpmn-js canvas cannot be used without a mouse, so the table view reads these attributes from
the BPMN XML and writes changes back with lxml. Only the changed attributes and timer texts are
touched; everything else (documentation, extensions, the diagram's DI) stays as it was. A table
submitted without changes returns the original text unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lxml import etree

from engine.assignment import parse_candidate_groups
from engine.bpmn_structure import BPMN_NS
from engine.errors import HilfenetzError, Problem
from engine.executable_rules import expression_problems, timer_reason
from engine.foreign_elements import CAMUNDA_NS
from engine.projection import due_literal_reason
from engine.xml_patch import replace_child, replace_start_tag
from engine.xml_safety import parse_xml

_B = f"{{{BPMN_NS}}}"
_C = f"{{{CAMUNDA_NS}}}"
TIMER_KINDS = ("timeDuration", "timeDate", "timeCycle")
TIMER_LABELS = {"timeDuration": "Dauer", "timeDate": "Zeitpunkt", "timeCycle": "Wiederholung"}
EVENT_LABELS = {
    "startEvent": "Startereignis",
    "intermediateCatchEvent": "Zwischenereignis",
    "boundaryEvent": "Angeheftetes Ereignis",
}
_ISO_LITERAL = re.compile(r"^(R\d*/)?P|^\d{4}-\d{2}-\d{2}")
_QUOTED = re.compile(r"""^\s*(['"])(.*)\1\s*$""", re.DOTALL)
NO_CANDIDATES = "Bitte mindestens eine Zuständigkeit wählen (Rolle, Organisation oder Person)."
#: An empty element's tag; text cannot contain "<" once serialised, attributes carry no ">".
_EMPTY_TAG = re.compile(r"(<[^<>]*?[^\s<>/])/>")
_USERNAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class TaskRow:
    element_id: str
    name: str
    lane: str
    candidate_groups: tuple[str, ...]
    candidate_users: str
    form: str
    due_date: str


@dataclass(frozen=True)
class TimerRow:
    element_id: str
    name: str
    event: str
    """``startEvent``, ``intermediateCatchEvent`` or ``boundaryEvent``."""
    attached_to: str
    kind: str
    value: str
    """What the coordinator edits: an ISO literal without its quotes, or an expression."""


@dataclass(frozen=True)
class ProcessTable:
    process_name: str
    tasks: tuple[TaskRow, ...]
    timers: tuple[TimerRow, ...]


@dataclass
class TableChanges:
    """The submitted table: per element id the raw field values (missing: unchanged)."""

    tasks: dict[str, dict[str, str | list[str]]] = field(default_factory=dict)
    timers: dict[str, dict[str, str]] = field(default_factory=dict)


def read_table(xml: str, filename: str = "prozess.bpmn") -> ProcessTable:
    root = parse_xml(xml, filename=filename)
    names = {node.get("id"): node.get("name") or "" for node in root.iter() if node.get("id")}
    lanes = _lanes(root)
    tasks = tuple(_task_row(task, lanes) for task in root.iter(f"{_B}userTask"))
    timers = tuple(_timer_row(definition, names) for definition in root.iter(f"{_B}timerEventDefinition"))
    process = next(root.iter(f"{_B}process"), None)
    name = (process.get("name") or process.get("id") or "") if process is not None else ""
    return ProcessTable(name, tasks, tuple(t for t in timers if t is not None))


def _lanes(root: etree._Element) -> dict[str, str]:
    found = {}
    for lane in root.iter(f"{_B}lane"):
        for ref in lane.findall(f"{_B}flowNodeRef"):
            found[(ref.text or "").strip()] = lane.get("name") or lane.get("id") or ""
    return found


def split_candidates(text: str) -> tuple[str, ...]:
    """``a, Rolle@${org}, b`` → its parts; commas inside ``${…}`` do not split."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "{" and current.endswith("$"):
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        if char == "," and not depth:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return tuple(p for p in parts if p)


def form_id(value: str) -> str:
    return value.removeprefix("camunda-forms:deployment:").removeprefix("embedded:deployment:")


def _task_row(task: etree._Element, lanes: Mapping[str, str]) -> TaskRow:
    element_id = task.get("id") or ""
    form = task.get(f"{_C}formRef") or task.get(f"{_C}formKey") or ""
    return TaskRow(
        element_id=element_id,
        name=task.get("name") or "",
        lane=lanes.get(element_id, ""),
        candidate_groups=split_candidates(task.get(f"{_C}candidateGroups") or ""),
        candidate_users=task.get(f"{_C}candidateUsers") or "",
        form=form_id(form),
        due_date=task.get(f"{_C}dueDate") or "",
    )


def _timer_row(definition: etree._Element, names: Mapping[str | None, str]) -> TimerRow | None:
    event = definition.getparent()
    if event is None or etree.QName(event).localname not in EVENT_LABELS:
        return None
    value_node = next((c for c in definition if isinstance(c.tag, str) and c.tag.startswith(_B)), None)
    kind = etree.QName(value_node).localname if value_node is not None else "timeDuration"
    text = (value_node.text or "") if value_node is not None else ""
    attached = event.get("attachedToRef") or ""
    return TimerRow(
        element_id=event.get("id") or "",
        name=event.get("name") or "",
        event=etree.QName(event).localname,
        attached_to=names.get(attached, attached) if attached else "",
        kind=kind if kind in TIMER_KINDS else "timeDuration",
        value=_shown(text),
    )


# --- validation ------------------------------------------------------------------------------------


def validate(changes: TableChanges, table: ProcessTable, forms: Sequence[str]) -> dict[str, str]:
    """German error per field name (``<element>-<field>``); empty when every value is usable."""
    errors: dict[str, str] = {}
    known_tasks = {row.element_id for row in table.tasks}
    known_timers = {row.element_id for row in table.timers}
    for element, values in changes.tasks.items():
        if element not in known_tasks:
            errors[f"{element}-kandidaten"] = f"Die Aufgabe „{element}“ gibt es im Entwurf nicht (mehr)."
            continue
        errors.update(_task_errors(element, values, forms))
    for element, timer in changes.timers.items():
        if element not in known_timers:
            errors[f"{element}-zeitgeber"] = f"Das Ereignis „{element}“ gibt es im Entwurf nicht (mehr)."
            continue
        reason = _timer_error(timer.get("art", ""), timer.get("wert", ""))
        if reason:
            errors[f"{element}-zeitgeber"] = reason
    return errors


def _task_errors(element: str, values: Mapping[str, str | list[str]], forms: Sequence[str]) -> dict[str, str]:
    errors = {}
    groups = _as_list(values.get("kandidaten"))
    users = str(values.get("benutzer") or "").strip()
    if not groups and not users:
        errors[f"{element}-kandidaten"] = (
            "Bitte mindestens eine Zuständigkeit wählen (Rolle, Organisation oder Person)."
        )
    for group in groups:
        reason = _group_error(group)
        if reason:
            errors[f"{element}-kandidaten"] = reason
    reason = _users_error(users)
    if reason:
        errors[f"{element}-benutzer"] = reason
    form = str(values.get("formular") or "").strip()
    if not form:
        errors[f"{element}-formular"] = "Bitte ein Formular wählen."
    elif form not in forms:
        errors[f"{element}-formular"] = f"Das Formular „{form}“ gibt es nicht."
    reason = _due_error(str(values.get("frist") or "").strip())
    if reason:
        errors[f"{element}-frist"] = reason
    return errors


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item.strip() for item in items if item.strip()]


def _group_error(group: str) -> str | None:
    if "${" in group:
        return next((p.reason for p in _expressions(group, "Zuständigkeit")), None)
    try:
        parse_candidate_groups(group)
    except HilfenetzError as exc:
        return exc.message
    return None


def _users_error(users: str) -> str | None:
    if "${" in users:
        return next((p.reason for p in _expressions(users, "Personen")), None)
    bad = [u for u in split_candidates(users) if not _USERNAME.match(u)]
    if bad:
        return f"„{bad[0]}“ ist kein Benutzername (Buchstaben, Ziffern, Punkt, Binde- und Unterstrich)."
    return None


def _expressions(text: str, what: str) -> list[Problem]:
    found: list[Problem] = []
    for expression in re.findall(r"\$\{(.*?)\}", text):
        found.extend(expression_problems("", None, expression, what))
    return found


def _due_error(value: str) -> str | None:
    if not value:
        return None
    if value.startswith("${"):
        problems = list(expression_problems("", None, value, "Frist"))
        return problems[0].reason if problems else None
    if "${" in value:
        return next((p.reason for p in _expressions(value, "Frist")), None)
    if value.upper().startswith("P"):
        reason = _timer_error("timeDuration", value)  # no longer than a timer may wait
        if reason:
            return reason.replace("Zeitgeber", "Frist")
    return due_literal_reason(value)  # and what resolve_due reads at runtime


def _timer_error(kind: str, value: str) -> str | None:
    if kind not in TIMER_KINDS:
        return "Bitte eine Art des Zeitgebers wählen (Dauer, Zeitpunkt oder Wiederholung)."
    value = value.strip()
    if not value:
        return "Bitte einen Wert eingeben, z. B. P3D (drei Tage)."
    if _ISO_LITERAL.match(value.upper()):
        try:
            return timer_reason(kind, value)
        except (ValueError, OverflowError):
            return f"„{value[:60]}“ ist keine gültige ISO-8601-Angabe (z. B. P3D, PT4H, R3/P1D)."
    problems = list(expression_problems("", None, value, "Zeitgeber"))
    return problems[0].reason if problems else None


# --- writing ---------------------------------------------------------------------------------------


def apply_changes(xml: str, changes: TableChanges, filename: str = "prozess.bpmn") -> str:
    """The XML with the table's values written in; the original text when nothing differs."""
    root = parse_xml(xml, filename=filename)
    tasks: list[etree._Element] = []
    for task in root.iter(f"{_B}userTask"):
        values = changes.tasks.get(task.get("id") or "")
        if values is not None and _write_task(task, values):
            tasks.append(task)
    timers: list[tuple[etree._Element, str, etree._Element]] = []
    for definition in root.iter(f"{_B}timerEventDefinition"):
        event = definition.getparent()
        timer = changes.timers.get(event.get("id") or "") if event is not None else None
        old = _timer_value(definition)
        old_kind = etree.QName(old).localname if old is not None else ""
        if (
            event is not None
            and timer is not None
            and _write_timer(definition, timer["art"], timer["wert"].strip())
        ):
            timers.append((event, old_kind, definition))
    if not tasks and not timers:
        return xml
    patched = _patch(xml, tasks, timers)
    return patched if patched is not None else _serialize(root, xml)


def _timer_value(definition: etree._Element) -> etree._Element | None:
    return next((c for c in definition if isinstance(c.tag, str) and c.tag.startswith(_B)), None)


def _patch(
    xml: str, tasks: list[etree._Element], timers: list[tuple[etree._Element, str, etree._Element]]
) -> str | None:
    """Edit only the changed start tags and timer texts in the original text (None: not possible)."""
    text: str | None = xml
    for task in tasks:
        text = replace_start_tag(text, task) if text is not None else None
    for event, old_kind, definition in timers:
        value = _timer_value(definition)
        if text is None or value is None or not old_kind:
            return None
        text = replace_child(text, event, old_kind, etree.QName(value).localname, value.text or "")
    return text


def _set(node: etree._Element, name: str, value: str) -> bool:
    attribute = f"{_C}{name}"
    old = node.get(attribute)
    if value:
        if old == value:
            return False
        node.set(attribute, value)
        return True
    if old is None:
        return False
    del node.attrib[attribute]
    return True


def _write_task(task: etree._Element, values: Mapping[str, str | list[str]]) -> bool:
    changed = False
    if "kandidaten" in values:
        groups = ",".join(_as_list(values["kandidaten"]))
        if split_candidates(groups) != split_candidates(task.get(f"{_C}candidateGroups") or ""):
            changed |= _set(task, "candidateGroups", groups)
    if "benutzer" in values:
        changed |= _set(task, "candidateUsers", str(values["benutzer"]).strip())
    if "formular" in values:
        changed |= _write_form(task, str(values["formular"]).strip())
    if "frist" in values:
        changed |= _set(task, "dueDate", str(values["frist"]).strip())
    return changed


def _write_form(task: etree._Element, form: str) -> bool:
    """Keep the attribute the file already uses (formRef or formKey, with its prefix)."""
    if form_id(task.get(f"{_C}formRef") or task.get(f"{_C}formKey") or "") == form:
        return False
    if task.get(f"{_C}formKey") is not None and task.get(f"{_C}formRef") is None:
        prefix = "camunda-forms:deployment:" if "deployment:" in (task.get(f"{_C}formKey") or "") else ""
        return _set(task, "formKey", prefix + form)
    return _set(task, "formRef", form)


def _write_timer(definition: etree._Element, kind: str, value: str) -> bool:
    text = f'"{value}"' if _ISO_LITERAL.match(value.upper()) else value
    current = _timer_value(definition)
    if current is not None and etree.QName(current).localname == kind and _shown(current.text) == value:
        return False
    if current is None or etree.QName(current).localname != kind:
        if current is not None:
            definition.remove(current)
        current = etree.SubElement(definition, f"{_B}{kind}")
        current.set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
    current.text = text
    return True


def _shown(text: str | None) -> str:
    """A timer text as the table shows it: an ISO literal without its quotes."""
    quoted = _QUOTED.match(text or "")
    return quoted.group(2) if quoted else (text or "").strip()


def _serialize(root: etree._Element, original: str) -> str:
    """Serialise with the original XML declaration (lxml drops it for ``encoding="unicode"``)."""
    body = etree.tostring(root.getroottree(), encoding="unicode")
    if original.count(" />") > original.count('"/>'):
        body = _EMPTY_TAG.sub(r"\1 />", body)  # bpmn-js and Camunda Modeler write "<a x="1" />"
    declaration = re.match(r"\s*<\?xml[^>]*\?>\s*", original)
    return (declaration.group(0) if declaration else "") + body + ("\n" if original.endswith("\n") else "")
