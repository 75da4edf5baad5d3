"""Web app: steering-group ballots — list, opening form, ballot page with vote form, minutes and download.

Demo steering group: koordination.jugendamt, koordination.frauenberatung, leitung.polizei,
fachkraft.gesundheitsamt, fachkraft.gleichstellung, fachkraft.beratungsstelle (one per organisation).
"""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from tests.integration.test_webapp_auth import csrf, login
from webapp.i18n import BERLIN

SUBJECT = "Förderantrag Präventionsprojekt"


def open_ballot(hn, actor, *, secret=False, applying_org=None) -> int:
    deadline = hn.clock.now() + timedelta(days=7)
    return hn.open_ballot(SUBJECT, applying_org, None, deadline, secret, actor("koordination.jugendamt"))


def switch(client: FlaskClient, username: str) -> str:
    """Sign out and sign in as someone else; returns the new CSRF token."""
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    return login(client, username)


def page_of(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_list_is_for_the_steering_group_only(hn, actor, client):
    ballot = open_ballot(hn, actor)
    login(client, "fachkraft.polizei")
    assert 'href="/abstimmungen"' not in page_of(client, "/aufgaben")
    assert client.get("/abstimmungen").status_code == 403
    assert client.get(f"/abstimmungen/{ballot}").status_code == 404
    assert client.get(f"/abstimmungen/{ballot}/protokoll.md").status_code == 404
    switch(client, "leitung.polizei")
    page = page_of(client, "/abstimmungen")
    assert 'href="/abstimmungen"' in page and SUBJECT in page and "Stimme ausstehend" in page
    assert "Abstimmung eröffnen" not in page
    assert client.get("/abstimmungen/neu").status_code == 403


def test_coordination_opens_a_ballot_with_validation(hn, actor, client):
    token = login(client, "koordination.jugendamt")
    page = page_of(client, "/abstimmungen/neu")
    assert "mehr als 1/2 der stimmberechtigten Mitglieder nehmen teil" in page
    assert "einfache Mehrheit" in page and "gilt der Antrag als abgelehnt" in page
    bad = client.post(
        "/abstimmungen/neu",
        data={"csrf_token": token, "subject": " ", "deadline_date": "morgen", "deadline_time": ""},
    )
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Bitte geben Sie den Gegenstand der Abstimmung an." in body and 'aria-invalid="true"' in body
    past_data = {"csrf_token": token, "subject": SUBJECT, "deadline_date": "2000-01-01"}
    past_data["deadline_time"] = "09:00"
    past = client.post("/abstimmungen/neu", data=past_data)
    assert past.status_code == 422 and "Die Frist muss in der Zukunft liegen." in past.get_data(as_text=True)
    assert client.post("/abstimmungen/neu", data={"subject": SUBJECT}).status_code == 400  # no CSRF token
    day = (hn.clock.now() + timedelta(days=3)).astimezone(BERLIN).strftime("%Y-%m-%d")
    data = {
        "csrf_token": token,
        "subject": SUBJECT,
        "applying_org": "frauenberatung-soest",
        "deadline_date": day,
        "deadline_time": "18:00",
        "secret": "nein",
    }
    response = client.post("/abstimmungen/neu", data=data)
    assert response.status_code == 302
    page = page_of(client, response.headers["Location"])
    assert "Die Abstimmung wurde eröffnet." in page and SUBJECT in page
    assert "ausgeschlossen: Mitglied der antragstellenden Organisation" in page
    assert f"{day[8:10]}.{day[5:7]}.{day[0:4]} 18:00" in page
    assert "<legend>" in page and 'value="befangen"' in page  # the coordinator is a member too


def test_elector_votes_once_and_others_cannot(hn, actor, client):
    ballot = open_ballot(hn, actor)
    token = login(client, "leitung.polizei")
    page = page_of(client, f"/abstimmungen/{ballot}")
    for label in ("Ja", "Nein", "Enthaltung", "Befangenheit erklären"):
        assert f">{label}</label>" in page
    assert "<fieldset" in page and "<legend>" in page
    missing = client.post(f"/abstimmungen/{ballot}/stimme", data={"csrf_token": token})
    assert missing.status_code == 422 and "Bitte wählen Sie Ja, Nein" in missing.get_data(as_text=True)
    response = client.post(f"/abstimmungen/{ballot}/stimme", data={"csrf_token": token, "choice": "ja"})
    assert response.status_code == 302
    page = page_of(client, f"/abstimmungen/{ballot}")
    assert "Ihre Stimme wurde gespeichert." in page and "Stimme: Ja" in page
    assert 'name="choice"' not in page
    again = client.post(f"/abstimmungen/{ballot}/stimme", data={"csrf_token": token, "choice": "nein"})
    assert again.status_code == 409
    assert "Eine abgegebene Stimme kann nicht geändert werden." in again.get_data(as_text=True)
    token = switch(client, "admin")
    assert 'name="choice"' not in page_of(client, f"/abstimmungen/{ballot}")  # may read, may not vote
    refused = client.post(f"/abstimmungen/{ballot}/stimme", data={"csrf_token": token, "choice": "ja"})
    assert refused.status_code == 403
    assert "nicht zu den Stimmberechtigten" in refused.get_data(as_text=True)


def test_secret_ballot_shows_no_tally_while_open(hn, actor, client):
    ballot = open_ballot(hn, actor, secret=True)
    hn.cast_vote(actor("leitung.polizei"), ballot, "nein")
    login(client, "koordination.frauenberatung")
    page = page_of(client, f"/abstimmungen/{ballot}")
    assert "Die Auszählung wird erst nach dem Schluss angezeigt." in page
    assert "<caption>Auszählung</caption>" not in page and "Stimme: Nein" not in page
    assert "hat abgestimmt (geheim)" in page


def test_minutes_page_and_download_after_close(hn, actor, client):
    ballot = open_ballot(hn, actor)
    for member in ("koordination.frauenberatung", "leitung.polizei", "fachkraft.gesundheitsamt"):
        hn.cast_vote(actor(member), ballot, "ja")
    hn.cast_vote(actor("fachkraft.gleichstellung"), ballot, "ja")
    assert hn.ballot_minutes(actor("admin"), ballot).status == "geschlossen"
    login(client, "fachkraft.beratungsstelle")
    page = page_of(client, f"/abstimmungen/{ballot}")
    assert "angenommen" in page and "vorzeitig, das Ergebnis stand fest" in page
    assert 'name="choice"' not in page and "Protokoll ansehen und drucken" in page
    minutes = page_of(client, f"/abstimmungen/{ballot}/protokoll")
    assert f"Protokoll der Abstimmung Nr. {ballot}: {SUBJECT}" in minutes
    assert "<caption>Auszählung</caption>" in minutes and "keine Stimme abgegeben" in minutes
    download = client.get(f"/abstimmungen/{ballot}/protokoll.md")
    assert download.status_code == 200 and download.mimetype == "text/markdown"
    disposition = download.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="abstimmung-{ballot}-protokoll.md"'
    assert download.get_data(as_text=True) == hn.ballot_minutes_text(actor("admin"), ballot)
    assert "**Beschluss: angenommen**" in download.get_data(as_text=True)
    page = page_of(client, "/abstimmungen?lang=en")
    assert "Steering-group ballots" in page and "carried" in page


def test_substitute_sees_the_ballot_and_votes_for_the_member(hn, actor, client):
    now = hn.clock.now()
    hn.add_absence(
        actor("leitung.polizei"), "fachkraft.polizei", now - timedelta(hours=1), now + timedelta(days=9)
    )
    ballot = open_ballot(hn, actor)
    token = login(client, "fachkraft.polizei")
    assert "Stimme ausstehend" in page_of(client, "/abstimmungen")
    page = page_of(client, f"/abstimmungen/{ballot}")
    assert "(Sie vertreten)</legend>" in page and 'name="member" value="leitung.polizei"' in page
    data = {"csrf_token": token, "choice": "enthaltung", "member": "leitung.polizei"}
    assert client.post(f"/abstimmungen/{ballot}/stimme", data=data).status_code == 302
    assert "Stimme: Enthaltung" in page_of(client, f"/abstimmungen/{ballot}")
