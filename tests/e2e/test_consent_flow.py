"""Einwilligungen in the browser: from the case page record a verbal consent with its witness, see
it in the list, withdraw it after the confirmation page, and see it marked as withdrawn."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.e2e.conftest import login
from tests.e2e.test_fallkonferenz_flow import pick, submit

pytestmark = pytest.mark.browser


def test_record_and_withdraw_a_consent_from_the_case_page(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "fachkraft.frauenberatung")
    page.goto(f"{base}/prozesse/fallkonferenz/starten")
    page.wait_for_selector("#task-form textarea")
    page.get_by_label("Anlass").fill("Wiederholte Gewalt, Betroffene wünscht eine gemeinsame Beratung")
    page.get_by_label("Fragestellung an die Fallkonferenz").fill("Wie stimmen wir die Hilfen ab?")
    pick(page, "Gefährdungseinschätzung", "mittel")
    pick(page, "Altersgruppe der betroffenen Person", "30 bis 44 Jahre")
    page.get_by_label("psychische Gewalt").check()
    submit(page)

    page.goto(f"{base}/vorgaenge")
    page.get_by_role("link", name="Fallkonferenz").first.click()
    page.get_by_role(
        "link", name="Einwilligungen zu diesem Vorgang ansehen, erfassen oder widerrufen"
    ).click()
    page.get_by_role("link", name="Einwilligung erfassen").click()
    page.get_by_label("Pseudonym oder Fallbezug").fill("FK-E2E-1")
    page.get_by_label("Falldaten und Gefährdungseinschätzung").check()
    page.get_by_label("Kreispolizeibehörde Soest").check()
    page.get_by_label("Zweck").fill("Identifizierte Fallkonferenz")
    page.get_by_label("Erteilt am").fill(date.today().isoformat())
    page.get_by_label("mündlich – vor einer Zeugin oder einem Zeugen").check()
    page.get_by_role("button", name="Einwilligung speichern").click()
    assert page.locator(".field-error").count() == 1  # the witness is missing: said next to the field
    assert "Zeugin oder des Zeugen" in page.locator("#witness-fehler").inner_text()
    assert page.get_by_label("Pseudonym oder Fallbezug").input_value() == "FK-E2E-1"  # nothing lost
    page.get_by_label("Zeugin oder Zeuge (bei mündlicher Einwilligung)").fill("Kollegin der Frauenberatung")
    page.get_by_role("button", name="Einwilligung speichern").click()

    row = page.locator("tr", has_text="FK-E2E-1")
    assert "gültig" in row.inner_text()
    row.get_by_role("link", name="Widerruf erfassen").click()
    assert page.get_by_text("Der Widerruf kann nicht rückgängig gemacht werden.").is_visible()
    page.get_by_label("Widerrufen durch").fill("die Betroffene (telefonisch)")
    page.get_by_role("button", name="Widerruf verbindlich erfassen").click()
    row = page.locator("tr", has_text="FK-E2E-1")
    assert "widerrufen" in row.inner_text() and "die Betroffene (telefonisch)" in row.inner_text()
    assert row.get_by_role("link", name="Widerruf erfassen").count() == 0
