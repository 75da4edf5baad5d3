"""Web app: the meeting's calendar file (.ics) on the instance, task and notifications pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar

from engine.settings import REPO_ROOT
from tests.conftest import build_engine
from tests.integration.test_webapp_auth import login, make_app
from tests.unit.test_netzwerktreffen import invite, task_of, to_invitation

LINK = "Termin in Kalender übernehmen (.ics)"


@pytest.fixture
def p6(tmp_path, sqlite_url, clock):
    engine = build_engine(tmp_path, sqlite_url, clock, (REPO_ROOT / "processes", REPO_ROOT / "forms"))
    yield engine
    engine.db.dispose()


@pytest.fixture
def client(p6) -> Iterator[FlaskClient]:
    app: Flask = make_app(p6)
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def meeting(p6, clock) -> int:
    instance_id = to_invitation(p6, clock)
    invite(p6, instance_id, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    while p6.deliver_outbox():
        pass
    return instance_id


def test_invited_member_downloads_the_ics_from_the_notifications_page(client, meeting):
    login(client, "fachkraft.polizei")
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "Einladung: Netzwerktreffen am 12.03.2026" in page
    assert f'href="/netzwerktreffen/{meeting}/termin.ics"' in page and LINK in page
    response = client.get(f"/netzwerktreffen/{meeting}/termin.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == 'attachment; filename="termin.ics"'
    event = Calendar.from_ical(response.data).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "1. Netzwerktreffen 2026"


def test_instance_and_task_pages_offer_the_calendar_file(client, p6, meeting):
    login(client, "koordination.jugendamt")
    page = client.get(f"/vorgaenge/{meeting}").get_data(as_text=True)
    assert LINK in page and "Kreishaus Soest, Sitzungssaal" in page
    task = task_of(p6, "koordination.jugendamt", meeting, "Task_Durchfuehrung")
    page = client.get(f"/aufgaben/{task}").get_data(as_text=True)
    assert LINK in page and '<h2 id="termin-titel">Termin</h2>' in page


def test_an_organisation_not_invited_gets_no_calendar_file(client, meeting):
    login(client, "fachkraft.jobcenter")
    assert client.get(f"/netzwerktreffen/{meeting}/termin.ics").status_code == 404
    assert client.get("/netzwerktreffen/99999/termin.ics").status_code == 404


def test_the_history_names_the_invitation(client, meeting):
    login(client, "koordination.jugendamt")
    page = client.get(f"/vorgaenge/{meeting}").get_data(as_text=True)
    assert "Einladung mit Kalenderdatei versendet" in page and "einladung_versendet" not in page


def test_the_coordinators_warning_links_to_a_new_meeting(client, p6, clock):
    clock.set(datetime(2026, 10, 1, 8, 0, tzinfo=UTC))
    assert p6.warn_second_meeting() == 1
    while p6.deliver_outbox():
        pass
    login(client, "koordination.frauenberatung")
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert (
        '<a href="/prozesse/netzwerktreffen/starten">Zweites Netzwerktreffen 2026 noch nicht terminiert</a>'
        in page
    )
    assert "Netzwerktreffen nicht terminiert" in page  # the kind's label
