"""REST API /api/v1 over HTTP, on SQLite and PostgreSQL: bearer tokens and scopes, the UI's
permission checks, paging, JSON errors for every status (German messages, field errors on 422),
a second completion (409, nothing lost) and the audit entries of case-data reads.

The ``hn`` engine deploys "kette" (five user tasks with the form "notiz": ``notiz`` required,
max. 200 characters; ``anzahl`` a number >= 0; candidates Fachkraft@frauenberatung-soest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from engine.persistence.models import AccessToken, AuditEvent, User, UserTask
from engine.service import Hilfenetz
from tests.conftest import build_engine
from tests.integration.test_webapp_auth import login

LENA = "fachkraft.frauenberatung"  # candidate of the "kette" tasks
TOM = "fachkraft.polizei"  # another organisation
ALL = ("lesen", "schreiben", "abstimmen")


@pytest.fixture
def hn(tmp_path, any_db_url, clock, definitions) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, any_db_url, clock, definitions)
    yield engine
    engine.db.dispose()


def token(
    hn: Hilfenetz, actor, username: str, scopes: tuple[str, ...] = ALL, expires: date | None = None
) -> str:
    return hn.create_access_token(actor(username), "Test", list(scopes), expires).secret


def call(client: FlaskClient, method: str, url: str, secret: str | None, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    response = client.open(url, method=method, headers=headers, **kwargs)
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    return response.status_code, response.get_json()


def audit_actions(hn: Hilfenetz) -> list[tuple[str, int | None, str | None]]:
    with hn.db.read() as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.instance_id, AuditEvent.task_id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def open_task_id(hn: Hilfenetz, instance_id: int) -> str:
    with hn.db.read() as session:
        task_id = session.scalar(
            select(UserTask.id).where(UserTask.instance_id == instance_id, UserTask.status == "open")
        )
    assert task_id
    return task_id


# --- the document and authentication -----------------------------------------------------------


def test_openapi_document_is_public_and_names_bearer_auth(client):
    status, spec = call(client, "GET", "/api/v1/openapi.json", None)
    assert status == 200 and spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"/api/v1/tasks", "/api/v1/tasks/{task_id}/complete", "/api/v1/ballots/{ballot_id}/votes"} <= set(
        spec["paths"]
    )


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer hn_falsch", "Basic abc", f"Bearer hn_{'x' * 43}"])
def test_missing_or_wrong_token_answers_401_json(client, header):
    response = client.get("/api/v1/tasks", headers={"Authorization": header} if header else {})
    body = response.get_json()
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["code"] == 401 and body["status"] == "Anmeldung erforderlich"
    assert "Zugangstoken fehlt, ist ungültig" in body["message"]


def test_the_session_cookie_does_not_open_the_api(client):
    login(client, LENA)
    assert client.get("/aufgaben").status_code == 200
    assert call(client, "GET", "/api/v1/tasks", None)[0] == 401


def test_revoked_and_expired_tokens_and_inactive_accounts_are_refused(hn, actor, client, clock):
    revoked, expiring, kept = (
        token(hn, actor, LENA),
        token(hn, actor, LENA, expires=date(2026, 1, 6)),
        token(hn, actor, LENA),
    )
    assert all(call(client, "GET", "/api/v1/tasks", t)[0] == 200 for t in (revoked, expiring, kept))
    view = next(t for t in hn.access_tokens(actor(LENA)) if t.prefix == revoked[:8])
    hn.revoke_access_token(actor(LENA), view.id)
    assert call(client, "GET", "/api/v1/tasks", revoked)[0] == 401
    clock.advance(timedelta(days=2))  # past the end of 06.01.2026 in Berlin
    assert call(client, "GET", "/api/v1/tasks", expiring)[0] == 401
    assert call(client, "GET", "/api/v1/tasks", kept)[0] == 200
    with hn.db.write() as session:
        session.execute(update(User).where(User.username == LENA).values(active=False))
        session.commit()
    assert call(client, "GET", "/api/v1/tasks", kept)[0] == 401


def test_only_the_hash_is_stored_and_last_use_is_noted(hn, actor, client, clock):
    secret = token(hn, actor, LENA)
    assert secret.startswith("hn_") and len(secret) == 46
    clock.advance(timedelta(minutes=5))
    call(client, "GET", "/api/v1/tasks", secret)
    with hn.db.read() as session:
        row = session.scalars(select(AccessToken)).one()
        assert secret not in (row.token_hash, row.prefix) and row.prefix == secret[:8]
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert row.last_used_at == clock.now()


def test_scopes_separate_reads_changes_and_votes(hn, actor, client):
    instance_id = hn.start(actor(LENA), "kette", {})
    task_id = open_task_id(hn, instance_id)
    reader = token(hn, actor, LENA, ("lesen",))
    assert call(client, "GET", f"/api/v1/tasks/{task_id}", reader)[0] == 200
    status, body = call(client, "POST", f"/api/v1/tasks/{task_id}/claim", reader)
    assert status == 403 and body["message"] == "Diesem Zugangstoken fehlt der Bereich „schreiben“."
    writer = token(hn, actor, LENA, ("schreiben",))
    assert call(client, "GET", "/api/v1/tasks", writer)[0] == 403
    assert call(client, "POST", "/api/v1/ballots/1/votes", writer, json={"choice": "ja"})[0] == 403
    assert call(client, "POST", f"/api/v1/tasks/{task_id}/claim", writer)[0] == 200


def test_refused_tokens_are_throttled_per_address(client):
    for _ in range(10):
        assert call(client, "GET", "/api/v1/tasks", "hn_falsch")[0] == 401
    status, body = call(client, "GET", "/api/v1/tasks", "hn_falsch")
    assert status == 429 and body["status"] == "Zu viele Anfragen" and "fünf Minuten" in body["message"]


def test_refused_tokens_do_not_throttle_valid_ones_from_the_same_address(hn, actor, client):
    secret = token(hn, actor, LENA)
    for _ in range(10):
        assert call(client, "GET", "/api/v1/tasks", "hn_falsch")[0] == 401
    assert call(client, "GET", "/api/v1/tasks", "hn_falsch")[0] == 429
    assert call(client, "GET", "/api/v1/tasks", secret)[0] == 200
    assert call(client, "GET", "/api/v1/tasks", "hn_falsch")[0] == 429


# --- errors -------------------------------------------------------------------------------------


def test_unknown_paths_wrong_methods_and_bad_json_answer_json(hn, actor, client):
    secret = token(hn, actor, LENA)
    status, body = call(client, "GET", "/api/v1/gibtsnicht", secret)
    assert status == 404 and body["code"] == 404 and body["message"].startswith("Diese Seite gibt es nicht")
    status, body = call(client, "GET", "/api/v1/tasks/abc/claim", secret)
    assert status == 405 and body["status"] == "Aktion nicht möglich"
    status, body = call(
        client,
        "POST",
        "/api/v1/processes/kette/instances",
        secret,
        data="{kaputt",
        content_type="application/json",
    )
    assert status == 400 and body["errors"] == {"_schema": ["Der Inhalt ist kein gültiges JSON."]}
    status, body = call(client, "POST", "/api/v1/processes/kette/instances", secret, json=[1, 2])
    assert status == 422 and body["errors"] == {"_schema": ["Ungültiger Eingabetyp."]}
    status, body = call(
        client,
        "POST",
        "/api/v1/processes/kette/instances",
        secret,
        data="x" * (3 * 1024 * 1024),
        content_type="application/json",
    )
    assert status == 413 and body["message"] == "Die gesendeten Daten sind zu groß."


def test_an_unexpected_error_answers_500_json(hn, actor, client, monkeypatch):
    secret = token(hn, actor, LENA)

    def broken(*args: object) -> None:
        raise RuntimeError("kaputt")

    monkeypatch.setattr(hn, "visible_instances", broken)
    status, body = call(client, "GET", "/api/v1/instances", secret)
    assert status == 500 and body["code"] == 500 and "kaputt" not in body["message"]


# --- processes, start -------------------------------------------------------------------------


def test_processes_versions_start_form_and_start(hn, actor, client):
    secret = token(hn, actor, LENA)
    status, body = call(client, "GET", "/api/v1/processes", secret)
    assert status == 200 and body["total"] == 1 and body["items"][0]["key"] == "kette"
    status, body = call(client, "GET", "/api/v1/processes/kette/versions", secret)
    assert status == 200 and [v["version"] for v in body["items"]] == [1]
    assert call(client, "GET", "/api/v1/processes/gibtsnicht/versions", secret)[0] == 404
    status, body = call(client, "GET", "/api/v1/processes/kette/start-form", secret)
    assert status == 200 and body["schema"]["components"] == []
    status, body = call(client, "POST", "/api/v1/processes/kette/instances", secret, json={"data": {}})
    assert status == 201 and body == {
        "instance_id": body["instance_id"],
        "visible": True,
        "message": "Vorgang gestartet.",
    }
    status, body = call(client, "POST", "/api/v1/processes/kette/instances", secret, json={"daten": {}})
    assert status == 422 and body["errors"]["data"] == [
        "Bitte senden Sie die Formulardaten als JSON-Objekt unter „data“."
    ]
    assert body["errors"]["daten"] == ["Unbekanntes Feld."]


# --- worklist, tasks ---------------------------------------------------------------------------


def test_worklist_pages_and_filters(hn, actor, client):
    for _ in range(3):
        hn.start(actor(LENA), "kette", {})
    secret = token(hn, actor, LENA)
    status, body = call(client, "GET", "/api/v1/tasks?view=gruppe&per_page=2", secret)
    assert status == 200 and (len(body["items"]), body["total"], body["page"], body["per_page"]) == (
        2,
        3,
        1,
        2,
    )
    assert body["counts"]["gruppe"] == 3
    status, body = call(client, "GET", "/api/v1/tasks?view=gruppe&per_page=2&page=2", secret)
    assert len(body["items"]) == 1
    status, body = call(client, "GET", "/api/v1/tasks?per_page=101&page=0&due_from=31.12.9999", secret)
    assert status == 422 and body["message"] == "Bitte korrigieren Sie die markierten Angaben."
    assert body["errors"] == {
        "per_page": ["Bitte geben Sie eine Seitengröße von 1 bis 100 an."],
        "page": ["Bitte geben Sie eine Seitenzahl von 1 bis 1.000.000 an."],
        "due_from": ["Bitte geben Sie ein Datum wie 2026-11-24 an."],
    }
    other = token(hn, actor, TOM)
    assert call(client, "GET", "/api/v1/tasks?view=alle", other)[1]["total"] == 0


def test_task_detail_is_audited_and_hidden_from_other_organisations(hn, actor, client):
    instance_id = hn.start(actor(LENA), "kette", {})
    task_id = open_task_id(hn, instance_id)
    status, body = call(client, "GET", f"/api/v1/tasks/{task_id}", token(hn, actor, LENA))
    assert status == 200 and body["summary"]["name"] == "Aufgabe 1" and body["may_claim"]
    assert body["form_schema"]["id"] == "notiz"
    assert ("task_data_read", instance_id, task_id) in audit_actions(hn)
    status, body = call(client, "GET", f"/api/v1/tasks/{task_id}", token(hn, actor, TOM))
    assert status == 404 and body["message"] == "Vorgang nicht gefunden."
    assert call(client, "POST", f"/api/v1/tasks/{task_id}/claim", token(hn, actor, TOM))[0] == 403


def test_claim_release_complete_with_field_errors_and_a_second_complete(hn, actor, client):
    instance_id = hn.start(actor(LENA), "kette", {})
    task_id = open_task_id(hn, instance_id)
    secret = token(hn, actor, LENA)
    assert call(client, "POST", f"/api/v1/tasks/{task_id}/claim", secret) == (
        200,
        {"message": "Sie haben die Aufgabe übernommen."},
    )
    assert call(client, "POST", f"/api/v1/tasks/{task_id}/release", secret)[0] == 200
    status, body = call(
        client,
        "POST",
        f"/api/v1/tasks/{task_id}/complete",
        secret,
        json={"data": {"notiz": "", "anzahl": -1}},
    )
    assert status == 422 and body["message"] == "Bitte korrigieren Sie die markierten Felder."
    assert set(body["errors"]) == {"notiz", "anzahl"} and all(body["errors"].values())
    assert open_task_id(hn, instance_id) == task_id  # nothing happened
    url = f"/api/v1/tasks/{task_id}/complete"
    status, body = call(client, "POST", url, secret, json={"data": {"notiz": "erledigt", "anzahl": 2}})
    assert status == 200 and body["instance_id"] == instance_id and len(body["new_task_ids"]) == 1
    status, body = call(client, "POST", url, secret, json={"data": {"notiz": "überschrieben"}})
    assert status == 409 and body["code"] == 409 and "bereits erledigt" in body["message"]
    with hn.db.read() as session:
        row = session.get(UserTask, task_id)
        assert row is not None and row.status == "completed"
    following = hn.task_detail(actor(LENA), open_task_id(hn, instance_id))  # the next step sees the data
    assert following.form_data["notiz"] == "erledigt" and following.form_data["anzahl"] == 2


# --- instances --------------------------------------------------------------------------------


def test_instances_are_those_the_user_may_see_paged(hn, actor, client):
    ids = [hn.start(actor(LENA), "kette", {}) for _ in range(3)]
    status, body = call(client, "GET", "/api/v1/instances?per_page=2", token(hn, actor, LENA))
    assert status == 200 and [i["id"] for i in body["items"]] == ids[::-1][:2] and body["total"] == 3
    colleague = token(hn, actor, "fachkraft2.frauenberatung")  # a candidate of the open tasks
    assert call(client, "GET", "/api/v1/instances", colleague)[1]["total"] == 3
    coordination = token(hn, actor, "koordination.jugendamt")
    assert call(client, "GET", "/api/v1/instances", coordination)[1]["total"] == 3
    outsider = token(hn, actor, TOM)
    assert call(client, "GET", "/api/v1/instances", outsider)[1] == {
        "items": [],
        "page": 1,
        "per_page": 20,
        "total": 0,
    }
    status, body = call(client, "GET", f"/api/v1/instances/{ids[0]}", outsider)
    assert status == 404 and body["message"] == "Vorgang nicht gefunden."


def test_visible_instances_agree_with_the_engine_check(hn, actor):
    """The SQL of ``visible_instances`` and ``check_may_view`` give the same answer for every user."""
    lena = actor(LENA)
    ids = [hn.start(lena, "kette", {}) for _ in range(2)]
    hn.complete(lena, open_task_id(hn, ids[0]), {"notiz": "x"})
    usernames = [LENA, TOM, "fachkraft2.frauenberatung", "koordination.jugendamt", "admin", "leitung.polizei"]
    for username in usernames:
        listed = {i.id for i in hn.visible_instances(actor(username), 1, 100).items}
        assert listed == {i for i in ids if hn.may_view_instance(actor(username), i)}, username


def test_instance_detail_has_history_and_is_audited(hn, actor, client):
    instance_id = hn.start(actor(LENA), "kette", {})
    status, body = call(client, "GET", f"/api/v1/instances/{instance_id}", token(hn, actor, LENA))
    assert status == 200 and body["id"] == instance_id and body["open_tasks"][0]["name"] == "Aufgabe 1"
    assert any(h["action"] == "instance_started" for h in body["history"])
    assert ("instance_viewed", instance_id, None) in audit_actions(hn)


# --- ballots and directory ---------------------------------------------------------------------


def test_ballots_list_detail_and_votes(hn, actor, client, clock):
    ballot_id = hn.open_ballot(
        "Förderantrag", None, None, clock.now() + timedelta(days=7), False, actor("koordination.jugendamt")
    )
    member = hn.steering_group_members()[0]
    secret = token(hn, actor, member)
    status, body = call(client, "GET", "/api/v1/ballots", secret)
    assert status == 200 and body["items"][0]["id"] == ballot_id and body["items"][0]["must_vote"]
    status, body = call(client, "GET", f"/api/v1/ballots/{ballot_id}", secret)
    assert status == 200 and body["subject"] == "Förderantrag" and body["status"] == "offen"
    assert any(a == "abstimmung_gelesen" for a, _, _ in audit_actions(hn))
    status, body = call(
        client, "POST", f"/api/v1/ballots/{ballot_id}/votes", secret, json={"choice": "vielleicht"}
    )
    assert status == 422 and body["errors"] == {
        "choice": ["Bitte wählen Sie ja, nein, enthaltung oder befangen."]
    }
    url = f"/api/v1/ballots/{ballot_id}/votes"
    assert call(client, "POST", url, secret, json={"choice": "ja"}) == (
        201,
        {"message": "Ihre Stimme wurde gespeichert."},
    )
    status, body = call(client, "POST", url, secret, json={"choice": "nein"})
    assert status == 409 and body["message"]
    outsider = token(hn, actor, LENA)
    status, body = call(client, "GET", "/api/v1/ballots", outsider)
    assert status == 403 and "Steuerungsgruppe" in body["message"]
    assert call(client, "GET", f"/api/v1/ballots/{ballot_id}", outsider)[0] == 404
    assert call(client, "POST", url, outsider, json={"choice": "ja"})[0] in (403, 404)


def test_directory_search_and_entry(hn, actor, client):
    secret = token(hn, actor, TOM)
    status, body = call(client, "GET", "/api/v1/directory?per_page=5", secret)
    assert status == 200 and len(body["items"]) == 5 and body["total"] > 5
    slug = body["items"][0]["organisation"]
    status, entry = call(client, "GET", f"/api/v1/directory/{slug}", secret)
    assert status == 200 and entry["organisation"] == slug
    assert call(client, "GET", "/api/v1/directory/gibtsnicht", secret)[0] == 404
    assert call(client, "GET", "/api/v1/directory?q=Frauenhaus", secret)[1]["total"] >= 1


def test_messages_follow_accept_language(hn, actor, client):
    secret = token(hn, actor, LENA)
    headers = {"Authorization": f"Bearer {secret}", "Accept-Language": "en"}
    body = client.get("/api/v1/tasks?per_page=0", headers=headers).get_json()
    assert body["message"] == "Please correct the marked entries."
    assert body["errors"] == {"per_page": ["Please give a page size from 1 to 100."]}
    body = client.get("/api/v1/instances/999999", headers=headers).get_json()
    assert body["code"] == 404 and body["status"] == "Not found"


def test_the_api_sets_no_session_cookie(hn, actor, client):
    headers = {"Authorization": f"Bearer {token(hn, actor, LENA)}"}
    for url in ("/api/v1/tasks?lang=en", "/api/v1/gibtsnicht", "/api/v1/openapi.json"):
        assert "Set-Cookie" not in client.get(url, headers=headers).headers, url
