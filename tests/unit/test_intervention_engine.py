"""Engine features the intervention chains rest on: message starts, Kontaktdaten, confidentiality."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.errors import (
    InvalidDefinitionError,
    InvalidSubmissionError,
    NotFoundError,
    NotPermittedError,
    ScriptError,
)
from engine.persistence.models import AuditEvent, Kontaktdaten, ProcessDefinition, ProcessInstance, UserTask
from engine.read_models import Actor
from engine.service import Hilfenetz
from engine.workflow_state import WorkflowCache
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import with_retention, write_definitions

DEFS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d_{pid}" targetNamespace="x">\n'
)
MESSAGE = '<bpmn:message id="Msg_Meldung" name="test.meldung"/>\n'
SENDER = (
    DEFS.format(pid="sender")
    + MESSAGE
    + """<bpmn:process id="sender" name="Sender" isExecutable="true">
  <bpmn:startEvent id="Beginn" camunda:formRef="sender_start"/>
  <bpmn:sequenceFlow id="f1" sourceRef="Beginn" targetRef="Je_Gemeinde"/>
  <bpmn:subProcess id="Je_Gemeinde">
    <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="gemeinden"
      camunda:elementVariable="gemeinde"/>
    <bpmn:startEvent id="S2"/>
    <bpmn:sequenceFlow id="f2" sourceRef="S2" targetRef="Melden"/>
    <bpmn:intermediateThrowEvent id="Melden">
      <bpmn:messageEventDefinition messageRef="Msg_Meldung"
        camunda:expression="{'gemeinde': gemeinde, 'quelle': 'test'}"/>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="Melden" targetRef="E2"/>
    <bpmn:endEvent id="E2"/>
  </bpmn:subProcess>
  <bpmn:sequenceFlow id="f4" sourceRef="Je_Gemeinde" targetRef="Nacharbeit"/>
  <bpmn:userTask id="Nacharbeit" name="Nacharbeit" camunda:candidateGroups="Fachkraft@kreispolizei"/>
  <bpmn:sequenceFlow id="f5" sourceRef="Nacharbeit" targetRef="Ende"/>
  <bpmn:endEvent id="Ende"/>
</bpmn:process>
</bpmn:definitions>
"""
)
RECEIVER = (
    DEFS.format(pid="empfaenger")
    + MESSAGE
    + """<bpmn:process id="empfaenger" name="Empfänger" isExecutable="true"
    camunda:candidateStarterGroups="Fachkraft">
  <bpmn:extensionElements><camunda:properties>
    <camunda:property name="vertraulich" value="ja"/>
  </camunda:properties></bpmn:extensionElements>
  <bpmn:startEvent id="Eingang" camunda:formRef="empfaenger_start">
    <bpmn:messageEventDefinition messageRef="Msg_Meldung"/>
  </bpmn:startEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="Eingang" targetRef="Aufnehmen"/>
  <bpmn:userTask id="Aufnehmen" name="Meldung aufnehmen" camunda:candidateGroups="Fachkraft@${zustaendig}"/>
  <bpmn:sequenceFlow id="f2" sourceRef="Aufnehmen" targetRef="Ende"/>
  <bpmn:endEvent id="Ende"/>
