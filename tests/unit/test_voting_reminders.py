"""Electors are told when a ballot opens and reminded once before its deadline (outbox: in-app + e-mail).

Demo steering group: koordination.jugendamt, koordination.frauenberatung, leitung.polizei,
fachkraft.gesundheitsamt, fachkraft.gleichstellung, fachkraft.beratungsstelle (one per organisation).
"""

from __future__ import annotations

import json
from datetime import timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine.errors import ScriptError
from engine.jobs import EmbeddedJobRunner
from engine.persistence.models import (
    AuditEvent,
    Ballot,
    EmailDelivery,
    Notification,
    Outbox,
    User,
    UserRole,
)
from engine.service import Hilfenetz
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import ballot_bpmn, chain_bpmn, write_definitions

MEMBERS = sorted(
    [
        "koordination.jugendamt",
        "koordination.frauenberatung",
        "leitung.polizei",
        "fachkraft.gesundheitsamt",
        "fachkraft.gleichstellung",
        "fachkraft.beratungsstelle",
    ]
)
SUBJECT = "Förderantrag Präventionsprojekt Vertraulich"


def engine_with(tmp_path: Path, clock, fristen: dict[str, str] | None = None, **settings) -> Hilfenetz:
    defs = write_definitions(tmp_path / "defs", {"kette": chain_bpmn()})
    if fristen is not None:
        (defs[0] / "fristen.json").write_text(json.dumps(fristen), encoding="utf-8")
    return build_engine(tmp_path, f"sqlite:///{tmp_path / 'hilfenetz.db'}", clock, defs, **settings)


@pytest.fixture
def hn(tmp_path, clock):
    engine = engine_with(tmp_path, clock, {"abstimmung.erinnerung_vorlauf": "PT2H"})
    yield engine
    engine.db.dispose()


def open_ballot(hn: Hilfenetz, *, hours: int = 48, applying_org: str | None = None, by_process=False) -> int:
    opener = None if by_process else actor_lookup(hn)("koordination.jugendamt")
    deadline = hn.clock.now() + timedelta(hours=hours)
    return hn.open_ballot(SUBJECT, applying_org, None, deadline, False, opener)


def notified(hn: Hilfenetz, kind: str) -> list[str]:
    with hn.db.read() as session:
        return sorted(
            session.scalars(
                select(User.username)
                .join(Notification, Notification.user_id == User.id)
                .where(Notification.kind == kind)
            )
        )


def outbox_kinds(hn: Hilfenetz) -> list[str]:
    with hn.db.read() as session:
        return list(
            session.scalars(select(Outbox.kind).where(Outbox.kind.like("ballot_%")).order_by(Outbox.id))
        )


def test_every_voter_is_told_when_a_ballot_opens_with_a_link_to_it(hn, clock):
    now = clock.now()
    hn.add_absence(
        actor_lookup(hn)("leitung.polizei"),
        "fachkraft.polizei",
        now - timedelta(hours=1),
        now + timedelta(days=9),
    )
    ballot = open_ballot(hn, applying_org="frauenberatung-soest")
    assert outbox_kinds(hn) == ["ballot_opened"]
    assert hn.deliver_outbox() == 1
    expected = sorted(
        {*MEMBERS, "fachkraft.polizei"} - {"leitung.polizei", "koordination.frauenberatung"}
    )  # the substitute instead of the absent member; the applying organisation's member is excluded
    assert notified(hn, "ballot_opened") == expected
    views = hn.notifications_of(actor_lookup(hn)("fachkraft.polizei"))
    assert [(v.kind, v.ballot_id, v.task_id, v.title) for v in views] == [
        ("ballot_opened", ballot, None, f"Abstimmung Nr. {ballot}: {SUBJECT}")
    ]
    assert hn.deliver_outbox() == 0 and len(notified(hn, "ballot_opened")) == len(expected)


