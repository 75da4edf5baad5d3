"""BPMN 2.0 structure, checked before SpiffWorkflow sees a file.

The official XSD is not shipped, so this checks what matters for execution and what SpiffWorkflow
would otherwise report as a Python error: the root element and namespace, a process to run, ids
on every element that needs one, unique ids, and that every reference (sequence flow source and
target, default flow, boundary host, message, lane member) names an element that exists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from lxml import etree

from engine.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_B = f"{{{BPMN_NS}}}"

#: BPMN elements that must carry an id because flows, lanes or the engine refer to them.
NEEDS_ID = frozenset(
    {
        "process",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "callActivity",
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "businessRuleTask",
        "sendTask",
        "receiveTask",
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "complexGateway",
        "sequenceFlow",
        "message",
        "lane",
    }
)

#: ``(element, attribute, what it must name)`` for the single-id references we follow.
_REFERENCES = (
    ("sequenceFlow", "sourceRef", "Quelle"),
    ("sequenceFlow", "targetRef", "Ziel"),
    ("exclusiveGateway", "default", "Standardfluss"),
    ("inclusiveGateway", "default", "Standardfluss"),
    ("boundaryEvent", "attachedToRef", "Aufgabe, an der das Ereignis hängt"),
    ("messageEventDefinition", "messageRef", "Nachricht"),
)


def structure_problems(root: etree._Element, filename: str) -> list[Problem]:
    """Every structural problem of a parsed BPMN document (empty: SpiffWorkflow may try it)."""
    if root.tag != f"{_B}definitions":
        return [Problem(filename, None, _wrong_root(root))]
    if not list(root.iter(f"{_B}process")):
        return [Problem(filename, None, "Die Datei enthält keinen Prozess (bpmn:process).")]
    problems = list(_missing_ids(root, filename))
    problems.extend(_duplicate_ids(root, filename))
    problems.extend(_dangling_references(root, filename))
    problems.extend(_not_executable(root, filename))
    return problems


def _wrong_root(root: etree._Element) -> str:
    name = etree.QName(root)
    namespace = f" im Namensraum „{name.namespace}“" if name.namespace else " ohne Namensraum"
    return (
        f"Keine BPMN-2.0-Datei: Das Wurzelelement ist „{name.localname}“{namespace}; erwartet wird "
        f"„definitions“ im Namensraum „{BPMN_NS}“."
    )


def _bpmn_elements(root: etree._Element) -> Iterator[etree._Element]:
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.startswith(_B):
            yield node


def _missing_ids(root: etree._Element, filename: str) -> Iterator[Problem]:
    for node in _bpmn_elements(root):
        kind = etree.QName(node).localname
        if kind in NEEDS_ID and not (node.get("id") or "").strip():
            name = node.get("name")
            label = f" „{name}“" if name else ""
            yield Problem(filename, None, f"Ein Element vom Typ „{kind}“{label} hat keine id.")


#: Containers whose id may repeat one of their elements' ids: SpiffWorkflow keys elements per process.
_CONTAINERS = frozenset({f"{_B}definitions", f"{_B}process", f"{_B}collaboration"})


def _duplicate_ids(root: etree._Element, filename: str) -> Iterator[Problem]:
    counts = Counter(
        node.get("id")
        for node in root.iter()
        if isinstance(node.tag, str) and node.tag not in _CONTAINERS and node.get("id")
    )
    for element_id, count in sorted((k, v) for k, v in counts.items() if k and v > 1):
        yield Problem(
            filename, element_id, f"Die id „{element_id}“ ist {count}-mal vergeben; sie muss eindeutig sein."
        )


def _dangling_references(root: etree._Element, filename: str) -> Iterator[Problem]:
    ids = {node.get("id") for node in root.iter() if isinstance(node.tag, str) and node.get("id")}
    for kind, attribute, what in _REFERENCES:
        for node in root.iter(f"{_B}{kind}"):
            ref = node.get(attribute)
            owner = node.get("id") or _parent_id(node)
            if ref is None and attribute in ("sourceRef", "targetRef"):
                yield Problem(filename, owner, f"Dem Sequenzfluss fehlt die {what} ({attribute}).")
            elif ref is not None and ref not in ids:
                yield Problem(filename, owner, f"{what} „{ref}“ ({attribute}) gibt es in der Datei nicht.")
    for node in root.iter(f"{_B}flowNodeRef"):
        member = (node.text or "").strip()
        if member not in ids:
            reason = f"Die Bahn nennt das Element „{member}“, das es nicht gibt."
            yield Problem(filename, _parent_id(node), reason)


def _parent_id(node: etree._Element) -> str | None:
    parent = node.getparent()
    return parent.get("id") if parent is not None else None


def _not_executable(root: etree._Element, filename: str) -> Iterator[Problem]:
    """Exports from documentation tools mark their processes so; running them would surprise."""
    for process in root.iter(f"{_B}process"):
        if (process.get("isExecutable") or "").strip().lower() == "false":
            yield Problem(
                filename,
                process.get("id"),
                'Der Prozess ist als nicht ausführbar markiert (isExecutable="false", typisch für '
                "Exporte aus Dokumentationswerkzeugen); bitte im Modellierer „ausführbar“ setzen.",
            )