</bpmn:process>
</bpmn:definitions>
"""
)
ROUTE = (
    "{'Lippstadt': 'jugendamt-lippstadt', 'Warstein': 'jugendamt-warstein'}.get(gemeinde, 'kreisjugendamt')"
)


def _select(key: str, values: list[str], required: bool = True) -> dict[str, Any]:
    return {
        "id": f"f_{key}",
        "type": "select",
        "key": key,
        "label": key,
        "values": [{"label": v, "value": v} for v in values],
        "validate": {"required": required},
    }


GEMEINDEN = ["Lippstadt", "Warstein", "Rüthen", "Soest"]
SENDER_FORM = {
    "id": "sender_start",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        {
            "id": "f_gemeinden",
            "type": "checklist",
            "key": "gemeinden",
            "label": "Gemeinden",
            "values": [{"label": g, "value": g} for g in GEMEINDEN],
        }
    ],
}
RECEIVER_FORM = {
    "id": "empfaenger_start",
    "type": "default",
    "schemaVersion": 16,
    "components": [_select("gemeinde", GEMEINDEN)],
}


def _with_route(xml: str) -> str:
    """Route by a script task (DMN routing is tested with the real tables in the process tests)."""
    return xml.replace(
        '<bpmn:sequenceFlow id="f1" sourceRef="Eingang" targetRef="Aufnehmen"/>',
        '<bpmn:sequenceFlow id="f1" sourceRef="Eingang" targetRef="Route"/>'
        f'<bpmn:scriptTask id="Route" scriptFormat="python"><bpmn:script>zustaendig = {ROUTE}'
        "</bpmn:script></bpmn:scriptTask>"
        '<bpmn:sequenceFlow id="f1b" sourceRef="Route" targetRef="Aufnehmen"/>',
    )


@pytest.fixture
def chain(engine_for: Callable[..., Hilfenetz]) -> Hilfenetz:
    return engine_for(
        {"sender": SENDER, "empfaenger": _with_route(RECEIVER)},
        {"sender_start": SENDER_FORM, "empfaenger_start": RECEIVER_FORM},
    )


def _instances(hn: Hilfenetz, key: str) -> list[Any]:
    pi = ProcessInstance
    with hn.db.read() as session:
        return list(
            session.execute(
                select(pi.id, pi.parent_instance_id, pi.started_by_id, pi.status)
                .where(pi.process_key == key)
                .order_by(pi.id)
            )
        )


def _open(hn: Hilfenetz, user: Actor, element: str) -> list[str]:
    page = hn.worklist(user, WorklistQuery(view="alle", per_page=100))
    return [t.id for t in page.tasks if t.element_id == element]


def test_one_message_per_municipality_starts_one_linked_case_each(
    chain: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    sender = chain.start(
        actor("fachkraft.polizei"), "sender", {"gemeinden": ["Lippstadt", "Warstein", "Rüthen"]}
    )
    children = _instances(chain, "empfaenger")
    assert [c.parent_instance_id for c in children] == [sender] * 3
    assert all(c.started_by_id is None for c in children)
    assert len(_open(chain, actor("fachkraft.jugendamt-lippstadt"), "Aufnehmen")) == 1
    assert len(_open(chain, actor("fachkraft.jugendamt-warstein"), "Aufnehmen")) == 1
    assert len(_open(chain, actor("fachkraft.jugendamt"), "Aufnehmen")) == 1  # Rüthen: Kreisjugendamt
    assert _open(chain, actor("fachkraft.jugendamt-soest"), "Aufnehmen") == []
    with chain.db.read() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == sender)).all()
    assert actions.count("message_sent") == 3


def test_a_restored_sender_never_sends_again(chain: Hilfenetz, actor: Callable[[str], Actor]) -> None:
    police = actor("fachkraft.polizei")
    chain.start(police, "sender", {"gemeinden": ["Soest"]})
    chain.runtime.workflows = WorkflowCache(0)  # restore from the stored state
    chain.complete(police, _open(chain, police, "Nacharbeit")[0], {})
    assert len(_instances(chain, "empfaenger")) == 1
    assert _instances(chain, "sender")[0].status == "completed"


def test_a_person_starts_the_message_process_through_its_start_form(
    chain: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    chain.start(actor("fachkraft.frauenhaus"), "empfaenger", {"gemeinde": "Warstein"})
    (case,) = _instances(chain, "empfaenger")
    assert case.parent_instance_id is None
    assert len(_open(chain, actor("fachkraft.jugendamt-warstein"), "Aufnehmen")) == 1


def test_a_message_nobody_listens_to_fails_in_german_and_writes_nothing(
    engine_for: Callable[..., Hilfenetz], actor: Callable[[str], Actor]
) -> None:
    hn = engine_for({"sender": SENDER}, {"sender_start": SENDER_FORM})
    with pytest.raises(
        ScriptError, match=r"Kein bereitgestellter Prozess startet mit der Nachricht „test\.meldung“"
    ):
        hn.start(actor("fachkraft.polizei"), "sender", {"gemeinden": ["Soest"]})
    assert _instances(hn, "sender") == []


def test_confidential_cases_are_hidden_from_uninvolved_coordinators(
    chain: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    chain.start(actor("fachkraft.polizei"), "sender", {"gemeinden": ["Warstein"]})
    (case,) = _instances(chain, "empfaenger")
    with pytest.raises(NotFoundError):
        chain.instance_detail(actor("koordination.frauenberatung"), case.id)
    assert chain.instance_detail(actor("fachkraft.jugendamt-warstein"), case.id).id == case.id
    sender = _instances(chain, "sender")[0]
    assert chain.instance_detail(actor("koordination.frauenberatung"), sender.id).id == sender.id


# --------------------------------------------------------------------------- Kontaktdaten


def _field(key: str, kind: str, ctype: str = "textfield", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"f_{key}",
        "type": ctype,
        "key": key,
        "label": key.title(),
        "properties": {"datenart": kind},
        **extra,
    }


HIDE = {"hide": '=einwilligung != "ja"'}
REFERRAL_FORM = {
    "id": "vermittlung",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        _field(
            "einwilligung",
            "einwilligung",
            "radio",
            values=[{"label": "ja", "value": "ja"}, {"label": "nein", "value": "nein"}],
            validate={"required": True},
        ),
        _field(
            "empfaenger",
            "einwilligung_empfaenger",
            "checklist",
            valuesKey="organisation_options",
            conditional=HIDE,
        ),
        _field("einwilligung_am", "einwilligung_datum", "datetime", subtype="date", conditional=HIDE),
        _field("name", "kontaktdaten", conditional=HIDE, validate={"maxLength": 100}),
        _field("telefon", "kontaktdaten", conditional=HIDE, validate={"maxLength": 40}),
    ],
}
REFERRAL = (
    DEFS.format(pid="vermittlung")
    + """<bpmn:process id="vermittlung" name="Vermittlung" isExecutable="true">
  <bpmn:startEvent id="Beginn"/>
  <bpmn:sequenceFlow id="f1" sourceRef="Beginn" targetRef="Erfassen"/>
  <bpmn:userTask id="Erfassen" name="Einsatz erfassen" camunda:candidateGroups="Fachkraft@kreispolizei"
    camunda:formRef="vermittlung"/>
  <bpmn:sequenceFlow id="f2" sourceRef="Erfassen" targetRef="Kontakt"/>
  <bpmn:userTask id="Kontakt" name="Kontakt aufnehmen"
    camunda:candidateGroups="Fachkraft@frauenberatung-soest,Fachkraft@kreisjugendamt">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="kontaktdaten" value="anzeigen"/>
    </camunda:properties></bpmn:extensionElements>
  </bpmn:userTask>
  <bpmn:sequenceFlow id="f3" sourceRef="Kontakt" targetRef="Ende"/>
  <bpmn:endEvent id="Ende"/>
