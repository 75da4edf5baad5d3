"""System steps (``serviceTask`` with ``aktion``) and the Steuerungsgruppe voting in the flow."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from engine.errors import InvalidDefinitionError, ScriptError
from engine.persistence.models import AuditEvent, Ballot, ProcessInstance, UserTask
from engine.service import Hilfenetz
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import ballot_bpmn, with_retention, write_definitions

FRISTEN = {"test.abstimmung": "P7D"}


def make_engine(tmp_path: Path, clock, bpmn: str, *, cache: int = 0, url: str | None = None) -> Hilfenetz:
    processes, forms = write_definitions(tmp_path / "defs", {"antrag": bpmn})
    (processes / "fristen.json").write_text(json.dumps(FRISTEN), encoding="utf-8")
    url = url or f"sqlite:///{tmp_path / 'schritte.db'}"
    return build_engine(tmp_path, url, clock, (processes, forms), workflow_cache_size=cache)


@pytest.fixture
def engine(tmp_path: Path, clock) -> Hilfenetz:
    hn = make_engine(tmp_path, clock, ballot_bpmn())
    yield hn
    hn.db.dispose()


def submit_application(hn: Hilfenetz, notiz: str = "Präventionsprojekt an Schulen") -> int:
    actor = actor_lookup(hn)
    instance = hn.start(actor("fachkraft.frauenberatung"), "antrag", {})
    task = open_tasks(hn, instance)[0]
    hn.complete(actor("fachkraft.frauenberatung"), task.id, {"notiz": notiz, "anzahl": 12000})
    return instance


def open_tasks(hn: Hilfenetz, instance_id: int) -> list[Any]:
    with hn.db.read() as session:
        return list(
            session.execute(
                select(UserTask.id, UserTask.element_id).where(
                    UserTask.instance_id == instance_id, UserTask.status == "open"
                )
            )
        )


def instance_row(hn: Hilfenetz, instance_id: int) -> Any:
    with hn.db.read() as session:
        return session.execute(
            select(ProcessInstance.status, ProcessInstance.end_event, ProcessInstance.status_reason).where(
                ProcessInstance.id == instance_id
            )
        ).one()


def ballot_of(hn: Hilfenetz, instance_id: int) -> Any:
    with hn.db.read() as session:
        ballot = session.scalars(select(Ballot).where(Ballot.instance_id == instance_id)).one()
        return SimpleNamespace(**{c.key: getattr(ballot, c.key) for c in Ballot.__table__.columns})


def vote(hn: Hilfenetz, ballot_id: int, *pairs: tuple[str, str]) -> None:
    actor = actor_lookup(hn)
    for username, choice in pairs:
        hn.cast_vote(actor(username), ballot_id, choice)


def test_reaching_the_step_opens_a_linked_ballot_and_the_case_waits(engine: Hilfenetz) -> None:
    instance = submit_application(engine)
    ballot = ballot_of(engine, instance)
    assert ballot.subject == "Antrag „Präventionsprojekt an Schulen“"
    assert ballot.applying_org == "frauenberatung-soest"
    assert ballot.task_id and ballot.status == "offen"
    assert ballot.deadline == engine.clock.now() + timedelta(days=7)
    assert ballot.documents == [
        {"label": "Vorhaben", "value": "Präventionsprojekt an Schulen"},
        {"label": "Betrag in Euro", "value": "12000"},
    ]
    row = instance_row(engine, instance)
    assert row.status == "running" and open_tasks(engine, instance) == []
    minutes = engine.ballot_minutes(actor_lookup(engine)("koordination.jugendamt"), ballot.id)
    assert [e.member for e in minutes.excluded] == ["koordination.frauenberatung"]


def test_early_close_continues_the_process_with_the_result(engine: Hilfenetz) -> None:
    instance = submit_application(engine)
    ballot = ballot_of(engine, instance)
    vote(engine, ballot.id, ("koordination.jugendamt", "ja"), ("leitung.polizei", "ja"))
    assert open_tasks(engine, instance) == []  # not decided yet: 2 of 5 eligible
    vote(engine, ballot.id, ("fachkraft.gesundheitsamt", "ja"))
    tasks = open_tasks(engine, instance)
    assert [t.element_id for t in tasks] == ["umsetzen"]
    closed = ballot_of(engine, instance)
    assert closed.status == "geschlossen" and closed.closed_how == "vorzeitig"
    with engine.db.read() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.instance_id == instance).order_by(AuditEvent.id)
        ).all()
    assert "system_step" in actions and "system_step_resumed" in actions
    assert actions.index("abstimmung_geschlossen") < actions.index("system_step_resumed")


def test_deadline_closes_the_ballot_and_the_process_takes_the_rejected_path(engine: Hilfenetz) -> None:
    instance = submit_application(engine)
    ballot = ballot_of(engine, instance)
    vote(engine, ballot.id, ("koordination.jugendamt", "ja"))  # quorum (more than half of 5) missed
    engine.clock.advance(timedelta(days=7, seconds=1))
    assert engine.close_due_ballots() == 1
    assert engine.close_due_ballots() == 0
    row = instance_row(engine, instance)
    assert row.status == "completed" and row.end_event == "ende_abgelehnt"
    assert ballot_of(engine, instance).outcome == "nicht_beschlussfaehig"


def test_result_survives_a_restart_of_the_engine(tmp_path: Path, clock) -> None:
    first = make_engine(tmp_path, clock, ballot_bpmn())
    instance = submit_application(first)
    ballot = ballot_of(first, instance)
    first.db.dispose()
    second = make_engine(tmp_path, clock, ballot_bpmn())  # same database, fresh caches
    vote(second, ballot.id, *[(u, "nein") for u in ("koordination.jugendamt", "leitung.polizei")])
    vote(second, ballot.id, ("fachkraft.gesundheitsamt", "nein"))
    row = instance_row(second, instance)
    assert row.status == "completed" and row.end_event == "ende_abgelehnt"
    second.db.dispose()


def test_a_failing_follow_up_keeps_the_vote_and_shows_the_reason(tmp_path: Path, clock) -> None:
    hn = make_engine(tmp_path, clock, ballot_bpmn(after="kaputt = 1 / 0"))
    instance = submit_application(hn)
    ballot = ballot_of(hn, instance)
    vote(hn, ballot.id, *[(u, "ja") for u in ("koordination.jugendamt", "leitung.polizei")])
    vote(hn, ballot.id, ("fachkraft.gesundheitsamt", "ja"))  # closes; the script after it fails
    closed = ballot_of(hn, instance)
    assert closed.status == "geschlossen" and closed.outcome == "angenommen"
    row = instance_row(hn, instance)
    assert row.status == "error" and "Fehler beim Fortsetzen" in (row.status_reason or "")
    hn.db.dispose()


def test_a_refused_step_refuses_the_task_completion_and_loses_nothing(tmp_path: Path, clock) -> None:
    broken = (
        '<camunda:property name="aktion" value="abstimmung"/>'
        '<camunda:property name="gegenstand" value="Antrag {notiz}"/>'
        '<camunda:property name="frist" value="gibt.es.nicht"/>'
    )
    hn = make_engine(tmp_path, clock, ballot_bpmn(step_properties=broken))
    actor = actor_lookup(hn)
    instance = hn.start(actor("fachkraft.frauenberatung"), "antrag", {})
    task = open_tasks(hn, instance)[0]
    with pytest.raises(ScriptError, match=r"gibt\.es\.nicht"):
        hn.complete(actor("fachkraft.frauenberatung"), task.id, {"notiz": "Projekt", "anzahl": 1})
    assert [t.id for t in open_tasks(hn, instance)] == [task.id]
    with hn.db.read() as session:
        assert session.scalars(select(Ballot)).all() == []
    hn.db.dispose()


def test_unknown_or_missing_aktion_is_refused_at_deployment(tmp_path: Path, clock) -> None:
    hn = make_engine(tmp_path, clock, ballot_bpmn())
    processes = hn.settings.processes_dir
    unknown = ballot_bpmn(pid="fremd", step_properties='<camunda:property name="aktion" value="rakete"/>')
    (processes / "fremd.bpmn").write_text(with_retention(unknown), encoding="utf-8")
    with pytest.raises(InvalidDefinitionError) as refused:
        hn.deploy_file(processes / "fremd.bpmn")
    assert refused.value.problems[0].element == "abstimmen"
    assert "Unbekannter Systemschritt (aktion) „rakete“" in refused.value.problems[0].reason
    missing = ballot_bpmn(pid="leer", step_properties='<camunda:property name="zweck" value="x"/>')
    (processes / "leer.bpmn").write_text(with_retention(missing), encoding="utf-8")
    with pytest.raises(InvalidDefinitionError) as refused:
        hn.deploy_file(processes / "leer.bpmn")
    assert refused.value.problems[0].element == "abstimmen"
    assert "Eigenschaft „aktion“" in refused.value.problems[0].reason
    hn.db.dispose()


def test_the_case_history_does_not_tell_who_voted_how(engine: Hilfenetz) -> None:
    instance = submit_application(engine)
    ballot = ballot_of(engine, instance)
    vote(engine, ballot.id, ("koordination.jugendamt", "nein"), ("leitung.polizei", "ja"))
    vote(engine, ballot.id, ("fachkraft.gesundheitsamt", "ja"))  # closes the ballot
    applicant = actor_lookup(engine)("fachkraft.frauenberatung")
    history = engine.instance_detail(applicant, instance).history
    assert "stimme_abgegeben" not in {h.action for h in history}
    voters = {"Jana Beispiel", "Uwe Dienststelle", "Dr. Ole Befund"}
    assert not [h for h in history if h.actor_name in voters], history
