"""Issue 5's "Done means" in the browser: change the case-conference process (P4) with four eyes.

A coordinator adds a user task with a new form to P4, the check flags the missing candidates,
she fixes them in the properties panel, saves and submits; a second coordinator approves after
seeing the diff. A new case conference runs on the new version, an old one stays on the old
version, another old one is moved to the new version after a dry run.

The module has a server of its own: deploying a new P4 must not change what the other browser
tests see. Drawing on the canvas needs pointer input, so the new task is placed with bpmn-js's
modeling API (page.evaluate), as the palette would; everything else goes through the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, logout, serve_app
from tests.e2e.test_accessibility import check
from tests.e2e.test_fallkonferenz_flow import pick, submit
from tests.e2e.test_modeler_editors import open_case_conference_draft, watch_console

pytestmark = pytest.mark.browser

AUTHOR = "koordination.jugendamt"
REVIEWER = "koordination.frauenberatung"
REQUESTER = "fachkraft.frauenberatung"
NEW_TASK = "Task_UmsetzungBestaetigen"
NEW_FORM = "fallkonferenz_bestaetigung"

# Inside the measures sub-process: after "Maßnahme umsetzen", before "Stand festhalten".
ADD_TASK = """([taskId, formKey]) => {
  const modeler = window.hilfenetzModeler.modeler;
  const registry = modeler.get('elementRegistry');
  const modeling = modeler.get('modeling');
  const before = registry.get('Task_MassnahmeUmsetzen');
  const after = registry.get('Script_MassnahmeFesthalten');
  const position = { x: before.x + before.width / 2 + 40, y: before.y + before.height + 90 };
  const task = modeling.createShape({ type: 'bpmn:UserTask' }, position, before.parent);
  modeling.updateProperties(task, { id: taskId, name: 'Umsetzung bestätigen' });
  modeling.updateModdleProperties(task, task.businessObject,
    { 'camunda:formRef': formKey, 'camunda:formRefBinding': 'latest' });
  modeling.removeConnection(registry.get('Flow_M2'));
  modeling.connect(before, task);
  modeling.connect(task, after);
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("modeler")) as base:
        yield base