</bpmn:process>
</bpmn:definitions>
"""
)
CONSENT = {"einwilligung": "ja", "empfaenger": ["frauenberatung-soest"], "einwilligung_am": "2026-11-24"}
CONTACT = {"name": "Erika Beispiel", "telefon": "0170 1234567"}


@pytest.fixture
def referral(engine_for: Callable[..., Hilfenetz]) -> Hilfenetz:
    return engine_for({"vermittlung": REFERRAL}, {"vermittlung": REFERRAL_FORM})


def _record_call_out(hn: Hilfenetz, actor: Callable[[str], Actor], data: dict[str, Any]) -> int:
    police = actor("fachkraft.polizei")
    instance_id = hn.start(police, "vermittlung", {})
    hn.complete(police, _open(hn, police, "Erfassen")[0], data)
    return instance_id


def _state(hn: Hilfenetz, instance_id: int) -> str:
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        return row.state.decode("utf-8")


def test_contact_data_with_consent_live_outside_the_process_and_only_recipients_read_them(
    referral: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    instance_id = _record_call_out(referral, actor, {**CONSENT, **CONTACT})
    assert "Erika" not in _state(referral, instance_id) and "0170" not in _state(referral, instance_id)
    counsellor, youth_office = actor("fachkraft.frauenberatung"), actor("fachkraft.jugendamt")
    (record,) = referral.task_detail(counsellor, _open(referral, counsellor, "Kontakt")[0]).contact_records
    assert dict(record.entries) == {"Name": "Erika Beispiel", "Telefon": "0170 1234567"}
    assert record.recipients == ("Frauenberatung Soest",)
    assert (
        referral.task_detail(youth_office, _open(referral, youth_office, "Kontakt")[0]).contact_records == ()
    )
    with referral.db.read() as session:
        reads = session.scalars(
            select(AuditEvent.actor_id).where(AuditEvent.action == "kontaktdaten_gelesen")
        ).all()
        recorded = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "kontaktdaten_erfasst")
        ).one()
    assert list(reads) == [counsellor.id]
    assert "Erika" not in str(recorded)


def test_contact_data_without_consent_are_refused_and_nothing_is_stored(
    referral: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    police = actor("fachkraft.polizei")
    referral.start(police, "vermittlung", {})
    task_id = _open(referral, police, "Erfassen")[0]
    with pytest.raises(InvalidSubmissionError) as refused:
        referral.complete(police, task_id, {"einwilligung": "ja", "empfaenger": [], **CONTACT})
    assert set(refused.value.field_errors) == {"empfaenger", "einwilligung_am"}
    assert "Einwilligung" in refused.value.message
    with referral.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Kontaktdaten)) == 0
        assert session.get(UserTask, task_id).status == "open"  # type: ignore[union-attr]


def test_without_consent_hidden_contact_fields_are_dropped_and_the_chain_goes_on(
    referral: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    instance_id = _record_call_out(referral, actor, {"einwilligung": "nein", **CONTACT})
    assert "Erika" not in _state(referral, instance_id)
    counsellor = actor("fachkraft.frauenberatung")
    assert referral.task_detail(counsellor, _open(referral, counsellor, "Kontakt")[0]).contact_records == ()


def test_drafts_never_keep_contact_data(referral: Hilfenetz, actor: Callable[[str], Actor]) -> None:
    police = actor("fachkraft.polizei")
    referral.start(police, "vermittlung", {})
    task_id = _open(referral, police, "Erfassen")[0]
    referral.save_draft(police, task_id, {**CONSENT, **CONTACT})
    with referral.db.read() as session:
        draft = session.get(UserTask, task_id).draft  # type: ignore[union-attr]
    assert draft == CONSENT


def test_contact_data_are_deleted_after_the_retention_period_and_the_deletion_is_logged(
    referral: Hilfenetz, actor: Callable[[str], Actor], clock: ManualClock
) -> None:
    instance_id = _record_call_out(referral, actor, {**CONSENT, **CONTACT})
    clock.advance(timedelta(days=80))
    assert referral.purge_contact_data() == 0
    clock.advance(timedelta(days=15))  # default Frist kontaktdaten.aufbewahrung: P3M
    assert referral.purge_contact_data() == 1
    counsellor = actor("fachkraft.frauenberatung")
    assert referral.task_detail(counsellor, _open(referral, counsellor, "Kontakt")[0]).contact_records == ()
    with referral.db.read() as session:
        fields, deleted_at = session.execute(select(Kontaktdaten.fields, Kontaktdaten.deleted_at)).one()
        deleted = session.scalars(
            select(AuditEvent.instance_id).where(AuditEvent.action == "kontaktdaten_geloescht")
        ).one()
    assert fields == {} and deleted_at is not None
    assert deleted == instance_id


def test_a_form_with_contact_fields_but_no_consent_fields_is_refused_on_deployment(
    engine_for: Callable[..., Hilfenetz],
) -> None:
    form = {**REFERRAL_FORM, "components": REFERRAL_FORM["components"][3:]}  # type: ignore[index]
    with pytest.raises(InvalidDefinitionError) as refused:
        engine_for({"vermittlung": REFERRAL}, {"vermittlung": form})
    assert any("einwilligung_empfaenger" in p.reason for p in refused.value.problems)


# --------------------------------------------------------------------------- versions


def test_files_changed_back_deploy_as_a_new_newest_version(
    tmp_path: Any, sqlite_url: str, clock: ManualClock
) -> None:
    processes, forms = write_definitions(
        tmp_path / "v", {"empfaenger": _with_route(RECEIVER)}, {"empfaenger_start": RECEIVER_FORM}
    )
    hn = build_engine(tmp_path, sqlite_url, clock, (processes, forms))
    path = processes / "empfaenger.bpmn"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("'kreisjugendamt')", "'jugendamt-soest')"), encoding="utf-8")
    hn.deploy_file(path)
    path.write_text(original, encoding="utf-8")
    hn.deploy_file(path)
    hn.deploy_file(path)  # unchanged: no new version
    with hn.db.read() as session:
        versions = session.scalars(
            select(ProcessDefinition.version).where(ProcessDefinition.process_key == "empfaenger")
        ).all()
    assert sorted(versions) == [1, 2, 3]
    hn.start(actor_lookup(hn)("fachkraft.frauenhaus"), "empfaenger", {"gemeinde": "Rüthen"})
    assert len(_open(hn, actor_lookup(hn)("fachkraft.jugendamt"), "Aufnehmen")) == 1
    hn.db.dispose()


def test_reserved_element_ids_are_refused_on_deployment(engine_for: Callable[..., Hilfenetz]) -> None:
    bpmn = SENDER.replace('id="Beginn"', 'id="Start"').replace('sourceRef="Beginn"', 'sourceRef="Start"')
    with pytest.raises(InvalidDefinitionError) as refused:
        engine_for({"sender": bpmn}, {"sender_start": SENDER_FORM})
    assert [p.element for p in refused.value.problems] == ["Start"]
    assert "reserviert" in refused.value.problems[0].reason


def test_contact_values_appear_nowhere_but_in_their_own_table(
    referral: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    """Worklist rows, titles, the outbox (notifications) and the audit trail stay free of them."""
    _record_call_out(referral, actor, {**CONSENT, **CONTACT})
    counsellor = actor("fachkraft.frauenberatung")
    referral.task_detail(counsellor, _open(referral, counsellor, "Kontakt")[0])
    with referral.db.read() as session:
        connection = session.connection()
        for table in ("user_task", "task_candidate", "outbox", "audit_event", "process_instance"):
            rows = connection.exec_driver_sql(f"SELECT * FROM {table}").all()
            text = repr(rows)
            assert "Erika" not in text and "1234567" not in text, table


FOUR_EYES = (
    DEFS.format(pid="vieraugen")
    + """<bpmn:process id="vieraugen" name="Vier Augen" isExecutable="true">
  <bpmn:startEvent id="Beginn"/>
  <bpmn:sequenceFlow id="f1" sourceRef="Beginn" targetRef="Erste"/>
  <bpmn:userTask id="Erste" name="Erste Einschätzung" camunda:candidateGroups="Fachkraft@kreisjugendamt"/>
  <bpmn:sequenceFlow id="f2" sourceRef="Erste" targetRef="Zweite"/>
  <bpmn:userTask id="Zweite" name="Zweite Einschätzung" camunda:candidateGroups="Fachkraft@kreisjugendamt">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="vier_augen_mit" value="Erste"/>
    </camunda:properties></bpmn:extensionElements>
  </bpmn:userTask>
  <bpmn:sequenceFlow id="f3" sourceRef="Zweite" targetRef="Ende"/>
  <bpmn:endEvent id="Ende"/>
