"""The Auswertung in the browser: a coordinator sees the charts (drawn by the vendored Chart.js)
and the data tables, switches the filter and finds the annual report; a Fachkraft cannot open it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login, logout

pytestmark = pytest.mark.browser


def test_coordinator_sees_charts_and_tables(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "koordination.jugendamt")
    page.get_by_role("link", name="Auswertung", exact=True).click()
    page.wait_for_url(f"{base}/auswertung")
    assert page.get_by_role("heading", name="Auswertung", level=1).is_visible()
    page.wait_for_selector("canvas[data-chart-ready='ja']")
    charts = page.locator("canvas[data-chart]")
    assert charts.count() >= 4
    assert page.locator("canvas[data-chart-ready='ja']").count() == charts.count()
    assert page.evaluate("typeof window.Chart") == "function"  # served from /static/vendor
    patterns = page.evaluate(
        """() => Array.from(document.querySelectorAll("canvas[data-chart]")).map(c =>
            c.chart.data.datasets.map(d =>
                d.backgroundColor instanceof CanvasPattern ? d.backgroundColor.hilfenetzMuster : null))"""
    )
    stacked = max(patterns, key=len)  # the referrals by outcome: four series
    assert len(stacked) == 4 and None not in stacked and len(set(stacked)) == 4  # not colour alone
    first = charts.first
    assert "Die genauen Werte stehen in der Tabelle darunter." in (first.get_attribute("aria-label") or "")
    assert first.bounding_box()["height"] > 100
    table = page.get_by_role("table", name="Vermittlungen an die Beratungsstelle (P1) je Monat")
    assert table.get_by_role("columnheader", name="Annahmequote").is_visible()
    assert table.get_by_role("rowheader", name="Summe").is_visible()
    assert page.get_by_role("table", name="Überfällige Aufgaben je Organisation").is_visible()

    page.get_by_label("Organisation", exact=True).select_option(label="Frauenberatung Soest")
    page.get_by_role("button", name="Anzeigen").click()
    page.wait_for_url("**/auswertung?**organisation=frauenberatung-soest**")
    assert "Fälle, an denen Frauenberatung Soest beteiligt war" in page.locator("main").inner_text()
    page.wait_for_selector("canvas[data-chart-ready='ja']")

    with page.expect_download() as download:
        page.locator("a[href$='.pdf']").first.click()
    assert download.value.suggested_filename.startswith("hilfenetz-jahresbericht-")
    logout(page)


def test_a_fachkraft_cannot_open_it(page: Any, live_server: str) -> None:
    base = live_server
    login(page, base, "fachkraft.frauenberatung")
    assert page.get_by_role("link", name="Auswertung", exact=True).count() == 0
    response = page.goto(f"{base}/auswertung")
    assert response is not None and response.status == 403
    assert page.locator("canvas").count() == 0
    logout(page)
