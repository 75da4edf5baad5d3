"""Dry run and migration of a running workflow onto a new version (issue 5), with SpiffWorkflow's
diff helpers: steps that exist in the new version map, removed ones are named, a changed open step
keeps its task id."""

from __future__ import annotations

import re

from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.clock import ManualClock
from engine.definitions import HilfenetzParser, LoadedVersion
from engine.instance_migration import apply, plan
from engine.scripting import RestrictedScriptEngine
from tests.support.bpmn_factory import _flow, chain_bpmn, user_task, with_retention

ENGINE = RestrictedScriptEngine()


def version(xml: str, number: int) -> LoadedVersion:
    parser = HilfenetzParser()
    parser.add_bpmn_xml(etree.fromstring(with_retention(xml).encode()), filename="kette.bpmn")
    return LoadedVersion(number, "kette", parser.get_spec("kette"), parser.get_subprocess_specs("kette"), {})


def running(v: LoadedVersion, completed: int = 0) -> BpmnWorkflow:
    workflow = BpmnWorkflow(v.spec, v.subprocess_specs, script_engine=ENGINE)
    workflow.do_engine_steps()
    for _ in range(completed):
        workflow.get_tasks(state=TaskState.READY, manual=True)[0].run()
        workflow.do_engine_steps()
    return workflow


def ready(workflow: BpmnWorkflow) -> list[tuple[str, str]]:
    return [(str(t.id), t.task_spec.bpmn_id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)]


V1 = chain_bpmn(tasks=3, form=None)
INSERTED = V1.replace(
    '<bpmn:sequenceFlow id="f3" sourceRef="aufgabe_2" targetRef="aufgabe_3"/>',
    user_task("pruefung", "Prüfung", "Koordination@kreisjugendamt")
    + _flow("f3", "aufgabe_2", "pruefung")
    + _flow("f3b", "pruefung", "aufgabe_3"),
).replace('name="Aufgabe 2"', 'name="Aufgabe zwei"')


def without_task_2(xml: str) -> str:
    block = re.search(r'<bpmn:userTask id="aufgabe_2".*?</bpmn:userTask>', xml, re.S)
    assert block is not None
    xml = xml.replace(block.group(0), "").replace(
        '<bpmn:sequenceFlow id="f3" sourceRef="aufgabe_2" targetRef="aufgabe_3"/>', ""
    )
    return xml.replace('targetRef="aufgabe_2"', 'targetRef="aufgabe_3"')


def test_inserted_step_maps_and_the_open_step_keeps_its_id():
    v1, v2 = version(V1, 1), version(INSERTED, 2)
    workflow = running(v1, completed=1)
    [(task_id, element)] = ready(workflow)
    assert element == "aufgabe_2"
    planned = plan(workflow, v2)
    assert planned.ok and planned.unmapped == ()
    assert planned.changed_open == ("„Aufgabe 2“ (aufgabe_2, offen)",)
    changed = apply(workflow, v2, planned, ManualClock())
    assert task_id in changed and workflow.spec is v2.spec
    assert ready(workflow) == [(task_id, "aufgabe_2")]
    walked = []
    while ready(workflow):
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        walked.append(task.task_spec.bpmn_id)
        task.run()
        workflow.do_engine_steps()
    assert walked == ["aufgabe_2", "pruefung", "aufgabe_3"] and workflow.is_completed()


def test_removed_steps_are_named_done_or_open():
    v1, v3 = version(V1, 1), version(without_task_2(V1), 3)
    waiting = running(v1, completed=1)  # open at aufgabe_2, which v3 lacks
    planned = plan(waiting, v3)
    assert not planned.ok
    assert planned.unmapped == ("Schritt „Aufgabe 2“ (aufgabe_2, offen) gibt es in der Zielversion nicht.",)
    done = running(v1, completed=2)  # aufgabe_2 done: its record would not restore either
    assert plan(done, v3).unmapped == (
        "Schritt „Aufgabe 2“ (aufgabe_2, erledigt) gibt es in der Zielversion nicht.",
    )
    fresh = running(v1)  # not yet reached: predicted, still named
    [line] = plan(fresh, v3).unmapped
    assert "aufgabe_2" in line


def test_same_version_plans_nothing():
    v1 = version(V1, 1)
    planned = plan(running(v1), version(V1, 2))
    assert planned.ok and planned.changed_open == ()
