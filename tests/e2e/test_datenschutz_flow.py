"""Browser: the data-protection officer finds an account, checks its erasure plan with reasons, and a
Fachkraft downloads her own data from "Meine Daten" — by keyboard and labels only."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import login, logout


def test_officer_searches_and_checks_an_erasure_plan(page: Any, live_server: str) -> None:
    login(page, live_server, "datenschutz.kreis")
    page.get_by_role("link", name="Datenschutz").click()
    page.wait_for_url(f"{live_server}/datenschutz")
    assert page.get_by_role("heading", name="Löschvorschau: die nächsten 30 Tage").is_visible()
    search = page.get_by_label("Name, Benutzername oder Pseudonym")
    search.fill("Probe")
    search.press("Enter")
    table = page.get_by_role("table", name="Gefundene Personen")
    assert table.get_by_role("cell", name="Lena Probe", exact=True).is_visible()
    page.get_by_role("button", name=re.compile(r"^Löschung prüfen\s*: Lena Probe$")).click()
    assert page.get_by_role("heading", name="Löschung nach Art. 17 DSGVO").is_visible()
    assert page.get_by_text("Das Konto ist noch aktiv").is_visible()
    page.get_by_role("button", name="Löschung ausführen").click()  # the confirmation box is required
    assert page.get_by_label("Ich habe die Einträge geprüft", exact=False).evaluate("e => !e.validity.valid")
    logout(page)


def test_fachkraft_downloads_her_own_data(page: Any, live_server: str) -> None:
    login(page, live_server, "fachkraft.frauenberatung")
    page.get_by_role("link", name="Meine Daten", exact=True).click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Meine Daten als PDF").click()
    assert info.value.suggested_filename.endswith(".pdf")
    assert page.get_by_role("link", name="Datenschutz", exact=True).count() == 0