</bpmn:process>
</bpmn:definitions>
"""
)


def test_four_eyes_the_second_assessment_needs_another_person(
    engine_for: Callable[..., Hilfenetz], actor: Callable[[str], Actor]
) -> None:
    hn = engine_for({"vieraugen": FOUR_EYES})
    first, second = actor("fachkraft.jugendamt"), actor("fachkraft2.jugendamt")
    hn.start(first, "vieraugen", {})
    hn.complete(first, _open(hn, first, "Erste")[0], {})
    task_id = _open(hn, first, "Zweite")[0]
    with pytest.raises(NotPermittedError, match="Vier-Augen-Prinzip"):
        hn.complete(first, task_id, {})
    hn.complete(second, task_id, {})
    assert _instances(hn, "vieraugen")[0].status == "completed"


def test_frist_tage_gives_days_and_refuses_months(tmp_path: Any) -> None:
    from engine.parameters import Fristen

    (tmp_path / "fristen.json").write_text(
        '{"a": {"wert": "P10D"}, "b": "P2W", "c": "P1W3D", "d": "P3M"}', encoding="utf-8"
    )
    fristen = Fristen(tmp_path)
    assert [fristen.days(n) for n in "abc"] == [10, 14, 10]
    with pytest.raises(ScriptError, match="in Tagen oder Wochen"):
        fristen.days("d")


def _scoped_form(name_scope: str = "name", phone_scope: str = "telefon") -> dict[str, Any]:
    components = [dict(c) for c in REFERRAL_FORM["components"]]  # type: ignore[union-attr]
    components.append(
        _field(
            "umfang",
            "einwilligung_umfang",
            "checklist",
            values=[{"label": v, "value": v} for v in ("name", "telefon")],
            conditional=HIDE,
        )
    )
    for component, scope in zip(components[3:5], (name_scope, phone_scope), strict=True):
        component["properties"] = {"datenart": "kontaktdaten", "umfang": scope}
    return {**REFERRAL_FORM, "components": components}


def test_only_the_data_the_consent_covers_are_accepted(
    engine_for: Callable[..., Hilfenetz], actor: Callable[[str], Actor]
) -> None:
    hn = engine_for({"vermittlung": REFERRAL}, {"vermittlung": _scoped_form()})
    police = actor("fachkraft.polizei")
    hn.start(police, "vermittlung", {})
    task_id = _open(hn, police, "Erfassen")[0]
    with pytest.raises(InvalidSubmissionError) as refused:
        hn.complete(police, task_id, {**CONSENT, **CONTACT, "umfang": ["name"]})
    assert set(refused.value.field_errors) == {"telefon"}
    assert "nicht umfasst" in refused.value.field_errors["telefon"]
    hn.complete(police, task_id, {**CONSENT, "name": "Erika Beispiel", "umfang": ["name"]})
    counsellor = actor("fachkraft.frauenberatung")
    (record,) = hn.task_detail(counsellor, _open(hn, counsellor, "Kontakt")[0]).contact_records
    assert record.entries == (("Name", "Erika Beispiel"),)


def test_a_contact_field_must_name_the_scope_that_covers_it(engine_for: Callable[..., Hilfenetz]) -> None:
    with pytest.raises(InvalidDefinitionError) as refused:
        engine_for({"vermittlung": REFERRAL}, {"vermittlung": _scoped_form(phone_scope="")})
    assert [p.element for p in refused.value.problems] == ["telefon"]


def test_a_route_to_an_unknown_organisation_goes_to_the_coordinators(
    engine_for: Callable[..., Hilfenetz], actor: Callable[[str], Actor]
) -> None:
    typo = _with_route(RECEIVER).replace("'jugendamt-lippstadt'", "'jugendamt-lipstadt'")
    hn = engine_for({"empfaenger": typo}, {"empfaenger_start": RECEIVER_FORM})
    hn.start(actor("fachkraft.frauenhaus"), "empfaenger", {"gemeinde": "Lippstadt"})
    assert len(_open(hn, actor("koordination.jugendamt"), "Aufnehmen")) == 1
    assert _open(hn, actor("fachkraft.jugendamt-lippstadt"), "Aufnehmen") == []
    with hn.db.read() as session:
        detail = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "routing_fallback")
        ).one()
    assert detail["unbekannt"] == ["jugendamt-lipstadt"]


def _self_starter() -> str:
    throw = (
        '<bpmn:intermediateThrowEvent id="Weiter"><bpmn:messageEventDefinition messageRef="Msg_Meldung" '
        "camunda:expression=\"{'gemeinde': gemeinde}\"/></bpmn:intermediateThrowEvent>"
    )
    return (
        _with_route(RECEIVER)
        .replace(
            'targetRef="Ende"/>',
            'targetRef="Weiter"/><bpmn:sequenceFlow id="f9" sourceRef="Weiter" targetRef="Ende"/>',
        )
        .replace('<bpmn:endEvent id="Ende"/>', throw + '<bpmn:endEvent id="Ende"/>')
    )


def test_a_process_that_throws_its_own_start_message_is_refused(engine_for: Callable[..., Hilfenetz]) -> None:
    with pytest.raises(InvalidDefinitionError) as refused:
        engine_for({"empfaenger": _self_starter()}, {"empfaenger_start": RECEIVER_FORM})
    assert [p.element for p in refused.value.problems] == ["Weiter"]


def test_one_step_may_start_at_most_fifty_cases_and_then_writes_nothing(
    engine_for: Callable[..., Hilfenetz], actor: Callable[[str], Actor]
) -> None:
    many = SENDER.replace(
        '<bpmn:sequenceFlow id="f1" sourceRef="Beginn" targetRef="Je_Gemeinde"/>',
        '<bpmn:sequenceFlow id="f1" sourceRef="Beginn" targetRef="Viele"/>'
        '<bpmn:scriptTask id="Viele" scriptFormat="python"><bpmn:script>gemeinden = gemeinden * 60'
        "</bpmn:script></bpmn:scriptTask>"
        '<bpmn:sequenceFlow id="f1b" sourceRef="Viele" targetRef="Je_Gemeinde"/>',
    )
    hn = engine_for(
        {"sender": many, "empfaenger": _with_route(RECEIVER)},
        {"sender_start": SENDER_FORM, "empfaenger_start": RECEIVER_FORM},
    )
    with pytest.raises(ScriptError, match="höchstens 50"):
        hn.start(actor("fachkraft.polizei"), "sender", {"gemeinden": ["Soest"]})
    assert _instances(hn, "sender") == [] and _instances(hn, "empfaenger") == []


def test_message_chains_are_bounded_across_commands(
    engine_for: Callable[..., Hilfenetz], actor: Callable[[str], Actor]
) -> None:
    """Relay A → B → A … through a user task each time: the sixth generation is refused."""
    relay = {
        "relais_a": _relay("relais_a", "a.start", "b.start"),
        "relais_b": _relay("relais_b", "b.start", "a.start"),
    }
    hn = engine_for(relay, {"empfaenger_start": RECEIVER_FORM})
    fachkraft = actor("fachkraft.jugendamt")
    hn.start(fachkraft, "relais_a", {"gemeinde": "Soest"})
    for _ in range(5):
        hn.complete(fachkraft, _open(hn, fachkraft, "Weitergeben")[0], {})
    with pytest.raises(ScriptError, match="höchstens 5 hintereinander"):
        hn.complete(fachkraft, _open(hn, fachkraft, "Weitergeben")[0], {})
    assert len(_instances(hn, "relais_a")) + len(_instances(hn, "relais_b")) == 6


def _relay(pid: str, listens: str, sends: str) -> str:
    return (
        DEFS.format(pid=pid)
        + f"""<bpmn:message id="Msg_In" name="{listens}"/><bpmn:message id="Msg_Out" name="{sends}"/>
