"""Web app: consents of a case — record (upload or verbal), list for the involved only, withdraw with
confirmation (recipients told, the next read refused), audited download; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.clock import ManualClock
from engine.consent import ConsentInput
from engine.persistence.models import (
    AuditEvent,
    ConsentDocument,
    ConsentRecord,
    Notification,
    ProcessInstance,
)
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_webapp_auth import login, make_app

PROCESSES, FORMS = REPO_ROOT / "processes", REPO_ROOT / "forms"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def p1_start(name_start: str) -> dict[str, Any]:
    data = json.loads((PROCESSES / "polizeieinsatz.scenarios.json").read_text(encoding="utf-8"))
    scenario = next(s for s in data["scenarios"] if s["name"].startswith(name_start))
    dash = next(s for s in scenario["steps"] if s.get("complete") == "Task_Gefaehrdungseinschaetzung")
    return {"start": scenario["start"]["data"], "dash": dash["data"]}


@pytest.fixture
def hn(tmp_path: Path, any_db_url: str, clock: ManualClock) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, any_db_url, clock, (PROCESSES, FORMS))
    yield engine
    engine.db.dispose()


@pytest.fixture
def client(hn: Hilfenetz) -> Iterator[FlaskClient]:
    with make_app(hn).test_client() as test_client:
        yield test_client


def task_of(hn: Hilfenetz, username: str, instance_id: int, element: str) -> str:
    who = actor_lookup(hn)(username)
    tasks = hn.worklist(who, WorklistQuery(view="alle", per_page=100)).tasks
    return next(t.id for t in tasks if t.instance_id == instance_id and t.element_id == element)


@pytest.fixture
def case(hn: Hilfenetz) -> int:
    """A police call-out with the referral consent for the Frauenberatung, DASH done."""
    data = p1_start("Einwilligung nur für die Frauenberatung")
    police = actor_lookup(hn)("fachkraft.polizei")
    instance_id = hn.start(police, "polizeieinsatz", data["start"])
    hn.complete(
        police, task_of(hn, "fachkraft.polizei", instance_id, "Task_Gefaehrdungseinschaetzung"), data["dash"]
    )
    return instance_id


def form_data(token: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": token,
        "subject": "FK-2026-031",
        "categories": ["falldaten", "kontaktdaten"],
        "recipients": ["kreisjugendamt"],
        "purpose": "Identifizierte Fallkonferenz",
        "given_on": "2026-01-05",
        "form": "schriftlich",
    }
    return {**data, **changes}


def test_recording_a_signed_consent_and_downloading_it(hn, client, case):
    token = login(client, "fachkraft.polizei")
    page = client.get(f"/vorgaenge/{case}").get_data(as_text=True)
    assert f'href="/vorgaenge/{case}/einwilligungen"' in page  # linked from the case page
    form = client.get(f"/vorgaenge/{case}/einwilligungen/neu").get_data(as_text=True)
    assert '<label for="witness">' in form and 'enctype="multipart/form-data"' in form
    data = form_data(token, document=(BytesIO(PDF), "Einwilligung.pdf", "application/pdf"))
    response = client.post(
        f"/vorgaenge/{case}/einwilligungen/neu", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    listing = client.get(f"/vorgaenge/{case}/einwilligungen").get_data(as_text=True)
    assert "FK-2026-031" in listing and "Formular herunterladen" in listing and '<th scope="col">' in listing
    with hn.db.read() as session:
        consent_id = session.scalars(
            select(ConsentRecord.id).where(ConsentRecord.subject == "FK-2026-031")
        ).one()
        assert session.scalars(select(ConsentDocument.size)).one() == len(PDF)
    login(client, "fachkraft.jugendamt")  # a named recipient may download it
    download = client.get(f"/einwilligungen/{consent_id}/dokument")
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf" and "attachment" in download.headers["Content-Disposition"]
    with hn.db.read() as session:
        assert session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "einwilligung_dokument_gelesen")
        ).all()


def test_a_wrong_file_type_gets_a_german_error_and_keeps_the_input(hn, client, case):
    token = login(client, "fachkraft.polizei")
    fake = (BytesIO(b"<html><script>alert(1)</script></html>"), "einwilligung.pdf", "application/pdf")
    response = client.post(
        f"/vorgaenge/{case}/einwilligungen/neu",
        data=form_data(token, document=fake),
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Diese Datei ist kein PDF, PNG oder JPEG." in page and 'aria-invalid="true"' in page
    assert 'value="FK-2026-031"' in page and 'value="falldaten" checked' in page  # nothing typed is lost
    with hn.db.read() as session:
        assert (
            session.scalars(select(ConsentRecord).where(ConsentRecord.subject == "FK-2026-031")).all() == []
        )


def multipart_body(fields: dict[str, Any], content: bytes) -> tuple[bytes, str]:
    """A multipart body built here: werkzeug's test client spools large bodies to a temporary file
    it never closes (a ResourceWarning, an error under our warning filter)."""
    boundary = "----hilfenetz-test"
    parts = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            disposition = f'Content-Disposition: form-data; name="{name}"'
            parts.append(f"--{boundary}\r\n{disposition}\r\n\r\n{item}\r\n".encode())
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="document"; filename="scan.pdf"\r\n'
    parts.append(head.encode() + b"Content-Type: application/pdf\r\n\r\n" + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_an_oversized_file_gets_a_german_error(hn, client, case):
    token = login(client, "fachkraft.polizei")
    body, content_type = multipart_body(form_data(token), PDF + b"0" * 1_600_000)
    response = client.post(f"/vorgaenge/{case}/einwilligungen/neu", data=body, content_type=content_type)
    assert response.status_code == 422 and "Die Datei ist zu groß" in response.get_data(as_text=True)
    body, content_type = multipart_body(form_data(token), PDF + b"0" * 3_000_000)
    response = client.post(f"/vorgaenge/{case}/einwilligungen/neu", data=body, content_type=content_type)
    assert response.status_code == 413 and "zu groß" in response.get_data(as_text=True)


def test_a_verbal_consent_needs_a_witness(client, case):
    token = login(client, "fachkraft.polizei")
    response = client.post(f"/vorgaenge/{case}/einwilligungen/neu", data=form_data(token, form="muendlich"))
    assert response.status_code == 422 and "Namen der Zeugin oder des Zeugen" in response.get_data(
        as_text=True
    )
    data = form_data(token, form="muendlich", witness="Kollegin, Polizeioberkommissarin")
    assert client.post(f"/vorgaenge/{case}/einwilligungen/neu", data=data).status_code == 302


def test_an_uninvolved_organisation_cannot_see_consents(client, case):
    login(client, "ehrenamt.weisser-ring")
    assert client.get(f"/vorgaenge/{case}/einwilligungen").status_code == 404
    assert client.get(f"/vorgaenge/{case}/einwilligungen/neu").status_code == 404
    assert client.get("/einwilligungen/1/widerrufen").status_code == 404
    assert client.get("/einwilligungen/1/dokument").status_code == 404


def test_withdrawal_asks_first_then_stops_the_next_read_and_tells_the_recipients(hn, client, case):
    contact_task = task_of(hn, "fachkraft.frauenberatung", case, "Task_Kontaktaufnahme")
    login(client, "fachkraft.frauenberatung")
    assert "Erika Beispiel" in client.get(f"/aufgaben/{contact_task}").get_data(as_text=True)
    token = login(client, "fachkraft.polizei")
    with hn.db.read() as session:
        consent_id = session.scalars(select(ConsentRecord.id).where(ConsentRecord.instance_id == case)).one()
    confirm = client.get(f"/einwilligungen/{consent_id}/widerrufen").get_data(as_text=True)
    assert "kann nicht rückgängig gemacht werden" in confirm
    refused = client.post(
        f"/einwilligungen/{consent_id}/widerrufen", data={"csrf_token": token, "withdrawn_by": ""}
    )
    assert refused.status_code == 422 and "wer widerrufen hat" in refused.get_data(as_text=True)
    response = client.post(
        f"/einwilligungen/{consent_id}/widerrufen",
        data={"csrf_token": token, "withdrawn_by": "die Betroffene"},
    )
    assert response.status_code == 302
    assert "widerrufen" in client.get(f"/vorgaenge/{case}/einwilligungen").get_data(as_text=True)
    hn.notifications.deliver_outbox()
    login(client, "fachkraft.frauenberatung")
    task_page = client.get(f"/aufgaben/{contact_task}").get_data(as_text=True)
    assert "Erika Beispiel" not in task_page and "Kontaktdaten wurde widerrufen" in task_page
    notices = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "Eine Einwilligung wurde widerrufen" in notices and "Erika" not in notices
    with hn.db.read() as session:
        assert session.scalars(
            select(Notification.id).where(Notification.kind == "einwilligung_widerrufen")
        ).all()


def test_english_pages_are_translated(client, case):
    login(client, "fachkraft.polizei")
    page = client.get(f"/vorgaenge/{case}/einwilligungen/neu?lang=en").get_data(as_text=True)
    assert "Record a consent" in page and "Einwilligung erfassen" not in page


def test_recording_without_the_csrf_token_is_refused(client, case):
    token = login(client, "fachkraft.polizei")
    data = {
        k: v for k, v in form_data(token, form="muendlich", witness="Kollegin").items() if k != "csrf_token"
    }
    assert client.post(f"/vorgaenge/{case}/einwilligungen/neu", data=data).status_code == 400


def test_consent_labels_and_engine_messages_have_english_translations():
    from engine import consent
    from webapp import consents
    from webapp.i18n import _CATALOGUE

    texts = [
        *consent.CATEGORIES.values(),
        *consent.FORMS.values(),
        *consents.FIELD_LABELS.values(),
        consent.WITHDRAWN_TITLE,
        "Diese Datei ist kein PDF, PNG oder JPEG. Bitte das unterschriebene Formular in einem dieser "
        "Formate hochladen.",
        "Bei einer mündlichen Einwilligung bitte den Namen der Zeugin oder des Zeugen angeben.",
    ]
    assert [t for t in texts if t not in _CATALOGUE["en"]] == []


def conference_request(hn: Hilfenetz, wanted: list[str]) -> int:
    data = json.loads((PROCESSES / "fallkonferenz.scenarios.json").read_text(encoding="utf-8"))
    start = {
        **data["scenarios"][0]["start"]["data"],
        "gewuenschte_organisationen": wanted,
        "modus": "identifiziert",
    }
    return hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "fallkonferenz", start)


def check_request(hn: Hilfenetz, instance_id: int, **choice: Any) -> dict[str, Any]:
    """The coordinators accept it as identified; returns the data the organising step starts with."""
    task = task_of(hn, "koordination.jugendamt", instance_id, "Task_AnfragePruefen")
    hn.complete(
        actor_lookup(hn)("koordination.jugendamt"), task, {"pruefung_ergebnis": "identifiziert", **choice}
    )
    organise = task_of(hn, "fachkraft.frauenberatung", instance_id, "Task_Organisieren")
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        return dict(hn.runtime.peek(session, row).get_task_from_id(UUID(organise)).data)


def test_a_consent_covering_only_some_participants_keeps_the_conference_anonymous(hn):
    instance_id = conference_request(hn, ["kreisjugendamt", "kreispolizei"])
    requester = actor_lookup(hn)("fachkraft.frauenberatung")
    hn.record_consent(
        requester,
        instance_id,
        ConsentInput(
            "FK-1", ["falldaten"], ["kreisjugendamt"], "Fallkonferenz", "2026-01-05", "muendlich", "Kollegin"
        ),
    )
    data = check_request(hn, instance_id, grundlage_art="einwilligung")
    assert (data["konferenz_modus"], data["pruefung_ergebnis"]) == ("anonym", "anonym")
    assert "nicht abgedeckt: Kreispolizeibehörde Soest" in data["modus_hinweis"]


def test_a_legal_basis_from_the_list_allows_an_identified_conference(hn):
    instance_id = conference_request(hn, ["kreisjugendamt", "kreispolizei"])
    data = check_request(
        hn,
        instance_id,
        grundlage_art="rechtsgrundlage",
        rechtsgrundlage="stgb_34",
        rechtsgrundlage_begruendung="Gegenwärtige Gefahr für Leib und Leben.",
    )
    assert data["konferenz_modus"] == "identifiziert" and data["modus_grundlage"].startswith("§ 34 StGB")
    with hn.db.read() as session:
        modes = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "fallkonferenz_modus")
        ).all()
    assert modes == [{"modus": "identifiziert", "grundlage": data["modus_grundlage"], "einwilligung": None}]


def test_the_migration_gives_contact_records_stored_before_it_their_consent_record(hn, case):
    from alembic import command

    from engine.persistence.schema import alembic_config, upgrade

    with hn.db.write() as session:
        before = session.execute(select(ConsentRecord.kontaktdaten_id, ConsentRecord.recipients)).all()
    config = alembic_config(hn.db.url)
    with hn.db.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")  # as if the contact record had been stored before 0013
        connection.commit()
    upgrade(hn.db)
    with hn.db.read() as session:
        after = session.execute(select(ConsentRecord.kontaktdaten_id, ConsentRecord.recipients)).all()
    assert before and [tuple(r) for r in after] == [tuple(r) for r in before]
    assert counselling_sees_contact_data(hn, case)


def counselling_sees_contact_data(hn: Hilfenetz, instance_id: int) -> bool:
    counsellor = actor_lookup(hn)("fachkraft.frauenberatung")
    task = task_of(hn, "fachkraft.frauenberatung", instance_id, "Task_Kontaktaufnahme")
    return bool(hn.task_detail(counsellor, task).contact_records)
