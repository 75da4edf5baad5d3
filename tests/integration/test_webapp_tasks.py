"""Web app: worklist, task pages and the JSON form endpoints, claim/release/reassign, absences, instances.

The ``hn`` fixture deploys the process "kette" (five user tasks in a row with the form "notiz",
candidates Fachkraft@frauenberatung-soest).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from engine.worklist import WorklistQuery
from tests.integration.test_webapp_auth import csrf, login, make_app

TASK_LINK = re.compile(r'<a href="/aufgaben/([0-9a-f-]{36})">([^<]+)</a>')


@pytest.fixture
def started(hn, actor) -> int:
    """One running "kette" instance, started by Lena (fachkraft.frauenberatung)."""
    return hn.start(actor("fachkraft.frauenberatung"), "kette", {})


def open_task(hn, actor, username: str = "fachkraft.frauenberatung") -> str:
    tasks = hn.worklist(actor(username), WorklistQuery(view="alle")).tasks
    assert tasks, f"{username} has no open task"
    return tasks[0].id


def post_json(client: FlaskClient, url: str, token: str, data: object) -> tuple[int, dict]:
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    response = client.post(url, json={"data": data}, headers=headers)
    return response.status_code, response.get_json()


def test_worklist_shows_task_to_candidate_only(client, started):
    login(client, "fachkraft.frauenberatung")
    page = client.get("/aufgaben").get_data(as_text=True)
    assert [name for _, name in TASK_LINK.findall(page)] == ["Aufgabe 1"]
    assert "<caption" in page and '<th scope="col">Fällig</th>' in page and "Übernehmen" in page
    assert "Kette kette #1" in page
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    login(client, "fachkraft.polizei")
    page = client.get("/aufgaben").get_data(as_text=True)
    assert TASK_LINK.findall(page) == []
    assert "Keine offenen Aufgaben" in page


def test_worklist_views_filters_and_paging(hn, actor, client, clock):
    lena = actor("fachkraft.frauenberatung")
    for _ in range(21):
        hn.start(lena, "kette", {})
    login(client, "fachkraft.frauenberatung")
    page = client.get("/aufgaben?view=gruppe").get_data(as_text=True)
    assert "Seite 1 von 2" in page and len(TASK_LINK.findall(page)) == 20
    assert 'href="/aufgaben?view=gruppe&amp;page=2"' in page
    assert len(TASK_LINK.findall(client.get("/aufgaben?view=gruppe&page=2").get_data(as_text=True))) == 1
    assert "Keine Aufgaben passen" in client.get("/aufgaben?view=meine&process=kette").get_data(as_text=True)
    clock.advance(timedelta(days=4))
    assert client.get("/aufgaben").status_code == 302  # four days idle end the session (session_guard)
    login(client, "fachkraft.frauenberatung")
    page = client.get("/aufgaben?state=ueberfaellig").get_data(as_text=True)
    assert '<span class="badge badge--overdue">überfällig</span>' in page
    assert "21 offene Aufgabe(n) sind überfällig" in page
    response = client.get("/aufgaben?due_from=31.02.2026")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Bitte geben Sie ein Datum wie 24.11.2026 ein." in page and 'aria-invalid="true"' in page
    assert 'aria-describedby="due_from-fehler"' in page
    assert len(TASK_LINK.findall(client.get("/aufgaben?due_to=2026-01-07").get_data(as_text=True))) == 0
    assert len(TASK_LINK.findall(client.get("/aufgaben?due_from=08.01.2026").get_data(as_text=True))) == 20


def test_task_page_contract(hn, actor, client, started):
    task_id = open_task(hn, actor)
    login(client, "fachkraft.frauenberatung")
    page = client.get(f"/aufgaben/{task_id}").get_data(as_text=True)
    assert "<h1>Aufgabe 1</h1>" in page and "Bitte „Aufgabe 1“ erledigen." in page
    assert f'data-schema-url="/aufgaben/{task_id}/formular.json"' in page
    assert f'data-submit-url="/aufgaben/{task_id}/abschliessen"' in page
    assert f'data-draft-url="/aufgaben/{task_id}/entwurf"' in page
    assert 'id="task-form-status" role="status" aria-live="polite"' in page
    assert 'id="task-form-submit" type="button"' in page and 'id="task-form-draft"' in page
    assert "data-completed='[\"start\"]' data-active='[\"aufgabe_1\"]'" in page
    assert 'src="/static/js/task_form.js"' in page and 'src="/static/js/diagram.js"' in page
    assert 'href="/vorgaenge/1"' in page and "Vorgang gestartet" in page
    body = client.get(f"/aufgaben/{task_id}/formular.json").get_json()
    assert body["schema"]["id"] == "notiz" and "organisation_options" in body["data"]


def test_complete_via_json_leads_to_next_task(hn, actor, client, started):
    task_id = open_task(hn, actor)
    token = login(client, "fachkraft.frauenberatung")
    status, body = post_json(client, f"/aufgaben/{task_id}/abschliessen", token, {"notiz": "ok", "anzahl": 2})
    assert status == 200 and body == {"redirect": "/aufgaben", "message": "Aufgabe erledigt."}
    page = client.get("/aufgaben").get_data(as_text=True)
    assert "Aufgabe erledigt." in page  # flash message
    assert [name for _, name in TASK_LINK.findall(page)] == ["Aufgabe 2"]
    done = client.get("/aufgaben?view=erledigt").get_data(as_text=True)
    assert [name for _, name in TASK_LINK.findall(done)] == ["Aufgabe 1"]


def test_invalid_submission_answers_422_with_field_errors(hn, actor, client, started):
    task_id = open_task(hn, actor)
    token = login(client, "fachkraft.frauenberatung")
    status, body = post_json(client, f"/aufgaben/{task_id}/abschliessen", token, {"anzahl": -1})
    assert status == 422
    assert set(body["field_errors"]) == {"notiz", "anzahl"} and body["message"]
    status, body = post_json(client, f"/aufgaben/{task_id}/abschliessen", token, "kein Objekt")
    assert status == 422 and "message" in body


def test_second_submit_answers_409_in_german(hn, actor, client, started):
    task_id = open_task(hn, actor)
    token = login(client, "fachkraft.frauenberatung")
    assert post_json(client, f"/aufgaben/{task_id}/abschliessen", token, {"notiz": "eins"})[0] == 200
    status, body = post_json(client, f"/aufgaben/{task_id}/abschliessen", token, {"notiz": "zwei"})
    assert status == 409 and "bereits erledigt" in body["message"]


def test_non_candidate_gets_403_and_cannot_view(hn, actor, client, started):
    task_id = open_task(hn, actor)
    token = login(client, "fachkraft.polizei")
    status, body = post_json(client, f"/aufgaben/{task_id}/abschliessen", token, {"notiz": "fremd"})
    assert status == 403 and body["message"] == "Sie sind für diese Aufgabe nicht zuständig."
    response = client.get(f"/aufgaben/{task_id}")
    assert response.status_code == 404 and "Nicht gefunden" in response.get_data(as_text=True)


def test_json_post_without_csrf_header_is_refused(hn, actor, client, started):
    task_id = open_task(hn, actor)
    login(client, "fachkraft.frauenberatung")
    response = client.post(f"/aufgaben/{task_id}/abschliessen", json={"data": {"notiz": "x"}})
    assert response.status_code == 400 and "Sicherheitsprüfung" in response.get_json()["message"]


def test_draft_is_saved_and_prefilled(hn, actor, client, started):
    task_id = open_task(hn, actor)
    token = login(client, "fachkraft.frauenberatung")
    status, body = post_json(client, f"/aufgaben/{task_id}/entwurf", token, {"notiz": "halb", "fremd": 1})
    assert status == 200 and body == {"message": "Entwurf gespeichert."}
    data = client.get(f"/aufgaben/{task_id}/formular.json").get_json()["data"]
    assert data["notiz"] == "halb" and "fremd" not in data


def test_claim_and_release(hn, actor, client, started):
    task_id = open_task(hn, actor)
    token = login(client, "fachkraft.frauenberatung")
    response = client.post(
        f"/aufgaben/{task_id}/uebernehmen", data={"csrf_token": token, "next": "/aufgaben"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/aufgaben"
    page = client.get("/aufgaben?view=meine").get_data(as_text=True)
    assert "Sie haben die Aufgabe übernommen." in page and "Lena Probe" in page
    assert "Zurückgeben" in client.get(f"/aufgaben/{task_id}").get_data(as_text=True)
    response = client.post(f"/aufgaben/{task_id}/uebernehmen", data={"csrf_token": token})
    assert response.status_code == 409 and "bereits von Lena Probe" in response.get_data(as_text=True)
    response = client.post(f"/aufgaben/{task_id}/zurueckgeben", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get("/aufgaben?view=gruppe").get_data(as_text=True)
    assert "wieder für die Gruppe offen" in page and "Aufgabe 1" in page


def test_reassign_by_team_lead(hn, actor, client, started):
    task_id = open_task(hn, actor)
    token = login(client, "leitung.frauenberatung")
    page = client.get(f"/aufgaben/{task_id}").get_data(as_text=True)
    assert 'for="username">Neu zuweisen an' in page and 'value="fachkraft2.frauenberatung"' in page
    response = client.post(
        f"/aufgaben/{task_id}/zuweisen", data={"csrf_token": token, "username": "fachkraft2.frauenberatung"}
    )
    assert response.status_code == 302
    assert "Sara Testfeld" in client.get(f"/aufgaben/{task_id}").get_data(as_text=True)
    sara = actor("fachkraft2.frauenberatung")
    assert [t.id for t in hn.worklist(sara, WorklistQuery(view="meine")).tasks] == [task_id]
    response = client.post(
        f"/aufgaben/{task_id}/zuweisen", data={"csrf_token": token, "username": "fachkraft.polizei"}
    )
    assert response.status_code == 403 and "eigenen Organisation" in response.get_data(as_text=True)


def test_fachkraft_cannot_reassign(hn, actor, client, started):
    task_id = open_task(hn, actor)
    token = login(client, "fachkraft.frauenberatung")
    assert "Neu zuweisen" not in client.get(f"/aufgaben/{task_id}").get_data(as_text=True)
    response = client.post(
        f"/aufgaben/{task_id}/zuweisen", data={"csrf_token": token, "username": "fachkraft2.frauenberatung"}
    )
    assert response.status_code == 403


def test_absence_lets_the_substitute_see_my_tasks(hn, actor, client, started):
    task_id = open_task(hn, actor)
    hn.claim(actor("fachkraft.frauenberatung"), task_id)
    sara = actor("fachkraft2.frauenberatung")
    assert hn.worklist(sara, WorklistQuery(view="meine")).tasks == ()
    token = login(client, "fachkraft.frauenberatung")
    page = client.get("/abwesenheit").get_data(as_text=True)
    assert "Keine Abwesenheit eingetragen." in page and '<label for="starts_at">' in page
    response = client.post(
        "/abwesenheit",
        data={
            "csrf_token": token,
            "substitute": "fachkraft2.frauenberatung",
            "starts_at": "2026-01-05T08:00",
            "ends_at": "2026-01-09T18:00",
            "note": "Fortbildung",
        },
    )
    assert response.status_code == 302
    page = client.get("/abwesenheit").get_data(as_text=True)
    assert "Sara Testfeld" in page and "05.01.2026 08:00" in page and "09.01.2026 18:00" in page
    (absence,) = hn.absences(actor("fachkraft.frauenberatung"))
    # 08:00 in Berlin (winter) is 07:00 UTC
    assert absence.starts_at.hour == 7 and absence.starts_at.utcoffset() == timedelta(0)
    assert [t.id for t in hn.worklist(sara, WorklistQuery(view="meine")).tasks] == [task_id]
    client.post(f"/abwesenheit/{absence.id}/beenden", data={"csrf_token": csrf(client, "/abwesenheit")})
    assert hn.worklist(sara, WorklistQuery(view="meine")).tasks == ()


def test_absence_form_errors(client):
    token = login(client, "fachkraft.frauenberatung")
    response = client.post(
        "/abwesenheit",
        data={"csrf_token": token, "substitute": "", "starts_at": "morgen", "ends_at": "2026-01-09T18:00"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Bitte wählen Sie eine Vertretung aus." in page and 'href="#starts_at"' in page
    assert 'aria-describedby="starts_at-hinweis starts_at-fehler" aria-invalid="true"' in page
    response = client.post(
        "/abwesenheit",
        data={
            "csrf_token": token,
            "substitute": "fachkraft2.frauenberatung",
            "starts_at": "09.01.2026 18:00",
            "ends_at": "2026-01-05T08:00",
        },
    )
    assert response.status_code == 422
    assert "Das Ende muss nach dem Beginn liegen." in response.get_data(as_text=True)


def test_instance_page_shows_history_and_markers(hn, actor, client, started):
    lena = actor("fachkraft.frauenberatung")
    hn.complete(lena, open_task(hn, actor), {"notiz": "eins"})
    token = login(client, "fachkraft.frauenberatung")
    page = client.get(f"/vorgaenge/{started}").get_data(as_text=True)
    assert "<h1>Kette kette #1</h1>" in page and "laufend" in page
    assert 'data-completed=\'["aufgabe_1", "start"]\'' in page and "data-active='[\"aufgabe_2\"]'" in page
    assert "Lena Probe: Vorgang gestartet" in page and "Lena Probe: Aufgabe erledigt: Aufgabe 1" in page
    assert "Aufgabe 2" in page and 'data-xml-url="/prozesse/versionen/1/diagramm.bpmn"' in page
    listing = client.get("/vorgaenge").get_data(as_text=True)
    assert f'href="/vorgaenge/{started}"' in listing
    assert client.get("/vorgaenge/999").status_code == 404
    client.post("/abmelden", data={"csrf_token": token})
    login(client, "fachkraft.polizei")
    assert client.get(f"/vorgaenge/{started}").status_code == 404


def test_start_process_and_diagram_xml(client):
    token = login(client, "fachkraft.frauenberatung")
    page = client.get("/prozesse").get_data(as_text=True)
    assert 'href="/prozesse/kette/starten"' in page
    page = client.get("/prozesse/kette/starten").get_data(as_text=True)
    assert 'data-mode="start"' in page and 'data-submit-url="/prozesse/kette/starten"' in page
    assert client.get("/prozesse/kette/startformular.json").get_json()["schema"]["components"] == []
    status, body = post_json(client, "/prozesse/kette/starten", token, {})
    assert status == 200 and body["redirect"] == "/vorgaenge/1"
    assert "Vorgang gestartet." in client.get(body["redirect"]).get_data(as_text=True)
    status, body = post_json(client, "/prozesse/unbekannt/starten", token, {})
    assert status == 404 and "nicht bereitgestellt" in body["message"]
    response = client.get("/prozesse/versionen/1/diagramm.bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert b'<bpmn:process id="kette"' in response.data
    assert client.get("/prozesse/versionen/99/diagramm.bpmn").status_code == 404


def test_timeline_labels_in_english(hn, actor, client, started):
    hn.complete(actor("fachkraft.frauenberatung"), open_task(hn, actor), {"notiz": "eins"})
    login(client, "fachkraft.frauenberatung")
    page = client.get(f"/vorgaenge/{started}?lang=en").get_data(as_text=True)
    assert "Case started" in page and "Task completed: Aufgabe 1" in page and "running" in page


WIEDER_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_wieder" targetNamespace="http://hilfenetz.example/bpmn">
<bpmn:process id="wieder" name="Wiedereröffnung" isExecutable="true">
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="vorfall" name="Neuer Vorfall">
  <bpmn:messageEventDefinition id="med" messageRef="m_vorfall"/>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="pruefen" name="Vorfall prüfen" camunda:candidateGroups="Fachkraft@frauenberatung-soest"
    camunda:formRef="notiz"/>
<bpmn:endEvent id="ende"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="vorfall"/>
<bpmn:sequenceFlow id="f2" sourceRef="vorfall" targetRef="pruefen"/>
<bpmn:sequenceFlow id="f3" sourceRef="pruefen" targetRef="ende"/>
</bpmn:process>
<bpmn:message id="m_vorfall" name="neuer_vorfall"/>
</bpmn:definitions>
"""


def test_waiting_message_button_reopens_the_case(engine_for):
    hn = engine_for({"wieder": WIEDER_BPMN})
    client = make_app(hn).test_client()
    token = login(client, "fachkraft.frauenberatung")
    status, body = post_json(client, "/prozesse/wieder/starten", token, {})
    assert status == 200
    page = client.get(body["redirect"]).get_data(as_text=True)
    assert "Neuen Vorfall melden (Wiedereröffnung)" in page and 'value="neuer_vorfall"' in page
    assert "Keine offenen Aufgaben." in page
    message = {"csrf_token": token, "name": "neuer_vorfall"}
    response = client.post(f"{body['redirect']}/nachricht", data=message)
    assert response.status_code == 302
    page = client.get(body["redirect"]).get_data(as_text=True)
    assert "Nachricht: neuer Vorfall (Wiedereröffnung)" in page and "Vorfall prüfen" in page
    assert 'value="neuer_vorfall"' not in page
    response = client.post(f"{body['redirect']}/nachricht", data=message)
    assert response.status_code == 409
