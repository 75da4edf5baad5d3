"""A Fachkraft logs in, completes a task in the browser, and the next task appears for the police."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login, logout

pytestmark = pytest.mark.browser


def start_handover(page: Any, base: str) -> None:
    page.goto(f"{base}/prozesse/uebergabe/starten")
    page.locator("#task-form-submit").click()
    page.wait_for_url(f"{base}/vorgaenge/**")


def open_first_contact(page: Any, base: str) -> None:
    page.goto(f"{base}/aufgaben")
    page.get_by_role("link", name="Erstkontakt dokumentieren").first.click()
    page.wait_for_selector("#task-form input")


def test_fachkraft_completes_task_and_police_get_the_next(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "fachkraft.frauenberatung")
    start_handover(page, base)
    open_first_contact(page, base)
    page.get_by_label("Notiz").fill("Erstkontakt telefonisch, Beratung angenommen")
    page.locator("#task-form-submit").click()
    page.wait_for_url(f"{base}/aufgaben**")
    logout(page)

    login(page, base, "fachkraft.polizei")
    row = page.get_by_role("link", name="Rückmeldung an die Polizei")
    assert row.count() >= 1
    logout(page)

    login(page, base, "fachkraft2.frauenberatung")
    assert page.get_by_role("link", name="Rückmeldung an die Polizei").count() == 0


def test_server_side_field_errors_are_shown_and_input_kept(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "fachkraft.frauenberatung")
    start_handover(page, base)
    open_first_contact(page, base)
    page.get_by_label("Anzahl").fill("-5")
    page.locator("#task-form-submit").click()
    errors = page.locator("#task-form-errors")
    errors.wait_for(state="visible")
    assert page.url.startswith(f"{base}/aufgaben/")
    assert page.get_by_label("Anzahl").input_value() == "-5"
