"""Sessions end on the server, not only in the browser: logout, password change, password reset and
deactivation move the account's session generation on, so a copied or replayed cookie of an older
session is refused (ASVS 3.3.1). And the session guard leaves the REST API alone: a bearer token
with a stale session cookie gets the API's JSON, not the HTML login page."""

from __future__ import annotations

import shutil
from datetime import timedelta

from sqlalchemy import select

from engine.persistence.models import AccountSecurity, User
from engine.settings import REPO_ROOT
from tests.integration.test_webapp_auth import PASSWORD, login

LENA = "fachkraft.frauenberatung"
NEW_PASSWORD = "Ein ganz eigenes neues Passwort"


def cookie(client) -> str:
    found = client.get_cookie("hilfenetz_session")
    assert found is not None
    return found.value


def replay(client, value: str) -> None:
    client.set_cookie("hilfenetz_session", value)


def generation(hn, username: str) -> int:
    with hn.db.read() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        row = session.get(AccountSecurity, user.id)
        return row.session_generation if row is not None else 0


def test_a_cookie_replayed_after_logout_is_refused(client, hn, clock):
    token = login(client, LENA)
    stolen = cookie(client)
    assert client.post("/abmelden", data={"csrf_token": token}).status_code == 302
    replay(client, stolen)
    clock.advance(timedelta(minutes=5))
    response = client.get("/aufgaben")
    assert response.status_code == 302 and response.headers["Location"].startswith("/anmelden")
    page = client.get("/anmelden").get_data(as_text=True)
    assert "Ihre Sitzung wurde beendet. Bitte melden Sie sich erneut an." in page
    replay(client, stolen)  # replaying again does not refresh anything either
    assert client.get("/aufgaben/x/formular.json").get_json() == {
        "message": "Ihre Sitzung wurde beendet. Bitte melden Sie sich erneut an."
    }


def test_a_password_change_ends_the_other_sessions_but_not_its_own(app, hn):
    mine, other = app.test_client(), app.test_client()
    token = login(mine, LENA)
    login(other, LENA)
    data = {"csrf_token": token, "current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = mine.post("/passwort-aendern", data={**data, "new_password_repeat": NEW_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert mine.get("/aufgaben").status_code == 200
    assert other.get("/aufgaben").status_code == 302


def test_deactivation_moves_the_generation_on(hn, actor):
    shutil.copy(REPO_ROOT / "processes" / "gremien.json", hn.settings.processes_dir)
    before = generation(hn, LENA)
    hn.disable_account(actor("admin"), LENA)
    assert generation(hn, LENA) == before + 1


def test_a_new_login_after_logout_works(client, hn):
    token = login(client, LENA)
    client.post("/abmelden", data={"csrf_token": token})
    login(client, LENA)
    assert client.get("/aufgaben").status_code == 200


def test_the_api_ignores_a_stale_session_cookie(client, hn, actor, clock):
    login(client, LENA)
    clock.advance(timedelta(hours=3))  # the cookie's session is long idle
    secret = hn.create_access_token(actor(LENA), "Test", ["lesen"], None).secret
    response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200 and response.mimetype == "application/json"


def test_the_api_answers_json_for_a_session_that_must_change_its_password(client, hn, actor):
    login(client, LENA)
    with client.session_transaction() as session:
        session["must_change_password"] = True
    secret = hn.create_access_token(actor(LENA), "Test", ["lesen"], None).secret
    response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert client.get("/aufgaben").headers["Location"] == "/passwort-aendern"  # the web pages still ask