def test_a_ballot_opened_by_a_process_step_tells_the_electors_too(hn):
    ballot = open_ballot(hn, by_process=True)
    hn.deliver_outbox()
    assert notified(hn, "ballot_opened") == MEMBERS
    with hn.db.read() as session:
        assert session.get(Ballot, ballot).opened_by_id is None


def test_nobody_is_told_about_a_ballot_that_closed_before_delivery(hn):
    ballot = open_ballot(hn)
    for member in MEMBERS[:4]:
        hn.cast_vote(actor_lookup(hn)(member), ballot, "ja")  # decided early
    hn.deliver_outbox()
    assert notified(hn, "ballot_opened") == []
    with hn.db.read() as session:
        assert set(session.scalars(select(Outbox.status))) == {"sent"}


def test_reminder_comes_the_configured_lead_before_the_deadline_once_to_those_who_have_not_voted(hn, clock):
    ballot = open_ballot(hn)
    lookup = actor_lookup(hn)
    hn.cast_vote(lookup("leitung.polizei"), ballot, "ja")
    hn.cast_vote(lookup("fachkraft.gesundheitsamt"), ballot, "befangen")
    clock.advance(timedelta(hours=46) - timedelta(minutes=1))
    assert hn.send_ballot_reminders() == 0
    clock.advance(timedelta(minutes=1))
    assert hn.send_ballot_reminders() == 1
    assert hn.send_ballot_reminders() == 0
    hn.cast_vote(lookup("fachkraft.gleichstellung"), ballot, "nein")  # votes before the delivery
    hn.deliver_outbox()
    assert notified(hn, "ballot_reminder") == sorted(
        set(MEMBERS) - {"leitung.polizei", "fachkraft.gesundheitsamt", "fachkraft.gleichstellung"}
    )
    with hn.db.read() as session:
        row = session.get(Ballot, ballot)
        assert row.reminded_at == clock.now()
        audits = session.execute(
            select(AuditEvent.action, AuditEvent.actor_name, AuditEvent.detail).where(
                AuditEvent.action == "abstimmung_erinnerung"
            )
        ).all()
    assert len(audits) == 1 and audits[0][1] == "System" and audits[0][2]["ausstehend"] == 4
    clock.advance(timedelta(hours=1))
    assert hn.send_ballot_reminders() == 0
    assert outbox_kinds(hn) == ["ballot_opened", "ballot_reminder"]


def test_a_voter_with_two_seats_is_told_once(hn, clock):
    """fachkraft.polizei is a member herself and stands in for the absent leitung.polizei."""
    now = clock.now()
    lookup = actor_lookup(hn)
    with hn.db.write() as session:
        user = session.scalars(select(User).where(User.username == "fachkraft.polizei")).one()
        session.add(UserRole(user_id=user.id, role="Steuerungsgruppe"))
        session.commit()
    hn.add_absence(
        lookup("leitung.polizei"), "fachkraft.polizei", now - timedelta(hours=1), now + timedelta(days=9)
    )
    open_ballot(hn)
    clock.advance(timedelta(hours=47))
    hn.send_ballot_reminders()
    hn.deliver_outbox()
    for kind in ("ballot_opened", "ballot_reminder"):
        told = notified(hn, kind)
        assert told.count("fachkraft.polizei") == 1 and "leitung.polizei" not in told


def test_no_reminder_for_a_closed_ballot_or_one_whose_moment_was_before_its_opening(hn, clock):
    lookup = actor_lookup(hn)
    closed = open_ballot(hn)
    for member in MEMBERS[:4]:
        hn.cast_vote(lookup(member), closed, "nein")
    short = open_ballot(hn, hours=1)  # the lead of two hours reaches back before the opening
    clock.advance(timedelta(minutes=59))
    assert hn.send_ballot_reminders() == 0
    clock.advance(timedelta(days=3))
    assert hn.send_ballot_reminders() == 0  # past its deadline
    with hn.db.read() as session:
        assert session.scalars(select(Ballot.reminded_at).where(Ballot.id.in_([closed, short]))).all() == [
            None,
            None,
        ]


