"""formRef, calledElement and decisionRef name files, never paths: "../../x/geheim" would embed any
.form or .bpmn file of the server in a deployed version (engine/definitions.py REFERENCE_NAME)."""

from __future__ import annotations

import shutil

import pytest

from engine.checks import check_file
from engine.definitions import DefinitionSource
from engine.model_check import LayeredSource
from tests.support.bpmn_factory import chain_bpmn, with_retention, write_definitions


@pytest.fixture
def server(tmp_path):
    """A secret form and process outside the definition folders, reachable by "../../x/geheim"."""
    processes, forms = write_definitions(tmp_path / "a", {})
    secret = tmp_path / "x"
    secret.mkdir()
    shutil.copy(forms / "notiz.form", secret / "geheim.form")
    (secret / "geheim.bpmn").write_text(with_retention(chain_bpmn(pid="geheim")), encoding="utf-8")
    return processes, forms


@pytest.mark.parametrize("layered", [False, True])
def test_sources_find_nothing_outside_their_folders(server, layered):
    processes, forms = server
    source = LayeredSource([(processes, forms)]) if layered else DefinitionSource(processes, forms)
    assert source.read_form("../../x/geheim") is None
    assert source.find_process_file("../../x/geheim") is None
    assert source.find_decision_file('x" or id="') is None
    assert source.read_form("notiz") is not None


@pytest.mark.parametrize("layered", [False, True])
def test_a_form_path_is_a_problem_naming_the_task(server, layered):
    processes, forms = server
    path = processes / "pfad.bpmn"
    path.write_text(with_retention(chain_bpmn(pid="pfad", tasks=1, form="../../x/geheim")), encoding="utf-8")
    source = LayeredSource([(processes, forms)]) if layered else DefinitionSource(processes, forms)
    problems = check_file(path, forms, source)
    assert [(p.element, p.reason) for p in problems if "geheim" in p.reason] == [
        (
            "aufgabe_1",
            "Formular „../../x/geheim“: Der Name darf nur Buchstaben, Ziffern, „_“ und „-“ enthalten "
            "(keine Pfade).",
        )
    ]


def test_a_called_process_path_is_a_problem_naming_the_call_activity(server):
    processes, forms = server
    xml = with_retention(chain_bpmn(pid="aufruf")).replace(
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="aufgabe_1"/>',
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ruf"/>'
        '<bpmn:callActivity id="ruf" name="Ruf" calledElement="../../x/geheim"/>'
        '<bpmn:sequenceFlow id="f0" sourceRef="ruf" targetRef="aufgabe_1"/>',
    )
    path = processes / "aufruf.bpmn"
    path.write_text(xml, encoding="utf-8")
    problems = check_file(path, forms, DefinitionSource(processes, forms))
    assert [(p.element, p.reason) for p in problems if "geheim" in p.reason] == [
        (
            "ruf",
            "Aufgerufener Prozess „../../x/geheim“: Der Name darf nur Buchstaben, Ziffern, „_“ und „-“ "
            "enthalten (keine Pfade).",
        )
    ]
