"""The rules behind ``hilfenetz check`` one by one: structure, modelling rules, sandbox, timers and
message payloads; each names the element and gives a German reason."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import pytest

from engine.bpmn_structure import structure_problems
from engine.definitions import refusals
from engine.executable_rules import executable_problems
from engine.modelling_rules import _lint_process
from engine.xml_safety import parse_xml
from tests.support.bpmn_factory import FOOTER, HEADER, _flow, chain_bpmn, user_task

B = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
GROUP = "Fachkraft@frauenberatung-soest"


def process(body: str) -> str:
    return HEADER.format(pid="regel", name=quoteattr("Regel")) + body + FOOTER


def lint(xml: str) -> list[tuple[str | None, str]]:
    root = parse_xml(xml)
    return [(p.element, p.reason) for p in _lint_process("regel.bpmn", next(root.iter(f"{B}process")))]


def refused(xml: str) -> list[tuple[str | None, str]]:
    return [(p.element, p.reason) for p in refusals(parse_xml(xml), "regel.bpmn")]


def test_clean_chain_has_no_problems():
    assert refused(chain_bpmn()) == [] and lint(chain_bpmn()) == []


def test_implicit_split_is_named():
    body = (
        '<bpmn:startEvent id="start"/>'
        + user_task("a", "A", GROUP, "notiz")
        + user_task("b", "B", GROUP, "notiz")
        + user_task("c", "C", GROUP, "notiz")
        + '<bpmn:endEvent id="ende"/>'
        + _flow("f1", "start", "a")
        + _flow("f2", "a", "b")
        + _flow("f3", "a", "c")
        + _flow("f4", "b", "ende")
        + _flow("f5", "c", "ende")
    )
    assert [e for e, r in lint(process(body)) if "Implizite Verzweigung" in r] == ["a"]


def test_exclusive_gateway_needs_a_label_and_labelled_conditional_exits():
    body = (
        '<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="weiche" default="nein"/>'
        + user_task("a", "A", GROUP, "notiz")
        + '<bpmn:endEvent id="ende"/>'
        + _flow("f1", "start", "weiche")
        + _flow("ja", "weiche", "a", "x &gt; 1")
        + _flow("nein", "weiche", "ende")
        + _flow("f4", "a", "ende")
    )
    problems = lint(process(body))
    assert ("weiche", "Verzweigungen mit mehreren Ausgängen brauchen eine Beschriftung.") in problems
    assert {e for e, r in problems if "braucht eine Beschriftung" in r} == {"ja", "nein"}


@pytest.mark.parametrize(
    ("old", "new", "element", "reason"),
    [
        ('<bpmn:endEvent id="ende"/>', "<bpmn:endEvent/>", None, "„endEvent“ hat keine id"),
        ('sourceRef="aufgabe_5"', "", "f_end", "fehlt die Quelle"),
        ('targetRef="ende"', 'targetRef="nirgends"', "f_end", "„nirgends“ (targetRef)"),
        (
            '<bpmn:endEvent id="ende"/>',
            '<bpmn:endEvent id="ende"/><bpmn:endEvent id="aufgabe_1"/>',
            "aufgabe_1",
            "2-mal",
        ),
        ('isExecutable="true"', 'isExecutable="false"', "regel", "nicht ausführbar"),
    ],
)
def test_structure_problems(old, new, element, reason):
    xml = chain_bpmn(pid="regel").replace(old, new, 1)
    problems = [(p.element, p.reason) for p in structure_problems(parse_xml(xml), "regel.bpmn")]
    assert any(e == element and reason in r for e, r in problems), problems


def test_structure_follows_defaults_boundaries_messages_and_lanes():
    xml = process(
        '<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="g" name="G" default="weg"/>'
        '<bpmn:boundaryEvent id="b" attachedToRef="fehlt"/>'
        '<bpmn:intermediateCatchEvent id="m"><bpmn:messageEventDefinition messageRef="Msg"/>'
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:laneSet id="ls"><bpmn:lane id="l" name="L"><bpmn:flowNodeRef>geist</bpmn:flowNodeRef>'
        "</bpmn:lane></bpmn:laneSet>"
    )
    reasons = " ".join(p.reason for p in structure_problems(parse_xml(xml), "regel.bpmn"))
    for ref in ("„weg“ (default)", "„fehlt“ (attachedToRef)", "„Msg“ (messageRef)", "„geist“"):
        assert ref in reasons


def test_root_must_be_bpmn_definitions_with_a_process():
    dmn = '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d"/>'
    assert "Keine BPMN-2.0-Datei" in structure_problems(parse_xml(dmn), "x.bpmn")[0].reason
    empty = '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>'
    assert "keinen Prozess" in structure_problems(parse_xml(empty), "x.bpmn")[0].reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("[gemeinde]", "muss ein Wörterbuch sein"),
        ("{1: gemeinde}", "kein Variablenname"),
        ("{'mit leerzeichen': 1}", "kein Variablenname"),
        ("{**daten}", "kein Variablenname"),
        ("{'a': open('x')}", "„open“"),
    ],
)
def test_message_payload_needs_a_variable_name_per_value(payload, reason):
    xml = process(
        '<bpmn:startEvent id="start"/><bpmn:intermediateThrowEvent id="senden">'
        f'<bpmn:messageEventDefinition messageRef="M" camunda:expression={quoteattr(payload)}/>'
        '</bpmn:intermediateThrowEvent><bpmn:endEvent id="ende"/>'
        + _flow("f1", "start", "senden")
        + _flow("f2", "senden", "ende")
    ).replace("</bpmn:definitions>", '<bpmn:message id="M" name="m"/></bpmn:definitions>')
    problems = executable_problems(parse_xml(xml), "regel.bpmn")
    assert [p.element for p in problems] == ["senden"] and reason in problems[0].reason


def test_good_payload_and_result_variable_pass():
    xml = process(
        '<bpmn:intermediateCatchEvent id="warten"><bpmn:messageEventDefinition messageRef="M" '
        'camunda:resultVariable="antwort"/></bpmn:intermediateCatchEvent>'
        '<bpmn:intermediateThrowEvent id="senden"><bpmn:messageEventDefinition messageRef="M" '
        "camunda:expression=\"{'gemeinde': gemeinde, 'anzahl': len(kinder)}\"/></bpmn:intermediateThrowEvent>"
    )
    assert executable_problems(parse_xml(xml), "regel.bpmn") == []
    bad = xml.replace('camunda:resultVariable="antwort"', 'camunda:resultVariable="2x"')
    assert "kein gültiger Variablenname" in executable_problems(parse_xml(bad), "regel.bpmn")[0].reason


@pytest.mark.parametrize(
    ("kind", "value", "ok"),
    [
        ("timeCycle", "R3/PT1H", True),
        ("timeCycle", "R3/2026-01-01T08:00:00+01:00/P1D", True),
        ("timeCycle", "R3/2026-01-01T08:00:00/P1D", False),
        ("timeCycle", "R1001/PT1H", False),
        ("timeCycle", "R2/PT30S", False),
        ("timeDuration", "P100Y", True),
        ("timeDuration", "P101Y", False),
        ("timeDuration", "P999999999D", False),
        ("timeDuration", "PT", False),
        ("timeDate", "2026-12-24T18:00:00+01:00", True),
    ],
)
def test_timer_values(kind, value, ok):
    xml = process(
        f'<bpmn:intermediateCatchEvent id="warten"><bpmn:timerEventDefinition><bpmn:{kind}>"{value}"'
        f"</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    problems = executable_problems(parse_xml(xml), "regel.bpmn")
    assert (problems == []) is ok, problems
    assert all(p.element == "warten" and p.reason.startswith("Zeitgeber: ") for p in problems)


@pytest.mark.parametrize(
    ("script", "ok"),
    [
        ("x = 0\nwhile True:\n    x += 1\n    if x > 3:\n        break", True),
        ("x = 0\nwhile True:\n    for i in range(3):\n        break", False),
        ("def f(n):\n    return n + 1\ny = f(1)", True),
        ("y = sorted(set([3, 1]))", True),
        ("y = frist('x')", True),
        ("y = compile('1', 'x', 'eval')", False),
        ("y = type(1)", False),
    ],
)
def test_script_rules(script, ok):
    xml = process(
        f'<bpmn:scriptTask id="s"><bpmn:script>{script.replace(">", "&gt;")}</bpmn:script></bpmn:scriptTask>'
    )
    problems = executable_problems(parse_xml(xml), "regel.bpmn")
    assert (problems == []) is ok, problems


def _task_in_lane(lane: str, groups: str = "") -> str:
    attribute = f' camunda:candidateGroups="{groups}"' if groups else ""
    return process(
        f'<bpmn:laneSet id="ls"><bpmn:lane id="l" name={quoteattr(lane)}>'
        "<bpmn:flowNodeRef>a</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
        '<bpmn:startEvent id="start"/>'
        f'<bpmn:userTask id="a" name="A"{attribute} camunda:formKey="notiz"/>'
        '<bpmn:endEvent id="ende"/>' + _flow("f1", "start", "a") + _flow("f2", "a", "ende")
    )


@pytest.mark.parametrize("lane", ["Koordination", "Fachkraft@frauenberatung-soest", "@jugendamt-soest"])
def test_a_lane_that_names_candidates_is_enough(lane):
    assert [r for _, r in lint(_task_in_lane(lane)) if "Zuständigkeit" in r] == []


@pytest.mark.parametrize("lane", ["Anfragendes Mitglied", "Koordination / Steuerungsgruppe", ""])
def test_a_lane_that_names_no_role_leaves_the_task_without_candidates(lane):
    problems = [(e, r) for e, r in lint(_task_in_lane(lane)) if "Zuständigkeit" in r]
    assert problems == [
        (
            "a",
            "Die Benutzeraufgabe hat keine Zuständigkeit (candidateGroups): ihre Bahn "
            f"„{lane}“ ist keine Rolle, Rolle@organisation oder @organisation.",
        )
    ]


def test_candidate_groups_overrule_a_lane_that_names_no_role():
    xml = _task_in_lane("Anfragendes Mitglied", groups="Koordination")
    assert [r for _, r in lint(xml) if "Zuständigkeit" in r] == []


def _task_with(attribute: str, value: str) -> str:
    body = (
        '<bpmn:startEvent id="start"/>'
        + user_task("a", "A", GROUP, form="notiz", extra=f" camunda:{attribute}={quoteattr(value)}")
        + '<bpmn:endEvent id="ende"/>'
        + _flow("f1", "start", "a")
        + _flow("f2", "a", "ende")
    )
    return process(body)


@pytest.mark.parametrize("attribute", ["dueDate", "followUpDate"])
@pytest.mark.parametrize("value", ["morgen", "drei Tage", "P3X", "2026-02-30", "#{frist}"])
def test_a_due_date_that_resolve_due_cannot_read_is_a_problem(attribute, value):
    problems = [(e, r) for e, r in refused(_task_with(attribute, value)) if attribute in r]
    assert problems == [
        (
            "a",
            f"{attribute}: „{value}“ ist keine gültige Frist; erlaubt sind eine Dauer (z. B. P3D), "
            "ein Datum (z. B. 2026-12-31) oder ein Ausdruck ${…}.",
        )
    ]


@pytest.mark.parametrize("attribute", ["dueDate", "followUpDate"])
@pytest.mark.parametrize("value", ["P3D", "2026-12-31", "2026-12-01T10:00+01:00", "${frist}", "P${tage}D"])
def test_due_dates_that_resolve_due_reads_pass(attribute, value):
    xml = _task_with(attribute, value)
    assert [r for _, r in refused(xml) + lint(xml) if attribute in r] == []
