"""P9 in the browser: a partner reports a change, the review form opens prefilled from the
directory, the update lands in the searchable directory; the diagrams of P9–P11 draw."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login, logout
from tests.e2e.test_fallkonferenz_flow import open_task, pick, submit

pytestmark = pytest.mark.browser

NEW_HOURS = "Notruf 110 rund um die Uhr; Opferschutz Mo–Do 8–15 Uhr, Fr 8–12 Uhr."


def test_change_notice_updates_the_directory(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "leitung.polizei")
    page.goto(f"{base}/prozesse/verzeichnispflege/starten")
    page.wait_for_selector("#task-form .fjs-form-field")
    pick(page, "Organisation", "Kreispolizeibehörde Soest")
    page.get_by_label("Änderungsmeldung der Organisation").check()
    page.get_by_label("Hinweis (optional)").fill("Neue Sprechzeiten des Opferschutzes.")
    submit(page)
    diagram_drawn(page)

    open_task(page, base, "Verzeichniseintrag prüfen")
    assert "Wohnungsverweisung" in page.get_by_label("Angebote").input_value()  # prefilled
    assert page.get_by_label("Funktion").first.input_value() == "Opferschutzbeauftragte"
    page.get_by_label("Erreichbarkeit").fill(NEW_HOURS)
    page.get_by_label("Gebärdensprache").check()
    page.get_by_label("aktualisiert – ich habe die Angaben geändert").check()
    submit(page)

    page.goto(f"{base}/verzeichnis")
    page.get_by_label("Suchbegriffe").fill("Opferschutz Gebärdensprache")
    page.get_by_role("button", name="Suchen").click()
    result = page.locator("section.directory-entry")
    assert result.count() == 1
    assert NEW_HOURS in result.inner_text() and "Kreispolizeibehörde Soest" in result.inner_text()
    logout(page)


def diagram_drawn(page: Any) -> None:
    page.wait_for_url("**/vorgaenge/**")
    page.wait_for_selector(".djs-container svg [data-element-id]")
    assert page.locator(".bpmn-diagram--failed").count() == 0


def test_press_release_and_agreement_review_diagrams_draw(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "koordination.jugendamt")
    page.goto(f"{base}/prozesse/pressemitteilung/starten")
    page.wait_for_selector("#task-form .fjs-form-field")
    page.get_by_label("Überschrift").fill("Fachtag Kinderschutz")
    page.get_by_label("Text der Pressemitteilung").fill("Das Netzwerk lädt zum Fachtag ein.")
    pick(page, "Anlass", "Veranstaltung (z. B. Fachtag)")
    submit(page)
    diagram_drawn(page)

    page.goto(f"{base}/prozesse/vereinbarungsueberpruefung/starten")
    page.wait_for_selector("#task-form .fjs-form-field")
    page.get_by_label("Gesetzesänderung", exact=True).check()
    page.get_by_label("Welche Gesetzesänderung?").fill("§ 34a PolG NRW: 14 statt 10 Tage")
    submit(page)
    diagram_drawn(page)

    # The diagram's buttons, step list and error text come from the page, so they are English there too.
    page.goto(page.url.split("?")[0] + "?lang=en")
    diagram_drawn(page)
    assert page.get_by_role("button", name="Zoom in").is_visible()
    assert page.get_by_role("button", name="Show the whole diagram").is_visible()
    assert "Current steps:" in page.locator(".visually-hidden[id^=bpmn-diagram-steps]").inner_text()
    assert page.get_by_role("button", name="Vergrößern").count() == 0
    page.goto(page.url.split("?")[0] + "?lang=de")
    logout(page)
