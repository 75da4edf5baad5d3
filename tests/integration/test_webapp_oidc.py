"""Single sign-on against a real OpenID Connect provider on a localhost port (tests/support/
oidc_provider.py): the browser's part is played by the Flask test client (our side) and ``requests``
(the provider's side), the server-to-server token request is real HTTP. Covers the good path
(account created, mapped, updated, audited) and every refusal: bad state, bad nonce, foreign
signature, expired token, wrong issuer or audience, unmapped organisation or groups, deactivated
account, a user name that already belongs to another account (never linked by name)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from engine.persistence.models import AccountSecurity, AuditEvent, User
from tests.integration.test_webapp_auth import PASSWORD, csrf, make_app
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

JANA = {
    "sub": "kreis-4711",
    "preferred_username": "j.neu",
    "name": "Jana Neu",
    "email": "j.neu@kreis.invalid",
    "organisation": "Kreisjugendamt Soest",
    "groups": ["HN-Fachkraft", "Kantine", "HN-Leitung"],
}
MAPPING = {
    "organisationen": {"Kreisjugendamt Soest": "kreisjugendamt", "Polizei": "kreispolizei"},
    "rollen": {"HN-Fachkraft": "Fachkraft", "HN-Leitung": "Leitung", "HN-Unbekannt": "Gibtsnicht"},
}


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    server = OidcProvider(user=dict(JANA)).start()
    yield server
    server.stop()


@pytest.fixture
def sso_app(hn: Any, provider: OidcProvider, tmp_path: Any) -> Any:
    mapping = tmp_path / "zuordnung.json"
    mapping.write_text(json.dumps(MAPPING), encoding="utf-8")
    hn.settings = replace(
        hn.settings,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_mapping=str(mapping),
    )
    return make_app(hn)


def sso_login(client: Any, next_url: str = "/vorgaenge", tamper_state: bool = False) -> Any:
    """Click the button, let the provider sign in its user, come back with code and state."""
    response = client.get(f"/anmelden/kreis?next={next_url}")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    at_provider = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    query = back.query.replace("state=", "state=x") if tamper_state else back.query
    return client.get(f"{back.path}?{query}")


def user_named(hn: Any, username: str) -> Any:
    with hn.db.read() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            return None
        row = session.get(AccountSecurity, user.id)
        security = (row.oidc_issuer, row.oidc_subject) if row else None
        return user.organisation.slug, sorted(r.role for r in user.roles), user.active, security


def audit_of(hn: Any) -> list[tuple[str, Any]]:
    with hn.db.read() as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.detail).order_by(AuditEvent.id)).all()
    return [(a, d) for a, d in rows if a.startswith("login")]


def test_the_button_is_shown_only_when_a_provider_is_configured(client, sso_app):
    assert "Mit Kreis-Konto anmelden" not in client.get("/anmelden").get_data(as_text=True)
    assert client.get("/anmelden/kreis").status_code == 404
    page = sso_app.test_client().get("/anmelden").get_data(as_text=True)
    assert "Mit Kreis-Konto anmelden" in page and 'href="/anmelden/kreis' in page


def test_first_login_creates_the_mapped_account_and_later_logins_update_it(sso_app, hn, provider):
    client = sso_app.test_client()
    response = sso_login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/vorgaenge"
    page = client.get("/aufgaben").get_data(as_text=True)
    assert "Angemeldet als Jana Neu (Kreisjugendamt Soest)" in page
    slug, roles, active, security = user_named(hn, "j.neu")
    assert (slug, roles, active) == ("kreisjugendamt", ["Fachkraft", "Leitung"], True)
    assert security == (provider.issuer, "kreis-4711")
    assert audit_of(hn)[-1] == ("login", {"verfahren": "oidc"})
    # the provider changes her groups and organisation: the next login follows
    provider.user = {**JANA, "organisation": "Polizei", "groups": ["HN-Fachkraft"], "name": "Jana Neu-Ort"}
    other = sso_app.test_client()
    assert sso_login(other).status_code == 302
    assert user_named(hn, "j.neu")[:2] == ("kreispolizei", ["Fachkraft"])
    # an account of the provider has no local password to sign in with or to change
    token = csrf(other, "/passwort-aendern")
    passphrase = "Ein ganz eigenes neues Passwort"
    data = {"csrf_token": token, "current_password": "egal", "new_password": passphrase}
    response = other.post("/passwort-aendern", data={**data, "new_password_repeat": passphrase})
    assert response.status_code == 403 and "über das Kreis-Konto an" in response.get_data(as_text=True)


def link(hn: Any, username: str, issuer: str, subject: str) -> None:
    """What the administration does for a local account that moves to the provider."""
    with hn.db.write() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        session.add(AccountSecurity(user_id=user.id, oidc_issuer=issuer, oidc_subject=subject))
        session.commit()


def test_a_local_account_of_the_same_name_is_not_linked_by_name(sso_app, hn, provider):
    before = user_named(hn, "fachkraft.jugendamt")
    provider.user = {**JANA, "preferred_username": "fachkraft.jugendamt"}
    client = sso_app.test_client()
    response = sso_login(client)
    page = response.get_data(as_text=True)
    assert response.status_code == 403 and "bereits ein anderes Konto" in page and "Administration" in page
    assert user_named(hn, "fachkraft.jugendamt") == before and before[3] is None  # untouched, unlinked
    assert client.get("/aufgaben").status_code == 302  # not signed in
    assert audit_of(hn)[-1] == ("login_fehlgeschlagen", {"grund": "sso_name_vergeben", "verfahren": "oidc"})


def test_a_second_subject_cannot_take_over_a_linked_account(sso_app, hn, provider):
    assert sso_login(sso_app.test_client()).status_code == 302  # Jana, subject kreis-4711
    provider.user = {**JANA, "sub": "kreis-0815", "name": "Jemand Anderes"}  # same preferred_username
    client = sso_app.test_client()
    response = sso_login(client)
    assert response.status_code == 403 and "bereits ein anderes Konto" in response.get_data(as_text=True)
    assert user_named(hn, "j.neu")[3] == (provider.issuer, "kreis-4711")
    assert client.get("/aufgaben").status_code == 302
    assert audit_of(hn)[-1] == ("login_fehlgeschlagen", {"grund": "sso_anderes_konto", "verfahren": "oidc"})
    provider.user = dict(JANA)  # the real owner still signs in
    assert sso_login(sso_app.test_client()).status_code == 302


def test_a_linked_account_cannot_sign_in_with_its_old_local_password(sso_app, hn, provider):
    link(hn, "fachkraft.jugendamt", provider.issuer, "kreis-4711")
    client = sso_app.test_client()
    data = {"csrf_token": csrf(client), "username": "fachkraft.jugendamt", "password": PASSWORD}
    page = client.post("/anmelden", data=data).get_data(as_text=True)
    assert "Bitte mit dem Kreis-Konto anmelden" in page
    assert client.get("/aufgaben").status_code == 302  # not signed in
    assert audit_of(hn)[-1] == ("login_fehlgeschlagen", {"grund": "kreis_konto"})
    provider.user = {**JANA, "preferred_username": "fachkraft.jugendamt"}
    assert sso_login(client).status_code == 302  # through the provider it works


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"organisation": "Kantine"}, "keiner Organisation in Hilfenetz zugeordnet"),
        ({"organisation": ["Polizei", "Kreisjugendamt Soest"]}, "keiner Organisation in Hilfenetz"),
        ({"groups": ["Kantine", "HN-Unbekannt"]}, "keine Gruppe, die einer Rolle in Hilfenetz entspricht"),
        ({"groups": []}, "keine Gruppe, die einer Rolle in Hilfenetz entspricht"),
        ({"preferred_username": "Name mit Leerzeichen"}, "keine gültigen Angaben"),
    ],
)
def test_unmapped_values_are_refused_in_german_and_create_no_account(sso_app, hn, provider, change, message):
    provider.user = {**JANA, **change}
    response = sso_login(sso_app.test_client())
    assert response.status_code == 403 and message in response.get_data(as_text=True)
    assert user_named(hn, "j.neu") is None
    assert audit_of(hn)[-1][0] == "login_fehlgeschlagen"


def test_a_deactivated_account_is_refused(sso_app, hn, provider):
    link(hn, "fachkraft.jugendamt", provider.issuer, "kreis-4711")
    with hn.db.write() as session:
        user = session.scalars(select(User).where(User.username == "fachkraft.jugendamt")).one()
        user.active = False
        session.commit()
    provider.user = {**JANA, "preferred_username": "fachkraft.jugendamt"}
    response = sso_login(sso_app.test_client())
    assert response.status_code == 403 and "deaktiviert" in response.get_data(as_text=True)
    assert user_named(hn, "fachkraft.jugendamt")[2] is False


@pytest.mark.parametrize(
    ("misbehave", "message", "reason"),
    [
        ({"foreign_key": True}, "Die Signatur des Anmeldenachweises ist ungültig.", "signatur"),
        ({"nonce": "eine-andere-nonce"}, "passt nicht zu dieser Anmeldung", "angaben"),
        ({"expires_in": -600}, "Der Anmeldenachweis ist abgelaufen.", "abgelaufen"),
        ({"issuer": "http://127.0.0.1:1/fremd"}, "passt nicht zu dieser Anmeldung", "angaben"),
        ({"audience": "ein-anderer-client"}, "passt nicht zu dieser Anmeldung", "angaben"),
        # a discovery document claiming another issuer (and tokens to match) is not our provider
        (
            {"discovery_issuer": "http://127.0.0.1:1/fremd", "issuer": "http://127.0.0.1:1/fremd"},
            "passt nicht zu dieser Anmeldung",
            "angaben",
        ),
    ],
)
def test_a_bad_id_token_is_refused(sso_app, hn, provider, misbehave, message, reason):
    for name, value in misbehave.items():
        setattr(provider.misbehave, name, value)
    client = sso_app.test_client()
    response = sso_login(client)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert client.get("/aufgaben").status_code == 302  # not signed in
    assert user_named(hn, "j.neu") is None
    assert audit_of(hn)[-1] == ("login_fehlgeschlagen", {"grund": reason, "verfahren": "oidc"})


def test_a_forged_state_is_refused_before_the_code_is_used(sso_app, hn, provider):
    client = sso_app.test_client()
    response = sso_login(client, tamper_state=True)
    assert response.status_code == 400
    assert "gehört nicht zu dieser Sitzung" in response.get_data(as_text=True)
    assert provider.token_requests == 0 and user_named(hn, "j.neu") is None
    assert audit_of(hn)[-1] == ("login_fehlgeschlagen", {"grund": "state", "verfahren": "oidc"})


def test_a_callback_from_another_browser_session_is_refused(sso_app, provider):
    first = sso_app.test_client()
    response = first.get("/anmelden/kreis")
    at_provider = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(at_provider.headers["Location"])
    stranger = sso_app.test_client()  # e.g. a link planted by an attacker (login CSRF)
    assert stranger.get(f"{back.path}?{back.query}").status_code == 400
    assert provider.token_requests == 0
