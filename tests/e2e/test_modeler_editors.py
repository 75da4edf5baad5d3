"""The three in-browser editors (bpmn-js, form-js, dmn-js) open a draft under the app's CSP.

Each page is checked for console errors and uncaught exceptions: a library that needed eval or an
inline script would show up here as a "Refused to …" console error. German labels on German pages,
English on English ones.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.settings import REPO_ROOT
from tests.e2e.conftest import login
from webapp.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.browser

COORDINATOR = "koordination.jugendamt"
# dmn-js 17 bundles a development build of Inferno, which announces itself with console.error
# on every page load. It is a notice from the library, not a failure of ours.
LIBRARY_NOTICES = (re.compile(r"minified copy of the development build of Inferno"),)


def watch_console(page: Any) -> list[str]:
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in LIBRARY_NOTICES):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return problems


def open_case_conference_draft(page: Any, base: str) -> str:
    """A BPMN draft from the deployed case-conference process; returns the editor's URL."""
    page.goto(f"{base}/modellierung/")
    section = page.locator("section", has=page.locator("h2", has_text="(fallkonferenz)"))
    section.get_by_role("button", name=re.compile("Als Entwurf bearbeiten")).first.click()
    page.wait_for_url(re.compile(r".*/modellierung/entwurf/\d+$"))
    return str(page.url)


def expect_opened(page: Any, text: str = "Der Entwurf ist geöffnet.") -> None:
    expect(page.locator("#modeler-status")).to_have_text(text, timeout=30000)


def test_bpmn_editor_with_properties_panel_in_german_and_english(live_server: str, page: Any) -> None:
    problems = watch_console(page)
    login(page, live_server, COORDINATOR)
    url = open_case_conference_draft(page, live_server)
    response = page.goto(url)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    expect_opened(page)
    expect(page.locator(".djs-palette").get_by_role("button", name="Aufgabe erzeugen")).to_be_visible()
    page.evaluate(
        "() => { const m = window.hilfenetzModeler.modeler;"
        " m.get('selection').select(m.get('elementRegistry').get('Task_AnfragePruefen')); }"
    )
    panel = page.locator(".modeler-panel")
    expect(panel.get_by_text("Zuständigkeit", exact=True)).to_be_visible()
    expect(panel.get_by_text("Allgemein", exact=True)).to_be_visible()

    page.goto(url + "?lang=en")
    expect_opened(page, "The draft is open.")
    expect(page.locator(".djs-palette").get_by_role("button", name="Create task")).to_be_visible()
    page.goto(url + "?lang=de")
    assert problems == []


def test_form_editor_opens_a_new_form_of_the_change(live_server: str, page: Any) -> None:
    problems = watch_console(page)
    login(page, live_server, COORDINATOR)
    open_case_conference_draft(page, live_server)
    page.get_by_label(re.compile("Formular-Kennung")).fill("fallkonferenz_editortest")
    page.get_by_role("button", name="Formular hinzufügen").click()
    expect_opened(page)
    expect(page.locator(".fjs-editor-container")).to_be_visible()
    textfield = page.locator(".fjs-palette-field[data-field-type='textfield']")
    expect(textfield).to_have_text("Textfeld")
    expect(textfield).to_have_attribute("title", "Baustein „Textfeld“ anlegen")
    expect(page.get_by_placeholder("Bausteine suchen")).to_be_visible()
    assert problems == []


def test_dmn_editor_opens_an_uploaded_table(live_server: str, page: Any) -> None:
    problems = watch_console(page)
    login(page, live_server, COORDINATOR)
    page.goto(f"{live_server}/modellierung/neu")
    table = REPO_ROOT / "processes" / "jugendamt_zustaendigkeit.dmn"
    page.locator("#upload-datei").set_input_files(str(table))
    page.get_by_role("button", name="Hochladen").click()
    page.wait_for_url(re.compile(r".*/modellierung/entwurf/\d+$"))
    expect_opened(page)
    expect(page.locator(".tjs-table")).to_be_visible()
    expect(page.get_by_text("Trefferregel:", exact=True)).to_be_visible()

    cell = page.locator("td[data-element-id='UnaryTests_Soest'] [contenteditable='true']")
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Soest?")  # FEEL has no ? (and Soest without quotes is no text)
    page.locator("#modeler-check").click()
    problem = page.locator("#modeler-problems button", has_text="Rule_Soest")
    expect(problem).to_contain_text("unerwartetes Zeichen")
    problem.click()
    expect(page.locator("td.hn-problem[data-row-id='Rule_Soest']").first).to_be_visible()
    assert problems == []


HUGE_DOCUMENTATION = """() => {
  const modeler = window.hilfenetzModeler.modeler;
  const task = modeler.get('elementRegistry').get('Task_AnfragePruefen');
  const text = 'Zu lang. '.repeat(400000);
  const documentation = modeler.get('moddle').create('bpmn:Documentation', { text: text });
  modeler.get('modeling').updateProperties(task, { documentation: [documentation] });
}"""


def test_a_refused_save_says_why_in_german_and_keeps_the_changes(live_server: str, page: Any) -> None:
    login(page, live_server, COORDINATOR)
    url = open_case_conference_draft(page, live_server)
    expect_opened(page)
    page.evaluate(HUGE_DOCUMENTATION)  # 3.6 MB: more than a draft may hold (2,000,000 bytes)
    page.locator("#modeler-save").click()
    expect(page.locator("#modeler-status")).to_have_text(  # the engine's limit, not the request limit
        re.compile(
            r"^Der Inhalt wurde nicht angenommen: Der Inhalt ist zu groß "
            r"\(3\.\d{3}\.\d{3} Bytes, erlaubt sind höchstens 2\.000\.000 Bytes\)\.$"
        )
    )
    assert page.locator("#modeler-root").get_attribute("data-dirty") == "true"
    still_in_editor = page.evaluate("async () => (await window.hilfenetzModeler.content()).length")
    assert still_in_editor > 3_000_000
    stored = page.request.get(url + "/inhalt").text()
    assert "Zu lang." not in stored and "Task_AnfragePruefen" in stored

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    page.close(run_before_unload=True)
    page.wait_for_event("close")
    assert dialogs == ["beforeunload"]


def test_a_save_over_a_newer_one_is_refused_and_the_changes_stay(live_server: str, page: Any) -> None:
    login(page, live_server, COORDINATOR)
    url = open_case_conference_draft(page, live_server)
    expect_opened(page)
    other = page.context.new_page()  # the same draft in a second tab, saved there first
    other.goto(url)
    expect_opened(other)
    rename = "name => { const m = window.hilfenetzModeler.modeler; const r = m.get('elementRegistry');"
    rename += " m.get('modeling').updateProperties(r.get('Task_AnfragePruefen'), { name: name }); }"
    other.evaluate(rename, "Anfrage prüfen (Tab 2)")
    other.locator("#modeler-save").click()
    expect(other.locator("#modeler-status")).to_contain_text("Gespeichert")

    page.evaluate(rename, "Anfrage prüfen (Tab 1)")
    page.locator("#modeler-save").click()
    expect(page.locator("#modeler-status")).to_contain_text(
        "Der Inhalt wurde nicht angenommen: Der Entwurf wurde inzwischen von jemand anderem gespeichert."
    )
    assert page.locator("#modeler-root").get_attribute("data-dirty") == "true"
    stored = page.request.get(url + "/inhalt").text()
    assert "Tab 2" in stored and "Tab 1" not in stored
    other.close()
