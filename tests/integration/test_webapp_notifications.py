"""Web app: the notifications page, mark read, the unread badge in the header, the e-mail preference."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_webapp_auth import csrf, login


@pytest.fixture
def notified(hn, actor) -> None:
    """Two new tasks, delivered: Lena has two unread notifications."""
    hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    assert hn.deliver_outbox() == 2


def test_badge_page_and_mark_read(client, notified):
    login(client, "fachkraft.frauenberatung")
    page = client.get("/aufgaben").get_data(as_text=True)
    assert 'href="/benachrichtigungen"' in page
    assert (
        '<span aria-hidden="true">2</span><span class="visually-hidden"> 2 ungelesene Benachrichtigungen'
        in page
    )
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert page.count(">Aufgabe 1</a>") == 2 and page.count("<strong>ungelesen</strong>") == 2
    ids = re.findall(r'action="/benachrichtigungen/(\d+)/gelesen"', page)
    assert ids == sorted(ids, key=int, reverse=True)  # newest first
    token = csrf(client, "/benachrichtigungen")
    assert client.post(f"/benachrichtigungen/{ids[0]}/gelesen", data={"csrf_token": token}).status_code == 302
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "1 ungelesene Benachrichtigung<" in page and page.count("<strong>ungelesen</strong>") == 1
    client.post("/benachrichtigungen/alle-gelesen", data={"csrf_token": token})
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert (
        "ungelesene Benachrichtigung" not in page
        and "Alle Benachrichtigungen sind als gelesen markiert." in page
    )


def test_someone_elses_notification_is_not_found(client, notified, hn, actor):
    (mine, *_rest) = hn.notifications_of(actor("fachkraft.frauenberatung"))
    login(client, "fachkraft2.frauenberatung")
    token = csrf(client, "/benachrichtigungen")
    assert (
        client.post(f"/benachrichtigungen/{mine.id}/gelesen", data={"csrf_token": token}).status_code == 404
    )


def test_preference_form_and_german_error(client, hn, actor):
    login(client, "fachkraft.frauenberatung")
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert (
        "<legend>Benachrichtigung per E-Mail</legend>" in page
        and "fachkraft.frauenberatung@hilfenetz.invalid" in page
    )
    assert 'id="preference-sofort" name="preference" value="sofort" checked' in page
    token = csrf(client, "/benachrichtigungen")
    response = client.post(
        "/benachrichtigungen/einstellung", data={"csrf_token": token, "preference": "taeglich"}
    )
    assert response.status_code == 302
    assert hn.notification_settings(actor("fachkraft.frauenberatung")).preference == "taeglich"
    response = client.post(
        "/benachrichtigungen/einstellung", data={"csrf_token": token, "preference": "stündlich"}
    )
    assert response.status_code == 422
    assert "Bitte wählen Sie eine der angebotenen Arten der Benachrichtigung." in response.get_data(
        as_text=True
    )
    assert hn.notification_settings(actor("fachkraft.frauenberatung")).preference == "taeglich"


def test_page_in_english(client, notified):
    login(client, "fachkraft.frauenberatung")
    page = client.get("/benachrichtigungen?lang=en").get_data(as_text=True)
    assert "2 unread notifications" in page and "One e-mail a day (number of new tasks)" in page
