"""Keyboard only: no mouse, no .click(), no .fill() — only page.keyboard (Tab, Shift+Tab, Enter,
Space, arrow keys, typing) on elements reached by Tab. After every Tab the focused element must
show a visible focus indicator (its outline or box-shadow differs from its unfocused state) and
focus must not fall to <body> except past the end of the page; tabbing through a whole page must
come back to its start (no keyboard trap, also not in the form-js form, the diagram viewer, the
modelling editor or the side-by-side diagrams of an approval).

A Fachkraft answers a case-conference invitation (P4) from the worklist, a steering-group member
votes on a ballot, and a member requests a case conference (P4 start)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Site, actor_lookup, open_ballot, scenario, start_p4, task_of

pytestmark = pytest.mark.browser

MAX_TABS = 250
#: Reads the focused element; compares the element focused before with how it looks now (unfocused).
FOCUS_PROBE = """() => {
  const look = (el) => {
    const s = getComputedStyle(el);
    return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor].join('|');
  };
  const ring = (el) => {
    const s = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const drawn = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
    return drawn && box.width > 0 && box.height > 0;
  };
  const el = document.activeElement;
  const body = !el || el === document.body || el === document.documentElement;
  // Widgets that focus a hidden input (form-js select) draw the ring on a visible wrapper.
  let shown = body ? null : el;
  for (let up = el, i = 0; !body && up && i < 3 && !ring(shown); i += 1) {
    up = up.parentElement;
    if (up && up.matches(':focus-within') && ring(up)) { shown = up; }
  }
  const prev = window.__hnPrev;
  const prevUnchanged = !!prev && prev !== shown && prev.isConnected && !prev.contains(el)
    && prev.getClientRects().length > 0 && look(prev) === window.__hnPrevLook;
  const label = el && el.labels && el.labels[0] ? el.labels[0].textContent : '';
  const text = body ? '' : (el.getAttribute('aria-label') || label || el.textContent || el.value || '');
  const result = {
    body: body, tag: body ? 'BODY' : el.tagName, id: body ? '' : el.id, type: body ? '' : (el.type || ''),
    label: text.replace(/\\s+/g, ' ').trim().slice(0, 60), indicator: !body && ring(shown),
    prevUnchanged: prevUnchanged, prevLabel: window.__hnPrevLabel || '',
    skip: !body && el.classList.contains('skip-link'),
  };
  window.__hnPrev = shown;
  window.__hnPrevLook = shown ? look(shown) : '';
  window.__hnPrevLabel = result.tag + '#' + result.id + ' ' + result.label;
  return result;
}"""


class Keyboard:
    """Drives one page with the keyboard only and checks focus after every Tab."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def focused(self) -> dict[str, Any]:
        info: dict[str, Any] = self.page.evaluate(FOCUS_PROBE)
        return info

    def tab(self, back: bool = False, allow_body: bool = False) -> dict[str, Any]:
        self.page.keyboard.press("Shift+Tab" if back else "Tab")
        info = self.focused()
        where = f"{info['tag']}#{info['id']} „{info['label']}“ ({self.page.url})"
        if info["body"]:
            assert allow_body, f"Fokus ist auf <body> gefallen ({self.page.url})"
            return info
        assert info["indicator"], f"kein sichtbarer Fokusrahmen: {where}"
        assert not info["prevUnchanged"], (
            f"Fokusrahmen unterscheidet sich nicht vom Zustand ohne Fokus: {info['prevLabel']}"
        )
        return info

    def tab_to(
        self, matches: Callable[[dict[str, Any]], bool], what: str, back: bool = False
    ) -> dict[str, Any]:
        seen: list[str] = []
        for _ in range(MAX_TABS):
            info = self.tab(back=back, allow_body=True)
            assert not info["body"], f"{what}: Seitenende erreicht, Tab-Stopps: {seen}"
            if matches(info):
                return info
            seen.append(f"{info['tag']}#{info['id']} {info['label']}")
        raise AssertionError(f"{what} nach {MAX_TABS} Tabs nicht erreicht ({self.page.url})")

    def to_id(self, element_id: str) -> dict[str, Any]:
        return self.tab_to(lambda i: i["id"] == element_id, f"#{element_id}")

    def to_label(self, pattern: str, tag: str | None = None) -> dict[str, Any]:
        rx = re.compile(pattern)
        return self.tab_to(
            lambda i: bool(rx.search(i["label"])) and (tag is None or i["tag"] == tag), pattern
        )

    def to_form_field(self, label: str) -> dict[str, Any]:
        """A form-js field by its label (form-js renders <label for> on each input)."""
        return self.tab_to(lambda i: i["label"].startswith(label), f"Feld „{label}“")

    def activate(self, key: str = "Enter") -> None:
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def cycle(self) -> list[str]:
        """From the skip link (the page's first stop), Tab until it comes round again: no trap, and
        <body> only once (the step past the last element). Returns the stops in between."""
        self.page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
        for _ in range(MAX_TABS):  # wherever focus navigation starts: on to the skip link
            if self.tab(allow_body=True)["skip"]:
                return self._round(back=False)
        raise AssertionError("Link „Zum Inhalt springen“ nicht erreicht")

    def cycle_back(self, forward: list[str]) -> None:
        """From the skip link, Shift+Tab round the page: the same stops in reverse order."""
        assert self.focused()["skip"]
        backward = self._round(back=True)
        assert backward[::-1] == forward, f"rückwärts andere Tab-Stopps:\n{backward[::-1]}\n{forward}"

    def _round(self, back: bool) -> list[str]:
        stops: list[str] = []
        bodies = 0
        for _ in range(MAX_TABS):
            info = self.tab(back=back, allow_body=True)
            if info["body"]:
                bodies += 1
                assert bodies == 1, f"Fokus fiel mehrmals auf <body>: {stops}"
            elif info["skip"]:
                return stops
            else:
                stops.append(f"{info['tag']}#{info['id']} {info['label']}")
        raise AssertionError(
            f"Tastaturfalle: nach {MAX_TABS} Tabs nicht zurück am Seitenanfang: …{stops[-10:]}"
        )


