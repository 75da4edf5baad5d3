"""DSGVO Art. 15 export and Art. 17 erasure: what is in it, who may, and what a duty keeps."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from engine.consent import consent_from_referral
from engine.dsgvo import ANONYMISE, ERASE, KEEP
from engine.errors import InvalidSubmissionError, NotFoundError, NotPermittedError
from engine.persistence.models import (
    Absence,
    AuditEvent,
    Ballot,
    BallotElector,
    BallotVote,
    Kontaktdaten,
    Notification,
    User,
)
from engine.read_models import Actor
from engine.service import Hilfenetz
from engine.worklist import WorklistQuery

SUBJECT = "Erika Mustermann"


def _user_id(hn: Hilfenetz, username: str) -> int:
    with hn.db.read() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def _ballot(hn: Hilfenetz, secret: bool, lena: int, other: int) -> None:
    now = hn.clock.now()
    with hn.db.write() as session:
        ballot = Ballot(
            subject="Geheim" if secret else "Offen",
            secret=secret,
            rules={},
            status="geschlossen",
            opened_at=now,
            deadline=now,
        )
        session.add(ballot)
        session.flush()
        for member, choice in ((lena, "ja"), (other, "nein")):
            session.add(
                BallotElector(ballot_id=ballot.id, member_id=member, voter_id=member, organisation="x")
            )
            session.add(
                BallotVote(
                    ballot_id=ballot.id,
                    member_id=member,
                    cast_by_id=member,
                    cast_at=now,
                    choice=None if secret else choice,
                )
            )
        session.commit()


@pytest.fixture
def lena(hn: Hilfenetz, actor: Callable[[str], Actor]) -> Actor:
    """Lena has a started and a completed task, a notification, an absence and two votes."""
    user = actor("fachkraft.frauenberatung")
    hn.start(user, "kette", {})
    hn.complete(user, hn.worklist(user, WorklistQuery(view="alle")).tasks[0].id, {"notiz": "x"})
    other = _user_id(hn, "fachkraft2.frauenberatung")
    now = hn.clock.now()
    with hn.db.write() as session:
        session.add(Notification(user_id=user.id, created_at=now, kind="aufgabe", title="Aufgabe 2"))
        session.add(
            Absence(
                user_id=user.id,
                substitute_id=other,
                starts_at=now - timedelta(days=20),
                ends_at=now - timedelta(days=10),
                note="Urlaub",
            )
        )
        session.commit()
    _ballot(hn, False, user.id, other)
    _ballot(hn, True, user.id, other)
    return user


def test_the_officer_exports_everything_about_an_account_as_json_and_pdf(
    hn: Hilfenetz, actor: Callable[[str], Actor], lena: Actor
) -> None:
    dsb = actor("datenschutz.kreis")
    export = hn.export_account(dsb, lena.username, "pdf")
    data = export.as_json()
    sections = data["abschnitte"]
    assert {"Benutzername": "fachkraft.frauenberatung"}.items() <= {
        r["Angabe"]: r["Wert"] for r in sections["konto"]["eintraege"]
    }.items()
    assert [t["Aufgabe"] for t in sections["aufgaben"]["eintraege"]] == ["Aufgabe 1"]
    assert [n["Titel"] for n in sections["benachrichtigungen"]["eintraege"]] == ["Aufgabe 2"]
    assert [a["Notiz"] for a in sections["abwesenheiten"]["eintraege"]] == ["Urlaub"]
    votes = {b["Gegenstand"]: b["Eigene Stimme"] for b in sections["abstimmungen"]["eintraege"]}
    assert votes["Offen"] == "ja"  # only her own choice; the colleague's "nein" is nowhere
    assert "geheime Abstimmung" in votes["Geheim"]
    assert "nein" not in json.dumps(sections["abstimmungen"])
    assert any(e["Aktion"] == "task_completed" for e in sections["protokoll"]["eintraege"])
    json.dumps(data)  # machine-readable as is

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(hn.personal_data_pdf(export))).pages)
    assert "Auskunft nach Art. 15 DSGVO" in text and "Lena Probe" in text and "Aufgabe 1" in text

    with hn.db.read() as session:
        logged = session.scalars(select(AuditEvent).where(AuditEvent.action == "dsgvo_auskunft")).one()
        assert logged.actor_id == dsb.id and logged.detail["konto"] == lena.id


def test_a_fachkraft_exports_only_her_own_data(
    hn: Hilfenetz, actor: Callable[[str], Actor], lena: Actor
) -> None:
    assert hn.export_account(lena, lena.username).subject.startswith("Lena Probe")
    with pytest.raises(NotPermittedError, match="Datenschutzbeauftragte"):
        hn.export_account(lena, "fachkraft2.frauenberatung")
    with pytest.raises(NotPermittedError):
        hn.find_people(lena, "Probe")
    with pytest.raises(NotPermittedError):
        hn.account_erasure(lena, lena.username)


def test_an_active_account_is_not_erased_and_the_reason_is_shown(
    hn: Hilfenetz, actor: Callable[[str], Actor], lena: Actor
) -> None:
    dsb = actor("datenschutz.kreis")
    plan = hn.account_erasure(dsb, lena.username, confirm=True)
    account = plan.items[0]
    assert account.action == KEEP and "noch aktiv" in account.reason
    kept = {i.what: i.reason for i in plan.blocked}
    assert "Hash-Kette" in kept["Protokolleinträge (Audit)"]
    with hn.db.read() as session:
        user = session.get(User, lena.id)
        assert user is not None and user.display_name == "Lena Probe"  # nothing anonymised
        assert session.scalars(select(Notification).where(Notification.user_id == lena.id)).all() == []
    with pytest.raises(NotFoundError, match="Kein Konto"):
        hn.account_erasure(dsb, "gibt.es.nicht")


def test_a_disabled_account_is_anonymised_and_the_audit_trail_keeps_its_id(
    hn: Hilfenetz, actor: Callable[[str], Actor], lena: Actor
) -> None:
    with hn.db.write() as session:  # as "Partner verwalten" does it (P12 needs gremien.json)
        session.execute(User.__table__.update().where(User.id == lena.id).values(active=False))
        session.commit()
    dsb = actor("datenschutz.kreis")
    plan = hn.account_erasure(dsb, lena.username)
    assert plan.items[0].action == ANONYMISE and not plan.applied
    reason = {i.what: i.reason for i in plan.blocked}["Protokolleinträge (Audit)"]
    assert "keinen Namen" not in reason  # it was untrue: the entries keep the name
    assert "dem Namen" in reason and "Art. 30" in reason and "Hash-Kette" in reason
    done = hn.account_erasure(dsb, lena.username, confirm=True)
    assert done.applied
    with hn.db.read() as session:
        user = session.get(User, lena.id)
        assert user is not None
        assert (user.username, user.display_name, user.email, user.active, user.roles) == (
            f"geloescht-{lena.id}",
            f"Gelöschtes Konto #{lena.id}",
            None,
            False,
            [],
        )
        assert session.scalars(select(Absence).where(Absence.user_id == lena.id)).all() == []
        assert session.scalars(select(AuditEvent).where(AuditEvent.actor_id == lena.id)).first() is not None
        names = set(session.scalars(select(AuditEvent.actor_name).where(AuditEvent.actor_id == lena.id)))
        assert "Lena Probe" in names  # what the plan says stays, stays
        logged = session.scalars(select(AuditEvent).where(AuditEvent.action == "dsgvo_loeschung")).one()
        assert logged.detail["konto"] == lena.id and "Lena" not in json.dumps(logged.detail)


def _contact(hn: Hilfenetz, instance_id: int, name: str, street: str = "Hauptstraße 1") -> int:
    now = hn.clock.now()
    with hn.db.write() as session:
        record = Kontaktdaten(
            instance_id=instance_id,
            recorded_at=now,
            recorded_by_org="kreispolizei",
            consent_date="2026-01-05",
            recipients=["frauenberatung-soest"],
            fields={
                "values": {"name": name, "anschrift": street, "telefon": "0170 1234567"},
                "labels": {"name": "Name", "anschrift": "Anschrift"},
            },
            retention_until=now + timedelta(days=90),
        )
        session.add(record)
        session.commit()
        return record.id


def test_a_data_subject_is_found_exported_and_erased_unless_her_case_is_open(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    user = actor("fachkraft.frauenberatung")
    running = hn.start(user, "kette", {})
    done = hn.start(user, "kette", {})
    for _ in range(5):
        page = hn.worklist(user, WorklistQuery(view="alle"))
        task = next(t for t in page.tasks if t.instance_id == done)
        hn.complete(user, task.id, {"notiz": "ok"})
    open_record, closed_record = _contact(hn, running, SUBJECT), _contact(hn, done, SUBJECT)
    _contact(hn, done, "Max Andere")
    with hn.db.write() as session:
        closed_consent = consent_from_referral(
            session,
            instance_id=done,
            kontaktdaten_id=closed_record,
            recipients=["frauenberatung-soest"],
            scope="",
            consent_date="2026-01-05",
            actor=actor("fachkraft.polizei"),
            now=hn.clock.now(),
        )
        session.commit()
    dsb = actor("datenschutz.kreis")

    hits = hn.find_people(dsb, "mustermann")
    assert [(h.kind, h.key) for h in hits] == [("betroffene", "mustermann")]
    chosen = [h.record for h in hn.find_contact_records(dsb, "mustermann")]
    assert chosen == [open_record, closed_record]
    export = hn.export_subject(dsb, "mustermann", chosen, "json")
    rows = export.as_json()["abschnitte"]["kontaktdaten"]["eintraege"]
    assert [r["Datensatz"] for r in rows] == [str(open_record), str(closed_record)]
    assert "Max Andere" not in json.dumps(export.as_json(), ensure_ascii=False)
    consents = export.as_json()["abschnitte"]["einwilligungen"]["eintraege"]
    assert [c["Einwilligung"] for c in consents] == [str(closed_consent)]  # given with her record
    assert consents[0]["Empfänger"] == "frauenberatung-soest"

    plan = hn.subject_erasure(dsb, "mustermann", chosen, confirm=True)
    actions = {i.record: (i.action, i.reason) for i in plan.items if i.record is not None}
    assert actions[closed_record] == (ERASE, "")
    assert actions[open_record][0] == KEEP and f"Vorgang #{running} läuft noch" in actions[open_record][1]
    kept = {i.what.split(" (")[0]: i.reason for i in plan.items if i.action == KEEP}
    assert f"Vorgang #{running} läuft noch" in kept[f"Falldaten des Vorgangs #{running}"]
    assert (
        "Löschlauf" in kept[f"Falldaten des Vorgangs #{done}"]
        and "P1Y" in kept[f"Falldaten des Vorgangs #{done}"]
    )
    consent_reason = kept[f"Einwilligung {closed_consent}"]
    assert "Art. 7 Abs. 1" in consent_reason and "„Einwilligungen“ (P1Y" in consent_reason
    with hn.db.read() as session:
        fields = {r.id: r.fields for r in session.scalars(select(Kontaktdaten))}
        logged = [
            e.detail for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("dsgvo_%")))
        ]
    assert fields[closed_record] == {} and fields[open_record]["values"]["name"] == SUBJECT
    assert "Mustermann" not in json.dumps(logged, ensure_ascii=False)
    with pytest.raises(NotPermittedError):
        hn.export_subject(user, "mustermann", chosen)


def _completed_case(hn: Hilfenetz, user: Actor) -> int:
    done = hn.start(user, "kette", {})
    for _ in range(5):
        page = hn.worklist(user, WorklistQuery(view="alle"))
        task = next(t for t in page.tasks if t.instance_id == done)
        hn.complete(user, task.id, {"notiz": "ok"})
    return done


def test_only_whole_names_match_and_only_the_chosen_records_are_exported_and_erased(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    done = _completed_case(hn, actor("fachkraft.frauenberatung"))
    mueller = _contact(hn, done, "Anna Müller", "Lindenweg 2")
    namesake = _contact(hn, done, "Anna Mueller", "Birkenweg 9")
    street = _contact(hn, done, "Hans Schmidt", "Müllerstraße 3")
    johann = _contact(hn, done, "Johann Becker")
    ann = _contact(hn, done, "Ann Weber")
    dsb = actor("datenschutz.kreis")

    hits = hn.find_contact_records(dsb, "müller")
    assert [h.record for h in hits] == [mueller, namesake]  # umlaut-folded, not the street
    assert hits[0].matched == ("Name",) and hits[0].names == "Anna Müller" and not hits[0].case_running
    assert [h.record for h in hn.find_contact_records(dsb, "Ann")] == [ann]  # not "Johann", not "Anna"
    assert [h.record for h in hn.find_contact_records(dsb, "anna müller")] == [mueller, namesake]
    assert hn.find_contact_records(dsb, "Anna Schmidt") == []  # every word must match

    export = hn.export_subject(dsb, "Müller", [mueller], "json")
    text = json.dumps(export.as_json(), ensure_ascii=False)
    assert "Anna Müller" in text and "Birkenweg" not in text and "Hans Schmidt" not in text
    for wrong in ([street], [mueller, johann], [-1]):  # the engine re-checks what was posted
        with pytest.raises(InvalidSubmissionError, match="passen nicht"):
            hn.export_subject(dsb, "Müller", wrong, "json")
        with pytest.raises(InvalidSubmissionError, match="passen nicht"):
            hn.subject_erasure(dsb, "Müller", wrong, confirm=True)
    with pytest.raises(InvalidSubmissionError, match="mindestens einen"):
        hn.subject_erasure(dsb, "Müller", [], confirm=True)

    plan = hn.subject_erasure(dsb, "Müller", [mueller])
    assert [i.record for i in plan.items if i.record] == [mueller]
    assert f"Vorgang #{done}, erfasst am" in plan.items[0].what
    hn.subject_erasure(dsb, "Müller", [mueller], confirm=True)
    with hn.db.read() as session:
        fields = {r.id: r.fields for r in session.scalars(select(Kontaktdaten))}
    assert fields[mueller] == {}
    assert fields[namesake]["values"]["name"] == "Anna Mueller"
    assert fields[street]["values"]["anschrift"] == "Müllerstraße 3"
    assert fields[johann] != {} and fields[ann] != {}