def test_aus_switches_the_reminder_off_and_the_network_default_applies_without_own_value(tmp_path, clock):
    off = engine_with(tmp_path / "aus", clock, {"abstimmung.erinnerung_vorlauf": "aus"})
    default = engine_with(tmp_path / "standard", clock, {"erinnerung.vorlauf": "PT3H"})
    try:
        open_ballot(off)
        open_ballot(default)
        clock.advance(timedelta(hours=45) - timedelta(seconds=1))
        assert default.send_ballot_reminders() == 0
        clock.advance(timedelta(seconds=1))
        assert default.send_ballot_reminders() == 1  # erinnerung.vorlauf: three hours before
        clock.advance(timedelta(hours=2, minutes=59))
        assert off.send_ballot_reminders() == 0
    finally:
        off.db.dispose()
        default.db.dispose()


def test_a_wrong_value_is_refused_in_german(tmp_path, clock):
    hn = engine_with(tmp_path, clock, {"abstimmung.erinnerung_vorlauf": "morgen"})
    try:
        open_ballot(hn)
        with pytest.raises(ScriptError, match=r"„abstimmung\.erinnerung_vorlauf“ = „morgen“ ist keine Dauer"):
            hn.send_ballot_reminders()
        with hn.db.read() as session:
            assert session.scalars(select(Ballot.reminded_at)).all() == [None]
    finally:
        hn.db.dispose()


def test_the_job_runner_reminds_and_delivers_in_one_round(hn, clock):
    open_ballot(hn)
    runner = EmbeddedJobRunner(hn, 60)
    runner.run_once()
    assert notified(hn, "ballot_opened") == MEMBERS
    clock.advance(timedelta(hours=47))
    runner.run_once()
    assert notified(hn, "ballot_reminder") == MEMBERS
    with hn.db.read() as session:
        assert set(session.scalars(select(Outbox.status))) == {"sent"}


def test_mails_are_neutral_link_to_the_ballot_and_follow_the_preference(tmp_path, clock, smtp):
    hn = engine_with(
        tmp_path, clock, {"abstimmung.erinnerung_vorlauf": "PT2H"}, smtp_host="127.0.0.1", smtp_port=smtp.port
    )
    try:
        lookup = actor_lookup(hn)
        hn.set_notification_preference(lookup("leitung.polizei"), "taeglich")
        hn.set_notification_preference(lookup("fachkraft.gleichstellung"), "aus")
        with hn.db.write() as session:  # an account without an e-mail address
            session.execute(
                update(User).where(User.username == "fachkraft.beratungsstelle").values(email=None)
            )
            session.commit()
        ballot = open_ballot(hn)
        hn.deliver_outbox()
        clock.advance(timedelta(hours=47))
        hn.send_ballot_reminders()
        hn.deliver_outbox()
        by_subject: dict[str, list[str]] = {}
        for message in smtp.sink.messages:
            subject = str(make_header(decode_header(message["Subject"])))
            body = message.get_payload(decode=True).decode("utf-8")
            assert "Präventionsprojekt" not in subject + body and "Vertraulich" not in subject + body
            assert f"http://127.0.0.1:5000/abstimmungen/{ballot}\r\n" in body
            by_subject.setdefault(subject, []).append(str(message["To"]))
        mailed = sorted(
            f"{u}@hilfenetz.invalid"
            for u in set(MEMBERS)
            - {"leitung.polizei", "fachkraft.gleichstellung", "fachkraft.beratungsstelle"}
        )
        assert sorted(by_subject) == [
            "Abstimmung der Steuerungsgruppe in Hilfenetz",
            "Erinnerung: Abstimmung in Hilfenetz endet bald",
        ]
        assert all(sorted(to) == mailed for to in by_subject.values())
        assert notified(hn, "ballot_reminder") == MEMBERS  # in-app for everyone, whatever the preference
        with hn.db.read() as session:
            kinds = sorted(set(session.scalars(select(EmailDelivery.kind))))
        assert kinds == ["abstimmung", "stimmerinnerung"]
    finally:
        hn.db.dispose()


