"""Reading drafts safely and checking them in memory (issue 5): file names, hostile content, the
minimal new process, and a change set's files lying over the shipped ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.definitions import DefinitionSource
from engine.errors import InvalidDefinitionError
from engine.model_check import build_change, check_change
from engine.model_drafts import (
    decode_upload,
    new_form_json,
    new_process_xml,
    split_filename,
    validate_content,
)
from tests.support.bpmn_factory import chain_bpmn, write_definitions

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("fallkonferenz.bpmn", ("bpmn", "fallkonferenz")),
        ("C:\\x\\tabelle_1.dmn", ("dmn", "tabelle_1")),
        ("ordner/notiz.FORM", ("form", "notiz")),
    ],
)
def test_file_names(name, expected):
    assert split_filename(name) == expected


@pytest.mark.parametrize(
    "name", ["x.exe", "x.bpmn.exe", "Groß.bpmn", ".bpmn", "a b.form", "", "x" * 70 + ".bpmn"]
)
def test_bad_file_names_are_refused_in_german(name):
    with pytest.raises(InvalidDefinitionError) as refused:
        split_filename(name)
    assert "Datei" in refused.value.message


@pytest.mark.parametrize(
    "kind, content, words",
    [
        ("bpmn", "", "leer"),
        ("bpmn", "   ", "leer"),
        ("bpmn", "Hallo", "wohlgeformt"),
        ("bpmn", '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "ENTITY"),
        ("bpmn", '<?xml-stylesheet href="x"?><definitions/>', "Verarbeitungsanweisung"),
        ("bpmn", '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>', "kein BPMN"),
        ("dmn", '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>', "keine DMN"),
        ("form", "{", "kein gültiges JSON"),
        ("form", "[1]", "kein form-js-Formular"),
        ("form", '{"components": [NaN]}', "NaN"),
        ("form", "[" * 100_000 + "]" * 100_000, "verschachtelt"),
    ],
)
def test_unreadable_or_hostile_content_is_refused(kind, content, words):
    with pytest.raises(InvalidDefinitionError) as refused:
        validate_content(kind, f"x.{kind}", content)
    text = refused.value.message + " ".join(p.reason for p in refused.value.problems)
    assert words.lower() in text.lower()


def test_uploads_must_be_text():
    with pytest.raises(InvalidDefinitionError, match="leer"):
        decode_upload("x.bpmn", b"  \n")
    with pytest.raises(InvalidDefinitionError, match="UTF-8"):
        decode_upload("x.bpmn", b"\xff\xfe\x00<")
    with pytest.raises(InvalidDefinitionError, match="zu groß"):
        decode_upload("x.bpmn", b"a" * 2_000_001)
    assert decode_upload("x.bpmn", "\ufeff<x/>".encode()) == "<x/>"


def test_new_process_and_form_pass_the_check_against_the_shipped_files():
    shipped = DefinitionSource(REPO / "processes", REPO / "forms")
    change = {
        "nachsorge.bpmn": new_process_xml("nachsorge", 'Nachsorge & "Rückblick"'),
        "leer.form": new_form_json("leer"),
    }
    assert check_change(change, {}, shipped) == []
    [bundle] = build_change({"nachsorge.bpmn": change["nachsorge.bpmn"]}, {}, shipped)
    assert bundle.process_key == "nachsorge" and bundle.name == 'Nachsorge & "Rückblick"'
    assert dict(bundle.retention).keys() >= {"falldaten", "kontaktdaten"}


def test_layers_change_over_approved_over_shipped(tmp_path):
    shipped = DefinitionSource(*write_definitions(tmp_path, {"kette": chain_bpmn(tasks=1, form="antwort")}))
    form = {"id": "antwort", "components": [{"type": "textfield", "key": "a", "label": "A"}]}
    problems = check_change({"kette.bpmn": (tmp_path / "processes" / "kette.bpmn").read_text()}, {}, shipped)
    assert [(p.element, "antwort" in p.reason) for p in problems] == [("aufgabe_1", True)]
    approved = {"antwort.form": json.dumps(form)}
    assert (
        check_change({"kette.bpmn": (tmp_path / "processes" / "kette.bpmn").read_text()}, approved, shipped)
        == []
    )
    broken = {
        "antwort.form": json.dumps({"id": "antwort", "components": [{"type": "raketenwerfer", "key": "x"}]})
    }
    assert check_change(broken, approved, shipped)  # the change set wins over the approved file
    [bundle] = build_change({"antwort.form": json.dumps(form)}, {}, shipped)  # the process using the form
    assert bundle.process_key == "kette" and json.loads(bundle.forms["antwort"]) == form
