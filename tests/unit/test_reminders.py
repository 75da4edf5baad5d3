"""Due dates: a reminder before, an escalation after (to the Leitung, else the coordinators).

"kette" has user tasks for Fachkraft@frauenberatung-soest due after three days (P3D); the
Frauenberatung has a Leitung. "haus" has tasks for the Frauenhaus, which has none.
"""

from __future__ import annotations

import json
from datetime import timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.jobs import EmbeddedJobRunner
from engine.persistence.models import AuditEvent, Notification, Outbox, UserTask
from engine.service import Hilfenetz
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import chain_bpmn, write_definitions

TEAM = ["fachkraft.frauenberatung", "fachkraft2.frauenberatung", "koordination.frauenberatung"]
TEAM = sorted([*TEAM, "leitung.frauenberatung"])
COORDINATORS = ["koordination.frauenberatung", "koordination.jugendamt"]
SECRET = "Frau Geheim-Müller, Hauptstraße 5"


def engine_with(tmp_path: Path, clock, fristen: dict[str, str] | None = None, **settings) -> Hilfenetz:
    bpmn = {
        "kette": chain_bpmn(tasks=2),
        "haus": chain_bpmn("haus", tasks=1, groups="Fachkraft@frauenhaus-soest"),
        "ruhig": chain_bpmn("ruhig", tasks=1),
    }
    defs = write_definitions(tmp_path / "defs", bpmn)
    if fristen is not None:
        (defs[0] / "fristen.json").write_text(json.dumps(fristen), encoding="utf-8")
    return build_engine(tmp_path, f"sqlite:///{tmp_path / 'hilfenetz.db'}", clock, defs, **settings)


@pytest.fixture
def hn(tmp_path, clock):
    engine = engine_with(tmp_path, clock)
    yield engine
    engine.db.dispose()


def start(hn: Hilfenetz, process: str = "kette", user: str = "fachkraft.frauenberatung") -> int:
    return hn.start(actor_lookup(hn)(user), process, {})


def outbox_kinds(hn: Hilfenetz) -> list[str]:
    with hn.db.read() as session:
        return list(session.scalars(select(Outbox.kind).where(Outbox.kind != "task_created")))


def notified(hn: Hilfenetz, kind: str) -> list[str]:
    """Usernames with an in-app notification of this kind."""
    with hn.db.read() as session:
        ids = set(session.scalars(select(Notification.user_id).where(Notification.kind == kind)))
    lookup = actor_lookup(hn)
    return sorted(u for u in {*TEAM, *COORDINATORS, "fachkraft.frauenhaus"} if lookup(u).id in ids)


def test_reminder_comes_the_configured_lead_before_the_due_date_and_only_once(hn, clock):
    start(hn)
    clock.advance(timedelta(days=2) - timedelta(minutes=1))  # due in a day and a minute
    assert hn.send_due_reminders() == 0
    clock.advance(timedelta(minutes=1))
    assert hn.send_due_reminders() == 1
    assert hn.send_due_reminders() == 0
    assert outbox_kinds(hn) == ["task_reminder"]
    hn.deliver_outbox()
    assert notified(hn, "task_reminder") == TEAM  # the candidates (nobody has claimed it)


def test_reminder_goes_to_the_assignee_once_claimed(hn, clock, actor):
    start(hn)
    lena = actor("fachkraft.frauenberatung")
    hn.claim(lena, hn.worklist(lena, _all()).tasks[0].id)
    clock.advance(timedelta(days=2))
    hn.send_due_reminders()
    hn.deliver_outbox()
    assert notified(hn, "task_reminder") == ["fachkraft.frauenberatung"]


def test_escalation_after_the_due_date_goes_to_the_leitung(hn, clock):
    start(hn)
    clock.advance(timedelta(days=3) - timedelta(seconds=1))
    hn.send_due_reminders()
    assert outbox_kinds(hn) == ["task_reminder"]
    clock.advance(timedelta(seconds=1))  # default eskalation.nach = PT0S
    assert hn.send_due_reminders() == 1
    assert hn.send_due_reminders() == 0
    assert outbox_kinds(hn) == ["task_reminder", "task_escalated"]
    hn.deliver_outbox()
    assert notified(hn, "task_escalated") == ["leitung.frauenberatung"]


def test_escalation_goes_to_the_coordinators_when_the_organisation_has_no_leitung(hn, clock):
    start(hn, "haus", "fachkraft.frauenhaus")
    clock.advance(timedelta(days=4))
    assert hn.send_due_reminders() == 1  # the reminder's moment passed unseen: only the escalation
    hn.deliver_outbox()
    assert notified(hn, "task_escalated") == COORDINATORS