def start_case_conference(page: Any, base: str) -> int:
    """Start P4 as the requesting member; returns the instance id from the instance page."""
    page.goto(f"{base}/prozesse/fallkonferenz/starten")
    page.wait_for_selector("#task-form textarea")
    page.get_by_label("Anlass").fill("Wiederholte Gewalt, Kontaktverbot missachtet")
    page.get_by_label("Fragestellung an die Fallkonferenz").fill("Wie sichern wir Schutz und Begleitung ab?")
    pick(page, "Gefährdungseinschätzung", "hoch")
    pick(page, "Altersgruppe der betroffenen Person", "30 bis 44 Jahre")
    page.get_by_label("körperliche Gewalt").check()
    submit(page)
    match = re.search(r"/vorgaenge/(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


def version_of(page: Any, base: str, instance_id: int) -> str:
    page.goto(f"{base}/vorgaenge/{instance_id}")
    text = page.locator("dd", has_text=re.compile(r"Version \d+")).first.inner_text()
    found = re.search(r"Version (\d+)", text)
    assert found, text
    return found.group(1)


def diagram_of(page: Any, base: str, instance_id: int) -> str:
    """The BPMN the instance page's diagram shows (the version the instance runs on)."""
    page.goto(f"{base}/vorgaenge/{instance_id}")
    url = page.locator(".bpmn-diagram").first.get_attribute("data-xml-url")
    response = page.request.get(base + url)
    assert response.ok, url
    return str(response.text())


def expect_status(page: Any, text: str) -> None:
    expect(page.locator("#modeler-status")).to_have_text(text, timeout=30000)


def open_p4_draft(page: Any, base: str) -> str:
    url = open_case_conference_draft(page, base)
    expect_status(page, "Der Entwurf ist geöffnet.")
    return url


def create_form(page: Any) -> None:
    """Add the new form to the change and give it one field in the form-js editor (keyboard)."""
    page.get_by_label(re.compile("Formular-Kennung")).fill(NEW_FORM)
    page.get_by_role("button", name="Formular hinzufügen").click()
    expect_status(page, "Der Entwurf ist geöffnet.")
    page.locator(".fjs-palette-field[data-field-type='textarea']").press("Enter")
    page.locator(".fjs-editor-container .fjs-form-field-textarea").last.click()  # select it
    panel = page.locator(".fjs-properties-panel")
    panel.get_by_text("Allgemein", exact=True).click()
    panel.get_by_label("Beschriftung", exact=True).fill("Wie wurde die Maßnahme umgesetzt?")
    panel.get_by_label("Schlüssel (Variablenname)").fill("umsetzung_bericht")
    panel.get_by_label("Schlüssel (Variablenname)").press("Tab")
    page.wait_for_timeout(400)  # the panel debounces typed input
    page.locator("#modeler-save").click()
    expect(page.locator("#modeler-status")).to_contain_text("Gespeichert", timeout=30000)
    check(page, "Formular-Editor mit gewähltem Feld und offenem Eigenschaftenbereich")
    schema = page.evaluate("() => window.hilfenetzModeler.editor.saveSchema()")
    assert [c.get("key") for c in schema["components"]] == ["umsetzung_bericht"]


def add_task_and_fix_candidates(page: Any, bpmn_url: str) -> None:
    page.goto(bpmn_url)
    expect_status(page, "Der Entwurf ist geöffnet.")
    page.evaluate(ADD_TASK, [NEW_TASK, NEW_FORM])
    assert page.locator("#modeler-root").get_attribute("data-dirty") == "true"

    page.locator("#modeler-check").click()
    expect(page.locator("#modeler-status")).to_contain_text("Gefundene Probleme: 1", timeout=30000)
    problem = page.locator("#modeler-problems button", has_text=NEW_TASK)
    expect(problem).to_contain_text("keine Zuständigkeit")
    problem.click()
    expect_status(page, f"Element {NEW_TASK} ist im Editor markiert und ausgewählt.")
    expect(page.locator(f".djs-element.hn-problem[data-element-id='{NEW_TASK}']")).to_have_count(1)
    selected = page.evaluate("() => window.hilfenetzModeler.modeler.get('selection').get().map(e => e.id)")
    assert selected == [NEW_TASK]

    panel = page.locator(".modeler-panel")
    expect(panel.locator(".bio-properties-panel-header-label")).to_have_text("Umsetzung bestätigen")
    expect(panel.locator(".bio-properties-panel-header-type")).to_have_text("Benutzeraufgabe")
    panel.get_by_text("Zuständigkeit", exact=True).click()
    check(page, "BPMN-Editor mit Problemliste und gewählter Aufgabe")
    groups = panel.get_by_label(re.compile("Zuständige Gruppen"))
    groups.fill("Koordination")
    groups.press("Tab")
    page.wait_for_timeout(400)  # the panel debounces typed input

    page.locator("#modeler-check").click()
    expect_status(page, "Geprüft: keine Probleme gefunden.")
    page.locator("#modeler-save").click()
    expect_status(page, "Gespeichert. Keine Probleme gefunden.")
    assert page.locator("#modeler-root").get_attribute("data-dirty") is None


def test_coordinators_change_p4_with_four_eyes_and_migrate_an_instance(server: str, page: Any) -> None:
    base = server
    console_errors = watch_console(page)
    login(page, base, REQUESTER)
    stays, moves = start_case_conference(page, base), start_case_conference(page, base)
    old_version = version_of(page, base, stays)
    logout(page)

    login(page, base, AUTHOR)
    bpmn_url = open_p4_draft(page, base)
    create_form(page)
    add_task_and_fix_candidates(page, bpmn_url)
    page.get_by_role("button", name="Zur Freigabe vorlegen").click()
    page.wait_for_url(re.compile(r".*/freigabe$"))
    review_url = str(page.url)
    expect(page.get_by_text("Vier-Augen-Prinzip")).to_be_visible()  # not her own approval
    logout(page)

    login(page, base, REVIEWER)
    page.goto(review_url)
    added = page.locator("tr.diff-row", has=page.locator("th", has_text=NEW_TASK))
    expect(added.first).to_be_visible()
    side_by_side = page.locator(".review-side-by-side[data-kind='bpmn'][data-ready='true']")
    expect(side_by_side).to_have_count(1)
    expect(side_by_side.locator(f".djs-element.hn-diff-added[data-element-id='{NEW_TASK}']")).to_have_count(1)
    expect(side_by_side.locator(".djs-element.hn-diff-removed[data-element-id='Flow_M2']")).to_have_count(1)
    expect(page.locator("section", has_text=f"{NEW_FORM}.form")).to_be_visible()
    page.get_by_role("button", name="Freigeben und bereitstellen").click()
    expect(page.locator(".flash-messages")).to_contain_text("Freigegeben")
    logout(page)

    login(page, base, REQUESTER)
    new = start_case_conference(page, base)
    new_version = version_of(page, base, new)
    assert new_version != old_version
    assert NEW_TASK in diagram_of(page, base, new)
    assert version_of(page, base, stays) == old_version
    assert NEW_TASK not in diagram_of(page, base, stays)
    logout(page)

    login(page, base, AUTHOR)
    page.goto(f"{base}/modellierung/migration/fallkonferenz")
    page.locator(f"#vorgang-{moves}").check()
    page.get_by_role("button", name="Probelauf").click()
    result = page.locator("#migration-ergebnis")
    expect(result).to_contain_text("Ergebnis des Probelaufs")
    expect(result.locator("tr", has_text=f"#{moves}")).to_contain_text("umstellbar")
    check(page, "Vorgänge umstellen mit Ergebnis des Probelaufs")
    page.get_by_role("button", name="Umstellen").click()
    expect(result).to_contain_text("Ergebnis der Umstellung")
    expect(result.locator("tr", has_text=f"#{moves}")).to_contain_text("umgestellt")
    check(page, "Vorgänge umstellen mit Ergebnis der Umstellung")
    logout(page)

    login(page, base, REQUESTER)
    assert version_of(page, base, moves) == new_version
    assert NEW_TASK in diagram_of(page, base, moves)
    assert version_of(page, base, stays) == old_version
    assert console_errors == []
