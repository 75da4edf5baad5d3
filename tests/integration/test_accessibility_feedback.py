"""Accessibility statement and its feedback form (BITV 2.0 § 7): sent without an account, checked
with German messages that keep every input, limited per hour, stored on SQLite and PostgreSQL, seen
and answered only by the Koordination (who get a notification), deleted after the retention period,
and the statement's contact data come from the HILFENETZ_BARRIEREFREIHEIT_* settings."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.accessibility_feedback import FeedbackInput
from engine.errors import ConfigurationError, NotPermittedError
from engine.persistence.models import AccessibilityFeedback, AuditEvent, Notification, User
from engine.service import Hilfenetz
from engine.settings import Settings
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_webapp_auth import csrf, login, make_app

GOOD = {"message": "Der Knopf „Abschließen“ ist mit dem Bildschirmleser nicht zu finden.", "reply": "nein"}


@pytest.fixture
def hn(tmp_path, any_db_url, clock, definitions) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, any_db_url, clock, definitions, accessibility_feedback_per_hour=3)
    yield engine
    engine.db.dispose()


def send(client: FlaskClient, **fields: str):
    token = csrf(client, "/barrierefreiheit")
    return client.post("/barrierefreiheit/rueckmeldung", data={"csrf_token": token, **fields})


def stored(hn: Hilfenetz) -> list[Any]:
    """The stored rows as plain rows (attribute access, no session needed)."""
    table = AccessibilityFeedback.__table__
    with hn.db.read() as session:
        return list(session.execute(select(table).order_by(table.c.id)))


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_statement_shows_sections_and_configured_contacts(tmp_path, sqlite_url, clock, definitions):
    engine = build_engine(
        tmp_path,
        sqlite_url,
        clock,
        definitions,
        accessibility_contact="Netzwerkbüro, Telefon 02921 0000-0",
        ombudsstelle_contact="Beispielstraße 1, 40000 Düsseldorf",
        accessibility_statement_date="01.12.2026",
    )
    with make_app(engine).test_client() as client:
        page = text_of(client.get("/barrierefreiheit"))
        english = text_of(client.get("/barrierefreiheit?lang=en"))
    engine.db.dispose()
    for heading in (
        "Stand der Vereinbarkeit mit den Anforderungen",
        "Nicht barrierefreie Inhalte",
        "Erstellung dieser Erklärung",
        "Feedback und Kontakt",
        "Durchsetzungsverfahren",
    ):
        assert f">{heading}</h2>" in page
    assert "teilweise vereinbar" in page and "axe-core" in page
    assert "Netzwerkbüro, Telefon 02921 0000-0" in page and "Beispielstraße 1, 40000 Düsseldorf" in page
    assert "am 01.12.2026 erstellt" in page
    assert "Ombudsstelle für barrierefreie Informationstechnik des Landes Nordrhein-Westfalen" in page
    assert '<html lang="en">' in english and "Accessibility statement" in english
    assert "Send feedback" in english and "Rückmeldung senden" not in english


def test_statement_settings_are_checked():
    base = {"HILFENETZ_DEV": "1"}
    assert Settings.from_env(base).accessibility_feedback_keep_days == 365
    with pytest.raises(ConfigurationError, match="HILFENETZ_BARRIEREFREIHEIT_STAND"):
        Settings.from_env({**base, "HILFENETZ_BARRIEREFREIHEIT_STAND": "2026-11-25"})
    with pytest.raises(ConfigurationError, match="keine Zahl"):
        Settings.from_env({**base, "HILFENETZ_BARRIEREFREIHEIT_AUFBEWAHRUNG_TAGE": "ein Jahr"})


def test_feedback_without_login_is_stored_and_coordinators_are_notified(client, hn):
    response = send(client, **GOOD, page="/aufgaben", name="", email="")
    assert response.status_code == 302 and response.location.endswith("/barrierefreiheit#feedback")
    confirmation = text_of(client.get("/barrierefreiheit"))
    assert "Vielen Dank! Ihre Rückmeldung ist bei der Netzwerkkoordination eingegangen." in confirmation
    [row] = stored(hn)
    assert (row.message, row.page, row.name, row.email, row.reply_wanted) == (
        GOOD["message"],
        "/aufgaben",
        None,
        None,
        False,
    )
    with hn.db.read() as session:
        notified = set(
            session.scalars(
                select(User.username)
                .join(Notification, Notification.user_id == User.id)
                .where(Notification.kind == "barrierefreiheit_rueckmeldung")
            )
        )
    assert notified == {"koordination.jugendamt", "koordination.frauenberatung"}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"message": "   ", "reply": "nein"}, "message", "Bitte beschreiben Sie, was Sie behindert hat."),
        ({"message": "x" * 5001, "reply": "nein"}, "message", "höchstens 5.000 Zeichen"),
        (
            {"message": "Text", "reply": "vielleicht"},
            "reply",
            "Bitte wählen Sie, ob Sie eine Antwort möchten.",
        ),
        ({"message": "Text"}, "reply", "Bitte wählen Sie, ob Sie eine Antwort möchten."),
        ({"message": "Text", "reply": "ja"}, "email", "Für eine Antwort brauchen wir Ihre E-Mail-Adresse."),
        ({"message": "Text", "reply": "ja", "email": "kein-at-zeichen"}, "email", "gültige E-Mail-Adresse"),
        ({"message": "Text", "reply": "nein", "email": "a@b.de, c@d.de"}, "email", "gültige E-Mail-Adresse"),
        ({"message": "Text", "reply": "nein", "name": "N" * 201}, "name", "höchstens 200 Zeichen"),
        ({"message": "Text", "reply": "nein", "page": "/" * 301}, "page", "höchstens 300 Zeichen"),
        ({"message": "\x00\x01\x7f", "reply": "nein"}, "message", "Bitte beschreiben Sie"),
    ],
)
def test_bad_feedback_is_refused_in_german_and_keeps_the_input(client, hn, fields, field, message):
    response = send(client, **{"name": "Erika <b>Muster</b>", **fields})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html.unescape(body)
    assert f'id="{field}-fehler"' in body and re.search(rf'id="{field}"[^>]*aria-invalid="true"', body)
    assert "Erika &lt;b&gt;Muster&lt;/b&gt;" in body or field == "name"
    if fields.get("message", "").strip() and field != "message":
        assert html.escape(fields["message"], quote=False) in body
    assert stored(hn) == []


def test_nul_and_control_characters_are_dropped_not_refused(client, hn):
    assert send(client, message="Kontrast\x00 zu schwach\x07", reply="nein").status_code == 302
    assert stored(hn)[0].message == "Kontrast zu schwach"


def test_without_csrf_token_nothing_is_stored(client, hn):
    response = client.post("/barrierefreiheit/rueckmeldung", data=GOOD)
    assert response.status_code == 400 and "Sicherheitsprüfung" in text_of(response)
    assert stored(hn) == []


def test_hourly_limit_refuses_politely_and_keeps_input(client, hn, clock):
    for _ in range(3):
        assert send(client, **GOOD).status_code == 302
    refused = send(client, message="Vierte Meldung", reply="nein")
    assert refused.status_code == 429
    assert "Bitte versuchen Sie es in einer Stunde erneut" in text_of(refused)
    assert "Vierte Meldung" in text_of(refused)
    clock.advance(timedelta(hours=1, seconds=1))
    assert send(client, message="Vierte Meldung", reply="nein").status_code == 302
    assert len(stored(hn)) == 4


def test_one_address_cannot_close_the_channel_for_everyone(tmp_path, sqlite_url, clock, definitions):
    engine = build_engine(tmp_path, sqlite_url, clock, definitions)  # the default cap for all senders
    app = make_app(engine)
    here, there = app.test_client(), app.test_client()
    there.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    for _ in range(5):
        assert send(here, **GOOD).status_code == 302
    refused = send(here, message="Sechste Meldung", reply="nein")
    assert refused.status_code == 429
    assert "Von Ihrem Anschluss sind in der letzten Stunde schon mehrere" in text_of(refused)
    assert "Sechste Meldung" in text_of(refused)
    here.get("/barrierefreiheit?lang=en")
    english = send(here, message="Sechste Meldung", reply="nein")
    assert "Several feedback reports have already come from your connection" in text_of(english)
    assert send(there, message="Von einem anderen Rechner", reply="nein").status_code == 302
    assert len(stored(engine)) == 6
    engine.db.dispose()


def test_only_coordination_sees_and_answers_feedback(client, hn):
    send(
        client,
        message="Fokus auf der Startseite unsichtbar",
        reply="ja",
        email="erika@beispiel.de",
        name="Erika",
    )
    login(client, "fachkraft.frauenberatung")
    assert client.get("/barrierefreiheit/rueckmeldungen").status_code == 403
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    token = login(client, "koordination.jugendamt")
    page = text_of(client.get("/barrierefreiheit/rueckmeldungen"))
    assert "Fokus auf der Startseite unsichtbar" in page and "erika@beispiel.de" in page
    notices = text_of(client.get("/benachrichtigungen"))
    assert "Rückmeldung zur Barrierefreiheit" in notices and "/barrierefreiheit/rueckmeldungen" in notices
    [row] = stored(hn)
    done = client.post(f"/barrierefreiheit/rueckmeldungen/{row.id}/beantwortet", data={"csrf_token": token})
    assert done.status_code == 302
    assert stored(hn)[0].answered_at is not None
    assert "beantwortet am" in text_of(client.get("/barrierefreiheit/rueckmeldungen"))
    missing = client.post("/barrierefreiheit/rueckmeldungen/999999/beantwortet", data={"csrf_token": token})
    assert missing.status_code == 404
    with hn.db.read() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {
        "barrierefreiheit_rueckmeldung",
        "barrierefreiheit_gelesen",
        "barrierefreiheit_beantwortet",
    } <= actions


def test_engine_refuses_the_list_to_others(hn):
    with pytest.raises(NotPermittedError):
        hn.accessibility_feedback(actor_lookup(hn)("fachkraft.polizei"))


def test_feedback_is_deleted_after_the_retention_period(hn, clock):
    hn.send_accessibility_feedback(FeedbackInput(message="alt", reply="nein"))
    clock.advance(timedelta(days=200))
    hn.send_accessibility_feedback(FeedbackInput(message="neu", reply="nein"))
    assert hn.purge_accessibility_feedback() == 0
    clock.advance(timedelta(days=166))
    assert hn.purge_accessibility_feedback() == 1
    assert [r.message for r in stored(hn)] == ["neu"]


def test_the_job_runner_runs_the_purge(hn):
    from engine.dispatch import PERIODIC_JOBS
    from engine.jobs import EmbeddedJobRunner

    names = [name for name, _job in EmbeddedJobRunner(hn, 1.0)._jobs()]
    assert "purge_accessibility_feedback" in PERIODIC_JOBS
    assert "purge_accessibility_feedback" in names


def test_english_page_errors_are_english(client, hn):
    client.get("/barrierefreiheit?lang=en")
    response = send(client, message="", reply="nein")
    assert response.status_code == 422
    body = text_of(response)
    assert "Please describe what got in your way." in body and "Bitte beschreiben" not in body
