"""The issue-5 walk on the shipped P4 Fallkonferenz, without a browser: a coordinator adds a user
task with a new form, the check flags the missing candidate, she fixes it, a second coordinator
approves; a new case runs through the new step with the new form, an old case stays on its version
and another is moved after a dry run."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.errors import InvalidSubmissionError
from engine.persistence.models import ProcessInstance, UserTask
from engine.settings import REPO_ROOT
from tests.conftest import actor_lookup, build_engine

REQUEST = {
    "anlass": "Wiederholte Gewalt, Kontaktverbot missachtet",
    "fragestellung": "Wie sichern wir Schutz und Begleitung ab?",
    "gefaehrdungsstufe": "hoch",
    "altersgruppe": "30_bis_44",
    "anzahl_kinder": 2,
    "gewaltform": ["koerperlich"],
    "modus": "anonym",
}
FLOW = (
    '<bpmn:sequenceFlow id="Flow_ZuPruefung" sourceRef="Gateway_AnfrageZusammenfuehren" '
    'targetRef="Task_AnfragePruefen" />'
)
NEW_STEP = (
    '<bpmn:userTask id="Task_Vorabklaerung" name="Vorab klären"{candidates} '
    'camunda:formRef="fallkonferenz_vorabklaerung"><bpmn:documentation>Kurz klären, ob die Anfrage '
    "vollständig ist.</bpmn:documentation></bpmn:userTask>"
    '<bpmn:sequenceFlow id="Flow_ZuPruefung" sourceRef="Gateway_AnfrageZusammenfuehren" '
    'targetRef="Task_Vorabklaerung" />'
    '<bpmn:sequenceFlow id="Flow_Vorab_Pruefung" sourceRef="Task_Vorabklaerung" '
    'targetRef="Task_AnfragePruefen" />'
)
FORM = {
    "type": "default",
    "id": "fallkonferenz_vorabklaerung",
    "components": [
        {
            "type": "textarea",
            "key": "vorab_hinweis",
            "label": "Hinweis",
            "properties": {"anonym": "true"},
            "validate": {"required": True},
        }
    ],
}


@pytest.fixture
def p4(tmp_path, sqlite_url, clock):
    engine = build_engine(tmp_path, sqlite_url, clock, (REPO_ROOT / "processes", REPO_ROOT / "forms"))
    yield engine
    engine.db.dispose()


def open_steps(hn, instance_id: int) -> list[tuple[str, str]]:
    with hn.db.read() as session:
        return [
            (r.id, r.element_id)
            for r in session.execute(
                select(UserTask.id, UserTask.element_id).where(
                    UserTask.instance_id == instance_id, UserTask.status == "open"
                )
            )
        ]


def definition_of(hn, instance_id: int) -> int:
    with hn.db.read() as session:
        return session.scalars(
            select(ProcessInstance.definition_id).where(ProcessInstance.id == instance_id)
        ).one()


def test_a_new_step_with_a_new_form_on_p4(p4):
    actor = actor_lookup(p4)
    anna, ben = actor("koordination.jugendamt"), actor("koordination.frauenberatung")
    lena = actor("fachkraft.frauenberatung")
    old, moved = p4.start(lena, "fallkonferenz", REQUEST), p4.start(lena, "fallkonferenz", REQUEST)
    [process] = [p for p in p4.model_overview(anna) if p.key == "fallkonferenz"]
    v1 = process.versions[0].definition_id

    draft = p4.draft_from_version(anna, v1)
    xml = p4.model_draft(anna, draft).content
    assert FLOW in xml
    problems = p4.save_model_draft(anna, draft, xml.replace(FLOW, NEW_STEP.format(candidates="")))
    assert ("Task_Vorabklaerung", True) in {(p.element, "Zuständigkeit" in p.reason) for p in problems}
    assert any("fallkonferenz_vorabklaerung" in p.reason for p in problems)  # the form does not exist yet
    form = p4.add_file_to_draft(anna, draft, "fallkonferenz_vorabklaerung")
    p4.save_model_draft(anna, form, json.dumps(FORM))
    fixed = xml.replace(FLOW, NEW_STEP.format(candidates=' camunda:candidateGroups="Koordination"'))
    assert p4.save_model_draft(anna, draft, fixed) == []
    p4.submit_model_draft(anna, draft)
    [v2] = p4.approve_model_draft(ben, draft)

    fresh = p4.start(lena, "fallkonferenz", REQUEST)
    assert definition_of(p4, fresh) == v2 and definition_of(p4, old) == v1
    [(step, element)] = open_steps(p4, fresh)
    assert element == "Task_Vorabklaerung"
    detail = p4.task_detail(anna, step)
    assert detail.form_schema is not None and detail.form_schema["id"] == "fallkonferenz_vorabklaerung"
    with pytest.raises(InvalidSubmissionError) as refused:  # the new form validates the submission
        p4.complete(anna, step, {})
    assert "vorab_hinweis" in refused.value.field_errors
    p4.complete(anna, step, {"vorab_hinweis": "vollständig"})
    assert [e for _, e in open_steps(p4, fresh)] == ["Task_AnfragePruefen"]

    [dry] = p4.migration_dry_run(ben, [moved], v2)
    assert dry.ok
    [done] = p4.migrate_instances(ben, [moved], v2)
    assert done.migrated and definition_of(p4, moved) == v2 and definition_of(p4, old) == v1
    assert [e for _, e in open_steps(p4, old)] == ["Task_AnfragePruefen"]
