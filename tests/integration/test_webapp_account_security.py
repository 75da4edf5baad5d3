"""Sign-in security through the real web app and engine: the server-side idle timeout and maximum
session age (moved by the injected clock, no sleeps), the lock-out notice that looks the same for
unknown names, the owner's notice by e-mail, the password policy and the change page, and start
passwords that must be replaced at the first login."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.lock_notice import LOCKED_TITLE
from engine.persistence.models import AccountSecurity, AuditEvent, Notification, User
from engine.projection import BERLIN
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_webapp_auth import PASSWORD, csrf, login, make_app

NEW_PASSWORD = "Drei Kaffeebohnen tanzen im Regen"


def audit_rows(hn: Any, action: str) -> list[Any]:
    with hn.db.read() as session:
        return list(session.execute(select(AuditEvent.__table__).where(AuditEvent.action == action)))


# --- idle timeout and maximum age ----------------------------------------------------------
def test_an_idle_session_is_ended_by_the_server_with_a_german_notice(client, hn, clock):
    login(client, "fachkraft.frauenberatung")
    clock.advance(timedelta(minutes=29))
    assert client.get("/aufgaben").status_code == 200  # activity keeps the session alive
    clock.advance(timedelta(minutes=29))
    assert client.get("/aufgaben").status_code == 200
    clock.advance(timedelta(minutes=30, seconds=1))
    response = client.get("/aufgaben")
    assert response.status_code == 302 and response.headers["Location"] == "/anmelden?next=/aufgaben"
    page = client.get("/anmelden").get_data(as_text=True)
    assert "Sie wurden nach 30 Minuten ohne Aktivität abgemeldet." in page
    assert client.get("/aufgaben").status_code == 302  # the session is gone, not just hidden
    rows = audit_rows(hn, "logout_zeitueberschreitung")
    assert [(r.actor_name, r.detail, r.at) for r in rows] == [
        ("Lena Probe", {"grund": "inaktiv"}, clock.now())
    ]


def test_the_maximum_age_ends_even_an_active_session(hn, clock):
    hn.settings = replace(hn.settings, session_max_hours=2)
    app = make_app(hn)
    client = app.test_client()
    login(client, "fachkraft.frauenberatung")
    for _ in range(6):  # active every 20 minutes: two hours
        clock.advance(timedelta(minutes=20))
        assert client.get("/aufgaben").status_code == 200
    clock.advance(timedelta(minutes=1))
    response = client.get("/aufgaben?lang=en")
    assert response.status_code == 302
    page = client.get("/anmelden").get_data(as_text=True)
    assert "Your session has reached its maximum length of 2 hours. Please sign in again." in page
    assert [r.detail for r in audit_rows(hn, "logout_zeitueberschreitung")] == [{"grund": "hoechstdauer"}]
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=2)


def test_an_expired_session_answers_json_clients_with_401(client, clock):
    login(client, "fachkraft.frauenberatung")
    clock.advance(timedelta(hours=1))
    response = client.get("/aufgaben/x/formular.json")
    assert response.status_code == 401
    assert response.get_json() == {"message": "Sie wurden nach 30 Minuten ohne Aktivität abgemeldet."}


def test_a_session_without_its_timestamps_is_not_accepted(client, hn):
    login(client, "fachkraft.frauenberatung")
    with client.session_transaction() as session:
        del session["seen"]
    assert client.get("/aufgaben").status_code == 302
    assert len(audit_rows(hn, "logout_zeitueberschreitung")) == 1


# --- lock-out notice ---------------------------------------------------------------------------
def attempt(client: Any, username: str, password: str = "falsch-falsch-falsch", address: str = "") -> str:
    data = {"csrf_token": csrf(client), "username": username, "password": password}
    environ = {"REMOTE_ADDR": address} if address else {}
    return client.post("/anmelden", data=data, environ_base=environ).get_data(as_text=True)


def lock_message(page: str) -> str:
    match = re.search(
        r'<div class="alert alert--error" role="alert" id="anmeldung-fehler"><p>([^<]*)</p>', page
    )
    assert match, page[:2000]
    return match.group(1)


def test_the_lock_names_its_end_and_reads_the_same_for_unknown_names(client, clock):
    until = (clock.now() + timedelta(minutes=15)).astimezone(BERLIN).strftime("%H:%M")
    answers = {}
    for address, username in (("10.0.0.1", "fachkraft.polizei"), ("10.0.0.2", "gibt.es.nicht")):
        first = [lock_message(attempt(client, username, address=address)) for _ in range(5)]
        assert set(first) == {"Anmeldung fehlgeschlagen: Benutzername oder Passwort ist falsch."}
        answers[username] = lock_message(attempt(client, username, PASSWORD, address))
    assert answers["fachkraft.polizei"] == answers["gibt.es.nicht"]
    assert answers["fachkraft.polizei"] == (
        f"Das Konto ist nach mehreren Fehlversuchen vorübergehend gesperrt, bis {until} Uhr. "
        "Bitte versuchen Sie es danach erneut."
    )
    clock.advance(timedelta(minutes=15, seconds=1))
    login(client, "fachkraft.polizei")  # the lock ends by itself


def test_unknown_names_are_kept_only_as_a_keyed_digest(client, hn):
    attempt(client, "Passwort-im-Namensfeld-123")
    with hn.db.read() as session:
        rows = session.execute(select(AuditEvent.actor_name, AuditEvent.detail)).all()
        digests = session.scalars(select(User.username)).all()
    assert "Passwort-im-Namensfeld-123" not in repr(rows) + repr(digests)


def test_the_owner_is_told_in_the_app_and_by_email(tmp_path, sqlite_url, clock, definitions, smtp):
    hn = build_engine(tmp_path, sqlite_url, clock, definitions, smtp_host="127.0.0.1", smtp_port=smtp.port)
    with hn.db.write() as session:  # e-mail off for work: a lock notice is sent all the same
        user = session.scalars(select(User).where(User.username == "fachkraft.polizei")).one()
        user.notification_preference = "aus"
        session.commit()
    client = make_app(hn).test_client()
    for _ in range(5):
        attempt(client, "fachkraft.polizei")
    hn.deliver_outbox()
    messages = [m for m in smtp.sink.messages if "gesperrt" in str(m["Subject"])]
    assert [str(m["X-Envelope-To"]) for m in messages] == ["fachkraft.polizei@hilfenetz.invalid"]
    payload = messages[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    until = (clock.now() + timedelta(minutes=15)).astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")
    assert f"nach 5 fehlgeschlagenen Anmeldeversuchen bis {until} Uhr" in body
    with hn.db.read() as session:
        titles = session.scalars(select(Notification.title).where(Notification.user_id == user.id)).all()
    assert titles == [LOCKED_TITLE]
    hn.db.dispose()


# --- password policy and change page ---------------------------------------------------------
def change(client: Any, token: str, current: str, new: str, repeat: str | None = None) -> Any:
    data = {
        "csrf_token": token,
        "current_password": current,
        "new_password": new,
        "new_password_repeat": new if repeat is None else repeat,
    }
    return client.post("/passwort-aendern", data=data)


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ("kurz-12345", "Das Passwort muss mindestens 12 Zeichen lang sein."),
        ("x" * 129, "Das Passwort darf höchstens 128 Zeichen lang sein."),
        ("Passwort2026!", "Dieses Passwort ist zu bekannt"),
        ("qwertyuiop123", "Dieses Passwort ist zu bekannt"),
        ("ich-bin-fachkraft.frauenberatung", "Das Passwort darf Ihren Benutzernamen nicht enthalten."),
        (PASSWORD, "Das neue Passwort muss sich vom bisherigen unterscheiden."),
    ],
)
def test_the_policy_refuses_in_german_and_keeps_the_old_password(client, hn, new, expected):
    token = login(client, "fachkraft.frauenberatung")
    response = change(client, token, PASSWORD, new)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and expected in page
    assert 'aria-invalid="true"' in page and 'role="alert"' in page
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    login(client, "fachkraft.frauenberatung")  # the old password still works
    assert not audit_rows(hn, "passwort_geaendert")


def test_wrong_current_password_or_repeat_are_refused(client, hn):
    token = login(client, "fachkraft.frauenberatung")
    page = change(client, token, "nicht-das-passwort", NEW_PASSWORD).get_data(as_text=True)
    assert "Das bisherige Passwort ist falsch." in page
    page = change(client, token, PASSWORD, NEW_PASSWORD, repeat=NEW_PASSWORD + "x").get_data(as_text=True)
    assert "Die beiden neuen Passwörter stimmen nicht überein." in page
    page = change(client, token, "", NEW_PASSWORD).get_data(as_text=True)
    assert "Bitte geben Sie Ihr bisheriges Passwort ein." in page
    assert len(audit_rows(hn, "passwort_aenderung_abgelehnt")) == 1


def test_any_unicode_passphrase_is_accepted_and_replaces_the_old_one(client, hn):
    token = login(client, "fachkraft.frauenberatung")
    passphrase = "Grüße aus Soest 🌧️ – ça va? 你好"
    response = change(client, token, PASSWORD, passphrase)
    assert response.status_code == 302 and response.headers["Location"] == "/aufgaben"
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    assert "falsch" in attempt(client, "fachkraft.frauenberatung", PASSWORD)
    login(client, "fachkraft.frauenberatung", passphrase)
    assert len(audit_rows(hn, "passwort_geaendert")) == 1


def test_the_change_page_in_english(client):
    login(client, "fachkraft.frauenberatung")
    page = client.get("/passwort-aendern?lang=en").get_data(as_text=True)
    assert "<h1>Change password</h1>" in page and "At least 12 characters" in page


def test_a_start_password_must_be_replaced_before_anything_else(client, hn):
    koordination = actor_lookup(hn)("koordination.frauenberatung")
    with hn.db.write() as session:  # an account as P12 creates it: no password yet
        user = session.scalars(select(User).where(User.username == "fachkraft2.frauenberatung")).one()
        user.password_hash = "!kein-passwort"
        session.commit()
    start = hn.issue_start_password(koordination, "fachkraft2.frauenberatung")
    data = {"csrf_token": csrf(client), "username": "fachkraft2.frauenberatung", "password": start}
    response = client.post("/anmelden", data=data)
    assert response.headers["Location"] == "/passwort-aendern"
    assert client.get("/aufgaben").headers["Location"] == "/passwort-aendern"
    assert client.get("/aufgaben/x/formular.json").status_code == 403
    page = client.get("/passwort-aendern").get_data(as_text=True)
    assert "Sie haben sich mit einem Startpasswort angemeldet." in page
    token = csrf(client, "/passwort-aendern")
    assert change(client, token, start, NEW_PASSWORD).headers["Location"] == "/aufgaben"
    assert client.get("/aufgaben").status_code == 200
    with hn.db.read() as session:
        row = session.get(AccountSecurity, user.id)
        assert row is not None and row.must_change_password is False and row.password_changed_at


def test_erasing_an_account_drops_its_security_row_and_single_sign_on_subject(hn, actor):
    lena = actor("fachkraft.frauenberatung")
    with hn.db.write() as session:
        session.add(
            AccountSecurity(
                user_id=lena.id, must_change_password=True, oidc_issuer="https://idp", oidc_subject="s-1"
            )
        )
        session.execute(User.__table__.update().where(User.id == lena.id).values(active=False))
        session.commit()
    assert hn.account_erasure(actor("datenschutz.kreis"), lena.username, confirm=True).applied
    with hn.db.read() as session:
        assert session.get(AccountSecurity, lena.id) is None


def test_the_change_page_is_linked_from_my_data(client):
    login(client, "fachkraft.frauenberatung")
    page = client.get("/meine-daten").get_data(as_text=True)
    assert 'href="/passwort-aendern">Passwort ändern</a>' in page
