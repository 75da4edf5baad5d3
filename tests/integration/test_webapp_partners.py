"""Web app: the Koordination's partner list and the one-time start password of a new account."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import network_membership as nm
from engine import partners as pt
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from tests.integration.test_webapp_auth import csrf, login, make_app


@pytest.fixture
def app(hn: Hilfenetz) -> Flask:
    return make_app(hn)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def test_partner_page_lists_active_and_left_partners_for_the_koordination_only(hn, actor, client):
    with hn.db.write() as session:
        pt.organisation_leaves(
            session, hn.clock.now(), None, "tamar", None, nm.load_limits(REPO_ROOT / "processes")
        )
        session.commit()
    login(client, "fachkraft.polizei")
    assert 'href="/partner"' not in client.get("/aufgaben").get_data(as_text=True)
    assert client.get("/partner").status_code == 403
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    login(client, "koordination.jugendamt")
    page = client.get("/partner").get_data(as_text=True)
    assert 'href="/partner"' in page and "<th" in page
    assert re.search(r"<code>tamar</code></td>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>ausgetreten</td>", page)
    assert re.search(r"<code>kreispolizei</code></td>\s*<td[^>]*>nein</td>\s*<td[^>]*>aktiv</td>", page)


def test_start_password_is_shown_once_and_lets_the_new_account_sign_in(hn, actor, client):
    with hn.db.write() as session:
        accounts = [{"benutzername": "leitung.neu", "anzeigename": "Leitung Neu"}]
        pt.create_organisation(session, hn.clock.now(), None, "neu-partner", "Neu e. V.", False, accounts)
        session.commit()
    token = login(client, "koordination.jugendamt")
    refused = client.post("/partner/startpasswort", data={"csrf_token": token, "username": "gibt.es.nicht"})
    assert refused.status_code == 422 and "Konto nicht gefunden" in refused.get_data(as_text=True)
    assert (
        client.post("/partner/startpasswort", data={"username": "leitung.neu"}).status_code == 400
    )  # no CSRF
    page = client.post("/partner/startpasswort", data={"csrf_token": token, "username": "leitung.neu"})
    found = re.search(r"Startpasswort für leitung\.neu: <code>([^<]+)</code>", page.get_data(as_text=True))
    assert page.status_code == 200 and found
    assert "no-store" in page.headers["Cache-Control"]
    assert hn.login("leitung.neu", found.group(1)).organisation == "neu-partner"
    assert found.group(1) not in client.get("/partner").get_data(as_text=True)