@pytest.fixture
def keyboard(browser: Any) -> Iterator[Keyboard]:
    context = browser.new_context(locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield Keyboard(page)
    context.close()


def sign_in(kb: Keyboard, site: Site, username: str) -> None:
    kb.page.goto(f"{site.base}/anmelden?lang=de")
    kb.to_id("username")
    kb.type(username)
    kb.to_id("password")
    kb.type(PASSWORD)
    kb.activate("Enter")
    assert kb.page.url.startswith(f"{site.base}/aufgaben")


def wait_for_form(kb: Keyboard) -> None:
    kb.page.locator("#task-form .fjs-form").wait_for()


def invitation_for_jugendamt(site: Site) -> int:
    """A P4 case conference up to the invitations (the Kreisjugendamt must answer)."""
    hn, look = site.hn, actor_lookup(site.hn)
    steps = scenario("fallkonferenz", "Anonym angenommen")["steps"]
    instance_id = start_p4(hn)
    for element in ("Task_AnfragePruefen", "Task_Organisieren"):
        step = next(s for s in steps if s.get("complete") == element)
        hn.complete(look(step["as"]), task_of(hn, step["as"], instance_id, element), step["data"])
    return instance_id


def test_skip_link_moves_focus_to_the_content(keyboard: Keyboard, site: Site) -> None:
    kb = keyboard
    kb.page.goto(f"{site.base}/barrierefreiheit?lang=de")
    first = kb.tab()
    assert first["skip"] and first["label"] == "Zum Inhalt springen"
    kb.page.keyboard.press("Enter")
    assert kb.page.evaluate("document.activeElement.id") == "inhalt"
    after = kb.tab()
    assert kb.page.evaluate("document.activeElement.closest('main') !== null"), after


@pytest.mark.parametrize(
    ("user", "path"),
    [
        (None, "/anmelden"),
        (None, "/barrierefreiheit"),
        ("fachkraft.polizei", "/aufgaben"),
        ("fachkraft.polizei", "/vorgaenge/{p1}"),
        ("fachkraft.frauenberatung", "/prozesse/fallkonferenz/starten"),
        ("leitung.polizei", "/abstimmungen/{ballot}"),
        ("koordination.jugendamt", "/aufgaben/{task}"),
        ("koordination.jugendamt", "/auswertung"),
        ("fachkraft.frauenberatung", "/verzeichnis/frauenberatung-soest/bearbeiten"),
        ("koordination.jugendamt", "/modellierung/entwurf/{draft}/tabelle"),
        ("koordination.jugendamt", "/modellierung/entwurf/{draft}"),
        ("koordination.frauenberatung", "/modellierung/entwurf/{review}/freigabe"),
        ("fachkraft.polizei", "/konto/zugangstoken"),
    ],
)
def test_whole_page_can_be_tabbed_through_without_trap(
    keyboard: Keyboard, site: Site, user: str | None, path: str
) -> None:
    kb = keyboard
    if user:
        sign_in(kb, site, user)
    task = site.task("koordination.jugendamt", site.p4, "Task_AnfragePruefen") if "{task}" in path else ""
    drafts = site.drafts
    url = path.format(p1=site.p1, ballot=site.ballot, task=task, draft=drafts.bpmn, review=drafts.review)
    kb.page.goto(f"{site.base}{url}?lang=de")
    if "starten" in path or "aufgaben/" in path:
        wait_for_form(kb)
    if "vorgaenge" in path or "aufgaben/" in path:
        kb.page.locator(".bpmn-diagram svg").first.wait_for()
    if path.endswith("{draft}"):  # the BPMN editor: canvas and properties panel are open
        kb.page.locator("#modeler-status:not(:empty)").wait_for()
    if path.endswith("/freigabe"):
        kb.page.locator(".review-side-by-side[data-ready='true']").wait_for()
    stops = kb.cycle()
    assert len(stops) >= 3
    kb.cycle_back(stops)


def test_fachkraft_answers_an_invitation_from_the_worklist(keyboard: Keyboard, site: Site) -> None:
    kb = keyboard
    instance_id = invitation_for_jugendamt(site)
    task_id = task_of(site.hn, "fachkraft.jugendamt", instance_id, "Task_TeilnahmeBeantworten")
    sign_in(kb, site, "fachkraft.jugendamt")
    kb.tab_to(
        lambda i: (
            i["tag"] == "A" and f"/aufgaben/{task_id}" in kb.page.evaluate("document.activeElement.href")
        ),
        "Link zur Aufgabe",
    )
    kb.activate()
    wait_for_form(kb)
    kb.to_form_field("Wir nehmen teil")
    kb.page.keyboard.press("Space")
    assert kb.page.evaluate("document.activeElement.checked") is True
    kb.to_id("task-form-submit")
    with kb.page.expect_navigation():
        kb.page.keyboard.press("Enter")
    assert kb.page.url.startswith(f"{site.base}/aufgaben")
    assert task_id not in kb.page.content()
    with site.hn.db.read() as session:
        from engine.persistence.models import UserTask

        assert session.get(UserTask, task_id).status == "completed"


def test_steering_group_member_votes_with_the_keyboard(keyboard: Keyboard, site: Site) -> None:
    kb = keyboard
    subject = "Tastatur-Abstimmung Präventionsprojekt"
    open_ballot(site.hn, subject)
    sign_in(kb, site, "fachkraft.gesundheitsamt")
    kb.to_label("^Abstimmungen$", "A")
    kb.activate()
    kb.to_label(re.escape(subject), "A")
    kb.activate()
    kb.tab_to(lambda i: i["type"] == "radio", "erste Stimmoption")
    kb.page.keyboard.press("Space")  # the first option: Ja
    assert kb.page.evaluate("document.activeElement.checked") is True
    kb.to_label("^Stimme abgeben", "BUTTON")
    kb.activate()
    expect(kb.page.get_by_role("status").get_by_text("Ihre Stimme wurde gespeichert.")).to_be_visible()


def test_member_requests_a_case_conference_with_the_keyboard(keyboard: Keyboard, site: Site) -> None:
    kb = keyboard
    sign_in(kb, site, "fachkraft.frauenberatung")
    kb.to_label("^Prozess starten$", "A")
    kb.activate()
    kb.to_label("Fallkonferenz", "A")
    kb.activate()
    wait_for_form(kb)
    # The empty form first: errors are announced and focus goes to the first invalid field.
    kb.to_id("task-form-submit")
    kb.page.keyboard.press("Enter")
    kb.page.locator("#task-form-errors li").first.wait_for()
    assert kb.focused()["label"].startswith("Anlass")
    kb.type("Wiederholte Gewalt in der Partnerschaft, Tastaturtest")
    kb.to_form_field("Fragestellung")
    kb.type("Wie stimmen wir Schutz und Unterstützung besser ab?")
    kb.to_form_field("Gefährdungseinschätzung")
    # form-js opens the list on focus; Escape does not close it (listed in the statement), Tab does.
    expect(kb.page.locator(".fjs-dropdownlist")).to_have_count(1)
    choose_in_select(kb, "hoch")
    kb.to_form_field("Altersgruppe")
    choose_in_select(kb, "30 bis 44")
    kb.to_form_field("Anzahl der Kinder")
    expect(kb.page.locator(".fjs-dropdownlist")).to_have_count(0)
    kb.type("1")
    kb.to_form_field("körperliche Gewalt")
    kb.page.keyboard.press("Space")
    kb.to_form_field("anonym")
    kb.page.keyboard.press("Space")
    kb.to_id("task-form-submit")
    with kb.page.expect_navigation():
        kb.page.keyboard.press("Enter")
    assert "/vorgaenge/" in kb.page.url


def choose_in_select(kb: Keyboard, option: str) -> None:
    """form-js's select: arrow keys open the list and move, Enter takes the option."""
    page = kb.page
    for _ in range(10):
        page.keyboard.press("ArrowDown")
        if page.evaluate(
            "(text) => { const f = document.activeElement.closest('.fjs-form-field');"
            " const o = f && f.querySelector('.fjs-dropdownlist-item.focused');"
            " return !!o && o.textContent.trim().toLowerCase().includes(text); }",
            option.lower(),
        ):
            page.keyboard.press("Enter")
            return
    raise AssertionError(f"Option „{option}“ nicht mit den Pfeiltasten erreichbar")


def test_feedback_on_the_statement_is_sent_with_the_keyboard(keyboard: Keyboard, site: Site) -> None:
    kb = keyboard
    kb.page.goto(f"{site.base}/barrierefreiheit?lang=de")
    kb.to_id("message")
    kb.type("Der Fokusrahmen im Kalender ist schwer zu sehen.")
    kb.to_id("reply-ja")
    kb.page.keyboard.press("ArrowDown")  # arrow keys move within the radio group and select
    assert kb.focused()["id"] == "reply-nein"
    assert kb.page.evaluate("document.activeElement.checked") is True
    kb.to_label("^Rückmeldung senden$", "BUTTON")
    kb.activate()
    expect(kb.page.get_by_role("status").get_by_text("Vielen Dank!", exact=False)).to_be_visible()
