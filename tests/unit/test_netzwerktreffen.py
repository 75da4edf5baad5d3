"""P6 Netzwerktreffen: the invitation step (lead time, calendar file, e-mail with .ics at a real
SMTP sink), postponing and cancelling, the ``.ics`` download and the yearly warning job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from engine.errors import InvalidSubmissionError, NotFoundError, ScriptError
from engine.netzwerktreffen import INVITATION_KIND, WARNING_KIND
from engine.persistence.models import (
    NetworkMeeting,
    NetworkMeetingWarning,
    Notification,
    Outbox,
    ProcessInstance,
    UserTask,
)
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine

DEFINITIONS = (REPO_ROOT / "processes", REPO_ROOT / "forms")
ORGS = ["kreisgesundheitsamt", "kreispolizei"]
INVITED = sorted(
    f"{u}@hilfenetz.invalid" for u in ("fachkraft.polizei", "leitung.polizei", "fachkraft.gesundheitsamt")
)
AGENDA_SECRET = "TOP 3: Vertraulicher Punkt zur Fallarbeit im Netzwerk"  # anonymous: the field is marked


@pytest.fixture
def p6(tmp_path, sqlite_url, clock, smtp):
    engine = build_engine(
        tmp_path, sqlite_url, clock, DEFINITIONS, smtp_host="127.0.0.1", smtp_port=smtp.port
    )
    yield engine
    engine.db.dispose()


def task_of(hn: Hilfenetz, username: str, instance_id: int, element: str) -> str:
    actor = actor_lookup(hn)(username)
    for task in hn.worklist(actor, WorklistQuery(view="alle", per_page=100)).tasks:
        if task.instance_id == instance_id and task.element_id == element:
            return task.id
    raise AssertionError(f"{username} hat keine Aufgabe {element}")


def to_invitation(hn: Hilfenetz, clock: Any, art: str = "netzwerktreffen") -> int:
    """Start P6, let the topic deadline pass, prepare the agenda: the Koordination may invite."""
    look = actor_lookup(hn)
    data = {"art": art, "titel": "1. Netzwerktreffen 2026", "eingeladene_organisationen": ORGS}
    instance_id = hn.start(look("koordination.jugendamt"), "netzwerktreffen", data)
    clock.advance(timedelta(days=15))
    hn.fire_due_timers()
    task = task_of(hn, "fachkraft.gesundheitsamt", instance_id, "Task_Vorbereitung")
    hn.complete(look("fachkraft.gesundheitsamt"), task, {"tagesordnung": AGENDA_SECRET})
    return instance_id


def invite(hn: Hilfenetz, instance_id: int, start: str, end: str) -> None:
    task = task_of(hn, "koordination.jugendamt", instance_id, "Task_Einladen")
    data = {
        "titel": "1. Netzwerktreffen 2026",
        "tagesordnung": AGENDA_SECRET,
        "termin_beginn": start,
        "termin_ende": end,
        "ort": "Kreishaus Soest, Sitzungssaal",
        "eingeladene_organisationen": ORGS,
    }
    hn.complete(actor_lookup(hn)("koordination.jugendamt"), task, data)


def invitations(smtp: Any) -> list[Message]:
    return [m for m in smtp.sink.messages if str(m["Subject"]).startswith(("Einladung", "Abgesagt"))]


def calendar_of(message: Message) -> Calendar:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    assert parts[0].get_filename() == "termin.ics"
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload)


def test_invitation_reaches_every_member_of_the_invited_organisations_with_an_ics(p6, clock, smtp):
    instance_id = to_invitation(p6, clock)
    invite(p6, instance_id, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    while p6.deliver_outbox():
        pass
    mails = invitations(smtp)
    assert sorted(str(m["X-Envelope-To"]) for m in mails) == INVITED
    message = mails[0]
    assert message["Subject"] == "Einladung: Netzwerktreffen am 12.03.2026"
    calendar = calendar_of(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTEND"].params["TZID"] == "Europe/Berlin"
    assert str(event["SUMMARY"]) == "1. Netzwerktreffen 2026"
    assert str(event["LOCATION"]) == "Kreishaus Soest, Sitzungssaal"
    assert int(event["SEQUENCE"]) == 0
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    for m in mails:  # the agenda (which a careless user might fill with case data) never leaves
        assert AGENDA_SECRET not in m.as_string()
    with p6.db.read() as session:
        meeting = session.scalars(select(NetworkMeeting)).one()
        assert str(event["UID"]) == meeting.uid
        notes = session.scalars(select(Notification).where(Notification.kind == INVITATION_KIND)).all()
        assert len(notes) == len(INVITED)
        assert {n.title for n in notes} == {"Einladung: Netzwerktreffen am 12.03.2026"}
    assert p6.deliver_outbox() == 0  # nothing left; each e-mail went once
    assert len(invitations(smtp)) == len(INVITED)


@pytest.mark.parametrize(
    ("start", "end", "field", "text"),
    [
        ("2026-01-27T10:00+01:00", "2026-01-27T12:00+01:00", "termin_beginn", "frühestens am 10.02.2026"),
        ("2026-03-12T10:00+01:00", "2026-03-12T09:00+01:00", "termin_ende", "nach dem Beginn"),
        ("2026-03-12T10:00+01:00", "2026-03-14T10:00+01:00", "termin_ende", "höchstens einen Tag"),
    ],
)
def test_a_date_without_lead_time_or_with_a_wrong_end_is_refused_and_nothing_is_saved(
    p6, clock, start, end, field, text
):
    instance_id = to_invitation(p6, clock)  # now: 20.01.2026, lead time P3W
    with p6.db.read() as session:
        outbox_before = session.scalar(select(func.count()).select_from(Outbox))
    with pytest.raises(InvalidSubmissionError) as refused:
        invite(p6, instance_id, start, end)
    assert text in refused.value.field_errors[field]
    with p6.db.read() as session:
        assert session.scalar(select(func.count()).select_from(NetworkMeeting)) == 0
        assert session.scalar(select(func.count()).select_from(Outbox)) == outbox_before
        open_tasks = session.scalars(
            select(UserTask.element_id).where(UserTask.instance_id == instance_id, UserTask.status == "open")
        ).all()
    assert open_tasks == ["Task_Einladen"]  # the Koordination can correct the date
    invite(p6, instance_id, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")


def test_postponed_meeting_keeps_its_uid_with_a_new_sequence_and_a_cancellation_says_cancel(p6, clock, smtp):
    look = actor_lookup(p6)
    instance_id = to_invitation(p6, clock)
    invite(p6, instance_id, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    task = task_of(p6, "koordination.jugendamt", instance_id, "Task_Durchfuehrung")
    postpone = {"durchfuehrung": "verschoben", "neuer_termin": "ja", "verschiebungsgrund": "Raum fehlt"}
    p6.complete(look("koordination.jugendamt"), task, postpone)
    invite(p6, instance_id, "2026-04-16T10:00+02:00", "2026-04-16T13:00+02:00")
    task = task_of(p6, "koordination.jugendamt", instance_id, "Task_Durchfuehrung")
    cancel = {"durchfuehrung": "verschoben", "neuer_termin": "nein", "verschiebungsgrund": "entfällt"}
    p6.complete(look("koordination.jugendamt"), task, cancel)
    while p6.deliver_outbox():
        pass
    to_police = [m for m in invitations(smtp) if m["X-Envelope-To"] == "fachkraft.polizei@hilfenetz.invalid"]
    events = [(calendar_of(m), m["Subject"]) for m in to_police]
    uids = {str(c.walk("VEVENT")[0]["UID"]) for c, _ in events}
    assert len(uids) == 1
    assert [(str(c["METHOD"]), int(c.walk("VEVENT")[0]["SEQUENCE"])) for c, _ in events] == [
        ("REQUEST", 0),
        ("REQUEST", 1),
        ("CANCEL", 2),
    ]
    assert events[1][0].walk("VEVENT")[0].decoded("dtstart") == datetime(2026, 4, 16, 8, 0, tzinfo=UTC)
    assert events[2][1] == "Abgesagt: Netzwerktreffen am 16.04.2026"
    with p6.db.read() as session:
        assert session.scalars(select(NetworkMeeting.status)).one() == "abgesagt"
        row = session.get(ProcessInstance, instance_id)
        assert (row.status, row.end_event) == ("completed", "Ende_Verschoben")


def test_the_ics_download_is_for_the_invited_and_the_involved_only(p6, clock):
    look = actor_lookup(p6)
    instance_id = to_invitation(p6, clock)
    assert p6.meeting_of(look("fachkraft.polizei"), instance_id) is None  # not scheduled yet
    invite(p6, instance_id, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    for username in ("fachkraft.polizei", "koordination.frauenberatung"):
        calendar = Calendar.from_ical(p6.meeting_calendar(look(username), instance_id))
        assert str(calendar.walk("VEVENT")[0]["SUMMARY"]) == "1. Netzwerktreffen 2026"
    meeting = p6.meeting_of(look("fachkraft.polizei"), instance_id)
    assert meeting is not None and meeting.location == "Kreishaus Soest, Sitzungssaal"
    with pytest.raises(NotFoundError):
        p6.meeting_calendar(look("fachkraft.jobcenter"), instance_id)
    assert p6.meeting_of(look("fachkraft.jobcenter"), instance_id) is None


# --- the yearly warning --------------------------------------------------------------------------


def schedule(hn: Hilfenetz, clock: Any, start: str, end: str) -> int:
    instance_id = to_invitation(hn, clock)
    invite(hn, instance_id, start, end)
    return instance_id


def warnings(hn: Hilfenetz) -> list[dict[str, Any]]:
    with hn.db.read() as session:
        return [dict(p) for p in session.scalars(select(Outbox.payload).where(Outbox.kind == WARNING_KIND))]


def test_coordinators_are_warned_once_a_year_from_the_configured_day(p6, clock, smtp):
    schedule(p6, clock, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    clock.set(datetime(2026, 9, 29, 21, 59, tzinfo=UTC))  # 23:59 in Berlin, the day before
    assert p6.warn_second_meeting() == 0
    clock.set(datetime(2026, 9, 29, 22, 0, tzinfo=UTC))  # 30.09. 00:00 in Berlin
    assert p6.warn_second_meeting() == 1
    assert p6.warn_second_meeting() == 0
    other = Hilfenetz(p6.settings, clock=clock)  # a second runner on the same database
    assert other.warn_second_meeting() == 0
    other.db.dispose()
    assert warnings(p6) == [{"jahr": 2026, "anzahl": 1}]
    while p6.deliver_outbox():
        pass
    warned = sorted(
        str(m["X-Envelope-To"])
        for m in smtp.sink.messages
        if "Netzwerktreffen des Jahres" in str(m["Subject"])
    )
    assert warned == [
        "koordination.frauenberatung@hilfenetz.invalid",
        "koordination.jugendamt@hilfenetz.invalid",
    ]
    clock.set(datetime(2027, 10, 1, 8, 0, tzinfo=UTC))  # a new year: warned again (no meeting in 2027)
    assert p6.warn_second_meeting() == 1
    assert [w["jahr"] for w in warnings(p6)] == [2026, 2027]


def test_no_warning_with_two_meetings_but_a_cancelled_or_expert_day_does_not_count(p6, clock):
    schedule(p6, clock, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    fachtag = to_invitation(p6, clock, art="fachtag")
    invite(p6, fachtag, "2026-05-20T09:00+02:00", "2026-05-20T16:00+02:00")
    clock.set(datetime(2026, 10, 1, 8, 0, tzinfo=UTC))
    second = schedule(p6, clock, "2026-11-12T10:00+01:00", "2026-11-12T13:00+01:00")
    look = actor_lookup(p6)
    task = task_of(p6, "koordination.jugendamt", second, "Task_Durchfuehrung")
    cancel = {"durchfuehrung": "verschoben", "neuer_termin": "nein", "verschiebungsgrund": "entfällt"}
    p6.complete(look("koordination.jugendamt"), task, cancel)
    assert p6.warn_second_meeting() == 1
    assert warnings(p6) == [{"jahr": 2026, "anzahl": 1}]


def test_two_netzwerktreffen_in_the_year_mean_no_warning(p6, clock):
    schedule(p6, clock, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    clock.set(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    schedule(p6, clock, "2026-11-12T10:00+01:00", "2026-11-12T13:00+01:00")
    clock.set(datetime(2026, 10, 1, 8, 0, tzinfo=UTC))
    assert p6.warn_second_meeting() == 0
    with p6.db.read() as session:
        assert session.scalar(select(func.count()).select_from(NetworkMeetingWarning)) == 0


def test_a_malformed_warning_day_is_a_clear_error(p6, clock):
    p6.fristen.overrides["netzwerktreffen.zweites_bis"] = "30.09."
    with pytest.raises(ScriptError, match="MM-TT"):
        p6.warn_second_meeting()


def test_a_refused_invitation_mail_is_sent_again_later_with_its_attachment_once(p6, clock, smtp):
    instance_id = to_invitation(p6, clock)
    while p6.deliver_outbox():  # the task notifications so far
        pass
    invite(p6, instance_id, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    smtp.sink.refuse = True
    p6.deliver_outbox()
    assert invitations(smtp) == []
    with p6.db.read() as session:
        row = session.scalars(select(Outbox).where(Outbox.kind == INVITATION_KIND)).one()
        assert row.status == "failed"
    smtp.sink.refuse = False
    clock.advance(timedelta(minutes=5))
    while p6.deliver_outbox():
        pass
    mails = invitations(smtp)
    assert sorted(str(m["X-Envelope-To"]) for m in mails) == INVITED
    assert all(str(calendar_of(m)["METHOD"]) == "REQUEST" for m in mails)
    clock.advance(timedelta(hours=2))
    assert p6.deliver_outbox() == 0
    assert len(invitations(smtp)) == len(INVITED)