<bpmn:process id="{pid}" name="Relais" isExecutable="true">
  <bpmn:startEvent id="Eingang" camunda:formRef="empfaenger_start">
    <bpmn:messageEventDefinition messageRef="Msg_In"/></bpmn:startEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="Eingang" targetRef="Weitergeben"/>
  <bpmn:userTask id="Weitergeben" name="Weitergeben" camunda:candidateGroups="Fachkraft@kreisjugendamt"/>
  <bpmn:sequenceFlow id="f2" sourceRef="Weitergeben" targetRef="Senden"/>
  <bpmn:intermediateThrowEvent id="Senden"><bpmn:messageEventDefinition messageRef="Msg_Out"
    camunda:expression="{{'gemeinde': gemeinde}}"/></bpmn:intermediateThrowEvent>
  <bpmn:sequenceFlow id="f3" sourceRef="Senden" targetRef="Ende"/>
  <bpmn:endEvent id="Ende"/>
</bpmn:process>
</bpmn:definitions>
"""
    )


def test_reporting_a_confidential_case_does_not_make_one_part_of_it(
    chain: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    reporter = actor("ehrenamt.weisser-ring")
    case = chain.start(reporter, "empfaenger", {"gemeinde": "Soest"})
    assert not chain.may_view_instance(reporter, case)
    with pytest.raises(NotFoundError):
        chain.instance_detail(reporter, case)
    assert chain.may_view_instance(actor("fachkraft.jugendamt"), case)


def test_contact_data_go_soon_after_their_case_has_ended(
    referral: Hilfenetz, actor: Callable[[str], Actor], clock: ManualClock
) -> None:
    _record_call_out(referral, actor, {**CONSENT, **CONTACT})
    counsellor = actor("fachkraft.frauenberatung")
    referral.complete(counsellor, _open(referral, counsellor, "Kontakt")[0], {})
    clock.advance(timedelta(days=13))
    assert referral.purge_contact_data() == 0
    clock.advance(timedelta(days=2))  # Frist kontaktdaten.nach_abschluss: P14D
    assert referral.purge_contact_data() == 1


def test_a_second_process_listening_to_the_same_message_is_refused(chain: Hilfenetz, tmp_path: Any) -> None:
    listener = tmp_path / "mithoerer.bpmn"
    listener.write_text(
        with_retention(
            _with_route(RECEIVER)
            .replace('id="empfaenger"', 'id="mithoerer"')
            .replace('id="d_empfaenger"', 'id="d_m"')
        ),
        encoding="utf-8",
    )
    with pytest.raises(InvalidDefinitionError) as refused:
        chain.deploy_file(listener)
    assert "startet bereits der Prozess „empfaenger“" in refused.value.problems[0].reason


def test_the_case_page_links_sender_and_started_cases_only_where_the_viewer_may_look(
    chain: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    sender = chain.start(actor("fachkraft.polizei"), "sender", {"gemeinden": ["Rüthen", "Warstein"]})
    ruethen, warstein = (c.id for c in _instances(chain, "empfaenger"))
    both = actor("koordination.jugendamt")  # coordinator (sees the sender), Fachkraft at the Kreisjugendamt
    assert [(c.id, c.relation) for c in chain.instance_detail(both, sender).linked] == [
        (ruethen, "ausgeloest")
    ]
    assert [(c.id, c.relation) for c in chain.instance_detail(both, ruethen).linked] == [
        (sender, "ausgeloest_durch")
    ]
    assert chain.instance_detail(actor("fachkraft.jugendamt-warstein"), warstein).linked == ()
