"""The table view by keyboard only: a coordinator opens a draft of the case-conference process, moves
to the responsibility of its first task, picks another role with the arrow keys and saves with Enter;
no mouse click anywhere."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.browser

FIELD = "Zuständigkeit für „Anfrage prüfen“"


def keyboard_login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/anmelden")
    page.get_by_label("Benutzername").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/aufgaben**")


def activate(page: Any, locator: Any) -> None:
    """Move the keyboard focus to a control (as Tab would) and press Enter."""
    locator.focus()
    page.keyboard.press("Enter")


def test_coordinator_changes_a_candidate_by_keyboard(page: Any, live_server: str) -> None:
    base = live_server
    keyboard_login(page, base, "koordination.jugendamt")
    page.goto(f"{base}/modellierung/")
    versions = page.locator("section[aria-labelledby='prozess-fallkonferenz']")
    activate(page, versions.locator("button", has_text="Als Entwurf bearbeiten").first)
    page.wait_for_url(re.compile(r".*/modellierung/entwurf/\d+$"))
    activate(page, page.get_by_role("link", name="Als Tabelle bearbeiten (Tastatur)"))
    page.wait_for_url(re.compile(r".*/modellierung/entwurf/\d+/tabelle$"))
    draft_url = page.url.removesuffix("/tabelle")

    select = page.get_by_label(FIELD)
    assert select.evaluate("s => [...s.selectedOptions].map(o => o.value)") == ["Koordination"]
    select.focus()
    page.keyboard.press("ArrowDown")  # the next role in the list replaces Koordination
    chosen = select.evaluate("s => [...s.selectedOptions].map(o => o.value)")
    assert chosen and chosen != ["Koordination"]
    page.keyboard.press("Tab")  # to the people field of the same row
    assert page.evaluate("document.activeElement.id") == "Task_AnfragePruefen-benutzer"
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_load_state("load")

    assert "Gespeichert" in page.locator("main").inner_text()
    assert page.get_by_label(FIELD).evaluate("s => [...s.selectedOptions].map(o => o.value)") == chosen
    xml = page.request.get(f"{draft_url}/inhalt").text()
    assert f'camunda:candidateGroups="{",".join(chosen)}"' in xml
