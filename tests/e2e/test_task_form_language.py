"""js/task_form.js takes its own messages from the page: on an English page the error summary,
the draft confirmation and the form's label are English (German stays the default)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Site, start_p4, task_of

pytestmark = pytest.mark.browser


def sign_in(page: Any, site: Site, username: str, lang: str) -> None:
    page.goto(f"{site.base}/anmelden?lang={lang}")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{site.base}/aufgaben**")


@pytest.mark.parametrize(
    ("lang", "summary", "draft", "other"),
    [
        ("en", "Please check your entries.", "Draft saved (", "Bitte prüfen Sie"),
        ("de", "Bitte prüfen Sie Ihre Eingaben.", "Entwurf gespeichert (", "Please check"),
    ],
)
def test_task_form_messages_follow_the_page_language(
    page: Any, site: Site, lang: str, summary: str, draft: str, other: str
) -> None:
    sign_in(page, site, "fachkraft.frauenberatung", lang)
    page.goto(f"{site.base}/prozesse/fallkonferenz/starten?lang={lang}")
    page.locator("#task-form .fjs-form").wait_for()
    page.locator("#task-form-submit").click()
    errors = page.locator("#task-form-errors")
    expect(errors.locator("p").first).to_have_text(summary)
    assert other not in errors.inner_text()

    instance_id = start_p4(site.hn)
    task_id = task_of(site.hn, "koordination.jugendamt", instance_id, "Task_AnfragePruefen")
    sign_out_and_in(page, site, "koordination.jugendamt", lang)
    page.goto(f"{site.base}/aufgaben/{task_id}?lang={lang}")
    page.locator("#task-form .fjs-form").wait_for()
    page.locator("#task-form-draft").click()
    expect(page.locator("#task-form-status")).to_contain_text(draft)


def sign_out_and_in(page: Any, site: Site, username: str, lang: str) -> None:
    page.context.clear_cookies()
    sign_in(page, site, username, lang)
