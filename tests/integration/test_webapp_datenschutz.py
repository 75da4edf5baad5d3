"""Web app: /datenschutz for the data-protection officer (search, export, erasure with confirmation),
the retention preview, and /meine-daten for every user (own data only)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from engine.persistence.models import AuditEvent, Kontaktdaten, ProcessDefinition, ProcessInstance, User
from engine.service import Hilfenetz
from tests.integration.test_webapp_auth import login


def test_every_user_downloads_her_own_data_as_pdf_and_json(client: FlaskClient, hn: Hilfenetz) -> None:
    login(client, "fachkraft.frauenberatung")
    page = client.get("/meine-daten").get_data(as_text=True)
    assert "<h1>Meine Daten</h1>" in page and 'href="/meine-daten/auskunft.pdf"' in page
    pdf = client.get("/meine-daten/auskunft.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    assert "Lena Probe" in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    data = json.loads(client.get("/meine-daten/auskunft.json").data)
    assert data["auskunft"] == "DSGVO Art. 15" and data["person"].startswith("Lena Probe")
    assert client.get("/meine-daten/auskunft.exe").status_code == 404
    # someone else's data: refused, not a 500
    assert client.get("/datenschutz/konto/fachkraft2.frauenberatung/auskunft.json").status_code == 403
    assert client.get("/datenschutz").status_code == 404
    assert 'href="/datenschutz"' not in page
    with hn.db.read() as session:
        assert (
            len(session.scalars(select(AuditEvent).where(AuditEvent.action == "dsgvo_auskunft")).all()) == 2
        )


def test_the_officer_searches_exports_and_erases_with_confirmation(
    client: FlaskClient, hn: Hilfenetz, actor
) -> None:
    user = actor("fachkraft.frauenberatung")
    instance_id = hn.start(user, "kette", {})
    with hn.db.write() as session:
        session.execute(
            ProcessInstance.__table__.update()
            .where(ProcessInstance.id == instance_id)
            .values(status="completed", ended_at=hn.clock.now() - timedelta(days=5))
        )
        session.add(
            Kontaktdaten(
                instance_id=instance_id,
                recorded_at=hn.clock.now(),
                recorded_by_org="kreispolizei",
                consent_date="2026-01-05",
                recipients=["frauenberatung-soest"],
                fields={"values": {"name": "Erika Mustermann"}, "labels": {"name": "Name"}},
                retention_until=hn.clock.now() + timedelta(days=90),
            )
        )
        session.commit()
    token = login(client, "datenschutz.kreis")
    page = client.get("/datenschutz").get_data(as_text=True)
    assert 'href="/datenschutz"' in page and "Löschvorschau" in page
    assert f"#{instance_id}" in page  # the test process's drafts fall due within 30 days

    short = client.post("/datenschutz", data={"csrf_token": token, "q": "ab"}).get_data(as_text=True)
    assert "mindestens 3 Zeichen" in short
    found = client.post("/datenschutz", data={"csrf_token": token, "q": "muster"}).get_data(as_text=True)
    assert "Betroffene Person" not in found  # "muster" is not a whole word of "Erika Mustermann"
    assert "Mira Muster" in found  # an account matches too

    listed = client.post("/datenschutz", data={"csrf_token": token, "q": "mustermann"}).get_data(as_text=True)
    assert "Gefundene Kontaktdatensätze" in listed and "Erika Mustermann" in listed  # the officer decides
    with hn.db.read() as session:
        record = session.scalars(select(Kontaktdaten.id)).one()
    assert f'name="datensatz" value="{record}"' in listed
    chosen = {"csrf_token": token, "q": "mustermann", "datensatz": str(record)}
    export = client.post("/datenschutz/betroffene/auskunft.json", data=chosen)
    rows = json.loads(export.data)["abschnitte"]["kontaktdaten"]["eintraege"]
    assert rows[0]["Angaben"] == "Name: Erika Mustermann"
    pdf = client.post("/datenschutz/betroffene/auskunft.pdf", data=chosen)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "Erika Mustermann" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)

    plan = client.post("/datenschutz/betroffene/loeschen", data=chosen)
    assert "Löschung ausführen" in plan.get_data(as_text=True)
    assert f'name="datensatz" value="{record}"' in plan.get_data(as_text=True)  # confirm acts on these
    with hn.db.read() as session:
        assert session.scalars(select(Kontaktdaten.fields)).one() != {}  # nothing before confirming
    done = client.post("/datenschutz/betroffene/loeschen", data={**chosen, "bestaetigt": "ja"})
    assert "wurde gelöscht" in done.get_data(as_text=True)
    with hn.db.read() as session:
        assert session.scalars(select(Kontaktdaten.fields)).one() == {}

    refused = client.post(
        "/datenschutz/konto/fachkraft.frauenberatung/loeschen", data={"csrf_token": token, "bestaetigt": "ja"}
    ).get_data(as_text=True)
    assert "noch aktiv" in refused and "wird aufbewahrt" in refused
    with hn.db.read() as session:
        assert session.scalars(select(User.display_name).where(User.id == user.id)).one() == "Lena Probe"
    assert client.post("/datenschutz/betroffene/loeschen", data={"q": "x"}).status_code == 400  # CSRF
    for path in ("/datenschutz/betroffene/loeschen", "/datenschutz/betroffene/auskunft.pdf"):
        short = client.post(path, data={"csrf_token": token, "q": " a "})
        assert short.status_code == 422 and "mindestens 3 Zeichen" in short.get_data(as_text=True)
        # none ticked, not a number, not a hit, beyond any id: 422, never 500
        for bad in ("", "abc", str(record + 99), "²", str(10**20)):
            refused = client.post(path, data={"csrf_token": token, "q": "mustermann", "datensatz": bad})
            assert refused.status_code == 422, bad


def test_the_coordination_sees_the_preview_but_cannot_search(client: FlaskClient) -> None:
    token = login(client, "koordination.frauenberatung")
    page = client.get("/datenschutz").get_data(as_text=True)
    assert "Löschvorschau" in page and "Person suchen" not in page
    assert (
        client.post(
            "/datenschutz/betroffene/auskunft.pdf", data={"csrf_token": token, "q": "abc"}
        ).status_code
        == 403
    )


def test_the_page_names_process_versions_without_retention_periods(
    client: FlaskClient, hn: Hilfenetz
) -> None:
    login(client, "koordination.jugendamt")
    assert "ohne Aufbewahrungsfrist" not in client.get("/datenschutz").get_data(as_text=True)
    with hn.db.write() as session:
        definition = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.process_key == "kette")
        )
        for row in definition:
            row.bpmn_xml = row.bpmn_xml.replace('name="aufbewahrung.kontaktdaten"', 'name="x.kontaktdaten"')
        session.commit()
    page = client.get("/datenschutz").get_data(as_text=True)
    assert "Prozessversionen ohne Aufbewahrungsfrist" in page
    row = page[page.index("Versionen ohne Frist") :]
    assert "(kette)" in row and "Kontaktdaten" in row