def test_a_ballot_opened_by_a_process_step_tells_and_reminds_its_electors(tmp_path, clock):
    """The system step aktion=abstimmung (P5) opens the ballot inside the step's transaction."""
    processes, forms = write_definitions(tmp_path / "defs", {"antrag": ballot_bpmn()})
    fristen = {"test.abstimmung": "P7D", "abstimmung.erinnerung_vorlauf": "P1D"}
    (processes / "fristen.json").write_text(json.dumps(fristen), encoding="utf-8")
    hn = build_engine(tmp_path, f"sqlite:///{tmp_path / 'p5.db'}", clock, (processes, forms))
    try:
        lookup = actor_lookup(hn)
        applicant = lookup("fachkraft.frauenberatung")
        instance = hn.start(applicant, "antrag", {})
        task = hn.instance_detail(applicant, instance).open_tasks[0]
        hn.complete(applicant, task.id, {"notiz": "Präventionsprojekt an Schulen", "anzahl": 12000})
        with hn.db.read() as session:
            ballot = session.scalars(select(Ballot.id).where(Ballot.instance_id == instance)).one()
        hn.deliver_outbox()
        voters = sorted(set(MEMBERS) - {"koordination.frauenberatung"})  # the applying organisation
        assert notified(hn, "ballot_opened") == voters
        minutes = hn.ballot_minutes(lookup("leitung.polizei"), ballot)
        assert [(d.label, d.value) for d in minutes.documents] == [
            ("Vorhaben", "Präventionsprojekt an Schulen"),
            ("Betrag in Euro", "12000"),
        ]
        assert minutes.instance_id == instance and minutes.opened_by == "Prozess"
        hn.cast_vote(lookup("leitung.polizei"), ballot, "ja")
        clock.advance(timedelta(days=6))
        assert hn.send_ballot_reminders() == 1
        hn.deliver_outbox()
        assert notified(hn, "ballot_reminder") == sorted(set(voters) - {"leitung.polizei"})
        history = [e.action for e in hn.instance_detail(lookup("koordination.jugendamt"), instance).history]
        assert "abstimmung_erinnerung" in history
    finally:
        hn.db.dispose()


def test_the_daily_digest_counts_new_ballots_but_not_reminders(tmp_path, clock, smtp):
    hn = engine_with(
        tmp_path, clock, {"abstimmung.erinnerung_vorlauf": "PT2H"}, smtp_host="127.0.0.1", smtp_port=smtp.port
    )
    try:
        lookup = actor_lookup(hn)
        hn.set_notification_preference(lookup("leitung.polizei"), "taeglich")
        ballot = open_ballot(hn)
        hn.deliver_outbox()
        before = len(smtp.sink.messages)
        assert hn.send_digests() == 1  # 09:00 in Berlin, after the digest hour
        (digest,) = smtp.sink.messages[before:]
        body = digest.get_payload(decode=True).decode("utf-8")
        assert digest["X-Envelope-To"] == "leitung.polizei@hilfenetz.invalid"
        assert str(make_header(decode_header(digest["Subject"]))) == "Neue Abstimmungen in Hilfenetz"
        assert (
            "seit der letzten Übersicht gibt es in Hilfenetz eine neue Abstimmung der Steuerungsgruppe"
            in body
        )
        assert "http://127.0.0.1:5000/abstimmungen" in body.splitlines() and "neue Aufgabe" not in body
        assert "Präventionsprojekt" not in body and f"/abstimmungen/{ballot}" not in body
        clock.advance(timedelta(hours=46))  # two hours before the deadline, 07:00 in Berlin
        hn.send_ballot_reminders()
        hn.deliver_outbox()
        assert "leitung.polizei" in notified(hn, "ballot_reminder")  # in-app
        assert hn.send_digests() == 0  # nothing new but a reminder: no digest
    finally:
        hn.db.dispose()
