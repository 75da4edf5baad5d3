"""Web app: sign-in, sessions, CSRF, security headers, language switch, public pages.

Runs the Flask test client against a real engine on a temporary SQLite file (``hn`` fixture),
with CSRF protection switched on as in production.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.directory import load_seed
from engine.service import Hilfenetz
from webapp import create_app

PASSWORD = load_seed("demo_users.json")["password"]
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def make_app(hn: Hilfenetz) -> Flask:
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": True}, hilfenetz=hn)


def csrf(client: FlaskClient, path: str = "/anmelden") -> str:
    """The CSRF token from the page's meta tag."""
    match = CSRF_META.search(client.get(path).get_data(as_text=True))
    assert match, f"no csrf meta tag on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns a fresh CSRF token for the new session."""
    response = client.post(
        "/anmelden", data={"csrf_token": csrf(client), "username": username, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf(client, "/aufgaben")


def test_healthz_needs_no_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"


def test_pages_need_login(client):
    response = client.get("/aufgaben")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/anmelden?next=/aufgaben")
    assert client.get("/aufgaben/x/formular.json").status_code == 401
    assert client.get("/aufgaben/x/formular.json").get_json() == {"message": "Bitte melden Sie sich an."}


def test_login_and_logout(client):
    token = login(client, "fachkraft.frauenberatung")
    page = client.get("/aufgaben").get_data(as_text=True)
    assert "Angemeldet als Lena Probe" in page and "<h1>Meine Aufgaben</h1>" in page
    assert client.get("/abmelden").status_code == 405  # logout is POST only
    response = client.post("/abmelden", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/anmelden"
    assert client.get("/aufgaben").status_code == 302


def test_login_redirects_to_next_but_only_locally(client):
    data = {"csrf_token": csrf(client), "username": "fachkraft.frauenberatung", "password": PASSWORD}
    response = client.post("/anmelden", data={**data, "next": "//evil.example/"})
    assert response.headers["Location"] == "/aufgaben"
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    data["csrf_token"] = csrf(client)
    response = client.post("/anmelden", data={**data, "next": "/vorgaenge"})
    assert response.headers["Location"] == "/vorgaenge"


def test_wrong_password_shows_german_message(client):
    response = client.post(
        "/anmelden",
        data={
            "csrf_token": csrf(client),
            "password": "falsch-falsch-falsch",
            "username": "fachkraft.frauenberatung",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Benutzername oder Passwort ist falsch" in page and 'role="alert"' in page
    assert 'aria-describedby="anmeldung-fehler"' in page
    assert client.get("/aufgaben").status_code == 302


def test_account_locked_after_five_failures(client):
    for _ in range(5):
        client.post(
            "/anmelden",
            data={
                "csrf_token": csrf(client),
                "username": "fachkraft.polizei",
                "password": "falsch-falsch-falsch",
            },
        )
    response = client.post(
        "/anmelden", data={"csrf_token": csrf(client), "username": "fachkraft.polizei", "password": PASSWORD}
    )
    assert "vorübergehend gesperrt" in response.get_data(as_text=True)
    assert client.get("/aufgaben").status_code == 302


def test_login_rate_limit_per_address(client):
    token = csrf(client)
    for _ in range(10):
        response = client.post("/anmelden", data={"csrf_token": token, "username": "x", "password": "x"})
        assert response.status_code == 200
    response = client.post(
        "/anmelden", data={"csrf_token": token, "username": "fachkraft.frauenberatung", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert "Zu viele Anmeldeversuche" in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/anmelden", data={"username": "fachkraft.frauenberatung", "password": PASSWORD})
    assert response.status_code == 400
    assert "Sicherheitsprüfung" in response.get_data(as_text=True)
    token = login(client, "fachkraft.frauenberatung")
    assert client.post("/abmelden").status_code == 400
    assert client.post("/abmelden", data={"csrf_token": token + "x"}).status_code == 400


def test_session_is_rotated_at_login(app, client):
    csrf(client)
    with client.session_transaction() as before:
        before["marker"] = "vorher"
    login(client, "fachkraft.frauenberatung")
    with client.session_transaction() as after:
        assert "marker" not in after and after.get("_user_id")
        assert len(after["nonce"]) >= 16 and after.permanent


def test_security_headers(client):
    for response in (client.get("/anmelden"), client.get("/healthz")):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"


def test_session_cookie_flags(client):
    login(client, "fachkraft.frauenberatung")
    response = client.get("/aufgaben")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # development settings


def test_session_cookie_secure_outside_development(hn):
    hn.settings = replace(hn.settings, dev=False)
    app = make_app(hn)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    # the cookie may live as long as a session at most; the idle timeout is enforced by the server
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 10 * 3600


def test_strict_transport_security_outside_development_only(hn, client):
    assert "Strict-Transport-Security" not in client.get("/anmelden").headers  # development: plain HTTP
    hn.settings = replace(hn.settings, dev=False)
    production = make_app(hn).test_client()
    for path in ("/anmelden", "/healthz", "/api/v1/tasks"):
        header = production.get(path).headers.get("Strict-Transport-Security", "")
        assert header == "max-age=31536000; includeSubDomains", path


def test_english_switch(client):
    page = client.get("/anmelden?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page and "Skip to content" in page
    token = login(client, "fachkraft.frauenberatung")
    page = client.get("/aufgaben").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>My tasks</h1>" in page
    page = client.get("/aufgaben?view=meine&lang=en").get_data(as_text=True)
    assert '<input type="hidden" name="next" value="/aufgaben?view=meine">' in page
    response = client.post("/sprache", data={"csrf_token": token, "lang": "de", "next": "/vorgaenge"})
    assert response.headers["Location"] == "/vorgaenge"
    assert '<html lang="de">' in client.get("/vorgaenge").get_data(as_text=True)


def test_language_preference_is_saved_for_the_user(hn, client):
    token = login(client, "fachkraft.frauenberatung")
    client.post("/sprache", data={"csrf_token": token, "lang": "en"})
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    assert '<html lang="de">' in client.get("/anmelden").get_data(as_text=True)
    login(client, "fachkraft.frauenberatung")
    assert '<html lang="en">' in client.get("/aufgaben").get_data(as_text=True)


def test_public_pages_and_footer(client):
    page = client.get("/barrierefreiheit").get_data(as_text=True)
    assert "teilweise vereinbar" in page and "Ombudsstelle" in page
    assert 'href="/impressum"' in page and 'href="/barrierefreiheit"' in page
    assert client.get("/impressum").status_code == 200


def test_base_template_landmarks(client):
    login(client, "fachkraft.frauenberatung")
    page = client.get("/aufgaben").get_data(as_text=True)
    assert '<a class="skip-link" href="#inhalt">Zum Inhalt springen</a>' in page
    assert '<main id="inhalt"' in page and "<header" in page and "<footer" in page
    assert "<title>Meine Aufgaben – Hilfenetz</title>" in page
    assert 'action="/abmelden"' in page


def test_unknown_page_is_a_friendly_404(client):
    login(client, "fachkraft.frauenberatung")
    response = client.get("/gibt-es-nicht")
    assert response.status_code == 404
    assert "Nicht gefunden" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_every_ui_string_has_an_english_translation():
    from pathlib import Path

    from engine import notifications as engine_notifications
    from engine import password_policy, security_facade
    from engine import single_sign_on as sso
    from webapp import (
        absences,
        account,
        auth,
        ballots,
        errors,
        labels,
        notifications,
        oidc,
        operations,
        worklist,
    )
    from webapp.i18n import _CATALOGUE

    root = Path(__file__).resolve().parents[2] / "webapp"
    pattern = re.compile(r"""_\(\s*(["'])(.+?)(?<!\\)\1""")
    texts = {
        ("labels", t)
        for t in [
            *labels.STATUS.values(),
            *labels.ACTIONS.values(),
            *labels.MESSAGES.values(),
            *labels.MESSAGE_NAMES.values(),
            *labels.NOTIFICATION_KINDS.values(),
        ]
    }
    texts |= {("worklist", label) for _key, label in (*worklist.VIEWS, *worklist.STATES, *worklist.SORTS)}
    texts |= {
        ("errors", t) for t in [*errors.TITLES.values(), *errors.MESSAGES.values(), errors.CSRF_MESSAGE]
    }
    texts |= {("forms", worklist.DATE_ERROR), ("forms", absences.DATETIME_ERROR)}
    texts |= {("notifications", label) for _value, label in notifications.PREFERENCES}
    texts |= {("engine", engine_notifications.PREFERENCE_ERROR), ("engine", engine_notifications.EMAIL_ERROR)}
    operation_labels = (*operations.JOB_LABELS.values(), *operations.OUTBOX_STATUS.values())
    texts |= {("operations", t) for t in operation_labels}
    texts |= {("ballots", label) for _value, label in ballots.CHOICES}
    texts |= {
        ("ballots", t)
        for t in [
            *ballots.TALLY_LABELS.values(),
            *ballots.STATUS.values(),
            *ballots.CLOSED_HOW.values(),
            ballots.SUBJECT_ERROR,
            ballots.DEADLINE_ERROR,
            ballots.CHOICE_ERROR,
        ]
    }
    texts |= {("auth", auth.LOCKED_UNTIL), ("account", account.REPEAT_ERROR), ("account", account.REQUIRED)}
    texts |= {("password_policy", t) for t in password_policy.RULES}
    texts |= {("engine", security_facade.WRONG_CURRENT), ("engine", security_facade.SSO_ONLY)}
    texts |= {("oidc", t) for t in oidc.REFUSALS.values()}
    texts |= {("engine", t) for t in (sso.NO_ORGANISATION, sso.NO_ROLE, sso.DEACTIVATED, sso.BAD_CLAIMS)}
    for path in [*root.glob("*.py"), *root.glob("templates/**/*.html")]:
        texts |= {(path.name, text) for _quote, text in pattern.findall(path.read_text(encoding="utf-8"))}
    missing = sorted(f"{where}: {text}" for where, text in texts if text not in _CATALOGUE["en"])
    assert not missing, "\n".join(missing)


def test_unexpected_error_is_a_500_page_without_details(hn):
    app = make_app(hn)

    def broken() -> str:
        raise RuntimeError("geheimes Detail")

    app.add_url_rule("/kaputt", view_func=broken)
    client = app.test_client()
    login(client, "fachkraft.frauenberatung")
    response = client.get("/kaputt")
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "Interner Fehler" in page
    assert "geheimes Detail" not in page and "Traceback" not in page
    response = client.get("/kaputt", headers={"Accept": "application/json"})
    assert response.status_code == 500 and "geheimes Detail" not in response.get_json()["message"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("NotFoundError", 404),
        ("NotPermittedError", 403),
        ("ConflictError", 409),
        ("InvalidDefinitionError", 422),
        ("ScriptError", 422),
        ("ConfigurationError", 400),
    ],
)
def test_engine_errors_map_to_status_codes(error, status):
    import engine.errors
    from webapp.errors import status_of

    assert status_of(getattr(engine.errors, error)("Fehler")) == status
    assert status_of(engine.errors.InvalidSubmissionError("Fehler", {"a": "b"})) == 422


def test_successful_logins_do_not_count_towards_the_address_limit(client):
    for _ in range(12):  # a whole office behind one address signs in at 8 a.m.
        response = client.post(
            "/anmelden",
            data={"csrf_token": csrf(client), "username": "fachkraft.polizei", "password": PASSWORD},
        )
        assert response.status_code == 302
        client.post("/abmelden", data={"csrf_token": csrf(client)})
