"""Elements Hilfenetz cannot execute, named with the reason, before SpiffWorkflow parses a file.

Diagrams made with other tools (Camunda 8, Signavio, other bpmn.io-based modelers) often contain
elements that SpiffWorkflow 3.2 either ignores silently, parses into behaviour that differs from
the other tool, or that our runtime never triggers. Each is refused here with a German reason, so
the coordinator learns which element to change instead of getting a server error or a process
that silently does something else.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from engine.bpmn_structure import BPMN_NS
from engine.errors import Problem

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_B = f"{{{BPMN_NS}}}"
_C = f"{{{CAMUNDA_NS}}}"
_Z = f"{{{ZEEBE_NS}}}"
_EXECUTION_PLATFORM = "{http://camunda.org/schema/modeler/1.0}executionPlatform"
_CAMUNDA_8 = (
    "Die Datei wurde für Camunda 8 (Camunda Cloud) gespeichert; Hilfenetz führt Diagramme im "
    "Camunda-7-Format aus. Bitte im Camunda Modeler als „Camunda 7“-Diagramm anlegen."
)

#: Flow elements and artefacts that are refused wherever they stand.
UNSUPPORTED_ELEMENTS = {
    "complexGateway": "Komplexe Gateways führt SpiffWorkflow nicht aus; bitte ein inklusives oder "
    "exklusives Gateway mit Bedingungen verwenden.",
    "transaction": "Transaktionen (mit Abbruch und Kompensation) führt Hilfenetz nicht aus; bitte einen "
    "normalen Teilprozess verwenden.",
    "adHocSubProcess": "Ad-hoc-Teilprozesse führt Hilfenetz nicht aus; bitte die Aufgaben mit einem "
    "parallelen oder inklusiven Gateway modellieren.",
    "sendTask": "Sendeaufgaben führt Hilfenetz nicht aus; bitte ein sendendes Nachrichtenereignis "
    "(Zwischen- oder Endereignis) verwenden.",
    "receiveTask": "Empfangsaufgaben führt Hilfenetz nicht aus; bitte ein empfangendes "
    "Nachrichten-Zwischenereignis verwenden.",
    "dataStoreReference": "Datenspeicher gibt es in Hilfenetz nicht: alle Daten liegen im Vorgang selbst.",
    "choreographyTask": "Choreografien beschreiben Absprachen, sind aber nicht ausführbar.",
    "subChoreography": "Choreografien beschreiben Absprachen, sind aber nicht ausführbar.",
    "callChoreography": "Choreografien beschreiben Absprachen, sind aber nicht ausführbar.",
}

#: Event definitions refused on any event.
UNSUPPORTED_EVENTS = {
    "conditionalEventDefinition": "Bedingungsereignisse werden nie ausgelöst: Hilfenetz prüft Bedingungen "
    "nicht laufend; bitte ein Gateway mit Bedingung oder einen Zeitgeber verwenden.",
    "compensateEventDefinition": "Kompensation führt Hilfenetz nicht aus; bitte die Rücknahme als eigene "
    "Aufgabe modellieren.",
    "cancelEventDefinition": "Abbruchereignisse gehören zu Transaktionen, die Hilfenetz nicht ausführt.",
    "signalEventDefinition": "Signale wirken in Hilfenetz nur innerhalb eines Vorgangs, nicht wie in "
    "Camunda an alle Prozesse; bitte Nachrichten verwenden.",
}

#: Implementations from Camunda 7 that need a Java engine or an external worker.
_FOREIGN_IMPLEMENTATIONS = ("class", "delegateExpression", "expression", "type", "topic")


def is_python_script(task: etree._Element | None) -> bool:
    """A script task without a language is Python (SpiffWorkflow's default)."""
    return task is None or (task.get("scriptFormat") or "").strip().lower() in ("", "python")


def foreign_problems(root: etree._Element, filename: str) -> list[Problem]:
    """Every element of the document that Hilfenetz would not run as its author meant."""
    problems: list[Problem] = []
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag.startswith(_B):
            problems.extend(_bpmn_element(node, filename))
        elif node.tag.startswith(_Z) and not _inside_zeebe(node):
            problems.append(_zeebe(node, filename))
    if root.get(_EXECUTION_PLATFORM, "").startswith("Camunda Cloud"):
        problems.insert(0, Problem(filename, None, _CAMUNDA_8))
    return problems


def _bpmn_element(node: etree._Element, filename: str) -> Iterator[Problem]:
    kind = etree.QName(node).localname
    element = node.get("id") or _owner_id(node)
    if kind in UNSUPPORTED_ELEMENTS:
        yield Problem(filename, element, f"Element „{kind}“: {UNSUPPORTED_ELEMENTS[kind]}")
    elif kind in UNSUPPORTED_EVENTS:
        reason = f"Ereignisart „{kind}“: {UNSUPPORTED_EVENTS[kind]}"
        yield Problem(filename, _owner_id(node) or element, reason)
    elif kind == "businessRuleTask":
        yield from _business_rule_task(node, filename)
    elif kind == "serviceTask":
        yield from _service_task(node, filename)
    elif kind == "scriptTask" and not is_python_script(node):
        yield Problem(
            filename,
            element,
            f"Skriptsprache „{node.get('scriptFormat')}“: Hilfenetz führt nur Python-Skripte aus "
            '(scriptFormat="python").',
        )
    if (node.get("isForCompensation") or "").strip().lower() == "true":
        yield Problem(filename, element, "Kompensationsaufgaben führt Hilfenetz nicht aus.")


def _business_rule_task(node: etree._Element, filename: str) -> Iterator[Problem]:
    if node.get(f"{_C}decisionRef"):
        return
    used = [f"camunda:{name}" for name in _FOREIGN_IMPLEMENTATIONS if node.get(f"{_C}{name}")]
    how = f" (gefunden: {', '.join(used)})" if used else ""
    yield Problem(
        filename,
        node.get("id"),
        f"Die Geschäftsregelaufgabe braucht eine DMN-Tabelle (camunda:decisionRef){how}; andere "
        "Umsetzungen führt Hilfenetz nicht aus.",
    )


def _service_task(node: etree._Element, filename: str) -> Iterator[Problem]:
    used = [f"camunda:{name}" for name in _FOREIGN_IMPLEMENTATIONS if node.get(f"{_C}{name}")]
    if used:
        yield Problem(
            filename,
            node.get("id"),
            f"Serviceaufgabe mit {', '.join(used)}: Java-Klassen, Ausdrücke und externe Worker gibt es in "
            "Hilfenetz nicht; ein Systemschritt nennt seine Aktion in der Eigenschaft „aktion“.",
        )


def _zeebe(node: etree._Element, filename: str) -> Problem:
    return Problem(
        filename,
        _owner_id(node),
        f"Camunda-8-Erweiterung „zeebe:{etree.QName(node).localname}“ wird nicht ausgeführt: Hilfenetz "
        "versteht Diagramme im Camunda-7-Format (Namensraum camunda, Ausdrücke in Python).",
    )


def _inside_zeebe(node: etree._Element) -> bool:
    parent = node.getparent()
    return parent is not None and str(parent.tag).startswith(_Z)


def _owner_id(node: etree._Element) -> str | None:
    """The id of the nearest enclosing element that has one (the task of an extension)."""
    parent = node.getparent()
    while parent is not None:
        if parent.get("id"):
            return parent.get("id")
        parent = parent.getparent()
    return None
