"""Web app: the Netzwerkverzeichnis — search for every partner, edits by the own organisation or the
Koordination, removal and the review round (P9) by the Koordination."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from engine.clock import ManualClock
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from tests.conftest import build_engine
from tests.integration.test_webapp_auth import csrf, login, make_app


@pytest.fixture
def real(tmp_path: Path, clock: ManualClock) -> Iterator[Hilfenetz]:
    """An engine with the real processes (P9 is started from the directory page)."""
    engine = build_engine(
        tmp_path, f"sqlite:///{tmp_path / 'web.db'}", clock, (REPO_ROOT / "processes", REPO_ROOT / "forms")
    )
    yield engine
    engine.db.dispose()


@pytest.fixture
def client(real: Hilfenetz) -> Iterator[FlaskClient]:
    with make_app(real).test_client() as test_client:
        yield test_client


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def headings(html: str) -> list[str]:
    return re.findall(r'<h3 id="eintrag-([a-z0-9-]+)"', html)


def entry_form(token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "angebote": "Einsatz bei häuslicher Gewalt rund um die Uhr.",
        "themen": ["polizei_justiz"],
        "gemeinden": ["kreisweit"],
        "kontakt-0-funktion": "Opferschutzbeauftragte",
        "kontakt-0-telefon": "+49 2921 0000-100",
        "kontakt-0-email": "opferschutz@polizei.beispiel.invalid",
        "erreichbarkeit": "Notruf 110 rund um die Uhr; Opferschutz Mo–Fr 8–16 Uhr.",
        "zugangswege": ["rund_um_die_uhr", "gebaerdensprache"],
        "sprachen": "Deutsch, Englisch",
    }
    data.update(overrides)
    return data


def test_every_partner_searches_with_a_labelled_form(client: FlaskClient) -> None:
    login(client, "presse.kreis")
    html = page(client, "/verzeichnis")
    assert 'href="/verzeichnis"' in html and 'role="search"' in html
    assert '<label for="q">Suchbegriffe</label>' in html and '<label for="gemeinde">Gemeinde</label>' in html
    assert "Für die Koordination" not in html and "Eintrag bearbeiten" not in html
    assert headings(page(client, "/verzeichnis?q=Geb%C3%A4rdensprache")) == ["hoerbehindertenberatung"]
    warstein = headings(page(client, "/verzeichnis?gemeinde=Warstein&thema=kinderschutz"))
    assert "jugendamt-warstein" in warstein and "jugendamt-soest" not in warstein
    assert "Kein Eintrag passt zu Ihrer Suche." in page(client, "/verzeichnis?q=Steuerberatung")
    assert '<caption id="eintrag-kontakte">Ansprechpersonen</caption>' in page(
        client, "/verzeichnis/kreispolizei"
    )
    english = page(client, "/verzeichnis?lang=en&q=Frauenhaus")
    assert (
        "Network directory" in english
        and "Contact persons" in english
        and "Protection and shelter" in english
    )


def test_own_organisation_edits_others_get_403_and_errors_keep_the_input(client: FlaskClient) -> None:
    token = login(client, "fachkraft.polizei")
    assert client.get("/verzeichnis/frauenberatung-soest/bearbeiten").status_code == 403
    response = client.post("/verzeichnis/frauenberatung-soest/bearbeiten", data=entry_form(token))
    assert response.status_code == 403
    assert client.post("/verzeichnis/kreispolizei/bearbeiten", data=entry_form("falsch")).status_code == 400
    form = page(client, "/verzeichnis/kreispolizei/bearbeiten")
    assert 'value="Opferschutzbeauftragte"' in form and "<legend>Themen" in form
    bad = entry_form(token, **{"kontakt-0-telefon": "ruf an", "themen": []})
    response = client.post("/verzeichnis/kreispolizei/bearbeiten", data=bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Bitte wählen Sie mindestens ein Thema." in html and "keine Telefonnummer" in html
    assert 'value="ruf an"' in html and 'aria-invalid="true"' in html
    response = client.post("/verzeichnis/kreispolizei/bearbeiten", data=entry_form(token))
    assert response.status_code == 302
    html = page(client, "/verzeichnis/kreispolizei")
    assert "Gebärdensprache" in html and "zuletzt bestätigt am" in html


def test_stale_entries_say_so_in_words(client: FlaskClient, real: Hilfenetz, clock: ManualClock) -> None:
    token = login(client, "koordination.jugendamt")
    client.post("/verzeichnis/ueberpruefung", data={"csrf_token": token, "anlass": "jaehrlich"})
    for days in (29, 29):
        clock.advance(timedelta(days=days))
        real.fire_due_timers()
    assert client.get("/aufgaben").status_code == 302  # 58 days idle end the session (session_guard)
    login(client, "koordination.jugendamt")
    html = page(client, "/verzeichnis?q=TAMAR")
    assert "veraltet – nicht rechtzeitig bestätigt" in html


def test_koordination_starts_the_round_and_removes_entries(client: FlaskClient) -> None:
    token = login(client, "fachkraft.polizei")
    assert (
        client.post(
            "/verzeichnis/ueberpruefung", data={"csrf_token": token, "anlass": "jaehrlich"}
        ).status_code
        == 403
    )
    assert client.post("/verzeichnis/tamar/entfernen", data={"csrf_token": token}).status_code == 403
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    token = login(client, "koordination.jugendamt")
    html = page(client, "/verzeichnis")
    assert "Für die Koordination" in html and "Letzte Fassung vom 01.11.2024" in html
    client.post("/verzeichnis/ueberpruefung", data={"csrf_token": token, "anlass": "irgendwann"})
    assert "Bitte wählen Sie den Anlass der Überprüfung." in page(client, "/verzeichnis")
    response = client.post(
        "/verzeichnis/ueberpruefung", data={"csrf_token": token, "anlass": "netzwerktreffen"}
    )
    assert response.status_code == 302
    assert "Überprüfung gestartet für 34 Organisationen." in page(client, "/verzeichnis")
    client.post("/verzeichnis/ueberpruefung", data={"csrf_token": token, "anlass": "netzwerktreffen"})
    assert "Überprüfung gestartet für 0 Organisationen." in page(client, "/verzeichnis")
    assert client.post("/verzeichnis/tamar/entfernen", data={"csrf_token": token}).status_code == 302
    assert "tamar" not in headings(page(client, "/verzeichnis"))
    assert "tamar" in headings(page(client, "/verzeichnis?entfernte=ja"))
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    login(client, "fachkraft.polizei")
    assert "tamar" not in headings(page(client, "/verzeichnis?entfernte=ja"))
    page(client, "/verzeichnis/tamar", 404)
    assert client.get("/verzeichnis/tamar/bearbeiten").status_code == 403  # another organisation


def test_an_organisation_without_entry_creates_it(client: FlaskClient) -> None:
    token = login(client, "ehrenamt.gynaekologie")  # the demo seed has no entry for her organisation
    assert "Eintrag anlegen" in page(client, "/verzeichnis")
    assert "Verzeichniseintrag anlegen" in page(client, "/verzeichnis/gynaekologie-expertin/bearbeiten")
    data = entry_form(
        token, themen=["gesundheit"], angebote="Fachliche Beratung zur Dokumentation von Verletzungen."
    )
    response = client.post("/verzeichnis/gynaekologie-expertin/bearbeiten", data=data)
    assert response.status_code == 302
    assert "Eintrag anlegen" not in page(client, "/verzeichnis")
    assert "gynaekologie-expertin" in headings(page(client, "/verzeichnis?q=Dokumentation+Verletzungen"))


def test_a_removed_entry_is_not_revived_by_its_organisation(client: FlaskClient) -> None:
    token = login(client, "koordination.jugendamt")
    client.post("/verzeichnis/kreispolizei/entfernen", data={"csrf_token": token})
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    token = login(client, "leitung.polizei")
    response = client.post("/verzeichnis/kreispolizei/bearbeiten", data=entry_form(token))
    assert response.status_code == 403
    assert "kreispolizei" not in headings(page(client, "/verzeichnis"))
