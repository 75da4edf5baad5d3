"""P1 in the browser: the police record a call-out with consent and children; the counselling
centre and the right youth offices each see their task; an uninvolved organisation sees nothing.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from tests.e2e.conftest import login, logout
from tests.e2e.test_fallkonferenz_flow import enter_date, open_task, pick, submit

pytestmark = pytest.mark.browser

VICTIM = "Erika Beispiel"


def field(page: Any, kind: str, label: str) -> Any:
    return page.locator(f".fjs-form-field-{kind}").filter(has_text=label)


def choose(page: Any, label: str, option: str) -> None:
    field(page, "radio", label).get_by_label(option, exact=True).check()


def tick(page: Any, label: str, option: str) -> None:
    field(page, "checklist", label).get_by_label(option, exact=True).check()


def today(page: Any, label: str) -> None:
    enter_date(page.get_by_label(label), date.today())


def record_call_out(page: Any, base: str) -> int:
    page.goto(f"{base}/prozesse/polizeieinsatz/starten")
    page.wait_for_selector("#task-form .fjs-form-field")
    today(page, "Datum des Einsatzes")
    pick(page, "Gemeinde des Einsatzorts", "Soest")
    page.get_by_label("Strafanzeige von Amts wegen aufgenommen").check()
    choose(page, "Wohnungsverweisung und Rückkehrverbot", "nein")
    choose(page, "Kinder im Haushalt", "ja")
    page.get_by_label("Anzahl der Kinder").fill("2")
    tick(page, "Gemeinden des gewöhnlichen Aufenthalts der Kinder", "Warstein")
    tick(page, "Gemeinden des gewöhnlichen Aufenthalts der Kinder", "Lippstadt")
    choose(page, "willigt in die Weitergabe ihrer Kontaktdaten ein", "ja")
    tick(page, "Die Kontaktdaten dürfen erhalten", "Frauenberatung Soest")
    today(page, "Datum der Einwilligung")
    tick(page, "Umfang der Einwilligung", "Die Beratungsstelle darf von sich aus Kontakt aufnehmen")
    tick(page, "Umfang der Einwilligung", "Weitergabe von Name, Anschrift und Telefonnummer")
    page.get_by_label("Name der Betroffenen").fill(VICTIM)
    page.get_by_label("Sichere Telefonnummer").fill("0170 1234567")
    submit(page)
    match = re.search(r"/vorgaenge/(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


def assess_risk(page: Any, base: str) -> None:
    open_task(page, base, "Gefährdungseinschätzung (DASH)")
    items = page.locator(".fjs-form-field-radio").filter(has=page.get_by_label("unbekannt", exact=True))
    for index in range(items.count()):
        items.nth(index).get_by_label("nein", exact=True).check()
    choose(page, "Fachliche Einschätzung des Risikos", "Standardrisiko")
    page.get_by_label("Begründung der fachlichen Einschätzung").fill("Keine Hinweise auf erhöhtes Risiko.")
    submit(page)


def test_call_out_with_consent_and_children_reaches_exactly_the_right_organisations(
    page: Any, live_server: str
) -> None:
    base = live_server
    login(page, base, "fachkraft.polizei")
    case = record_call_out(page, base)
    assert VICTIM not in page.content()  # the case page never shows contact data
    assess_risk(page, base)
    logout(page)

    login(page, base, "fachkraft.frauenberatung")
    open_task(page, base, "Betroffene proaktiv kontaktieren")
    panel = page.locator("section.contact-data")
    assert VICTIM in panel.inner_text() and "0170 1234567" in panel.inner_text()
    counselling_task = page.url
    logout(page)

    for youth_office in ("fachkraft.jugendamt-warstein", "fachkraft.jugendamt-lippstadt"):
        login(page, base, youth_office)
        assert page.get_by_role("link", name="Meldung aufnehmen").count() == 1
        open_task(page, base, "Meldung aufnehmen")
        assert VICTIM not in page.content()  # consent named only the Frauenberatung
        logout(page)

    login(page, base, "fachkraft.jugendamt-soest")  # no child lives in Soest
    assert page.get_by_role("link", name="Meldung aufnehmen").count() == 0
    logout(page)

    login(page, base, "ehrenamt.weisser-ring")
    for name in ("Meldung aufnehmen", "Betroffene proaktiv kontaktieren", "Gefährdungseinschätzung (DASH)"):
        assert page.get_by_role("link", name=name).count() == 0
    for url in (counselling_task, f"{base}/vorgaenge/{case}"):
        response = page.goto(url)
        assert response is not None and response.status == 404
        assert VICTIM not in page.content()
