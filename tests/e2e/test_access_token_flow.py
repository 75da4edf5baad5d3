"""Browser: a Fachkraft creates a personal access token by keyboard, uses it for the REST API (the
browser's own session cookie opens nothing there), and revokes it."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import login


def test_fachkraft_creates_uses_and_revokes_a_token(page: Any, live_server: str) -> None:
    login(page, live_server, "fachkraft2.frauenberatung")
    page.get_by_role("link", name="Zugangstoken", exact=True).click()
    page.wait_for_url(f"{live_server}/konto/zugangstoken")
    assert page.get_by_role("heading", name="Persönliche Zugangstoken").is_visible()
    page.get_by_label("Name").fill("Fachverfahren")
    page.get_by_label(re.compile("^Schreiben")).focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Token erstellen").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Ihr neues Zugangstoken").wait_for()
    secret = page.get_by_label("Ihr neues Zugangstoken").input_value()
    assert re.fullmatch(r"hn_[A-Za-z0-9_-]{43}", secret)
    assert page.get_by_role("status").get_by_text("nur dieses eine Mal", exact=False).is_visible()

    api = f"{live_server}/api/v1/tasks?view=meine"
    assert page.request.get(api, headers={"Authorization": f"Bearer {secret}"}).status == 200
    refused = page.request.get(api)  # the session cookie goes along, but does not count
    assert refused.status == 401 and refused.json()["code"] == 401

    page.get_by_role("button", name=re.compile(r"^Widerrufen\s*: Fachverfahren$")).focus()
    page.keyboard.press("Enter")
    page.get_by_text("Das Zugangstoken wurde widerrufen.").wait_for()
    assert page.request.get(api, headers={"Authorization": f"Bearer {secret}"}).status == 401
