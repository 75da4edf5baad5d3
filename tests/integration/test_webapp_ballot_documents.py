"""Web app: the application (Antrag / Unterlagen) on the ballot page, the link to the process instance,
and the minutes as PDF."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

from pypdf import PdfReader

from tests.integration.test_webapp_auth import csrf, login
from tests.integration.test_webapp_ballots import page_of, switch

SUBJECT = "Förderantrag „Präventionsprojekt Schule“"
DOCUMENTS = [
    {"label": "Projekt", "value": "Präventionsprojekt „Schule“ – Gewaltschutz an Grundschulen"},
    {"label": "Kosten- und Finanzierungsplan", "value": "Personal: 12.000 €\nSachkosten: 3.000 €"},
    {"label": "Antragsteller", "value": "Frauenberatung Soest <script>alert(1)</script>"},
]


def open_with_documents(hn, actor, *, instance_id=None, documents=DOCUMENTS, secret=False) -> int:
    return hn.open_ballot(
        SUBJECT,
        "frauenberatung-soest",
        None,
        hn.clock.now() + timedelta(days=7),
        secret,
        None,  # opened by a process step
        instance_id=instance_id,
        documents=documents,
    )


def close_accepted(hn, actor, ballot: int) -> None:
    """Four of five vote (one nein, three ja): accepted early, fachkraft.beratungsstelle did not vote."""
    hn.cast_vote(actor("fachkraft.gleichstellung"), ballot, "nein")
    for member in ("koordination.jugendamt", "leitung.polizei", "fachkraft.gesundheitsamt"):
        hn.cast_vote(actor(member), ballot, "ja")
    assert hn.ballot_minutes(actor("admin"), ballot).status == "geschlossen"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def test_ballot_page_shows_the_application_as_a_definition_list(hn, actor, client):
    ballot = open_with_documents(hn, actor)
    login(client, "leitung.polizei")
    page = page_of(client, f"/abstimmungen/{ballot}")
    assert '<h2 id="unterlagen-titel">Antrag / Unterlagen</h2>' in page
    assert '<section class="ballot-documents" aria-labelledby="unterlagen-titel">' in page
    assert "<dt>Kosten- und Finanzierungsplan</dt>" in page
    assert '<dd class="document-value">Personal: 12.000 €\nSachkosten: 3.000 €</dd>' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "Zwischenstand" in page and "<caption>Auszählung</caption>" in page  # open ballot: running tally
    assert "durch Prozess" in page


def test_ballot_without_documents_says_so(hn, actor, client):
    ballot = open_with_documents(hn, actor, documents=None)
    login(client, "leitung.polizei")
    page = page_of(client, f"/abstimmungen/{ballot}")
    assert "Zu dieser Abstimmung sind keine Unterlagen hinterlegt." in page
    assert "Zum Vorgang" not in page


def test_secret_ballot_shows_documents_but_no_running_tally(hn, actor, client):
    ballot = open_with_documents(hn, actor, secret=True)
    hn.cast_vote(actor("leitung.polizei"), ballot, "ja")
    login(client, "fachkraft.gesundheitsamt")
    page = page_of(client, f"/abstimmungen/{ballot}")
    assert "<dt>Projekt</dt>" in page
    assert "Die Auszählung wird erst nach dem Schluss angezeigt." in page
    assert "<caption>Auszählung</caption>" not in page


def test_link_to_the_instance_only_for_those_who_may_view_it(hn, actor, client):
    instance = hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    ballot = open_with_documents(hn, actor, instance_id=instance)
    link = f'<a href="/vorgaenge/{instance}">Zum Vorgang #{instance}</a>'
    login(client, "koordination.jugendamt")  # the coordinators may view the instance
    assert hn.may_view_instance(actor("koordination.jugendamt"), instance)
    assert link in page_of(client, f"/abstimmungen/{ballot}")
    assert link in page_of(client, f"/abstimmungen/{ballot}/protokoll")
    switch(client, "leitung.polizei")  # an elector who is not involved in the instance
    assert not hn.may_view_instance(actor("leitung.polizei"), instance)
    page = page_of(client, f"/abstimmungen/{ballot}")
    assert "Zum Vorgang" not in page and f"Nr. {instance}" in page
    assert client.get(f"/vorgaenge/{instance}").status_code == 404
    page = page_of(client, f"/abstimmungen/{ballot}?lang=en")
    assert "Application / documents" in page and f"No. {instance}" in page


def test_minutes_as_pdf_with_umlauts_documents_and_instance(hn, actor, client):
    instance = hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    ballot = open_with_documents(hn, actor, instance_id=instance)
    close_accepted(hn, actor, ballot)
    login(client, "fachkraft.beratungsstelle")  # an elector who did not vote may read the minutes
    page = page_of(client, f"/abstimmungen/{ballot}")
    pdf_link = f'<a href="/abstimmungen/{ballot}/protokoll.pdf" download>Als PDF herunterladen</a>'
    assert pdf_link in page and pdf_link in page_of(client, f"/abstimmungen/{ballot}/protokoll")
    response = client.get(f"/abstimmungen/{ballot}/protokoll.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="abstimmung-{ballot}-protokoll.pdf"'
    )
    data = response.get_data()
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    flat = " ".join(text.split())
    for expected in (
        f"Protokoll der Abstimmung Nr. {ballot}",
        SUBJECT,
        "Antragstellende Organisation Frauenberatung Soest",
        f"Vorgang Nr. {instance}",
        "Antrag / Unterlagen",
        "Präventionsprojekt „Schule“ – Gewaltschutz an Grundschulen",
        "Personal: 12.000 € Sachkosten: 3.000 €",
        "ausgeschlossen — Mitglied der antragstellenden Organisation",
        "Stimme: Nein",
        "Stimme: Ja",
        "keine Stimme abgegeben",
        "Beteiligung 4 von 5",
        "Stimmen Ja: 3, Nein: 1, Enthaltung: 0, Befangen: 0",
        "Beschlussfähig ja",
        "vorzeitig, das Ergebnis stand fest",
        "Beschluss angenommen",
    ):
        assert expected in flat, expected
    markdown = hn.ballot_minutes_text(actor("admin"), ballot)
    assert "## Antrag / Unterlagen" in markdown and f"- Vorgang: Nr. {instance}" in markdown


def test_pdf_follows_the_minutes_permission(hn, actor, client):
    ballot = open_with_documents(hn, actor)
    login(client, "fachkraft.polizei")  # neither steering group nor electorate
    assert client.get(f"/abstimmungen/{ballot}/protokoll.pdf").status_code == 404
    assert client.get("/abstimmungen/999/protokoll.pdf").status_code in (403, 404)
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    anonymous = client.get(f"/abstimmungen/{ballot}/protokoll.pdf")
    assert anonymous.status_code == 302 and "/anmelden" in anonymous.headers["Location"]


def test_notifications_page_links_to_the_ballot(hn, actor, client):
    ballot = open_with_documents(hn, actor)
    hn.deliver_outbox()
    login(client, "leitung.polizei")
    page = page_of(client, "/benachrichtigungen")
    assert "Abstimmung eröffnet" in page
    assert f'<a href="/abstimmungen/{ballot}">Abstimmung Nr. {ballot}: {SUBJECT}</a>' in page
    assert "Ballot opened" in page_of(client, "/benachrichtigungen?lang=en")
