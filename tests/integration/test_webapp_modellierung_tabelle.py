"""The keyboard table view of a process draft over HTTP, on SQLite and PostgreSQL: the page's table
and labels, German errors next to the fields (nothing saved), saving through the drafts' check,
and 403 for everyone outside the Koordination."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from engine.persistence.models import AuditEvent
from engine.service import Hilfenetz
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_webapp_auth import login
from tests.integration.test_webapp_modellierung import COORDINATOR, new_draft

GROUP = "Fachkraft@frauenberatung-soest"


@pytest.fixture
def hn(tmp_path, any_db_url, clock, definitions) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, any_db_url, clock, definitions)
    yield engine
    engine.db.dispose()


def content(client, draft_id: int) -> str:
    return client.get(f"/modellierung/entwurf/{draft_id}/inhalt").get_data(as_text=True)


def revision_of(client, draft_id: int) -> str:
    """The revision the table page carries (its hidden field)."""
    html = client.get(f"/modellierung/entwurf/{draft_id}/tabelle").get_data(as_text=True)
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match
    return match.group(1)


def table_form(draft_id: int, token: str, revision: str = "1", **overrides: object) -> dict[str, object]:
    """What the page submits for the chain process (five tasks), with some fields replaced."""
    data: dict[str, object] = {"csrf_token": token, "revision": revision}
    for i in range(1, 6):
        data |= {
            f"aufgabe_{i}-kandidaten": [GROUP],
            f"aufgabe_{i}-benutzer": "",
            f"aufgabe_{i}-formular": "notiz",
            f"aufgabe_{i}-frist": "P3D",
        }
    return data | overrides


def test_page_is_a_labelled_table_of_tasks(client, hn):
    token = login(client, COORDINATOR)
    draft_id = new_draft(client, token, hn)
    response = client.get(f"/modellierung/entwurf/{draft_id}/tabelle")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<caption>" in html and '<th scope="col">' in html and '<th scope="row">' in html
    for field in ("kandidaten", "benutzer", "formular", "frist"):
        assert f'<label for="aufgabe_1-{field}"' in html and f'id="aufgabe_1-{field}"' in html
    assert f'<option value="{GROUP}" selected>' in html
    assert '<option value="notiz" selected>notiz</option>' in html
    assert 'value="P3D"' in html and 'aria-live="polite"' in html


def test_bad_values_get_german_errors_next_to_the_fields_and_nothing_is_saved(client, hn):
    token = login(client, COORDINATOR)
    draft_id = new_draft(client, token, hn)
    before = content(client, draft_id)
    bad = table_form(
        draft_id,
        token,
        **{
            "aufgabe_1-kandidaten": [],
            "aufgabe_2-kandidaten": ["Fachkraft@@x"],
            "aufgabe_3-formular": "gibtsnicht",
            "aufgabe_4-frist": "P3X",
            "aufgabe_5-benutzer": "anna meier",
        },
    )
    response = client.post(f"/modellierung/entwurf/{draft_id}/tabelle", data=bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'role="alert"' in html and "es wurde nichts gespeichert" in html
    for field, text in (
        ("aufgabe_1-kandidaten", "Bitte mindestens eine Zuständigkeit"),
        ("aufgabe_2-kandidaten", "Ungültige Kandidatengruppe"),
        ("aufgabe_3-formular", "„gibtsnicht“ gibt es nicht"),
        ("aufgabe_4-frist", "keine gültige ISO-8601-Angabe"),
        ("aufgabe_5-benutzer", "kein Benutzername"),
    ):
        assert re.search(
            rf'id="{field}"[^>]*aria-invalid="true"[^>]*aria-describedby="{field}-fehler', html
        ), field
        assert f'<p class="field-error" id="{field}-fehler">' in html and text in html
    assert 'value="P3X"' in html and 'value="anna meier"' in html  # what she typed stays in the form
    assert content(client, draft_id) == before


def test_saving_rewrites_the_draft_and_runs_the_check(client, hn):
    token = login(client, COORDINATOR)
    draft_id = new_draft(client, token, hn)
    before = content(client, draft_id)
    changed = table_form(
        draft_id, token, **{"aufgabe_2-kandidaten": ["Leitung@frauenberatung-soest", "Koordination"]}
    )
    response = client.post(f"/modellierung/entwurf/{draft_id}/tabelle", data=changed)
    assert response.status_code == 302
    after = content(client, draft_id)
    assert 'camunda:candidateGroups="Leitung@frauenberatung-soest,Koordination"' in after
    assert after.replace("Leitung@frauenberatung-soest,Koordination", GROUP, 1) == before  # nothing else
    with hn.db.read() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-1] == "modell_entwurf_gespeichert"

    # a problem elsewhere in the diagram is saved and shown, not hidden
    loose = after.replace("</bpmn:process>", '<bpmn:task id="lose" name="Lose Aufgabe"/></bpmn:process>')
    client.post(
        f"/modellierung/entwurf/{draft_id}/speichern", json={"content": loose}, headers={"X-CSRFToken": token}
    )
    changed["revision"] = revision_of(client, draft_id)
    shown = client.post(f"/modellierung/entwurf/{draft_id}/tabelle", data=changed)
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and 'id="tabelle-probleme"' in html and "lose" in html


def test_a_stale_table_page_does_not_undo_someone_elses_edit(client, hn):
    token = login(client, COORDINATOR)
    draft_id = new_draft(client, token, hn)
    stale = revision_of(client, draft_id)
    other = content(client, draft_id).replace('name="Aufgabe 2"', 'name="Von jemand anderem"')
    saved = client.post(
        f"/modellierung/entwurf/{draft_id}/speichern", json={"content": other}, headers={"X-CSRFToken": token}
    )
    assert saved.status_code == 200
    mine = table_form(draft_id, token, stale, **{"aufgabe_4-frist": "P9D"})
    response = client.post(f"/modellierung/entwurf/{draft_id}/tabelle", data=mine)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and 'role="alert"' in html and "inzwischen von jemand anderem" in html
    assert 'value="P9D"' in html  # her input stays in the form
    assert f'name="revision" value="{stale}"' in html  # saving again is refused again
    assert content(client, draft_id) == other
    unrevised = {k: v for k, v in mine.items() if k != "revision"}  # a crafted form without revision
    assert client.post(f"/modellierung/entwurf/{draft_id}/tabelle", data=unrevised).status_code == 409
    assert content(client, draft_id) == other
    mine["revision"] = revision_of(client, draft_id)
    assert client.post(f"/modellierung/entwurf/{draft_id}/tabelle", data=mine).status_code == 302
    assert 'name="Von jemand anderem"' in content(client, draft_id)


@pytest.mark.parametrize("username", ["fachkraft.frauenberatung", "leitung.jugendamt"])
def test_only_the_koordination(client, hn, username):
    draft_id = hn.create_model_draft(actor_lookup(hn)(COORDINATOR), "bpmn", "tabellen_test", "Tabellen-Test")
    token = login(client, username)
    assert client.get(f"/modellierung/entwurf/{draft_id}/tabelle").status_code == 403
    posted = client.post(f"/modellierung/entwurf/{draft_id}/tabelle", data={"csrf_token": token})
    assert posted.status_code == 403


def test_form_drafts_have_no_table_and_submitted_drafts_are_read_only(client, hn):
    token = login(client, COORDINATOR)
    coordinator = actor_lookup(hn)(COORDINATOR)
    form_draft = hn.create_model_draft(coordinator, "form", "tabellen_formular")
    response = client.get(f"/modellierung/entwurf/{form_draft}/tabelle")
    assert response.status_code == 422 and "nur für Prozesse" in response.get_data(as_text=True)

    draft_id = new_draft(client, token, hn)
    assert (
        client.post(f"/modellierung/entwurf/{draft_id}/vorlegen", data={"csrf_token": token}).status_code
        == 302
    )
    before = content(client, draft_id)
    html = client.get(f"/modellierung/entwurf/{draft_id}/tabelle").get_data(as_text=True)
    assert " disabled" in html and "Tabelle speichern" not in html
    changed = table_form(draft_id, token, **{"aufgabe_1-kandidaten": ["Koordination"]})
    assert client.post(f"/modellierung/entwurf/{draft_id}/tabelle", data=changed).status_code == 409
    assert content(client, draft_id) == before


def test_a_due_date_word_is_refused_next_to_its_field(client, hn):
    """A due date "morgen" once passed the table view and the check, then failed every start."""
    token = login(client, COORDINATOR)
    draft_id = new_draft(client, token, hn)
    before = content(client, draft_id)
    response = client.post(
        f"/modellierung/entwurf/{draft_id}/tabelle",
        data=table_form(draft_id, token, **{"aufgabe_1-frist": "morgen"}),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="field-error" id="aufgabe_1-frist-fehler">' in html
    assert "„morgen“ ist keine gültige Frist" in html
    assert content(client, draft_id) == before
    checked = client.post(
        f"/modellierung/entwurf/{draft_id}/pruefen",
        json={"content": before.replace('camunda:dueDate="P3D"', 'camunda:dueDate="morgen"', 1)},
        headers={"X-CSRFToken": token},
    )
    assert [p["element_id"] for p in checked.get_json()["problems"]] == ["aufgabe_1"]
