"""The element diff of the approval page (issue 5): BPMN elements and form fields added, removed,
changed — by id, with name, type and which attributes changed; layout moves are no change."""

from __future__ import annotations

import json

from engine.model_diff import ADDED, CHANGED, REMOVED, diff_change, diff_form, diff_xml
from tests.support.bpmn_factory import _flow, chain_bpmn, user_task

DI = (
    '<bpmndi:BPMNDiagram id="d" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"><bpmndi:BPMNPlane id="p" bpmnElement="kette">'
    '<bpmndi:BPMNShape id="aufgabe_1_di" bpmnElement="aufgabe_1"><dc:Bounds x="{x}" y="10" width="100" '
    'height="80"/></bpmndi:BPMNShape></bpmndi:BPMNPlane></bpmndi:BPMNDiagram>'
)


def with_layout(xml: str, x: int) -> str:
    return xml.replace("</bpmn:definitions>", DI.format(x=x) + "</bpmn:definitions>")


def by_id(changes):
    return {c.element_id: c for c in changes}


def test_bpmn_added_removed_changed_and_layout_ignored():
    old = with_layout(chain_bpmn(tasks=2), 100)
    new = old.replace('name="Aufgabe 2"', 'name="Aufgabe zwei"')
    new = new.replace('camunda:dueDate="P3D"', 'camunda:dueDate="P5D"', 1)
    new = new.replace('x="100"', 'x="400"')  # moved on the canvas: no change of meaning
    new = new.replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="aufgabe_1" targetRef="aufgabe_2"/>',
        user_task("neu", "Neuer Schritt", "Koordination@kreisjugendamt")
        + _flow("f2", "aufgabe_1", "neu")
        + _flow("f3", "neu", "aufgabe_2"),
    )
    changes = by_id(diff_xml(old, new))
    assert set(changes) == {"aufgabe_1", "aufgabe_2", "neu", "f2", "f3"}
    assert changes["aufgabe_2"].change == CHANGED and changes["aufgabe_2"].name == "Aufgabe zwei"
    renamed = {(a.name, a.old, a.new) for a in changes["aufgabe_2"].attributes}
    assert ("name", "Aufgabe 2", "Aufgabe zwei") in renamed
    assert [(a.name, a.old, a.new) for a in changes["aufgabe_1"].attributes] == [
        ("camunda:dueDate", "P3D", "P5D")
    ]
    assert changes["neu"].change == ADDED and changes["neu"].type == "userTask"
    assert ("camunda:candidateGroups", None, "Koordination@kreisjugendamt") in {
        (a.name, a.old, a.new) for a in changes["neu"].attributes
    }
    assert [(a.name, a.old, a.new) for a in changes["f2"].attributes] == [("targetRef", "aufgabe_2", "neu")]

    back = by_id(diff_xml(new, old))
    assert back["neu"].change == REMOVED and back["f3"].change == REMOVED
    assert diff_xml(old, old) == []


def test_conditions_properties_and_scripts_are_compared():
    old = chain_bpmn(tasks=1).replace(
        '<bpmn:userTask id="aufgabe_1"',
        '<bpmn:userTask id="aufgabe_1"',
    )
    prop = (
        '<bpmn:extensionElements><camunda:properties><camunda:property name="kontaktdaten" value="{v}"/>'
        "</camunda:properties></bpmn:extensionElements>"
    )
    a = old.replace("<bpmn:documentation>", prop.format(v="anzeigen") + "<bpmn:documentation>", 1)
    b = old.replace("<bpmn:documentation>", prop.format(v="nein") + "<bpmn:documentation>", 1)
    b = b.replace("Bitte „Aufgabe 1“ erledigen.", "Neue Anleitung.")
    [change] = diff_xml(a, b)
    assert change.element_id == "aufgabe_1"
    assert {(x.name, x.old, x.new) for x in change.attributes} == {
        ("Eigenschaft kontaktdaten", "anzeigen", "nein"),
        ("documentation", "Bitte „Aufgabe 1“ erledigen.", "Neue Anleitung."),
    }


def test_form_fields_by_key():
    old = {
        "id": "f",
        "components": [
            {"type": "textfield", "key": "name", "label": "Name", "id": "Field_1"},
            {"type": "checkbox", "key": "ok", "label": "Einverstanden", "validate": {"required": True}},
            {
                "type": "group",
                "id": "g",
                "components": [{"type": "textarea", "key": "notiz", "label": "Notiz"}],
            },
        ],
    }
    new = json.loads(json.dumps(old))
    new["components"][0]["label"] = "Pseudonym"
    new["components"][0]["layout"] = {"row": "Row_9"}  # the editor's layout: no change of meaning
    new["components"][1]["validate"]["required"] = False
    del new["components"][2]["components"][0]
    new["components"].append({"type": "number", "key": "anzahl", "label": "Anzahl"})
    changes = by_id(diff_form(json.dumps(old), json.dumps(new)))
    assert set(changes) == {"name", "ok", "notiz", "anzahl"}
    assert [(a.name, a.old, a.new) for a in changes["name"].attributes] == [("label", "Name", "Pseudonym")]
    assert [(a.name, a.old, a.new) for a in changes["ok"].attributes] == [
        ("validate.required", "true", "false")
    ]
    assert changes["notiz"].change == REMOVED and changes["anzahl"].change == ADDED
    assert changes["anzahl"].name == "Anzahl" and changes["anzahl"].type == "number"


def test_change_set_against_current_files():
    form = json.dumps({"id": "neu", "components": [{"type": "textfield", "key": "a", "label": "A"}]})
    diffs = diff_change(
        {"kette.bpmn": chain_bpmn(tasks=1), "neu.form": None},
        {
            "kette.bpmn": chain_bpmn(tasks=1),
            "neu.form": form,
        },
    )
    assert [(d.filename, d.is_new, len(d.changes)) for d in diffs] == [
        ("kette.bpmn", False, 0),
        ("neu.form", True, 1),
    ]
    assert diffs[1].changes[0].change == ADDED
