"""Small BPMN documents generated for tests and benchmarks (Camunda 7 dialect)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.sax.saxutils import quoteattr

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_{pid}" '
    'targetNamespace="http://hilfenetz.example/bpmn">\n'
    '<bpmn:process id="{pid}" name={name} isExecutable="true">\n'
)
FOOTER = "</bpmn:process>\n</bpmn:definitions>\n"


def _flow(fid: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>\n'
    return (
        f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{condition}</bpmn:conditionExpression>'
        f"</bpmn:sequenceFlow>\n"
    )


def user_task(
    tid: str, name: str, groups: str, form: str | None = None, due: str | None = None, extra: str = ""
) -> str:
    attrs = f" camunda:candidateGroups={quoteattr(groups)}"
    if form:
        attrs += f' camunda:formRef="{form}"'
    if due:
        attrs += f" camunda:dueDate={quoteattr(due)}"
    return (
        f'<bpmn:userTask id="{tid}" name={quoteattr(name)}{attrs}{extra}>'
        f"<bpmn:documentation>Bitte „{name}“ erledigen.</bpmn:documentation></bpmn:userTask>\n"
    )


def chain_bpmn(
    pid: str = "kette",
    tasks: int = 5,
    groups: str = "Fachkraft@frauenberatung-soest",
    form: str | None = "notiz",
    start_form: str | None = None,
    due: str | None = "P3D",
) -> str:
    """Start → ``tasks`` user tasks in a row → end."""
    start_attr = f' camunda:formRef="{start_form}"' if start_form else ""
    body = f'<bpmn:startEvent id="start"{start_attr}/>\n'
    previous = "start"
    for i in range(1, tasks + 1):
        body += user_task(f"aufgabe_{i}", f"Aufgabe {i}", groups, form, due)
        body += _flow(f"f{i}", previous, f"aufgabe_{i}")
        previous = f"aufgabe_{i}"
    body += '<bpmn:endEvent id="ende"/>\n' + _flow("f_end", previous, "ende")
    return HEADER.format(pid=pid, name=quoteattr(f"Kette {pid}")) + body + FOOTER


def loop_bpmn(pid: str = "schleife", iterations: int = 1000) -> str:
    """A script/gateway loop with no user task: SpiffWorkflow stalls after ~500 rounds."""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        '<bpmn:scriptTask id="init" name="Init"><bpmn:script>zaehler = 0</bpmn:script></bpmn:scriptTask>\n'
        '<bpmn:scriptTask id="schritt" name="Schritt"><bpmn:script>zaehler = zaehler + 1</bpmn:script>'
        "</bpmn:scriptTask>\n"
        '<bpmn:exclusiveGateway id="weiter" name="Fertig?" default="zurueck"/>\n'
        '<bpmn:userTask id="fertig" name="Fertig" camunda:candidateGroups="Koordination"/>\n'
        '<bpmn:endEvent id="ende"/>\n'
        + _flow("f1", "start", "init")
        + _flow("f2", "init", "schritt")
        + _flow("f3", "schritt", "weiter")
        + _flow("zurueck", "weiter", "schritt")
        + _flow("raus", "weiter", "fertig", f"zaehler &gt;= {iterations}")
        + _flow("f5", "fertig", "ende")
    )
    return HEADER.format(pid=pid, name=quoteattr("Schleife")) + body + FOOTER


def timer_bpmn(pid: str = "erinnerung", duration: str = '"P2D"') -> str:
    """A user task with an interrupting boundary timer leading to an escalation task."""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        + user_task("bearbeiten", "Bearbeiten", "Fachkraft@frauenberatung-soest", "notiz")
        + '<bpmn:boundaryEvent id="zeit_um" attachedToRef="bearbeiten" cancelActivity="true">'
        f"<bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"
        + user_task("eskalation", "Eskalation", "Leitung@frauenberatung-soest", "notiz")
        + '<bpmn:endEvent id="ende_ok"/><bpmn:endEvent id="ende_eskaliert"/>\n'
        + _flow("f1", "start", "bearbeiten")
        + _flow("f2", "bearbeiten", "ende_ok")
        + _flow("f3", "zeit_um", "eskalation")
        + _flow("f4", "eskalation", "ende_eskaliert")
    )
    return HEADER.format(pid=pid, name=quoteattr("Erinnerung")) + body + FOOTER


def script_bpmn(pid: str, script: str) -> str:
    body = (
        '<bpmn:startEvent id="start"/>\n'
        f'<bpmn:scriptTask id="skript" name="Skript"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>\n'
        + user_task("danach", "Danach", "Koordination", "notiz")
        + '<bpmn:endEvent id="ende"/>\n'
        + _flow("f1", "start", "skript")
        + _flow("f2", "skript", "danach")
        + _flow("f3", "danach", "ende")
    )
    return HEADER.format(pid=pid, name=quoteattr("Skript")) + body + FOOTER


NOTIZ_FORM = {
    "id": "notiz",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        {
            "id": "f_notiz",
            "type": "textfield",
            "key": "notiz",
            "label": "Notiz",
            "validate": {"required": True, "maxLength": 200},
        },
        {"id": "f_anzahl", "type": "number", "key": "anzahl", "label": "Anzahl", "validate": {"min": 0}},
    ],
}


#: Retention periods test processes get when they declare none (deployment insists on them).
TEST_RETENTION = {
    "falldaten": "P1Y",
    "entwuerfe": "P1M",
    "kontaktdaten": "P3M",
    "benachrichtigungen": "P6M",
    "einwilligungen": "P1Y",
}
_PROCESS_TAG = re.compile(r"<bpmn:process\b[^>]*?(?<!/)>")


def retention_properties(periods: dict[str, str] | None = None) -> str:
    return "".join(
        f'<camunda:property name="aufbewahrung.{k}" value="{v}" />'
        for k, v in (TEST_RETENTION if periods is None else periods).items()
    )


def with_retention(text: str) -> str:
    """Add the test retention periods to every process of ``text`` that declares none."""
    if "aufbewahrung." in text:
        return text

    text = re.sub(
        r"(<bpmn:process\b[^>]*?>\s*<bpmn:extensionElements>\s*<camunda:properties>)",
        lambda m: m.group(1) + retention_properties(),
        text,
    )

    def add(match: re.Match[str]) -> str:
        if re.match(r"\s*<bpmn:extensionElements>", text[match.end() :]):
            return match.group(0)  # the properties list got the periods above
        block = f"<bpmn:extensionElements><camunda:properties>{retention_properties()}"
        return f"{match.group(0)}{block}</camunda:properties></bpmn:extensionElements>"

    return _PROCESS_TAG.sub(add, text)


def write_definitions(
    root: Path, bpmn: dict[str, str], forms: dict[str, dict[str, object]] | None = None
) -> tuple[Path, Path]:
    """Write BPMN texts (file stem -> xml) and forms into ``root/processes`` and ``root/forms``.

    A process without retention periods gets :data:`TEST_RETENTION` (see :func:`with_retention`).
    """
    processes, form_dir = root / "processes", root / "forms"
    processes.mkdir(parents=True, exist_ok=True)
    form_dir.mkdir(parents=True, exist_ok=True)
    for stem, text in bpmn.items():
        (processes / f"{stem}.bpmn").write_text(with_retention(text), encoding="utf-8")
    for form in [NOTIZ_FORM, *(forms or {}).values()]:
        (form_dir / f"{form['id']}.form").write_text(json.dumps(form), encoding="utf-8")
    return processes, form_dir


def parallel_bpmn(pid: str = "parallel") -> str:
    """Two user tasks in parallel for different organisations, joined before the end."""
    body = (
        '<bpmn:startEvent id="start"/>\n<bpmn:parallelGateway id="teilen"/>\n'
        + user_task("polizei", "Polizei", "Fachkraft@kreispolizei", "notiz")
        + user_task("beratung", "Beratung", "Fachkraft@frauenberatung-soest", "notiz")
        + '<bpmn:parallelGateway id="zusammen"/>\n<bpmn:endEvent id="ende"/>\n'
        + _flow("f1", "start", "teilen")
        + _flow("f2", "teilen", "polizei")
        + _flow("f3", "teilen", "beratung")
        + _flow("f4", "polizei", "zusammen")
        + _flow("f5", "beratung", "zusammen")
        + _flow("f6", "zusammen", "ende")
    )
    return HEADER.format(pid=pid, name=quoteattr("Parallel")) + body + FOOTER


def handover_bpmn(pid: str = "uebergabe") -> str:
    """Counselling documents a first contact, then the police get the follow-up task."""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        + user_task("erstkontakt", "Erstkontakt dokumentieren", "Fachkraft@frauenberatung-soest", "notiz")
        + user_task("rueckmeldung", "Rückmeldung an die Polizei", "Fachkraft@kreispolizei", "notiz")
        + '<bpmn:endEvent id="ende"/>\n'
        + _flow("f1", "start", "erstkontakt")
        + _flow("f2", "erstkontakt", "rueckmeldung")
        + _flow("f3", "rueckmeldung", "ende")
    )
    return HEADER.format(pid=pid, name=quoteattr("Übergabe Beratung → Polizei")) + body + FOOTER


def ballot_bpmn(pid: str = "antrag", step_properties: str | None = None, after: str = "") -> str:
    """A member's application → the Steuerungsgruppe votes in the flow (system step) → outcome.

    ``after`` is a script run right after the vote (to test a failing follow-up).
    """
    properties = step_properties or (
        '<camunda:property name="aktion" value="abstimmung"/>'
        '<camunda:property name="gegenstand" value="Antrag „{notiz}“"/>'
        '<camunda:property name="frist" value="test.abstimmung"/>'
        '<camunda:property name="antragsteller_feld" value="initiator_org"/>'
        '<camunda:property name="unterlagen" value="notiz:Vorhaben, anzahl:Betrag in Euro"/>'
    )
    script = after or "geprueft = True"
    body = (
        '<bpmn:startEvent id="start"/>\n'
        + user_task("antrag", "Antrag stellen", "Fachkraft@frauenberatung-soest", "notiz")
        + '<bpmn:serviceTask id="abstimmen" name="Steuerungsgruppe stimmt ab">'
        f"<bpmn:extensionElements><camunda:properties>{properties}</camunda:properties>"
        "</bpmn:extensionElements></bpmn:serviceTask>\n"
        f'<bpmn:scriptTask id="danach" name="Danach"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>\n'
        '<bpmn:exclusiveGateway id="ergebnis" name="Angenommen?" default="f_nein"/>\n'
        + user_task("umsetzen", "Umsetzen", "Koordination", "notiz")
        + '<bpmn:endEvent id="ende_angenommen"/><bpmn:endEvent id="ende_abgelehnt"/>\n'
        + _flow("f1", "start", "antrag")
        + _flow("f2", "antrag", "abstimmen")
        + _flow("f3", "abstimmen", "danach")
        + _flow("f4", "danach", "ergebnis")
        + _flow("f_ja", "ergebnis", "umsetzen", 'abstimmung_ergebnis == "angenommen"')
        + _flow("f_nein", "ergebnis", "ende_abgelehnt")
        + _flow("f5", "umsetzen", "ende_angenommen")
    )
    return HEADER.format(pid=pid, name=quoteattr("Antrag")) + body + FOOTER
