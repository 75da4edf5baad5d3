"""The anonymity guard in the browser: a case-conference request naming a person shows each finding
under the field, offers the reason box, and goes through once a reason is typed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login
from tests.e2e.test_fallkonferenz_flow import pick, submit

pytestmark = pytest.mark.browser


def test_request_with_a_name_is_refused_then_sent_with_a_reason(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "fachkraft.frauenberatung")
    page.goto(f"{base}/prozesse/fallkonferenz/starten")
    page.wait_for_selector("#task-form textarea")
    assert page.locator("#anonymity-override").is_hidden()
    page.get_by_label("Anlass").fill("Frau Yılmaz wird von ihrem Mann bedroht")
    page.get_by_label("Fragestellung an die Fallkonferenz").fill("Wie sichern wir Schutz und Begleitung ab?")
    pick(page, "Gefährdungseinschätzung", "hoch")
    pick(page, "Altersgruppe der betroffenen Person", "30 bis 44 Jahre")
    page.get_by_label("Anzahl der Kinder im Haushalt").fill("1")
    page.get_by_label("körperliche Gewalt").check()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(400)
    page.locator("#task-form-submit").click()
    page.wait_for_selector("#anonymity-override:not([hidden])")
    errors = page.locator("#task-form-errors").inner_text()
    assert "Name „Yılmaz“" in errors
    assert "Name „Yılmaz“" in page.locator("#task-form .fjs-form-field-error").first.inner_text()
    page.get_by_label("Begründung für die Ausnahme (mindestens 10 Zeichen)").fill(
        "Identifizierte Konferenz, die Einwilligung liegt schriftlich vor"
    )
    submit(page)
