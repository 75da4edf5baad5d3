"""Consent records: referral consents, the transfer gate, withdrawal, signed forms, P4 legal bases."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import consent
from engine.clock import ManualClock
from engine.consent import ConsentInput, Upload
from engine.consent_steps import legal_bases
from engine.errors import InvalidSubmissionError, NotFoundError, NotPermittedError
from engine.persistence.models import (
    AuditEvent,
    ConsentDocument,
    ConsentRecord,
    Kontaktdaten,
    Notification,
    ProcessInstance,
    RetentionErasure,
    User,
)
from engine.read_models import Actor
from engine.retention import MARKER, erase_due
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine

PROCESSES, FORMS = REPO_ROOT / "processes", REPO_ROOT / "forms"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def p1_scenario(name_start: str) -> dict[str, Any]:
    data = json.loads((PROCESSES / "polizeieinsatz.scenarios.json").read_text(encoding="utf-8"))
    return next(s for s in data["scenarios"] if s["name"].startswith(name_start))


WITH_CONSENT = p1_scenario("Einwilligung nur für die Frauenberatung")
WITHOUT_CONSENT = p1_scenario("Ohne Einwilligung: keine Vermittlung")


@pytest.fixture
def hn(tmp_path: Path, clock: ManualClock) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, f"sqlite:///{tmp_path / 'consent.db'}", clock, (PROCESSES, FORMS))
    yield engine
    engine.db.dispose()


@pytest.fixture
def actor(hn: Hilfenetz) -> Callable[[str], Actor]:
    return actor_lookup(hn)


def start_p1(hn: Hilfenetz, actor: Callable[[str], Actor], scenario: dict[str, Any], **changes: Any) -> int:
    """Record the call-out and complete the DASH step (the chain then hands the case on)."""
    police = actor("fachkraft.polizei")
    instance_id = hn.start(police, "polizeieinsatz", {**scenario["start"]["data"], **changes})
    dash = next(s for s in scenario["steps"] if s.get("complete") == "Task_Gefaehrdungseinschaetzung")
    hn.complete(police, task_of(hn, police, instance_id, "Task_Gefaehrdungseinschaetzung"), dash["data"])
    return instance_id


def task_of(hn: Hilfenetz, who: Actor, instance_id: int, element: str) -> str:
    tasks = hn.worklist(who, WorklistQuery(view="alle", per_page=100)).tasks
    return next(t.id for t in tasks if t.instance_id == instance_id and t.element_id == element)


def counselling_sees_contact_data(hn: Hilfenetz, actor: Callable[[str], Actor], instance_id: int) -> bool:
    counsellor = actor("fachkraft.frauenberatung")
    return bool(
        hn.task_detail(
            counsellor, task_of(hn, counsellor, instance_id, "Task_Kontaktaufnahme")
        ).contact_records
    )


def verbal(**changes: Any) -> ConsentInput:
    given = {
        "subject": "FK-2026-001",
        "categories": ["falldaten"],
        "recipients": ["kreisjugendamt"],
        "purpose": "Fallkonferenz",
        "given_on": "2026-01-05",
        "form": "muendlich",
        "witness": "Kollegin der Frauenberatung",
    }
    return ConsentInput(**{**given, **changes})


def test_the_referral_consent_becomes_a_consent_record_of_the_case(hn, actor) -> None:
    instance_id = start_p1(hn, actor, WITH_CONSENT)
    with hn.db.read() as session:
        record = session.scalars(select(ConsentRecord)).one()
        contact = session.scalars(select(Kontaktdaten)).one()
        assert (record.instance_id, record.kontaktdaten_id) == (instance_id, contact.id)
        assert record.recipients == ["frauenberatung-soest"] and record.categories == ["kontaktdaten"]
        assert record.form == "formular" and record.given_to_org == "kreispolizei"
        assert record.subject == f"Vorgang {instance_id}"  # a case reference, never the clear name
        assert "Erika" not in json.dumps(consent.consents_of_subject(session, record.subject))
    assert counselling_sees_contact_data(hn, actor, instance_id)


def test_a_referral_without_consent_transfers_nothing(hn, actor) -> None:
    instance_id = start_p1(hn, actor, WITHOUT_CONSENT)
    with hn.db.write() as session:
        assert session.scalars(select(ConsentRecord)).all() == []
        assert session.scalars(select(Kontaktdaten)).all() == []
        with pytest.raises(NotPermittedError, match="Keine Einwilligung und keine Rechtsgrundlage"):
            consent.require_transfer(
                session, instance_id, "frauenberatung-soest", ["kontaktdaten"], hn.clock.now()
            )
    counsellor = actor("fachkraft.frauenberatung")
    tasks = hn.worklist(counsellor, WorklistQuery(view="alle", per_page=100)).tasks
    assert not [t for t in tasks if t.instance_id == instance_id]


def test_a_withdrawal_stops_the_next_read_and_tells_the_recipients_neutrally(hn, actor) -> None:
    instance_id = start_p1(hn, actor, WITH_CONSENT)
    assert counselling_sees_contact_data(hn, actor, instance_id)
    police = actor("fachkraft.polizei")
    [record] = hn.consents_of_case(police, instance_id)
    hn.withdraw_consent(police, record.id, "die Betroffene (telefonisch)")
    assert not counselling_sees_contact_data(hn, actor, instance_id)
    hn.notifications.deliver_outbox()
    with hn.db.read() as session:
        told = session.execute(
            select(User.username, Notification.title, Notification.kind)
            .join(Notification, Notification.user_id == User.id)
            .where(Notification.kind == consent.WITHDRAWN_KIND)
        ).all()
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == instance_id)))
    assert {u for u, _, _ in told} >= {"fachkraft.frauenberatung", "fachkraft2.frauenberatung"}
    assert all(u.endswith("frauenberatung") for u, _, _ in told)
    assert {t for _, t, _ in told} == {"Eine Einwilligung wurde widerrufen"}  # no case data
    assert {"einwilligung_widerrufen", "weitergabe_verweigert"} <= actions
    with pytest.raises(InvalidSubmissionError, match="bereits widerrufen"):
        hn.withdraw_consent(police, record.id, "noch einmal")


def test_a_withdrawal_also_stops_the_chain_to_the_youth_office(hn, actor) -> None:
    recipients = ["frauenberatung-soest", "kreisjugendamt"]
    instance_id = start_p1(hn, actor, WITH_CONSENT, einwilligung_empfaenger=recipients)
    with hn.db.read() as session:
        child_case = session.scalars(
            select(ProcessInstance.id).where(ProcessInstance.parent_instance_id == instance_id)
        ).one()
    now = hn.clock.now()
    with hn.db.write() as session:
        found = consent.require_transfer(session, child_case, "kreisjugendamt", ["kontaktdaten"], now)
        assert found.instance_id == instance_id  # found up the chain P1a → P1
        with pytest.raises(NotPermittedError):  # the consent covers contact data only
            consent.require_transfer(session, child_case, "kreisjugendamt", ["gesundheitsdaten"], now)
    police = actor("fachkraft.polizei")
    hn.withdraw_consent(police, hn.consents_of_case(police, instance_id)[0].id, "die Betroffene")
    with hn.db.write() as session, pytest.raises(NotPermittedError, match="Kreisjugendamt"):
        consent.require_transfer(session, child_case, "kreisjugendamt", ["kontaktdaten"], now)


def test_a_signed_form_must_be_pdf_png_or_jpeg_by_its_bytes_and_small_enough(hn, actor) -> None:
    instance_id = start_p1(hn, actor, WITHOUT_CONSENT)
    police = actor("fachkraft.polizei")
    fake = Upload("einwilligung.pdf", b"MZ\x90\x00 not a pdf at all")
    with pytest.raises(InvalidSubmissionError) as wrong:
        hn.record_consent(police, instance_id, verbal(form="schriftlich", witness="", document=fake))
    assert "kein PDF, PNG oder JPEG" in wrong.value.field_errors["document"]
    huge = Upload("scan.pdf", PDF + b"0" * consent.MAX_DOCUMENT_BYTES)
    with pytest.raises(InvalidSubmissionError) as big:
        hn.record_consent(police, instance_id, verbal(form="schriftlich", document=huge))
    assert "zu groß" in big.value.field_errors["document"]
    with pytest.raises(InvalidSubmissionError) as no_witness:
        hn.record_consent(police, instance_id, verbal(witness=" "))
    assert "Zeugin" in no_witness.value.field_errors["witness"]
    with pytest.raises(InvalidSubmissionError) as bad:
        hn.record_consent(
            police, instance_id, verbal(categories=["alles"], recipients=["nsa"], given_on="2099-01-01")
        )
    assert set(bad.value.field_errors) == {"categories", "recipients", "given_on"}
    with hn.db.read() as session:
        assert session.scalars(select(ConsentRecord)).all() == []  # nothing stored on any refusal


def test_the_signed_form_is_stored_and_each_download_is_audited(hn, actor) -> None:
    instance_id = start_p1(hn, actor, WITHOUT_CONSENT)
    police = actor("fachkraft.polizei")
    upload = Upload("C:\\Scans\\Einwilligung Frau B..png", PNG)
    consent_id = hn.record_consent(
        police, instance_id, verbal(form="schriftlich", witness="", document=upload)
    )
    view = hn.consent_detail(police, consent_id)
    assert view.document_name == "Einwilligung_Frau_B.png" and view.form.startswith("schriftlich")
    document = hn.consent_document(actor("fachkraft.jugendamt"), consent_id)  # a named recipient
    assert (document.media_type, document.content) == ("image/png", PNG)
    with hn.db.read() as session:
        reads = session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "einwilligung_dokument_gelesen")
        ).all()
    assert [r.detail for r in reads] == [{"einwilligung": consent_id}]


def test_an_uninvolved_organisation_sees_no_consent(hn, actor) -> None:
    instance_id = start_p1(hn, actor, WITH_CONSENT)
    police = actor("fachkraft.polizei")
    consent_id = hn.record_consent(police, instance_id, verbal(document=None))
    [referral] = [c.id for c in hn.consents_of_case(police, instance_id) if c.id != consent_id]
    outsider = actor("ehrenamt.weisser-ring")
    with pytest.raises(NotFoundError):
        hn.consents_of_case(outsider, instance_id)
    for read in (hn.consent_detail, hn.consent_document):
        with pytest.raises(NotFoundError):
            read(outsider, consent_id)
    with pytest.raises(NotFoundError):
        hn.withdraw_consent(outsider, consent_id, "jemand")
    # the coordinators see the case, but only consents that name their organisation
    seen = hn.consents_of_case(actor("koordination.frauenberatung"), instance_id)
    assert [c.id for c in seen] == [referral]  # it names the Frauenberatung, the verbal one does not


def test_consents_of_a_subject_are_plain_json_for_the_dsgvo_export(hn, actor) -> None:
    instance_id = start_p1(hn, actor, WITHOUT_CONSENT)
    police = actor("fachkraft.polizei")
    first = hn.record_consent(police, instance_id, verbal())
    hn.record_consent(police, instance_id, verbal(subject="FK-2026-002"))
    hn.withdraw_consent(police, first, "die Betroffene")
    with hn.db.read() as session:
        exported = consent.consents_of_subject(session, "FK-2026-001")
    assert json.loads(json.dumps(exported)) == exported
    assert [(e["id"], e["widerrufen_durch"], e["zeugin_zeuge"]) for e in exported] == [
        (first, "die Betroffene", "Kollegin der Frauenberatung")
    ]


def test_the_list_of_legal_bases_is_complete_and_unique() -> None:
    bases = legal_bases(PROCESSES)
    assert len({b.id for b in bases}) == len(bases) >= 6
    assert {"sgb8_8a_abs3", "kkg_4_abs3", "stgb_34"} <= {b.id for b in bases}
    assert all(b.label.startswith(("§", "Art.")) for b in bases)


def test_a_legal_basis_not_on_the_list_is_refused(hn, actor) -> None:
    requester = actor("fachkraft.frauenberatung")
    data = json.loads((PROCESSES / "fallkonferenz.scenarios.json").read_text(encoding="utf-8"))
    instance_id = hn.start(requester, "fallkonferenz", data["scenarios"][0]["start"]["data"])
    coordinator = actor("koordination.jugendamt")
    task = task_of(hn, coordinator, instance_id, "Task_AnfragePruefen")
    choice = {"pruefung_ergebnis": "identifiziert", "grundlage_art": "rechtsgrundlage"}
    with pytest.raises(InvalidSubmissionError):
        hn.complete(
            coordinator, task, {**choice, "rechtsgrundlage": "erfunden", "rechtsgrundlage_begruendung": "x"}
        )
    assert task_of(hn, coordinator, instance_id, "Task_AnfragePruefen") == task  # nothing saved


def test_the_consent_date_is_checked_against_the_berlin_day(hn, actor, clock: ManualClock) -> None:
    instance_id = start_p1(hn, actor, WITHOUT_CONSENT)
    police = actor("fachkraft.polizei")
    clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # already 25 November in Soest
    assert hn.record_consent(police, instance_id, verbal(given_on="2026-11-25"))
    with pytest.raises(InvalidSubmissionError) as future:
        hn.record_consent(police, instance_id, verbal(given_on="2026-11-26"))
    assert set(future.value.field_errors) == {"given_on"}


def test_a_withdrawal_by_a_recipient_tells_the_organisation_that_recorded_the_consent(hn, actor) -> None:
    instance_id = start_p1(hn, actor, WITH_CONSENT)
    counsellor = actor("fachkraft.frauenberatung")
    [record] = hn.consents_of_case(counsellor, instance_id)
    hn.withdraw_consent(counsellor, record.id, "die Betroffene (in der Beratung)")
    hn.notifications.deliver_outbox()
    with hn.db.read() as session:
        told = set(
            session.scalars(
                select(User.username)
                .join(Notification, Notification.user_id == User.id)
                .where(Notification.kind == consent.WITHDRAWN_KIND)
            )
        )
        logged = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "einwilligung_widerrufen")
        ).one()
    assert "fachkraft.polizei" in told  # the police recorded it and must stop using it too
    assert not any(u.endswith("frauenberatung") for u in told)  # not the withdrawing organisation
    assert logged["benachrichtigt"] == ["kreispolizei"]


def test_the_retention_job_deletes_signed_forms_and_blanks_names_after_the_case_period(
    hn, actor, clock: ManualClock
) -> None:
    instance_id = start_p1(hn, actor, WITHOUT_CONSENT)
    police = actor("fachkraft.polizei")
    signed = hn.record_consent(
        police, instance_id, verbal(form="schriftlich", witness="", document=Upload("f.pdf", PDF))
    )
    spoken = hn.record_consent(police, instance_id, verbal(purpose="Gespräch mit Frau Erika B."))
    hn.withdraw_consent(police, spoken, "Erika B. persönlich")
    with hn.db.write() as session:
        session.execute(ProcessInstance.__table__.update().values(status="completed", ended_at=clock.now()))
        session.commit()

    def run() -> None:
        with hn.db.write() as session:
            erase_due(session, clock.now(), 100)
            session.commit()

    clock.advance(timedelta(days=3 * 365 - 2))  # polizeieinsatz: aufbewahrung.einwilligungen = P3Y
    run()
    with hn.db.read() as session:
        assert session.scalars(select(ConsentDocument.consent_id)).all() == [signed]
    clock.advance(timedelta(days=3))
    run()
    with hn.db.read() as session:
        assert session.scalars(select(ConsentDocument)).all() == []
        rows = {
            r.id: (r.witness, r.withdrawn_by, r.purpose, r.given_on, r.recipients, r.withdrawn_at)
            for r in session.scalars(select(ConsentRecord))
        }
        erased = set(
            session.scalars(
                select(RetentionErasure.category).where(RetentionErasure.instance_id == instance_id)
            )
        )
    assert "einwilligungen" in erased
    assert rows[spoken][:3] == (MARKER,) * 3
    assert rows[signed][2] == MARKER and rows[signed][0] in ("", None)
    assert rows[spoken][3:5] == ("2026-01-05", ["kreisjugendamt"])
    assert rows[spoken][5] is not None  # the proof of the withdrawal stays, without the name


def test_a_withdrawal_between_the_two_mode_decisions_makes_the_conference_anonymous(hn, actor) -> None:
    data = json.loads((PROCESSES / "fallkonferenz.scenarios.json").read_text(encoding="utf-8"))
    scenario = next(s for s in data["scenarios"] if s["name"].startswith("Identifiziert mit erfasster"))
    requester = actor("fachkraft.frauenberatung")
    instance_id = hn.start(requester, "fallkonferenz", scenario["start"]["data"])
    consent_id = hn.record_consent(requester, instance_id, ConsentInput(**scenario["steps"][0]["consent"]))
    coordinator = actor("koordination.jugendamt")
    check = next(s for s in scenario["steps"] if s.get("complete") == "Task_AnfragePruefen")
    hn.complete(coordinator, task_of(hn, coordinator, instance_id, "Task_AnfragePruefen"), check["data"])
    hn.withdraw_consent(requester, consent_id, "die Betroffene")
    organise = next(s for s in scenario["steps"] if s.get("complete") == "Task_Organisieren")
    hn.complete(requester, task_of(hn, requester, instance_id, "Task_Organisieren"), organise["data"])
    with hn.db.read() as session:
        decisions = [
            d["modus"]
            for d in session.scalars(
                select(AuditEvent.detail)
                .where(AuditEvent.action == "fallkonferenz_modus", AuditEvent.instance_id == instance_id)
                .order_by(AuditEvent.id)
            )
        ]
    assert decisions == ["identifiziert", "anonym"]  # the second decision sees the withdrawal