def test_per_process_values_and_aus(tmp_path, clock):
    fristen = {
        "erinnerung.vorlauf": "P1D",
        "eskalation.nach": "P1D",
        "kette.erinnerung_vorlauf": "PT1H",
        "kette.eskalation_nach": "aus",
        "ruhig.erinnerung_vorlauf": "aus",
        "haus.eskalation_nach": "PT2H",
    }
    hn = engine_with(tmp_path, clock, fristen)
    try:
        for process in ("kette", "ruhig"):
            start(hn, process)
        start(hn, "haus", "fachkraft.frauenhaus")
        clock.advance(timedelta(days=2))
        assert _sent(hn) == {"haus": ["task_reminder"]}  # one day before: only the default lead
        clock.advance(timedelta(hours=23))
        assert _sent(hn) == {"kette": ["task_reminder"]}  # one hour before
        clock.advance(timedelta(hours=2, minutes=59))
        assert _sent(hn) == {}
        clock.advance(timedelta(minutes=1))
        assert _sent(hn) == {"haus": ["task_escalated"]}  # two hours after
        clock.advance(timedelta(hours=21, minutes=59))
        assert _sent(hn) == {}
        clock.advance(timedelta(minutes=1))
        assert _sent(hn) == {"ruhig": ["task_escalated"]}  # the default delay of a day
        clock.advance(timedelta(days=30))
        assert _sent(hn) == {}  # kette never escalates, ruhig was never reminded
    finally:
        hn.db.dispose()


def test_a_completed_task_gets_neither(tmp_path, clock, actor):
    hn = engine_with(tmp_path, clock)
    try:
        start(hn, "ruhig")
        lena = actor_lookup(hn)("fachkraft.frauenberatung")
        hn.complete(lena, hn.worklist(lena, _all()).tasks[0].id, {"notiz": "erledigt"})
        clock.advance(timedelta(days=10))
        assert hn.send_due_reminders() == 0
        assert outbox_kinds(hn) == []
    finally:
        hn.db.dispose()


def test_reminder_and_escalation_are_in_the_case_history(hn, clock):
    instance_id = start(hn)
    clock.advance(timedelta(days=2))
    hn.send_due_reminders()
    clock.advance(timedelta(days=1))
    hn.send_due_reminders()
    with hn.db.read() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor_name, AuditEvent.task_id)
            .where(AuditEvent.instance_id == instance_id, AuditEvent.action.like("task_%"))
            .order_by(AuditEvent.id)
        ).all()
        (task_id,) = session.scalars(select(UserTask.id).where(UserTask.instance_id == instance_id))
    assert rows == [("task_reminder_sent", "System", task_id), ("task_escalated", "System", task_id)]
    lena = actor_lookup(hn)("fachkraft.frauenberatung")
    actions = [e.action for e in hn.instance_detail(lena, instance_id).history]
    assert "task_reminder_sent" in actions and "task_escalated" in actions


def test_the_job_runner_reminds_and_delivers_in_one_round(hn, clock):
    start(hn)
    runner = EmbeddedJobRunner(hn, 60)
    runner.run_once()
    clock.advance(timedelta(days=2))
    runner.run_once()
    assert notified(hn, "task_reminder") == TEAM
    with hn.db.read() as session:
        assert set(session.scalars(select(Outbox.status))) == {"sent"}


def test_mails_are_neutral_and_carry_no_task_data(tmp_path, clock, smtp, actor):
    hn = engine_with(tmp_path, clock, smtp_host="127.0.0.1", smtp_port=smtp.port)
    try:
        lena = actor_lookup(hn)("fachkraft.frauenberatung")
        start(hn)
        first = hn.worklist(lena, _all()).tasks[0].id
        task_id = hn.complete_task(lena, first, {"notiz": SECRET}).new_task_ids[0]
        hn.deliver_outbox()
        clock.advance(timedelta(days=2))
        hn.send_due_reminders()
        hn.deliver_outbox()
        clock.advance(timedelta(days=1))
        hn.send_due_reminders()
        hn.deliver_outbox()
        by_subject: dict[str, list[str]] = {}
        for message in smtp.sink.messages:
            subject = str(make_header(decode_header(message["Subject"])))
            by_subject.setdefault(subject, []).append(str(message["To"]))
            body = message.get_payload(decode=True).decode("utf-8")
            for text in (body, subject):
                assert "Geheim" not in text and "Hauptstraße" not in text
                assert "Aufgabe 2" not in text and "Kette" not in text
        assert sorted(by_subject["Erinnerung: Aufgabe in Hilfenetz fällig"]) == _mails(TEAM)
        assert by_subject["Überfällige Aufgabe in Hilfenetz"] == _mails(["leitung.frauenberatung"])
        assert f"/aufgaben/{task_id}" in smtp.sink.messages[-1].get_payload(decode=True).decode("utf-8")
    finally:
        hn.db.dispose()


def test_a_wrong_value_is_refused_in_german(tmp_path, clock):
    hn = engine_with(tmp_path, clock, {"kette.erinnerung_vorlauf": "morgen"})
    try:
        start(hn)
        with pytest.raises(Exception, match="keine Dauer"):
            hn.send_due_reminders()
    finally:
        hn.db.dispose()


def _sent(hn: Hilfenetz) -> dict[str, list[str]]:
    """What one round writes now, by process."""
    with hn.db.read() as session:
        before = session.scalar(select(Outbox.id).order_by(Outbox.id.desc()).limit(1)) or 0
    hn.send_due_reminders()
    with hn.db.read() as session:
        rows = session.execute(
            select(UserTask.process_key, Outbox.kind)
            .join(UserTask, UserTask.id == Outbox.payload["task_id"].as_string())
            .where(Outbox.id > before)
        ).all()
    found: dict[str, list[str]] = {}
    for process, kind in rows:
        found.setdefault(process, []).append(kind)
    return found


def _mails(users: list[str]) -> list[str]:
    return sorted(f"{u}@hilfenetz.invalid" for u in users)


def _all():
    from engine.worklist import WorklistQuery

    return WorklistQuery(view="alle")
