"""The table view's XML round trips: read, validate and write back only what changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.process_table import NO_CANDIDATES, TableChanges, apply_changes, read_table, validate
from engine.xml_safety import parse_xml

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
C = "{http://camunda.org/schema/1.0/bpmn}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}BPMNDiagram"
FORMS = ("fallkonferenz_pruefung", "notiz")


def _c14n(node: etree._Element) -> bytes:
    return etree.tostring(node, method="c14n")


def _without(node: etree._Element, element_id: str, *attributes: str) -> bytes:
    """Canonical form of the document with the named attributes of one element removed."""
    copy = etree.fromstring(etree.tostring(node))
    target = next(e for e in copy.iter() if e.get("id") == element_id)
    for name in attributes:
        target.attrib.pop(f"{C}{name}", None)
    return _c14n(copy)


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.name)
def test_unchanged_table_gives_the_same_text_for_every_shipped_process(path):
    xml = path.read_text(encoding="utf-8")
    table = read_table(xml)
    changes = TableChanges(
        tasks={
            r.element_id: {
                "kandidaten": list(r.candidate_groups),
                "benutzer": r.candidate_users,
                "formular": r.form,
                "frist": r.due_date,
            }
            for r in table.tasks
        },
        timers={t.element_id: {"art": t.kind, "wert": t.value} for t in table.timers},
    )
    assert apply_changes(xml, changes) == xml


def test_reads_tasks_lanes_candidates_forms_due_dates_and_timers():
    table = read_table((PROCESSES / "fallkonferenz.bpmn").read_text(encoding="utf-8"))
    first = table.tasks[0]
    assert (first.element_id, first.lane, first.candidate_groups, first.form) == (
        "Task_AnfragePruefen",
        "Koordination",
        ("Koordination",),
        "fallkonferenz_pruefung",
    )
    assert first.due_date == "${frist('fallkonferenz.pruefung')}"
    assert [t.kind for t in table.timers] == ["timeDuration"]


def test_changing_a_candidate_touches_only_that_attribute_and_keeps_the_diagram():
    xml = (PROCESSES / "fallkonferenz.bpmn").read_text(encoding="utf-8")
    changes = TableChanges(
        tasks={"Task_AnfragePruefen": {"kandidaten": ["Leitung@jugendamt-soest", "Koordination"]}}
    )
    after = apply_changes(xml, changes)
    before_root, after_root = parse_xml(xml), parse_xml(after)
    task = next(e for e in after_root.iter() if e.get("id") == "Task_AnfragePruefen")
    assert task.get(f"{C}candidateGroups") == "Leitung@jugendamt-soest,Koordination"
    assert _without(before_root, "Task_AnfragePruefen", "candidateGroups") == _without(
        after_root, "Task_AnfragePruefen", "candidateGroups"
    )
    assert _c14n(next(before_root.iter(DI))) == _c14n(next(after_root.iter(DI)))
    assert after.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert read_table(after).tasks[0].candidate_groups == ("Leitung@jugendamt-soest", "Koordination")


def test_form_due_date_and_timer_round_trip():
    xml = (PROCESSES / "fallkonferenz.bpmn").read_text(encoding="utf-8")
    timer = read_table(xml).timers[0].element_id
    changes = TableChanges(
        tasks={"Task_AnfragePruefen": {"formular": "notiz", "frist": "P5D", "benutzer": "anna.meier"}},
        timers={timer: {"art": "timeCycle", "wert": "R3/P1D"}},
    )
    after = read_table(apply_changes(xml, changes))
    row = after.tasks[0]
    assert (row.form, row.due_date, row.candidate_users) == ("notiz", "P5D", "anna.meier")
    assert (after.timers[0].kind, after.timers[0].value) == ("timeCycle", "R3/P1D")
    assert '<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R3/P1D"</bpmn:timeCycle>' in apply_changes(
        xml, changes
    )
    cleared = read_table(apply_changes(xml, TableChanges(tasks={"Task_AnfragePruefen": {"frist": ""}})))
    assert cleared.tasks[0].due_date == ""


def test_commas_inside_expressions_do_not_split_candidates():
    xml = (PROCESSES / "steuerungsgruppe.bpmn").read_text(encoding="utf-8")
    rows = {r.element_id: r for r in read_table(xml).tasks}
    assert rows["Task_KoordinationWaehlen"].candidate_users == '${",".join(mitglieder)}'
    assert rows["Task_Nominierung"].candidate_groups == ("Leitung@${nominierende_organisation}",)


@pytest.mark.parametrize(
    ("field", "values", "reason"),
    [
        ("kandidaten", {"kandidaten": [], "benutzer": ""}, NO_CANDIDATES),
        ("kandidaten", {"kandidaten": ["Fachkraft@@x"]}, "Ungültige Kandidatengruppe"),
        ("kandidaten", {"kandidaten": ["Leitung@${__import__('os')}"]}, "nicht erlaubt"),
        ("benutzer", {"kandidaten": ["Koordination"], "benutzer": "anna meier"}, "kein Benutzername"),
        (
            "formular",
            {"kandidaten": ["Koordination"], "formular": "gibtsnicht"},
            "„gibtsnicht“ gibt es nicht",
        ),
        ("formular", {"kandidaten": ["Koordination"], "formular": ""}, "Bitte ein Formular wählen"),
        ("frist", {"kandidaten": ["Koordination"], "frist": "drei Tage"}, "keine gültige Frist"),
        ("frist", {"kandidaten": ["Koordination"], "frist": "morgen"}, "keine gültige Frist"),
        ("frist", {"kandidaten": ["Koordination"], "frist": "2026-02-30"}, "keine gültige Frist"),
        ("frist", {"kandidaten": ["Koordination"], "frist": "P3X"}, "keine gültige ISO-8601-Angabe"),
        ("frist", {"kandidaten": ["Koordination"], "frist": "P99999999Y"}, "zu lang"),
        ("frist", {"kandidaten": ["Koordination"], "frist": "${open('x')}"}, "„open“"),
    ],
)
def test_bad_task_values_get_a_german_error_next_to_their_field(field, values, reason):
    xml = (PROCESSES / "fallkonferenz.bpmn").read_text(encoding="utf-8")
    full = {"kandidaten": ["Koordination"], "benutzer": "", "formular": "notiz", "frist": "", **values}
    errors = validate(TableChanges(tasks={"Task_AnfragePruefen": full}), read_table(xml), FORMS)
    assert reason in errors[f"Task_AnfragePruefen-{field}"], errors


@pytest.mark.parametrize("due", ["P3D", "2026-12-31", "2026-12-01T10:00", "2026-12-01T10:00+01:00"])
def test_due_values_that_resolve_due_accepts_pass_the_table_check(due):
    xml = (PROCESSES / "fallkonferenz.bpmn").read_text(encoding="utf-8")
    full = {"kandidaten": ["Koordination"], "benutzer": "", "formular": "notiz", "frist": due}
    errors = validate(TableChanges(tasks={"Task_AnfragePruefen": full}), read_table(xml), FORMS)
    assert "Task_AnfragePruefen-frist" not in errors, errors


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("timeCycle", "R/P0D", "ohne Ende"),
        ("timeCycle", "R5000/PT1H", "höchstens 1000"),
        ("timeDuration", "", "Bitte einen Wert"),
        ("timeDate", "2026-13-01T00:00:00+01:00", "keine gültige ISO-8601-Angabe"),
        ("zauber", "P1D", "Art des Zeitgebers"),
    ],
)
def test_bad_timer_values_are_refused(kind, value, reason):
    xml = (PROCESSES / "fallkonferenz.bpmn").read_text(encoding="utf-8")
    table = read_table(xml)
    timer = table.timers[0].element_id
    errors = validate(TableChanges(timers={timer: {"art": kind, "wert": value}}), table, FORMS)
    assert reason in errors[f"{timer}-zeitgeber"]


def test_unknown_rows_are_errors_not_ignored():
    xml = (PROCESSES / "fallkonferenz.bpmn").read_text(encoding="utf-8")
    errors = validate(
        TableChanges(tasks={"erfunden": {"kandidaten": ["Koordination"]}}), read_table(xml), FORMS
    )
    assert "gibt es im Entwurf nicht" in errors["erfunden-kandidaten"]


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in after.splitlines() if line not in set(before.splitlines())]


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.name)
def test_a_change_rewrites_only_the_lines_of_the_changed_elements(path):
    xml = path.read_text(encoding="utf-8")
    table = read_table(xml)
    if not table.tasks:
        pytest.skip("no user task")
    task = table.tasks[-1]
    changes = TableChanges(
        tasks={task.element_id: {"kandidaten": ["Leitung@jugendamt-soest"], "frist": "P4D"}},
        timers={t.element_id: {"art": "timeCycle", "wert": "R2/P1D"} for t in table.timers[:1]},
    )
    after = apply_changes(xml, changes)
    assert len(after.splitlines()) == len(xml.splitlines())
    changed = _changed_lines(xml, after)
    assert len(changed) == 1 + min(1, len(table.timers)), changed
    (line,) = [line for line in changed if f'id="{task.element_id}"' in line]
    assert 'camunda:dueDate="P4D"' in line
    assert read_table(after).tasks[-1].candidate_groups == ("Leitung@jugendamt-soest",)


def test_single_quoted_attributes_with_quotes_inside_keep_their_spelling():
    xml = (PROCESSES / "kinderschutz.bpmn").read_text(encoding="utf-8")
    after = apply_changes(xml, TableChanges(tasks={"Task_Ersteinschaetzung1": {"frist": "P2D"}}))
    (line,) = _changed_lines(xml, after)
    assert """camunda:priority='${90 if dringlichkeit == "sofort" else 70}'""" in line
