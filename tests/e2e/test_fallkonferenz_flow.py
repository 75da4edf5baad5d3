"""P4 Fallkonferenz in the browser: request, check, organise, answers, minutes task.

Drives the real form-js widgets (select, taglist, date picker, conditional fields) as a person
would, across five accounts of four organisations.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import login, logout

pytestmark = pytest.mark.browser


def open_task(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/aufgaben")
    page.get_by_role("link", name=name).first.click()
    page.wait_for_selector("#task-form .fjs-form-field")


def submit(page: Any) -> None:
    page.evaluate("document.activeElement && document.activeElement.blur()")  # flush the last field
    page.wait_for_timeout(400)  # form-js debounces typed input
    page.locator("#task-form-submit").click()
    try:
        page.wait_for_url(
            lambda url: url.split("?")[0].endswith(("/aufgaben", "/aufgaben/")) or "/vorgaenge/" in url
        )
    except Exception:
        errors = page.locator("#task-form-errors").inner_text()
        page.screenshot(path="/tmp/e2e_failure.png", full_page=True)
        raise AssertionError(f"Formular nicht abgeschickt: {errors}") from None


def pick(page: Any, label: str, option: str) -> None:
    field = page.locator(".fjs-form-field-select").filter(has_text=label)
    field.locator(".fjs-input-group").click()
    field.locator(".fjs-dropdownlist-item", has_text=option).first.click()


def enter_date(field: Any, day: date) -> None:
    """Type a date into a form-js date field and confirm it with Enter, as a keyboard user would.

    Clicking a day in the flatpickr calendar raced with form-js's own blur handling under load:
    the input showed the date while the form's state stayed empty.
    """
    field.click()
    field.fill(day.strftime("%d.%m.%Y"))  # the browser runs with locale de-DE
    field.press("Enter")
    field.press("Escape")


def type_and_leave_at_once(field: Any, text: str) -> None:
    """Type into a form-js field and leave it in the same moment, as happens on a busy, slow PC:
    the time picker's blur handler then still sees the text from before (empty) and drops the
    time. The task form must still send what the field shows."""
    field.evaluate(
        """(input, text) => {
            input.focus();
            input.value = text;
            input.dispatchEvent(new Event('input', { bubbles: true }));
            input.blur();
        }""",
        text,
    )


def tag(page: Any, label: str, option: str) -> None:
    field = page.locator(".fjs-form-field-taglist").filter(has_text=label)
    field.locator("input").fill(option.split()[0])
    field.locator(".fjs-dropdownlist-item", has_text=option).first.click()
    page.keyboard.press("Escape")


def test_fallkonferenz_from_request_to_minutes(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "fachkraft.frauenberatung")
    page.goto(f"{base}/prozesse/fallkonferenz/starten")
    page.wait_for_selector("#task-form textarea")
    page.get_by_label("Anlass").fill("Wiederholte Gewalt, Kontaktverbot missachtet")
    page.get_by_label("Fragestellung an die Fallkonferenz").fill("Wie sichern wir Schutz und Begleitung ab?")
    pick(page, "Gefährdungseinschätzung", "hoch")
    pick(page, "Altersgruppe der betroffenen Person", "30 bis 44 Jahre")
    page.get_by_label("körperliche Gewalt").check()
    submit(page)
    logout(page)

    login(page, base, "koordination.jugendamt")
    open_task(page, base, "Anfrage prüfen")
    page.get_by_label("annehmen – anonyme Fallkonferenz").check()
    submit(page)
    logout(page)

    login(page, base, "fachkraft2.frauenberatung")  # a colleague of the requesting organisation
    open_task(page, base, "Fallkonferenz organisieren")
    page.get_by_label("Termin festlegen und einladen").check()
    enter_date(page.get_by_label("Datum").first, date.today() + timedelta(days=21))  # never in the past
    type_and_leave_at_once(page.get_by_label("Uhrzeit").first, "10:00")
    page.get_by_label("Ort bzw. Format").fill("Videokonferenz")
    page.keyboard.press("Tab")  # leave the field, so form-js's debounced update lands first
    page.wait_for_timeout(400)
    tag(page, "Einzuladende Organisationen", "Kreispolizeibehörde Soest")
    tag(page, "Einzuladende Organisationen", "Weisser Ring")
    submit(page)
    logout(page)

    login(page, base, "fachkraft.polizei")  # full-time partner: a decline needs an official reason
    open_task(page, base, "Teilnahme beantworten")
    page.get_by_label("Wir sagen ab").check()
    page.get_by_label("Dienstlicher Grund der Absage").fill("Einsatzlage am Termin")
    page.get_by_label("Ich bestätige, dass dienstliche Gründe der Teilnahme entgegenstehen").check()
    submit(page)
    logout(page)

    login(page, base, "ehrenamt.weisser-ring")  # volunteer: declines freely
    open_task(page, base, "Teilnahme beantworten")
    page.get_by_label("Wir sagen ab").check()
    page.wait_for_timeout(300)
    assert page.get_by_label("Dienstlicher Grund der Absage").count() == 0
    submit(page)
    logout(page)

    login(page, base, "fachkraft.frauenberatung")
    assert page.get_by_role("link", name="Fallkonferenz durchführen und protokollieren").count() == 1
    logout(page)
    login(page, base, "fachkraft.polizei")
    assert page.get_by_role("link", name="Fallkonferenz durchführen und protokollieren").count() == 0
