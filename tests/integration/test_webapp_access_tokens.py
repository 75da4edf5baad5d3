"""The page "Zugangstoken" (/konto/zugangstoken): create a token (its secret shown once, never
stored in the session), German field errors that keep the input, revoke; English page."""

from __future__ import annotations

import re

from sqlalchemy import select

from engine.persistence.models import AccessToken, AuditEvent
from tests.integration.test_webapp_auth import login

SECRET = re.compile(r'value="(hn_[A-Za-z0-9_-]{43})"')


def test_create_use_and_revoke_a_token(client, hn):
    csrf = login(client, "fachkraft.frauenberatung")
    page = client.get("/konto/zugangstoken").get_data(as_text=True)
    assert "<h1>Persönliche Zugangstoken</h1>" in page and "Sie haben noch kein Zugangstoken." in page
    assert 'href="/konto/zugangstoken" aria-current="page"' in page
    response = client.post(
        "/konto/zugangstoken",
        data={
            "csrf_token": csrf,
            "name": "Fachverfahren",
            "scopes": ["lesen", "schreiben"],
            "expires_on": "",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 201 and 'role="status"' in html and "nur dieses eine Mal" in html
    secret = SECRET.search(html).group(1)
    assert response.headers["Cache-Control"] == "no-store"
    with client.session_transaction() as session:
        assert secret not in str(dict(session))
    assert secret not in client.get("/konto/zugangstoken").get_data(as_text=True)  # shown once
    api = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200
    with hn.db.read() as db:
        token_id = db.scalar(select(AccessToken.id))
        actions = list(db.scalars(select(AuditEvent.action).where(AuditEvent.action.like("zugangstoken_%"))))
    assert actions == ["zugangstoken_erstellt"]
    page = client.get("/konto/zugangstoken").get_data(as_text=True)
    assert f"<code>{secret[:8]}…</code>" in page and "lesen, schreiben" in page and "gültig" in page
    client.post(f"/konto/zugangstoken/{token_id}/widerrufen", data={"csrf_token": csrf})
    page = client.get("/konto/zugangstoken").get_data(as_text=True)
    assert "Das Zugangstoken wurde widerrufen." in page and "widerrufen</td>" in page
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_bad_input_answers_422_in_german_and_keeps_the_input(client):
    csrf = login(client, "fachkraft.frauenberatung")
    response = client.post(
        "/konto/zugangstoken",
        data={"csrf_token": csrf, "name": "Mein Skript", "expires_on": "31.12.2099"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'role="alert"' in html
    assert "Bitte wählen Sie mindestens einen Bereich" in html
    assert "höchstens ein Jahr entfernt" in html
    assert 'value="Mein Skript"' in html and 'aria-invalid="true"' in html
    response = client.post(
        "/konto/zugangstoken",
        data={"csrf_token": csrf, "name": " ", "scopes": ["root"], "expires_on": "morgen"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert (
        "Bitte geben Sie dem Token einen Namen" in html
        and "Bitte geben Sie ein Datum wie 24.11.2026 ein." in html
    )
    assert not SECRET.search(html)  # nothing was created


def test_someone_elses_token_cannot_be_revoked(client, hn, actor):
    other = hn.create_access_token(actor("fachkraft.polizei"), "Polizei", ["lesen"], None)
    csrf = login(client, "fachkraft.frauenberatung")
    response = client.post(f"/konto/zugangstoken/{other.view.id}/widerrufen", data={"csrf_token": csrf})
    assert response.status_code == 404 and "Token nicht gefunden." in response.get_data(as_text=True)
    assert hn.access_tokens(actor("fachkraft.polizei"))[0].revoked_at is None


def test_the_page_in_english(client):
    login(client, "fachkraft.frauenberatung")
    page = client.get("/konto/zugangstoken?lang=en").get_data(as_text=True)
    assert (
        "<h1>Personal access tokens</h1>" in page
        and "Create token" in page
        and "Expires on (optional)" in page
    )
