"""Web app: the anonymity guard on the case-conference request (P4), through HTTP, on SQLite and
PostgreSQL. A request naming a person is refused with the findings and nothing is stored; with a
typed reason it goes through and the audit trail names who, which field and which kinds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.anonymity.guard import AUDIT_ACTION, REASON_KEY
from engine.persistence.models import AuditEvent, ProcessInstance
from engine.settings import REPO_ROOT
from tests.conftest import build_engine
from tests.integration.test_webapp_auth import login, make_app
from tests.integration.test_webapp_tasks import post_json

REQUEST = {
    "anlass": "Herr Kowalski bedroht seine Frau, die Tochter besucht die Kita Sonnenschein.",
    "fragestellung": "Wie sichern wir Schutz und Begleitung ab?",
    "gefaehrdungsstufe": "hoch",
    "altersgruppe": "30_bis_44",
    "anzahl_kinder": 1,
    "gewaltform": ["koerperlich"],
    "modus": "anonym",
}


@pytest.fixture
def p4(tmp_path, any_db_url, clock) -> Iterator[Any]:
    engine = build_engine(tmp_path, any_db_url, clock, (REPO_ROOT / "processes", REPO_ROOT / "forms"))
    yield engine
    engine.db.dispose()


@pytest.fixture
def client(p4) -> Iterator[FlaskClient]:
    with make_app(p4).test_client() as test_client:
        yield test_client


def counts(hn: Any) -> tuple[int, int]:
    with hn.db.read() as session:
        instances = session.scalar(select(func.count()).select_from(ProcessInstance))
        overrides = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == AUDIT_ACTION)
        )
    return int(instances or 0), int(overrides or 0)


def test_request_naming_a_person_is_refused_then_goes_through_with_a_reason(p4, client):
    token = login(client, "fachkraft.frauenberatung")
    page = client.get("/prozesse/fallkonferenz/starten").get_data(as_text=True)
    assert 'id="anonymity-override"' in page and 'for="anonymitaet-begruendung"' in page

    status, body = post_json(client, "/prozesse/fallkonferenz/starten", token, REQUEST)
    assert status == 422
    assert "personenbezogene Daten" in body["message"]
    assert "Name „Kowalski“" in body["field_errors"]["anlass"]
    assert "benannte Einrichtung „Kita Sonnenschein“" in body["field_errors"]["anlass"]
    assert body["anonymitaet"]["begruendung_schluessel"] == REASON_KEY
    assert [f["kind"] for f in body["anonymitaet"]["funde"]["anlass"]] == ["name", "einrichtung"]
    assert counts(p4) == (0, 0)  # nothing stored

    status, body = post_json(
        client, "/prozesse/fallkonferenz/starten", token, {**REQUEST, REASON_KEY: "kurz"}
    )
    assert status == 422 and "zu kurz" in body["field_errors"]["anlass"]
    assert counts(p4) == (0, 0)

    reason = "Identifizierte Konferenz beantragt; die Einwilligung der Mutter liegt schriftlich vor."
    status, body = post_json(
        client, "/prozesse/fallkonferenz/starten", token, {**REQUEST, REASON_KEY: reason}
    )
    assert status == 200, body
    assert counts(p4) == (1, 1)
    with p4.db.read() as session:
        actor_name, detail, instance_id = session.execute(
            select(AuditEvent.actor_name, AuditEvent.detail, AuditEvent.instance_id).where(
                AuditEvent.action == AUDIT_ACTION
            )
        ).one()
    assert detail == {"felder": {"anlass": ["einrichtung", "name"]}, "begruendung": reason}
    assert actor_name and "Kowalski" not in str(detail)
    history = client.get(f"/vorgaenge/{instance_id}").get_data(as_text=True)
    assert "Ausnahme von der Anonymität begründet (protokolliert)" in history


def test_clean_request_starts_without_an_audit_exception(p4, client):
    token = login(client, "fachkraft.frauenberatung")
    clean = {
        **REQUEST,
        "anlass": "Die Mutter (30–44 Jahre) wird bedroht; ein Kind im Kita-Alter lebt im Haushalt.",
    }
    status, body = post_json(client, "/prozesse/fallkonferenz/starten", token, clean)
    assert status == 200, body
    assert counts(p4) == (1, 0)


def test_hostile_submissions_are_refused_without_a_500(p4, client):
    token = login(client, "fachkraft.frauenberatung")
    for bad in (
        {**REQUEST, REASON_KEY: ["keine", "Zeichenkette"]},
        {**REQUEST, "anlass": {"Frau": "Yılmaz"}},
        {**REQUEST, REASON_KEY: 12345678901},
    ):
        status, body = post_json(client, "/prozesse/fallkonferenz/starten", token, bad)
        assert status == 422, body
    assert counts(p4) == (0, 0)
