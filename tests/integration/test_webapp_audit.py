"""Web app and the audit trail: every GET route is classified as a read of case data (which must leave
an entry: who, when, which object — never the data) or not; logins and logouts are recorded; only
the Koordination and the data-protection officer open /audit-protokoll; bad filters answer 422."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.consent import ConsentInput, Upload
from engine.persistence.models import AuditEvent, UserTask
from engine.settings import REPO_ROOT
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_webapp_auth import csrf, login, make_app
from tests.unit.test_netzwerktreffen import invite, to_invitation


@dataclass(frozen=True)
class Case:
    instance_id: int
    task_id: str
    ballot_id: int
    consent_id: int


#: GET routes that show case data: endpoint -> (url, expected action, what identifies the object).
CASE_DATA: dict[str, tuple[Callable[[Case], str], str, Callable[[Case, Any], bool]]] = {
    "instances.show": (
        lambda c: f"/vorgaenge/{c.instance_id}",
        "instance_viewed",
        lambda c, r: r.instance_id == c.instance_id,
    ),
    "tasks.show": (
        lambda c: f"/aufgaben/{c.task_id}",
        "task_viewed",
        lambda c, r: r.task_id == c.task_id and r.instance_id == c.instance_id,
    ),
    "tasks.form_json": (
        lambda c: f"/aufgaben/{c.task_id}/formular.json",
        "task_data_read",
        lambda c, r: r.task_id == c.task_id,
    ),
    "ballots.show": (
        lambda c: f"/abstimmungen/{c.ballot_id}",
        "abstimmung_gelesen",
        lambda c, r: r.detail == {"abstimmung": c.ballot_id, "dokument": "seite"},
    ),
    "ballots.minutes": (
        lambda c: f"/abstimmungen/{c.ballot_id}/protokoll",
        "abstimmung_gelesen",
        lambda c, r: r.detail == {"abstimmung": c.ballot_id, "dokument": "protokoll"},
    ),
    "ballots.minutes_text": (
        lambda c: f"/abstimmungen/{c.ballot_id}/protokoll.md",
        "abstimmung_gelesen",
        lambda c, r: r.detail == {"abstimmung": c.ballot_id, "dokument": "markdown"},
    ),
    "ballots.minutes_pdf": (
        lambda c: f"/abstimmungen/{c.ballot_id}/protokoll.pdf",
        "abstimmung_gelesen",
        lambda c, r: r.detail == {"abstimmung": c.ballot_id, "dokument": "pdf"},
    ),
    "meetings.calendar": (
        lambda c: f"/netzwerktreffen/{c.instance_id}/termin.ics",
        "termin_heruntergeladen",
        lambda c, r: r.instance_id == c.instance_id,
    ),
    "consents.index": (
        lambda c: f"/vorgaenge/{c.instance_id}/einwilligungen",
        "einwilligungen_angesehen",
        lambda c, r: r.instance_id == c.instance_id,
    ),
    "consents.confirm_withdrawal": (
        lambda c: f"/einwilligungen/{c.consent_id}/widerrufen",
        "einwilligung_angesehen",
        lambda c, r: r.instance_id == c.instance_id and r.detail == {"einwilligung": c.consent_id},
    ),
    "consents.document": (
        lambda c: f"/einwilligungen/{c.consent_id}/dokument",
        "einwilligung_dokument_gelesen",
        lambda c, r: r.instance_id == c.instance_id and r.detail == {"einwilligung": c.consent_id},
    ),
    "api-tasks.show": (
        lambda c: f"/api/v1/tasks/{c.task_id}",
        "task_data_read",
        lambda c, r: r.task_id == c.task_id and r.instance_id == c.instance_id,
    ),
    "api-instances.show": (
        lambda c: f"/api/v1/instances/{c.instance_id}",
        "instance_viewed",
        lambda c, r: r.instance_id == c.instance_id,
    ),
    "api-ballots.show": (
        lambda c: f"/api/v1/ballots/{c.ballot_id}",
        "abstimmung_gelesen",
        lambda c, r: r.detail == {"abstimmung": c.ballot_id, "dokument": "api"},
    ),
    "datenschutz.account_export": (
        lambda c: "/datenschutz/konto/fachkraft.polizei/auskunft.json",
        "dsgvo_auskunft",
        lambda c, r: r.detail["art"] == "konto" and r.detail["format"] == "json",
    ),
    "datenschutz.my_export": (
        lambda c: "/meine-daten/auskunft.pdf",
        "dsgvo_auskunft",
        lambda c, r: r.detail["art"] == "konto" and r.detail["format"] == "pdf",
    ),
    "audit.index": (
        lambda c: f"/audit-protokoll?vorgang={c.instance_id}",
        "audit_durchsucht",
        lambda c, r: r.detail == {"instance_id": c.instance_id},
    ),
    # not case data, but the senders' optional names and e-mail addresses: the read is audited
    "accessibility.inbox": (
        lambda c: "/barrierefreiheit/rueckmeldungen",
        "barrierefreiheit_gelesen",
        lambda c, r: set(r.detail) == {"anzahl"},
    ),
    "audit.export": (
        lambda c: f"/audit-protokoll/export.csv?vorgang={c.instance_id}",
        "audit_exportiert",
        lambda c, r: r.detail["instance_id"] == c.instance_id and r.detail["format"] == "csv",
    ),
}
#: GET routes that show no case data, and why (a new route must be put in one of the two lists).
NOT_CASE_DATA = {
    "static": "Stylesheets, Skripte",
    "pages.index": "Weiterleitung",
    "pages.healthz": "Betriebszustand",
    "pages.accessibility": "Erklärung zur Barrierefreiheit",
    "pages.imprint": "Impressum",
    "auth.login": "Anmeldeformular (Anmeldungen protokolliert die Engine)",
    "account.change_password": "Formular zum Ändern des eigenen Passworts",
    "oidc.start": "Weiterleitung zum Anmeldedienst des Kreises",
    "oidc.callback": "Rückkehr vom Anmeldedienst (Anmeldungen protokolliert die Engine)",
    "worklist.index": "Liste: Schritt, Frist, Titel; das Öffnen einer Aufgabe wird protokolliert",
    "instances.index": "Liste der eigenen Vorgänge; das Öffnen eines Vorgangs wird protokolliert",
    "ballots.index": "Liste der Abstimmungen; das Öffnen wird protokolliert",
    "ballots.new": "leeres Formular",
    "absences.index": "eigene Abwesenheiten",
    "notifications.index": "Benachrichtigungen tragen keine Falldaten (nur Schrittname und Link)",
    "operations.index": "technische Betriebsübersicht ohne Falldaten",
    "partners.index": "Partnerkonten",
    "processes.index": "Prozesskatalog",
    "processes.start_page": "leeres Startformular",
    "processes.start_form_json": "Formulardefinition",
    "processes.diagram": "BPMN-Datei der Prozessversion (ohne Vorgangsdaten)",
    "directory.index": "Netzwerkverzeichnis (Dienststellendaten, keine Klientendaten)",
    "directory.show": "Netzwerkverzeichnis",
    "directory.edit": "Netzwerkverzeichnis",
    "consents.new": "leeres Formular (der Vorgang muss sichtbar sein)",
    "datenschutz.index": "Suche und Löschvorschau: Vorgangsnummern und Fristen, keine Falldaten",
    "datenschutz.my_data": "Seite mit den Download-Links",
    "dashboard.index": "Auswertung: nur Zahlen, kleine Fallzahlen unterdrückt",
    "dashboard.annual_pdf": "Jahresbericht: nur Zahlen, kleine Fallzahlen unterdrückt",
    "dashboard.annual_csv": "Jahresbericht: nur Zahlen, kleine Fallzahlen unterdrückt",
    "modellierung.index": "Modellierung: Prozessversionen und Entwürfe, keine Falldaten",
    "modellierung.new": "leeres Formular",
    "modellierung.version_file": "BPMN einer Prozessversion (Modell, keine Falldaten)",
    "modellierung.draft": "Entwurf eines Modells (keine Falldaten)",
    "modellierung.content": "Inhalt eines Modell-Entwurfs (keine Falldaten)",
    "modellierung.download": "Inhalt eines Modell-Entwurfs (keine Falldaten)",
    "modellierung.current": "bereitgestellte Fassung einer Modell-Datei (keine Falldaten)",
    "modellierung.review": "Änderungen eines Modell-Entwurfs (keine Falldaten)",
    "modellierung_tabelle.table": "Tabellenansicht eines Modell-Entwurfs (keine Falldaten)",
    "modell_migration.page": "Nummern, Versionen, offene Schritte laufender Vorgänge",
    "process_analytics.index": "Prozessauswahl",
    "process_analytics.show": "Prozessauswertung: nur Zahlen je Element, kleine Fallzahlen unterdrückt",
    "access_tokens.index": "eigene Zugangstoken (Name, Anfang, Bereiche; nie das Geheimnis)",
    "api-docs.openapi_json": "OpenAPI-Dokument der REST-API",
    "api-processes.index": "Prozesskatalog (API)",
    "api-processes.versions": "Prozessversionen (API)",
    "api-processes.start_form": "leeres Startformular (API)",
    "api-tasks.index": "Arbeitsliste (API); das Öffnen einer Aufgabe wird protokolliert",
    "api-instances.index": "sichtbare Vorgänge (API); das Öffnen wird protokolliert",
    "api-ballots.index": "Liste der Abstimmungen (API); das Öffnen wird protokolliert",
    "api-directory.index": "Netzwerkverzeichnis (API)",
    "api-directory.show": "Netzwerkverzeichnis (API)",
}
#: Who may read the object behind each route.
READER = {
    "ballots": "koordination.jugendamt",
    "audit": "datenschutz.kreis",
    "datenschutz": "datenschutz.kreis",
}


@pytest.fixture
def p6(tmp_path, sqlite_url, clock):
    engine = build_engine(tmp_path, sqlite_url, clock, (REPO_ROOT / "processes", REPO_ROOT / "forms"))
    yield engine
    engine.db.dispose()


@pytest.fixture
def app(p6) -> Flask:
    return make_app(p6)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def case(p6, clock) -> Case:
    instance_id = to_invitation(p6, clock)
    invite(p6, instance_id, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    with p6.db.read() as session:
        task_id = session.scalars(
            select(UserTask.id).where(UserTask.instance_id == instance_id, UserTask.status == "open")
        ).first()
    assert task_id is not None
    look = actor_lookup(p6)
    deadline = clock.now() + timedelta(days=7)
    ballot_id = p6.open_ballot("Förderantrag", None, None, deadline, False, look("koordination.jugendamt"))
    given = ConsentInput(
        subject="Pseudonym A-17",
        categories=["falldaten"],
        recipients=["kreisjugendamt"],
        purpose="Fallkonferenz",
        given_on="2026-01-05",
        form="schriftlich",
        document=Upload("einwilligung.pdf", b"%PDF-1.4\n% Einwilligung\n%%EOF\n"),
    )
    consent_id = p6.record_consent(look("koordination.jugendamt"), instance_id, given)
    return Case(instance_id, task_id, ballot_id, consent_id)


def entries(hn) -> list[Any]:
    with hn.db.read() as session:
        return list(session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)))


def api_headers(hn, username: str) -> dict[str, str]:
    """A reading bearer token for the REST API (the API never uses the session)."""
    secret = hn.create_access_token(actor_lookup(hn)(username), "Test", ["lesen"], None).secret
    return {"Authorization": f"Bearer {secret}"}


def test_every_get_route_is_classified(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if "GET" in (r.methods or ())}
    assert set(CASE_DATA).isdisjoint(NOT_CASE_DATA)
    assert endpoints == set(CASE_DATA) | set(NOT_CASE_DATA)


@pytest.mark.parametrize("endpoint", sorted(CASE_DATA))
def test_each_read_of_case_data_leaves_a_sealed_entry(client, p6, case, clock, endpoint):
    url, action, identifies = CASE_DATA[endpoint]
    username = READER.get(endpoint.split(".")[0], "koordination.jugendamt")
    login(client, username)
    headers = api_headers(p6, username) if url(case).startswith("/api/") else {}
    clock.advance(timedelta(minutes=7))
    before = max(r.id for r in entries(p6))
    response = client.get(url(case), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    new = [r for r in entries(p6) if r.id > before and r.action == action]
    user = actor_lookup(p6)(username)
    assert len(new) == 1, [(r.action, r.detail) for r in entries(p6) if r.id > before]
    entry = new[0]
    assert (entry.actor_id, entry.actor_name, entry.at) == (user.id, user.display_name, clock.now())
    assert identifies(case, entry)
    assert entry.chain_seq is not None and entry.chain_hash  # sealed right after the commit
    assert "Kreishaus" not in json.dumps(entry.detail)  # ids only, never the data


def test_login_failure_success_and_logout_are_recorded(client, p6):
    client.post(
        "/anmelden", data={"csrf_token": csrf(client), "username": "fachkraft.polizei", "password": "x"}
    )
    token = login(client, "fachkraft.polizei")
    client.post("/abmelden", data={"csrf_token": token})
    actions = [(r.action, r.actor_name) for r in entries(p6) if r.action.startswith(("login", "logout"))]
    assert actions == [
        ("login_fehlgeschlagen", "Tom Einsatz"),
        ("login", "Tom Einsatz"),
        ("logout", "Tom Einsatz"),
    ]
    assert p6.verify_audit_trail().intact


def test_a_fachkraft_cannot_open_the_audit_page(client, p6):
    login(client, "fachkraft.frauenberatung")
    response = client.get("/audit-protokoll")
    assert response.status_code == 403
    assert "Datenschutzbeauftragte" in response.get_data(as_text=True)
    assert client.get("/audit-protokoll/export.json").status_code == 403
    assert 'href="/audit-protokoll"' not in client.get("/aufgaben").get_data(as_text=True)
    assert not [r for r in entries(p6) if r.action.startswith("audit_")]


@pytest.mark.parametrize("username", ["datenschutz.kreis", "koordination.frauenberatung"])
def test_officer_and_coordination_search_page_and_export(client, p6, case, username):
    login(client, username)
    assert 'href="/audit-protokoll"' in client.get("/aufgaben").get_data(as_text=True)
    page = client.get(f"/audit-protokoll?vorgang={case.instance_id}&action=instance_started")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<th scope="col">' in html and "instance_started" in html
    assert "Vorgang gestartet <code>instance_started</code>" in html
    assert "Seite 1 von 1" in html
    csv_response = client.get(f"/audit-protokoll/export.csv?vorgang={case.instance_id}")
    assert csv_response.mimetype == "text/csv"
    assert 'filename="audit-protokoll.csv"' in csv_response.headers["Content-Disposition"]
    data = client.get(f"/audit-protokoll/export.json?vorgang={case.instance_id}").get_json()
    assert data and {d["instance_id"] for d in data} == {case.instance_id}


def test_bad_filters_and_formats_answer_422_with_a_german_message(client, p6):
    login(client, "datenschutz.kreis")
    response = client.get("/audit-protokoll?date_from=gestern&vorgang=F-12")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Bitte geben Sie ein Datum wie 24.11.2026 ein." in html and "nur Ziffern" in html
    response = client.get("/audit-protokoll/export.xlsx")
    assert response.status_code == 422 and "CSV oder JSON" in response.get_data(as_text=True)
    assert client.get("/audit-protokoll?vorgang=" + "9" * 30).status_code == 422
    assert client.get("/audit-protokoll?page=99999999999999999999").status_code == 200


def test_a_login_refused_by_the_address_limit_is_recorded_without_the_typed_name(client, p6):
    token = csrf(client)
    for _ in range(10):
        client.post("/anmelden", data={"csrf_token": token, "username": "Passwort123!", "password": "x"})
    for username in ("fachkraft.polizei", "Passwort123!"):
        response = client.post("/anmelden", data={"csrf_token": token, "username": username, "password": "x"})
        assert response.status_code == 429
    throttled = [(r.actor_name, r.detail) for r in entries(p6) if r.action == "login_gedrosselt"]
    assert throttled == [("Tom Einsatz", {"grund": "adresse"}), ("System", {"grund": "adresse"})]
    assert not [r for r in entries(p6) if "Passwort123!" in f"{r.actor_name}{r.detail}"]
