"""The coordination opens a ballot; three steering-group members vote, one declares a conflict of
interest; the ballot closes early and the minutes show the outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, logout

pytestmark = pytest.mark.browser


def open_ballot(page: Any, base: str, subject: str) -> str:
    """Open a ballot through the form; returns the ballot page's URL."""
    login(page, base, "koordination.jugendamt")
    page.get_by_role("link", name="Abstimmungen", exact=True).click()
    page.get_by_role("link", name="Abstimmung eröffnen").click()
    page.get_by_label("Gegenstand").fill(subject)
    page.get_by_label("Datum").fill((datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%d"))
    page.get_by_label("Uhrzeit").fill("18:00")
    page.get_by_role("button", name="Abstimmung eröffnen").click()
    page.wait_for_url(f"{base}/abstimmungen/*")
    expect(page.get_by_role("status").get_by_text("Die Abstimmung wurde eröffnet.")).to_be_visible()
    url: str = page.url
    logout(page)
    return url


def vote(page: Any, base: str, username: str, subject: str, choice: str) -> None:
    login(page, base, username)
    page.get_by_role("link", name="Abstimmungen", exact=True).click()
    page.get_by_role("link", name=subject).click()
    page.get_by_role("group", name=f"Ihre Stimme zu „{subject}“").get_by_label(choice, exact=True).check()
    page.get_by_role("button", name="Stimme abgeben").click()
    expect(page.get_by_role("status").get_by_text("Ihre Stimme wurde gespeichert.")).to_be_visible()


def test_steering_group_votes_and_the_ballot_closes_early(page: Any, live_server: str) -> None:
    base = live_server
    subject = f"Förderantrag Präventionsprojekt {uuid.uuid4().hex[:6]}"
    ballot_url = open_ballot(page, base, subject)

    vote(page, base, "fachkraft.gesundheitsamt", subject, "Befangenheit erklären")
    logout(page)
    vote(page, base, "leitung.polizei", subject, "Ja")
    logout(page)
    vote(page, base, "fachkraft.gleichstellung", subject, "Ja")
    expect(page.get_by_role("heading", name="Zwischenstand")).to_be_visible()
    logout(page)
    vote(page, base, "fachkraft.beratungsstelle", subject, "Ja")

    assert page.url == ballot_url
    expect(page.get_by_role("heading", name="Ergebnis")).to_be_visible()
    expect(page.locator(".ballot-outcome")).to_have_text("angenommen")
    page.get_by_role("link", name="Protokoll ansehen und drucken").click()
    page.wait_for_url(f"{ballot_url}/protokoll")
    expect(page.get_by_role("heading", level=1)).to_contain_text(subject)
    expect(page.locator(".ballot-outcome")).to_have_text("angenommen")
    expect(page.get_by_text("vorzeitig, das Ergebnis stand fest")).to_be_visible()
    expect(page.get_by_text("Befangenheit erklärt, nicht stimmberechtigt")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
