"""Web app: /auswertung and the annual report for the Koordination and the Steuerungsgruppe on
SQLite and PostgreSQL; 403 for a Fachkraft; bad filters answer 422 with the form, never 500."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader

from engine.service import Hilfenetz
from tests.conftest import build_engine
from tests.integration.test_webapp_auth import login, make_app
from tests.support.analytics_data import AnalyticsData

NOW = datetime(2026, 12, 15, 9, 0, tzinfo=UTC)
MARCH = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path, any_db_url: str, clock, definitions) -> Iterator[Hilfenetz]:
    clock.set(NOW)
    hn = build_engine(tmp_path, any_db_url, clock, definitions)
    data = AnalyticsData(hn)
    for outcome in ["Ende_BeratungAngenommen"] * 6 + ["Ende_BeratungAbgelehnt"] * 5 + [None] * 2:
        instance = data.instance("polizeieinsatz", MARCH, org="kreispolizei")
        data.task(
            instance,
            "polizeieinsatz",
            "Task_Kontaktaufnahme",
            MARCH,
            due_at=MARCH + timedelta(days=3),
            completed_at=MARCH + timedelta(hours=12),
            candidates="Fachkraft@frauenberatung-soest",
        )
        if outcome:
            data.end(instance, outcome, MARCH + timedelta(days=2))
    data.meeting("netzwerktreffen", "durchgefuehrt", MARCH)
    yield hn
    hn.db.dispose()


@pytest.fixture
def client(engine: Hilfenetz) -> Iterator[FlaskClient]:
    with make_app(engine).test_client() as test_client:
        yield test_client


@pytest.mark.parametrize("username", ["koordination.jugendamt", "leitung.polizei"])
def test_coordination_and_steering_group_see_figures_and_tables(client, username):
    login(client, username)
    assert 'href="/auswertung"' in client.get("/aufgaben").get_data(as_text=True)
    response = client.get("/auswertung?von=2026-01-01&bis=2026-12-31")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Auswertung</h1>" in page
    caption = "Vermittlungen an die Beratungsstelle (P1) je Monat"
    assert f'<caption id="vermittlungen-tabelle">{caption}</caption>' in page
    assert '<th scope="row" data-label="Monat">Mär 2026</th>' in page
    assert (
        '<td data-label="Vermittlungen">13</td>' in page
        and '<td data-label="Beratung angenommen">6</td>' in page
    )
    withheld = '<span title="aus Datenschutzgründen nicht genau angegeben">&lt; 5</span>'
    assert f'<td data-label="offen">{withheld}</td>' in page
    assert 'id="vermittlungen-diagramm" role="img" aria-label="Gestapeltes Säulendiagramm' in page
    assert "vendor/chart.js/chart.umd.min.js" in page
    assert 'href="/auswertung/jahresbericht/2026.pdf"' in page


def test_a_fachkraft_gets_403_everywhere(client):
    login(client, "fachkraft.frauenberatung")
    assert 'href="/auswertung"' not in client.get("/aufgaben").get_data(as_text=True)
    for path in ("/auswertung", "/auswertung/jahresbericht/2026.pdf", "/auswertung/jahresbericht/2026.csv"):
        assert client.get(path).status_code == 403, path


def test_anonymous_is_sent_to_login(client):
    response = client.get("/auswertung")
    assert response.status_code == 302 and "/anmelden" in response.headers["Location"]


@pytest.mark.parametrize(
    "query",
    [
        "von=kaputt",
        "von=2026-05-01&bis=2026-01-01",
        "organisation=gibt-es-nicht",
        "von=2026-13-45",
        "von=9999-12-30&bis=9999-12-31",
    ],
)
def test_bad_filters_answer_422_with_the_form(client, query):
    login(client, "koordination.jugendamt")
    response = client.get(f"/auswertung?{query}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Bitte prüfen Sie Ihre Eingaben:" in page and 'aria-invalid="true"' in page


def test_organisation_filter(client):
    login(client, "koordination.jugendamt")
    page = client.get("/auswertung?organisation=frauenberatung-soest").get_data(as_text=True)
    assert "Fälle, an denen Frauenberatung Soest beteiligt war" in page
    assert '<option value="frauenberatung-soest" selected>' in page


def test_annual_report_pdf_and_csv(client):
    login(client, "koordination.jugendamt")
    response = client.get("/auswertung/jahresbericht/2026.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "hilfenetz-jahresbericht-2026.pdf" in response.headers["Content-Disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Jahresbericht 2026" in text and "Vermittlungen an die Beratungsstelle (P1) je Monat" in text
    assert "Netzwerktreffen: durchgeführt" in text
    response = client.get("/auswertung/jahresbericht/2026.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    march = {r[2]: r[3] for r in rows if r[1] == "Mär 2026" and r[0].startswith("Vermittlungen")}
    assert march["Vermittlungen"] == "13" and march["offen"] == "< 5" and march["Beratung angenommen"] == "6"
    assert client.get("/auswertung/jahresbericht/2031.pdf").status_code == 422
    assert client.get("/auswertung/jahresbericht/abc.pdf").status_code == 404


def test_english_page(client):
    login(client, "koordination.jugendamt")
    page = client.get("/auswertung?lang=en").get_data(as_text=True)
    assert "<h1>Figures</h1>" in page and "Referrals to the counselling centre (P1) per month" in page
    assert '<th scope="col">Acceptance rate</th>' in page
    assert '<th scope="row" data-label="Month">Mar 2026</th>' in page
