"""Modellierung over HTTP (issue 5): the editor contract (page, content, save, check), uploads,
downloads, the four-eyes routes and 403 for everyone outside the Koordination."""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import func, select

from engine.persistence.models import ModelDraft, ProcessDefinition
from tests.conftest import actor_lookup
from tests.integration.test_webapp_auth import login

COORDINATOR, SECOND = "koordination.jugendamt", "koordination.frauenberatung"


def draft_count(hn) -> int:
    with hn.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ModelDraft)) or 0)


def version_ids(hn, key: str = "kette") -> list[int]:
    with hn.db.read() as session:
        return list(
            session.scalars(
                select(ProcessDefinition.id)
                .where(ProcessDefinition.process_key == key)
                .order_by(ProcessDefinition.version)
            )
        )


def new_draft(client, token: str, hn) -> int:
    response = client.post(
        f"/modellierung/versionen/{version_ids(hn)[0]}/entwurf", data={"csrf_token": token}
    )
    assert response.status_code == 302
    match = re.search(r"/modellierung/entwurf/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def test_editor_contract(client, hn):
    token = login(client, COORDINATOR)
    page = client.get("/modellierung/")
    assert page.status_code == 200 and "kette" in page.get_data(as_text=True)
    draft_id = new_draft(client, token, hn)
    html = client.get(f"/modellierung/entwurf/{draft_id}").get_data(as_text=True)
    assert 'id="modeler-root"' in html and 'data-kind="bpmn"' in html
    for url in ("inhalt", "speichern", "pruefen"):
        assert f'/modellierung/entwurf/{draft_id}/{url}"' in html
    assert 'id="modeler-problems"' in html and 'aria-live="polite"' in html
    assert 'id="modeler-save"' in html and 'id="modeler-check"' in html
    assert f"/modellierung/entwurf/{draft_id}/tabelle" in html
    content = client.get(f"/modellierung/entwurf/{draft_id}/inhalt")
    assert content.status_code == 200 and content.mimetype == "application/xml"
    xml = content.get_data(as_text=True)
    assert '<bpmn:process id="kette"' in xml

    headers = {"X-CSRFToken": token}
    no_candidates = xml.replace(' camunda:candidateGroups="Fachkraft@frauenberatung-soest"', "", 1)
    checked = client.post(
        f"/modellierung/entwurf/{draft_id}/pruefen", json={"content": no_candidates}, headers=headers
    )
    assert checked.status_code == 200
    assert checked.get_json()["problems"] == [
        {
            "file": "kette.bpmn",
            "element_id": "aufgabe_1",
            "message": "Die Benutzeraufgabe hat keine Zuständigkeit (candidateGroups).",
        }
    ]
    in_english = client.post(
        f"/modellierung/entwurf/{draft_id}/pruefen?lang=en", json={"content": no_candidates}, headers=headers
    )
    assert [p["message"] for p in in_english.get_json()["problems"]] == [
        "The user task has no one responsible (candidateGroups)."
    ]
    client.get("/modellierung/?lang=de")
    assert client.get(f"/modellierung/entwurf/{draft_id}/inhalt").get_data(as_text=True) == xml  # not saved

    saved = client.post(
        f"/modellierung/entwurf/{draft_id}/speichern", json={"content": no_candidates}, headers=headers
    )
    assert saved.status_code == 200 and saved.get_json()["ok"] is True
    assert [p["element_id"] for p in saved.get_json()["problems"]] == ["aufgabe_1"]
    assert client.get(f"/modellierung/entwurf/{draft_id}/inhalt").get_data(as_text=True) == no_candidates

    for body in ({"content": "<bpmn:definitions"}, {"content": ""}, {"inhalt": xml}, None):
        refused = client.post(f"/modellierung/entwurf/{draft_id}/speichern", json=body, headers=headers)
        assert refused.status_code == 422, body
        assert refused.get_json()["error"] and isinstance(refused.get_json()["problems"], list)
    hostile = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    refused = client.post(
        f"/modellierung/entwurf/{draft_id}/speichern", json={"content": hostile}, headers=headers
    )
    assert refused.status_code == 422 and "passwd" not in refused.get_data(as_text=True)
    assert client.get(f"/modellierung/entwurf/{draft_id}/inhalt").get_data(as_text=True) == no_candidates

    no_token = client.post(f"/modellierung/entwurf/{draft_id}/speichern", json={"content": xml})
    assert no_token.status_code == 400

    revision = saved.get_json()["revision"]
    assert f'data-revision="{revision}"' in client.get(f"/modellierung/entwurf/{draft_id}").get_data(
        as_text=True
    )
    mine = client.post(
        f"/modellierung/entwurf/{draft_id}/speichern",
        json={"content": xml, "revision": revision},
        headers=headers,
    )
    assert mine.status_code == 200 and mine.get_json()["revision"] > revision
    stale = client.post(
        f"/modellierung/entwurf/{draft_id}/speichern",
        json={"content": no_candidates, "revision": revision},
        headers=headers,
    )
    assert stale.status_code == 409 and "inzwischen" in stale.get_json()["message"]
    assert client.get(f"/modellierung/entwurf/{draft_id}/inhalt").get_data(as_text=True) == xml

    english = client.get(f"/modellierung/entwurf/{draft_id}?lang=en").get_data(as_text=True)
    assert 'data-lang="en"' in english and "Check result" in english and "Submit for approval" in english
    assert "Deployed versions of" in client.get("/modellierung/").get_data(as_text=True)


def test_four_eyes_over_http(app, hn):
    author, reviewer = app.test_client(), app.test_client()
    token = login(author, COORDINATOR)
    draft_id = new_draft(author, token, hn)
    xml = author.get(f"/modellierung/entwurf/{draft_id}/inhalt").get_data(as_text=True)
    renamed = xml.replace('name="Aufgabe 2"', 'name="Aufgabe zwei"')
    author.post(
        f"/modellierung/entwurf/{draft_id}/speichern",
        json={"content": renamed},
        headers={"X-CSRFToken": token},
    )
    assert (
        author.post(f"/modellierung/entwurf/{draft_id}/vorlegen", data={"csrf_token": token}).status_code
        == 302
    )
    page = author.get(f"/modellierung/entwurf/{draft_id}/freigabe").get_data(as_text=True)
    assert "Vier-Augen-Prinzip" in page and "/freigeben" not in page
    crafted = author.post(f"/modellierung/entwurf/{draft_id}/freigeben", data={"csrf_token": token})
    assert crafted.status_code == 403 and len(version_ids(hn)) == 1

    second = login(reviewer, SECOND)
    review = reviewer.get(f"/modellierung/entwurf/{draft_id}/freigabe").get_data(as_text=True)
    assert "<table" in review and "aufgabe_2" in review and "Aufgabe zwei" in review and "geändert" in review
    assert f'data-old-url="/modellierung/entwurf/{draft_id}/bisher"' in review
    assert reviewer.get(f"/modellierung/entwurf/{draft_id}/bisher").get_data(as_text=True) == xml
    revision = re.search(r'name="revision" value="([0-9a-f]{64})"', review)
    assert revision
    blind = reviewer.post(f"/modellierung/entwurf/{draft_id}/freigeben", data={"csrf_token": second})
    assert blind.status_code == 409 and "seit dem Öffnen" in blind.get_data(as_text=True)
    assert len(version_ids(hn)) == 1  # an approval without the revision seen deploys nothing
    approve = {"csrf_token": second, "revision": revision.group(1)}
    assert reviewer.post(f"/modellierung/entwurf/{draft_id}/freigeben", data=approve).status_code == 302
    again = reviewer.post(f"/modellierung/entwurf/{draft_id}/freigeben", data=approve)
    assert again.status_code == 409 and len(version_ids(hn)) == 2


def test_upload_and_download(client, hn):
    token = login(client, COORDINATOR)
    before = draft_count(hn)
    cases = {
        "leer.bpmn": b"",
        "prozess.txt": b"<x/>",
        "kaputt.bpmn": b"<bpmn:definitions",
        "entity.bpmn": b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        "falsch.bpmn": b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>',
        "formular.form": b"{kein json",
        "Grossbuchstaben.bpmn": b"<x/>",
    }
    for name, data in cases.items():
        response = client.post(
            "/modellierung/hochladen",
            data={"csrf_token": token, "datei": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, name
        if response.status_code == 422:
            assert 'class="alert alert--error"' in response.get_data(as_text=True), name
    assert draft_count(hn) == before

    form = {
        "type": "default",
        "id": "rueckmeldung",
        "components": [{"type": "textfield", "key": "text", "label": "Text"}],
    }
    uploaded = client.post(
        "/modellierung/hochladen",
        data={"csrf_token": token, "datei": (io.BytesIO(json.dumps(form).encode()), "rueckmeldung.form")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    draft_id = int(uploaded.headers["Location"].rsplit("/", 1)[1])
    download = client.get(f"/modellierung/entwurf/{draft_id}/datei")
    assert download.mimetype == "application/json"
    assert download.headers["Content-Disposition"] == 'attachment; filename="rueckmeldung.form"'
    assert json.loads(download.get_data(as_text=True)) == form
    version = client.get(f"/modellierung/versionen/{version_ids(hn)[0]}/datei")
    assert version.mimetype == "application/xml"
    assert version.headers["Content-Disposition"] == 'attachment; filename="kette-v1.bpmn"'


@pytest.mark.parametrize("username", ["fachkraft.frauenberatung", "leitung.jugendamt", "admin"])
def test_only_koordination(client, hn, username):
    token = login(client, username)
    assert "/modellierung/" not in client.get("/aufgaben").get_data(as_text=True)
    assert client.get("/modellierung/").status_code == 403
    assert client.get(f"/modellierung/versionen/{version_ids(hn)[0]}/datei").status_code == 403
    response = client.post(
        f"/modellierung/versionen/{version_ids(hn)[0]}/entwurf", data={"csrf_token": token}
    )
    assert response.status_code == 403 and draft_count(hn) == 0


def test_migration_pages(client, hn):
    actor = actor_lookup(hn)
    author, reviewer = actor(COORDINATOR), actor(SECOND)
    lena = actor("fachkraft.frauenberatung")
    instance = hn.start(lena, "kette", {})
    draft = hn.draft_from_version(author, version_ids(hn)[0])
    xml = hn.model_draft(author, draft).content
    hn.save_model_draft(author, draft, xml.replace('name="Aufgabe 2"', 'name="Aufgabe zwei"'))
    hn.submit_model_draft(author, draft)
    [target] = hn.approve_model_draft(reviewer, draft)

    token = login(client, COORDINATOR)
    overview = client.get("/modellierung/").get_data(as_text=True)
    assert "/modellierung/migration/kette" in overview
    page = client.get("/modellierung/migration/kette").get_data(as_text=True)
    assert f'name="vorgang" value="{instance}"' in page and f'value="{target}"' in page
    form = {"csrf_token": token, "vorgang": str(instance), "ziel": str(target)}
    assert "/migration/kette/migrieren" not in page  # „Umstellen“ appears after a dry run
    crafted = client.post("/modellierung/migration/kette/migrieren", data=form)  # no dry run
    assert crafted.status_code == 409 and "zuerst einen Probelauf" in crafted.get_data(as_text=True)
    assert version_ids(hn)[0] == hn.instance_detail(lena, instance).definition_id
    dry = client.post("/modellierung/migration/kette/probelauf", data=form)
    assert dry.status_code == 200 and "umstellbar" in dry.get_data(as_text=True)
    assert "/migration/kette/migrieren" in dry.get_data(as_text=True)
    other = {**form, "ziel": str(version_ids(hn)[0])}  # not the target of the dry run
    assert client.post("/modellierung/migration/kette/migrieren", data=other).status_code == 409
    assert version_ids(hn)[0] == hn.instance_detail(lena, instance).definition_id
    for bad in ({"csrf_token": token, "vorgang": str(instance)}, {"csrf_token": token, "ziel": str(target)}):
        refused = client.post("/modellierung/migration/kette/migrieren", data=bad)
        assert refused.status_code == 422 and "Bitte" in refused.get_data(as_text=True)
    for odd in ("²", "9" * 11, "-1"):  # "²".isdigit() is true; 11 digits overflow the id column
        for action in ("probelauf", "migrieren"):
            for field in ("vorgang", "ziel"):
                answer = client.post(f"/modellierung/migration/kette/{action}", data={**form, field: odd})
                assert answer.status_code in (409, 422), (action, field, odd, answer.status_code)
    done = client.post("/modellierung/migration/kette/migrieren", data=form)
    assert done.status_code == 200 and "umgestellt" in done.get_data(as_text=True)
    assert hn.instance_detail(lena, instance).definition_id == target
    history = client.get(f"/vorgaenge/{instance}").get_data(as_text=True)
    assert "Auf Version 2 des Prozesses umgestellt (vorher Version 1)" in history


def test_large_drafts_get_the_engines_german_limit_not_the_request_limit(client, hn):
    """JSON escaping doubles quotes: a draft just under the draft limit must still reach the engine;
    beyond it the answer is German JSON the modeler shows (never a generic 413 page)."""
    from webapp.body_limits import MODEL_JSON_LIMIT

    token = login(client, COORDINATOR)
    draft_id = new_draft(client, token, hn)
    xml = client.get(f"/modellierung/entwurf/{draft_id}/inhalt").get_data(as_text=True)
    headers = {"X-CSRFToken": token, "Accept": "application/json"}

    def save(content: str):
        body = json.dumps({"content": content})
        response = client.post(
            f"/modellierung/entwurf/{draft_id}/speichern",
            data=body,
            content_type="application/json",
            headers=headers,
        )
        return len(body.encode()), response

    filler = '"' * (1_990_000 - len(xml.encode()))  # each quote is two bytes in JSON
    large = xml.replace("</bpmn:definitions>", f"<!--{filler}--></bpmn:definitions>")
    size, response = save(large)
    assert size > 2 * 1024 * 1024 and response.status_code == 200, response.get_data(as_text=True)[:200]
    assert client.get(f"/modellierung/entwurf/{draft_id}/inhalt").get_data(as_text=True) == large

    _, too_large = save(large.replace("<!--", "<!--" + "a" * 20_000))
    assert too_large.status_code == 422 and "Der Inhalt ist zu groß" in too_large.get_json()["message"]

    huge = '"' * (MODEL_JSON_LIMIT // 2)
    size, refused = save(huge)
    assert size > MODEL_JSON_LIMIT and refused.status_code == 413
    assert refused.get_json()["message"] == "Die gesendeten Daten sind zu groß."
    page = client.post("/modellierung/neu", data={"csrf_token": token, "key": "x" * (3 * 1024 * 1024)})
    html = page.get_data(as_text=True)
    assert page.status_code == 413 and "Zu groß" in html and "Die gesendeten Daten sind zu groß." in html


def test_review_page_lists_the_processes_a_form_change_deploys_anew(client, hn):
    actor = actor_lookup(hn)
    author = actor(COORDINATOR)
    form = hn.create_model_draft(author, "form", "notiz")
    content = json.loads(hn.model_draft(author, form).content)
    content["components"][0]["label"] = "Notiz (neu)"
    assert hn.save_model_draft(author, form, json.dumps(content)) == []
    hn.submit_model_draft(author, form)
    login(client, SECOND)
    page = client.get(f"/modellierung/entwurf/{form}/freigabe").get_data(as_text=True)
    assert "Prozesse, die neu bereitgestellt werden" in page and "<h3 id=\"mit-1\">kette.bpmn</h3>" in page
    assert "Die Prozessdatei selbst bleibt gleich" in page
