"""Our modelling rules on top of "SpiffWorkflow can parse it": candidates, expressions, timers, gateways."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS

from engine.assignment import parse_candidate_groups
from engine.definitions import BPMN_NS, Bundle
from engine.errors import HilfenetzError, Problem
from engine.executable_rules import expression_problems
from engine.xml_safety import parse_xml

__all__ = ["lint_bundle"]

_B = f"{{{BPMN_NS}}}"
_C = f"{{{CAMUNDA_MODEL_NS}}}"
_INTERPOLATION = re.compile(r"\$\{(.*?)\}")


def lint_bundle(bundle: Bundle) -> list[Problem]:
    problems: list[Problem] = []
    for filename, text in bundle.bpmn.items():
        root = parse_xml(text, filename=filename)
        for process in root.iter(f"{_B}process"):
            problems.extend(_lint_process(filename, process))
    return problems


def _lint_process(filename: str, process: etree._Element) -> Iterator[Problem]:
    if not list(process.iter(f"{_B}startEvent")):
        yield Problem(filename, process.get("id"), "Der Prozess hat kein Startereignis.")
    if not list(process.iter(f"{_B}endEvent")):
        yield Problem(filename, process.get("id"), "Der Prozess hat kein Endereignis.")
    for task in process.iter(f"{_B}userTask"):
        yield from _lint_user_task(filename, task)
    for gateway in process.iter(f"{_B}exclusiveGateway", f"{_B}inclusiveGateway"):
        yield from _lint_gateway(filename, process, gateway)
    yield from _implicit_splits(filename, process)
    yield from _disconnected(filename, process)


def _owner_id(node: etree._Element, levels: int) -> str | None:
    """The id of the element ``levels`` up (the task that holds a script, the event of a timer)."""
    owner: etree._Element | None = node
    for _ in range(levels):
        owner = owner.getparent() if owner is not None else None
    return owner.get("id") if owner is not None else None


def _lint_user_task(filename: str, task: etree._Element) -> Iterator[Problem]:
    element = task.get("id")
    groups = task.get(f"{_C}candidateGroups")
    lane = _lane_of(task)
    if not (groups or task.get(f"{_C}candidateUsers") or task.get(f"{_C}assignee") or lane is not None):
        yield Problem(filename, element, "Die Benutzeraufgabe hat keine Zuständigkeit (candidateGroups).")
    elif not (groups or task.get(f"{_C}candidateUsers") or task.get(f"{_C}assignee")) and lane is not None:
        yield from _lane_as_candidates(filename, element, lane)
    if groups:
        static = _INTERPOLATION.sub("Platzhalter", groups)
        try:
            parse_candidate_groups(static)
        except HilfenetzError as exc:
            yield Problem(filename, element, exc.message)
        for expression in _INTERPOLATION.findall(groups):
            yield from _expression(filename, element, expression, "Zuständigkeit")
    if not (task.get(f"{_C}formRef") or task.get(f"{_C}formKey")):
        yield Problem(filename, element, "Die Benutzeraufgabe verweist auf kein Formular (formRef).")
    for attribute in ("dueDate", "followUpDate", "priority"):
        for expression in _INTERPOLATION.findall(task.get(f"{_C}{attribute}") or ""):
            yield from _expression(filename, element, expression, attribute)


def _lane_of(task: etree._Element) -> str | None:
    """The name of the lane holding the task ("" for an unnamed lane), None outside every lane."""
    root = task.getroottree().getroot()
    task_id = task.get("id")
    for ref in root.iter(f"{_B}flowNodeRef"):
        if ref.text == task_id:
            lane = ref.getparent()
            return (lane.get("name") or "").strip() if lane is not None else ""
    return None


def _lane_as_candidates(filename: str, element: str | None, lane: str) -> Iterator[Problem]:
    """Without candidateGroups the lane's name is the task's candidates (design.md §3), so it must
    read as one: a lane called "Anfragendes Mitglied" would leave the task with nobody at runtime."""
    try:
        if parse_candidate_groups(lane):
            return
    except HilfenetzError:
        pass
    yield Problem(
        filename,
        element,
        f"Die Benutzeraufgabe hat keine Zuständigkeit (candidateGroups): ihre Bahn „{lane}“ "
        "ist keine Rolle, Rolle@organisation oder @organisation.",
    )


def _expression(filename: str, element: str | None, text: str, what: str) -> Iterator[Problem]:
    yield from expression_problems(filename, element, text, what)


def _lint_gateway(filename: str, process: etree._Element, gateway: etree._Element) -> Iterator[Problem]:
    gid = gateway.get("id")
    outgoing = [f for f in process.iter(f"{_B}sequenceFlow") if f.get("sourceRef") == gid]
    if len(outgoing) < 2:
        return
    if not (gateway.get("name") or "").strip():
        yield Problem(filename, gid, "Verzweigungen mit mehreren Ausgängen brauchen eine Beschriftung.")
    default = gateway.get("default")
    for flow in outgoing:
        if flow.get("id") != default and not list(flow.iter(f"{_B}conditionExpression")):
            yield Problem(
                filename, flow.get("id"), "Ausgang einer Verzweigung ohne Bedingung und nicht Standard."
            )
        if gateway.tag == f"{_B}exclusiveGateway" and not (flow.get("name") or "").strip():
            yield Problem(
                filename,
                flow.get("id"),
                "Jeder Ausgang einer exklusiven Verzweigung braucht eine Beschriftung (z. B. „ja“ / „nein“).",
            )


#: Activities: they take part in the flow rules below like events and gateways do.
_ACTIVITIES = (
    "task",
    "userTask",
    "scriptTask",
    "serviceTask",
    "manualTask",
    "businessRuleTask",
    "callActivity",
    "subProcess",
)
#: Elements whose several outgoing flows would all be taken at once (an implicit parallel split).
_IMPLICIT_SPLITTERS = (
    *_ACTIVITIES,
    "startEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
)
#: Elements that must have an incoming (all but start events) and an outgoing (all but end events) flow.
_CONNECTED = (
    *_ACTIVITIES,
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "endEvent",
    "startEvent",
)


def _implicit_splits(filename: str, process: etree._Element) -> Iterator[Problem]:
    """bpmnlint's no-implicit-split: several outgoing flows without a gateway hide a parallel split."""
    for container in [process, *process.iter(f"{_B}subProcess")]:
        flows = [f for f in container if isinstance(f.tag, str) and f.tag == f"{_B}sequenceFlow"]
        for node in container:
            if not isinstance(node.tag, str) or etree.QName(node).localname not in _IMPLICIT_SPLITTERS:
                continue
            outgoing = [f for f in flows if f.get("sourceRef") == node.get("id")]
            if len(outgoing) > 1:
                yield Problem(
                    filename,
                    node.get("id"),
                    f"Implizite Verzweigung: {len(outgoing)} ausgehende Sequenzflüsse ohne Gateway; bitte "
                    "ein paralleles oder exklusives Gateway einfügen.",
                )


def _disconnected(filename: str, process: etree._Element) -> Iterator[Problem]:
    for container in [process, *process.iter(f"{_B}subProcess")]:
        yield from _disconnected_in(filename, container)


def _disconnected_in(filename: str, process: etree._Element) -> Iterator[Problem]:
    flows = [f for f in process if isinstance(f.tag, str) and f.tag == f"{_B}sequenceFlow"]
    targets = {f.get("targetRef") for f in flows}
    sources = {f.get("sourceRef") for f in flows}
    for node in process:
        if not isinstance(node.tag, str) or etree.QName(node).localname not in _CONNECTED:
            continue
        nid = node.get("id")
        kind = etree.QName(node).localname
        if kind != "startEvent" and nid not in targets:
            yield Problem(filename, nid, "Element ohne eingehenden Sequenzfluss (nicht verbunden).")
        if kind != "endEvent" and nid not in sources:
            yield Problem(filename, nid, "Element ohne ausgehenden Sequenzfluss (nicht verbunden).")
