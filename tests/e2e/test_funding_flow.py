"""P5 Förderantrag in the browser: a member drafts, the coordination checks, the Steuerungsgruppe
votes three times in the flow (a conflict of interest in the first ballot), and the approved
application reaches the member's worklist for submission; the minutes show each ballot."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, logout
from tests.e2e.test_fallkonferenz_flow import enter_date, open_task, pick, submit

pytestmark = pytest.mark.browser
MEMBER = "fachkraft.frauenberatung"
COORDINATOR = "koordination.jugendamt"


def choose(page: Any, option: str) -> None:
    page.get_by_label(option, exact=True).check()


def start_application(page: Any, base: str, title: str) -> None:
    login(page, base, MEMBER)
    page.goto(f"{base}/prozesse/foerderantrag/starten")
    page.wait_for_selector("#task-form .fjs-form-field")
    page.get_by_label("Projekttitel").fill(title)
    pick(page, "Rechtlicher Antragsteller", "Frauenberatung Soest")
    page.get_by_label("Förderprogramm / Förderaufruf").fill("Landesprogramm gegen Gewalt an Frauen")
    page.get_by_label("Höchstbetrag laut Förderaufruf (Euro)").fill("25000")
    enter_date(page.get_by_label("Einreichungsfrist des Landes"), date.today() + timedelta(days=90))
    submit(page)


def draft(page: Any, base: str, requested: str) -> None:
    """The member works the application out (first draft or revision) and hands it in."""
    open_task(page, base, "Antrag ausarbeiten")
    choose(page, "Antrag ausarbeiten und der Koordination zur Prüfung geben")
    page.get_by_label("Ziele des Projekts").fill(
        "Jugendliche erkennen Warnzeichen von Gewalt in Beziehungen."
    )
    page.get_by_label("Zielgruppe").fill("Jahrgänge 8 bis 10 an weiterführenden Schulen im Kreis.")
    page.get_by_label("Maßnahmen und Arbeitsschritte").fill("20 Workshops, Fortbildung für Lehrkräfte.")
    enter_date(page.get_by_label("Projektbeginn"), date.today() + timedelta(days=120))
    enter_date(page.get_by_label("Projektende"), date.today() + timedelta(days=300))
    page.get_by_label("Gesamtkosten (Euro)").fill("28000")
    page.get_by_label("Eigenmittel (Euro)").fill("4000")
    page.get_by_label("Beantragte Förderung (Euro)").fill(requested)
    page.get_by_label("Kosten- und Finanzierungsplan (Erläuterung)").fill("Honorare, Material, Fahrtkosten.")
    submit(page)


def check_formally(page: Any, base: str) -> None:
    open_task(page, base, "Formale Passung prüfen")
    page.get_by_label("Es ist ein Projekt der Kooperation als Ganzes").check()
    page.get_by_label("Die beantragte Förderung hält den Höchstbetrag des Aufrufs ein").check()
    page.get_by_label("Das Projekt passt zum Schwerpunkt des Aufrufs").check()
    choose(page, "der Steuerungsgruppe zur Abstimmung vorlegen")
    submit(page)


def handle_result(page: Any, base: str, option: str, note: str) -> None:
    open_task(page, base, "Abstimmungsergebnis behandeln")
    choose(page, option)
    page.get_by_label("Begründung und Hinweise an das Mitglied").fill(note)
    submit(page)


def vote(page: Any, base: str, username: str, subject: str, choice: str) -> None:
    login(page, base, username)
    page.get_by_role("link", name="Abstimmungen", exact=True).click()
    page.get_by_role("link", name=subject).first.click()  # open ballots are listed first
    page.get_by_role("group", name=f"Ihre Stimme zu „{subject}“").get_by_label(choice, exact=True).check()
    page.get_by_role("button", name="Stimme abgeben").click()
    expect(page.get_by_role("status").get_by_text("Ihre Stimme wurde gespeichert.")).to_be_visible()
    logout(page)


def ballot_round(page: Any, base: str, subject: str, votes: list[tuple[str, str]]) -> None:
    for username, choice in votes:
        vote(page, base, username, subject, choice)


def test_funding_application_through_three_ballots_to_approval(page: Any, live_server: str) -> None:
    base = live_server
    title = f"Gewaltfrei verliebt {uuid.uuid4().hex[:6]}"
    subject = f"Förderantrag „{title}“"
    start_application(page, base, title)
    draft(page, base, "24000")
    logout(page)

    login(page, base, COORDINATOR)
    check_formally(page, base)
    logout(page)
    # Ballot 1: the health office declares a conflict of interest, three members say no.
    no = "Nein"
    ballot_round(
        page,
        base,
        subject,
        [
            ("fachkraft.gesundheitsamt", "Befangenheit erklären"),
            ("koordination.jugendamt", no),
            ("leitung.polizei", no),
            ("fachkraft.gleichstellung", no),
        ],
    )
    login(page, base, COORDINATOR)
    handle_result(page, base, "dem Mitglied zur Überarbeitung zurückgeben", "Bitte Kosten senken.")
    logout(page)

    login(page, base, MEMBER)
    draft(page, base, "20000")
    logout(page)
    login(page, base, COORDINATOR)
    check_formally(page, base)
    logout(page)
    # Ballot 2: rejected again; the coordination lets the group vote once more.
    ballot_round(page, base, subject, [(u, no) for u in ("leitung.polizei", "fachkraft.gleichstellung")])
    ballot_round(page, base, subject, [("fachkraft.beratungsstelle", no)])
    login(page, base, COORDINATOR)
    handle_result(
        page,
        base,
        "erneut abstimmen lassen (z. B. wenn die Steuerungsgruppe nicht beschlussfähig war)",
        "Neue Abstimmung nach Rücksprache im Netzwerk.",
    )
    logout(page)
    # Ballot 3: carried early.
    yes = "Ja"
    ballot_round(
        page,
        base,
        subject,
        [(u, yes) for u in ("leitung.polizei", "fachkraft.gleichstellung", "koordination.jugendamt")],
    )

    login(page, base, MEMBER)
    open_task(page, base, "Antrag beim Land einreichen")
    expect(page.get_by_text("Die Steuerungsgruppe hat dem Antrag zugestimmt.")).to_be_visible()
    logout(page)

    login(page, base, COORDINATOR)
    page.get_by_role("link", name="Abstimmungen", exact=True).click()
    links = page.get_by_role("link", name=subject)
    expect(links).to_have_count(3)
    outcomes = page.locator("tr", has=page.get_by_role("link", name=subject))
    expect(outcomes.filter(has_text="angenommen")).to_have_count(1)
    expect(outcomes.filter(has_text="abgelehnt")).to_have_count(2)
    # The minutes of the first ballot record the declared conflict of interest.
    hrefs = [links.nth(i).get_attribute("href") for i in range(3)]
    first = min(hrefs, key=lambda href: int(str(href).rstrip("/").rsplit("/", 1)[1]))
    page.goto(f"{base}{first}/protokoll")
    expect(page.get_by_role("heading", level=1)).to_contain_text(subject)
    expect(page.get_by_text("Befangenheit erklärt, nicht stimmberechtigt")).to_be_visible()
    expect(page.get_by_text("Mitglied der antragstellenden Organisation")).to_be_visible()
    expect(page.locator(".ballot-outcome")).to_have_text("abgelehnt")
