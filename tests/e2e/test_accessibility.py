"""axe-core (vendored from npm) on every HTML page of the app, in German and English: no WCAG 2.1
A/AA violations, also on the error pages and after a form showed its validation errors.

Every GET route of the app's url_map is either visited here (:data:`VISITS`, with how to fill its
parameters and which demo user sees it) or listed in :data:`NOT_HTML` with the reason; a route in
neither list fails :func:`test_every_html_route_is_visited`, so pages added later must be added here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.settings import REPO_ROOT
from tests.e2e.conftest import PASSWORD, Site

pytestmark = pytest.mark.browser

AXE_URL = "/static/vendor/axe-core/axe.min.js"
AXE_FILE = REPO_ROOT / "webapp" / "static" / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
LANGS = ("de", "en")
FORM = "#task-form .fjs-form"
DIAGRAM = ".bpmn-diagram svg"
#: modeler.js says "opened" in its status line once the editor shows the draft (an error fails the wait).
EDITOR_OPENED = "#modeler-status:not(:empty):not(.modeler-status--error)"
#: review_diff.js marks the side-by-side diagrams ready once both are drawn.
DIFF_DRAWN = ".review-side-by-side[data-ready='true']"
MODELER = "koordination.jugendamt"
REVIEWER = "koordination.frauenberatung"


@dataclass(frozen=True)
class Visit:
    """One page: the endpoint it belongs to, who looks at it, its path, and what must have rendered
    (scripts fill forms and diagrams after the load event) before axe runs."""

    name: str
    endpoint: str
    user: str | None
    path: Callable[[Site], str]
    ready: tuple[str, ...] = ()
    status: int = 200
    #: Parts of a third-party editor's DOM that axe skips on this page (each needs a comment naming
    #: the rule and why we cannot fix it, and an entry in the accessibility statement).
    exclude: tuple[str, ...] = ()


VISITS = (
    Visit("anmelden", "auth.login", None, lambda s: "/anmelden"),
    Visit("erklaerung", "pages.accessibility", None, lambda s: "/barrierefreiheit"),
    Visit(
        "erklaerung-angemeldet",
        "pages.accessibility",
        "koordination.jugendamt",
        lambda s: "/barrierefreiheit",
    ),
    Visit("impressum", "pages.imprint", None, lambda s: "/impressum"),
    Visit(
        "rueckmeldungen",
        "accessibility.inbox",
        "koordination.jugendamt",
        lambda s: "/barrierefreiheit/rueckmeldungen",
    ),
    Visit("arbeitsliste", "worklist.index", "fachkraft.frauenberatung", lambda s: "/aufgaben"),
    Visit(
        "aufgabe-p1-vermittlung",
        "tasks.show",
        "fachkraft.frauenberatung",
        lambda s: f"/aufgaben/{s.task('fachkraft.frauenberatung', s.p1, 'Task_Kontaktaufnahme')}",
        (FORM, DIAGRAM),
    ),
    Visit(
        "aufgabe-p1-dash",
        "tasks.show",
        "fachkraft.polizei",
        lambda s: f"/aufgaben/{s.task('fachkraft.polizei', s.p1_dash, 'Task_Gefaehrdungseinschaetzung')}",
        (FORM, DIAGRAM),
    ),
    Visit(
        "aufgabe-p4-pruefung",
        "tasks.show",
        "koordination.jugendamt",
        lambda s: f"/aufgaben/{s.task('koordination.jugendamt', s.p4, 'Task_AnfragePruefen')}",
        (FORM, DIAGRAM),
    ),
    Visit("prozesse", "processes.index", "fachkraft.frauenberatung", lambda s: "/prozesse"),
    Visit(
        "start-p4",
        "processes.start_page",
        "fachkraft.frauenberatung",
        lambda s: "/prozesse/fallkonferenz/starten",
        (FORM,),
    ),
    Visit(
        "start-p1",
        "processes.start_page",
        "fachkraft.polizei",
        lambda s: "/prozesse/polizeieinsatz/starten",
        (FORM,),
    ),
    Visit("vorgaenge", "instances.index", "fachkraft.polizei", lambda s: "/vorgaenge"),
    Visit("vorgang", "instances.show", "fachkraft.polizei", lambda s: f"/vorgaenge/{s.p1}", (DIAGRAM,)),
    Visit("abstimmungen", "ballots.index", "koordination.jugendamt", lambda s: "/abstimmungen"),
    Visit("abstimmung-neu", "ballots.new", "koordination.jugendamt", lambda s: "/abstimmungen/neu"),
    Visit("abstimmung", "ballots.show", "leitung.polizei", lambda s: f"/abstimmungen/{s.ballot}"),
    Visit(
        "abstimmung-protokoll",
        "ballots.minutes",
        "koordination.jugendamt",
        lambda s: f"/abstimmungen/{s.ballot}/protokoll",
    ),
    Visit(
        "einwilligungen", "consents.index", "fachkraft.polizei", lambda s: f"/vorgaenge/{s.p1}/einwilligungen"
    ),
    Visit(
        "einwilligung-neu",
        "consents.new",
        "fachkraft.polizei",
        lambda s: f"/vorgaenge/{s.p1}/einwilligungen/neu",
    ),
    Visit(
        "widerruf",
        "consents.confirm_withdrawal",
        "fachkraft.polizei",
        lambda s: f"/einwilligungen/{s.consent}/widerrufen",
    ),
    Visit("datenschutz", "datenschutz.index", "datenschutz.kreis", lambda s: "/datenschutz"),
    Visit("meine-daten", "datenschutz.my_data", "fachkraft.frauenberatung", lambda s: "/meine-daten"),
    Visit("auswertung", "dashboard.index", "koordination.jugendamt", lambda s: "/auswertung"),
    Visit(
        "prozessauswertung",
        "process_analytics.index",
        "koordination.jugendamt",
        lambda s: "/auswertung/prozess",
    ),
    Visit(
        "prozessauswertung-p1",
        "process_analytics.show",
        "koordination.jugendamt",
        lambda s: "/auswertung/prozess/polizeieinsatz",
        (DIAGRAM,),
    ),
    Visit("audit", "audit.index", "datenschutz.kreis", lambda s: "/audit-protokoll"),
    Visit("betrieb", "operations.index", "admin", lambda s: "/betrieb"),
    Visit("partner", "partners.index", "koordination.jugendamt", lambda s: "/partner"),
    Visit(
        "benachrichtigungen", "notifications.index", "koordination.jugendamt", lambda s: "/benachrichtigungen"
    ),
    Visit("abwesenheit", "absences.index", "fachkraft.frauenberatung", lambda s: "/abwesenheit"),
    Visit("verzeichnis", "directory.index", "fachkraft.frauenberatung", lambda s: "/verzeichnis"),
    Visit(
        "verzeichnis-eintrag",
        "directory.show",
        "fachkraft.frauenberatung",
        lambda s: "/verzeichnis/frauenberatung-soest",
    ),
    Visit(
        "verzeichnis-bearbeiten",
        "directory.edit",
        "fachkraft.frauenberatung",
        lambda s: "/verzeichnis/frauenberatung-soest/bearbeiten",
    ),
    Visit("modellierung", "modellierung.index", MODELER, lambda s: "/modellierung/"),
    Visit("modell-neu", "modellierung.new", MODELER, lambda s: "/modellierung/neu"),
    Visit(
        "modell-editor-bpmn",
        "modellierung.draft",
        MODELER,
        lambda s: f"/modellierung/entwurf/{s.drafts.bpmn}",
        (EDITOR_OPENED, ".modeler-canvas .djs-container svg", ".modeler-panel .bio-properties-panel"),
    ),
    Visit(
        "modell-editor-formular",
        "modellierung.draft",
        MODELER,
        lambda s: f"/modellierung/entwurf/{s.drafts.form}",
        (EDITOR_OPENED, ".fjs-editor-container"),
    ),
    Visit(
        "modell-editor-dmn",
        "modellierung.draft",
        MODELER,
        lambda s: f"/modellierung/entwurf/{s.drafts.dmn}",
        (EDITOR_OPENED, ".tjs-table"),
        # empty-table-header: dmn-js renders the rule-number column's header as an empty <th> and
        # re-renders the table (Inferno) on every change, so a label set from outside does not stay.
        # Only that header cell is skipped; statement: "Entscheidungstabellen (DMN)".
        exclude=(".tjs-table th.index-column",),
    ),
    Visit(
        "modell-freigabe",
        "modellierung.review",
        REVIEWER,
        lambda s: f"/modellierung/entwurf/{s.drafts.review}/freigabe",
        (DIFF_DRAWN, "#freigabe-kommentar"),
    ),
    Visit(
        "modell-tabelle",
        "modellierung_tabelle.table",
        MODELER,
        lambda s: f"/modellierung/entwurf/{s.drafts.bpmn}/tabelle",
    ),
    Visit(
        "modell-migration",
        "modell_migration.page",
        MODELER,
        lambda s: "/modellierung/migration/fallkonferenz",
    ),
    Visit("zugangstoken", "access_tokens.index", "fachkraft.polizei", lambda s: "/konto/zugangstoken"),
    Visit("passwort-aendern", "account.change_password", "fachkraft.polizei", lambda s: "/passwort-aendern"),
    Visit(
        "fehler-403", "(Fehlerseite)", "fachkraft.frauenberatung", lambda s: "/audit-protokoll", status=403
    ),
    Visit("fehler-404", "(Fehlerseite)", "fachkraft.frauenberatung", lambda s: "/gibt-es-nicht", status=404),
)

#: GET routes that answer with something other than an HTML page, and what they answer.
NOT_HTML = {
    "static": "Stylesheets, Skripte, Bibliotheken",
    "pages.index": "Weiterleitung zur Arbeitsliste",
    "pages.healthz": "Text ok",
    "tasks.form_json": "JSON für form-js",
    "processes.start_form_json": "JSON für form-js",
    "processes.diagram": "BPMN-Datei",
    "audit.export": "CSV/JSON",
    "ballots.minutes_pdf": "PDF",
    "ballots.minutes_text": "Markdown",
    "consents.document": "hochgeladenes Dokument",
    "dashboard.annual_csv": "CSV",
    "dashboard.annual_pdf": "PDF",
    "datenschutz.account_export": "JSON/PDF",
    "datenschutz.my_export": "JSON/PDF",
    "meetings.calendar": "iCalendar",
    "modellierung.content": "BPMN/DMN/Formular-Datei für die Editoren (als Download)",
    "modellierung.current": "bereitgestellte Fassung für die Gegenüberstellung (als Download)",
    "modellierung.download": "BPMN/DMN/Formular-Datei",
    "modellierung.version_file": "BPMN-Datei einer bereitgestellten Version",
    "oidc.start": "Weiterleitung zum Anmeldedienst des Kreises",
    "oidc.callback": (
        "Weiterleitung nach der Anmeldung beim Kreis; eine Ablehnung zeigt die Anmeldeseite mit "
        "Fehlermeldung, dieselbe Vorlage wie test_login_with_error"
    ),
    "api-docs.openapi_json": "OpenAPI-Beschreibung (JSON)",
    "api-ballots.index": "REST-API (JSON)",
    "api-ballots.show": "REST-API (JSON)",
    "api-directory.index": "REST-API (JSON)",
    "api-directory.show": "REST-API (JSON)",
    "api-instances.index": "REST-API (JSON)",
    "api-instances.show": "REST-API (JSON)",
    "api-processes.index": "REST-API (JSON)",
    "api-processes.start_form": "REST-API (JSON)",
    "api-processes.versions": "REST-API (JSON)",
    "api-tasks.index": "REST-API (JSON)",
    "api-tasks.show": "REST-API (JSON)",
}


@pytest.fixture(scope="module")
def signed_in(browser: Any, site: Site) -> Iterator[Callable[[str | None], Any]]:
    """One browser context per demo user (signed in once), None = not signed in."""
    contexts: dict[str | None, Any] = {}

    def page_for(user: str | None) -> Any:
        if user not in contexts:
            context = browser.new_context(locale="de-DE")
            page = context.new_page()
            page.set_default_timeout(15000)
            if user is not None:
                page.goto(f"{site.base}/anmelden?lang=de")
                page.locator("#username").fill(user)
                page.locator("#password").fill(PASSWORD)
                page.locator("#password").press("Enter")
                page.wait_for_url(f"{site.base}/aufgaben**")
            contexts[user] = context
        return contexts[user].pages[0]

    yield page_for
    for context in contexts.values():
        context.close()


def with_lang(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def axe_violations(page: Any, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Run axe-core (served by the app itself, so the page's CSP stays on) on the whole page but
    ``exclude``; an exclusion that matches nothing fails, so none outlives the library's fix."""
    for selector in exclude:
        assert page.locator(selector).count() > 0, f"Ausnahme {selector} trifft nichts mehr"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL)
    result: list[dict[str, Any]] = page.evaluate(
        """async ([tags, exclude]) => {
            const context = { include: [document], exclude: exclude.map((s) => [s]) };
            const result = await window.axe.run(context, {
                runOnly: { type: 'tag', values: tags }, resultTypes: ['violations']
            });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 200),
                                            summary: n.failureSummary }))
            }));
        }""",
        [AXE_TAGS, list(exclude)],
    )
    return result


def readable(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(
                f"    {node['target']}\n      {node['html']}\n      {node['summary']}".replace(
                    "\n", "\n      "
                )
            )
        if len(v["nodes"]) > 5:
            lines.append(f"    … und {len(v['nodes']) - 5} weitere Stellen")
    return "\n".join(lines)


def check(page: Any, where: str, exclude: tuple[str, ...] = ()) -> None:
    violations = axe_violations(page, exclude)
    assert not violations, f"axe-core meldet auf {where}:\n{readable(violations)}"


def test_axe_is_the_vendored_npm_copy() -> None:
    assert AXE_FILE.exists(), "make setup kopiert axe-core nach webapp/static/vendor"
    assert AXE_FILE.read_text(encoding="utf-8")[:200].lstrip().startswith("/*! axe v4")


def test_every_html_route_is_visited(site: Site) -> None:
    from webapp import create_app

    app = create_app({"TESTING": True}, hilfenetz=site.hn)
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if "GET" in (r.methods or ())}
    visited = {v.endpoint for v in VISITS}
    assert visited.isdisjoint(NOT_HTML)
    assert endpoints - set(NOT_HTML) - visited == set(), "HTML-Seiten ohne axe-Prüfung"
    assert visited - {"(Fehlerseite)"} <= endpoints


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("visit", VISITS, ids=[v.name for v in VISITS])
def test_page_has_no_axe_violations(
    signed_in: Callable[[str | None], Any], site: Site, visit: Visit, lang: str
) -> None:
    page = signed_in(visit.user)
    response = page.goto(site.base + with_lang(visit.path(site), lang))
    assert response is not None and response.status == visit.status
    assert page.locator("html").get_attribute("lang") == lang
    for selector in visit.ready:
        page.locator(selector).first.wait_for()
    check(page, f"{visit.name} ({lang}, {visit.user or 'abgemeldet'})", visit.exclude)


@pytest.mark.parametrize("lang", LANGS)
def test_task_form_with_validation_errors(
    signed_in: Callable[[str | None], Any], site: Site, lang: str
) -> None:
    page = signed_in("fachkraft.frauenberatung")
    page.goto(site.base + with_lang("/prozesse/fallkonferenz/starten", lang))
    page.locator(FORM).wait_for()
    page.locator("#task-form-submit").click()
    page.locator("#task-form-errors li").first.wait_for()
    page.locator(".fjs-form-field-error").first.wait_for()
    check(page, f"Startformular P4 mit Fehlermeldungen ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_feedback_form_with_validation_errors(
    signed_in: Callable[[str | None], Any], site: Site, lang: str
) -> None:
    page = signed_in(None)
    page.goto(site.base + with_lang("/barrierefreiheit", lang))
    with page.expect_navigation():
        page.locator("form[action$='/rueckmeldung'] button[type=submit]").click()
    assert page.locator("#message-fehler").is_visible()
    check(page, f"Rückmeldeformular mit Fehlermeldungen ({lang})")
    page.locator("#message").fill("Axe-Prüfung der Bestätigung")
    page.locator("#reply-nein").check()
    with page.expect_navigation():
        page.locator("form[action$='/rueckmeldung'] button[type=submit]").click()
    page.locator(".flash-messages .alert--success").wait_for()
    check(page, f"Rückmeldeformular nach dem Senden ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_login_with_error(signed_in: Callable[[str | None], Any], site: Site, lang: str) -> None:
    page = signed_in(None)
    page.goto(site.base + with_lang("/anmelden", lang))
    page.locator("#username").fill("niemand")
    page.locator("#password").fill("falsch")
    with page.expect_navigation():
        page.locator("#password").press("Enter")
    check(page, f"Anmeldung mit Fehlermeldung ({lang})")


def test_axe_reports_a_planted_violation(signed_in: Callable[[str | None], Any], site: Site) -> None:
    """The harness itself: a field without a label and text without contrast are found."""
    page = signed_in(None)
    page.goto(site.base + "/impressum?lang=de")
    page.evaluate(
        """() => {
            const main = document.querySelector('main');
            main.insertAdjacentHTML('beforeend', '<input type="text" id="ohne-label">');
            main.insertAdjacentHTML('beforeend', '<p style="color:#eee;background:#fff">blass</p>');
        }"""
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast"} <= found


@pytest.mark.parametrize("lang", LANGS)
def test_access_token_page_with_errors_and_the_new_secret(
    signed_in: Callable[[str | None], Any], site: Site, lang: str
) -> None:
    page = signed_in("fachkraft.polizei")
    page.goto(site.base + with_lang("/konto/zugangstoken", lang))
    page.locator("#scope-lesen").uncheck()
    page.locator("#expires_on").fill("2020-01-01")
    with page.expect_navigation():
        page.locator("form[action$='/zugangstoken'] button[type=submit]").click()
    page.locator("#name-fehler").wait_for()
    page.locator("#scopes-fehler").wait_for()
    check(page, f"Zugangstoken mit Fehlermeldungen ({lang})")
    page.locator("#name").fill(f"Axe-Prüfung {lang}")
    page.locator("#scope-lesen").check()
    page.locator("#expires_on").fill("")
    with page.expect_navigation():
        page.locator("form[action$='/zugangstoken'] button[type=submit]").click()
    page.locator("#neues-token").wait_for()
    check(page, f"Zugangstoken mit neuem Token ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_password_change_with_errors(signed_in: Callable[[str | None], Any], site: Site, lang: str) -> None:
    page = signed_in("fachkraft.polizei")
    page.goto(site.base + with_lang("/passwort-aendern", lang))
    page.locator("#current_password").fill("falsch")
    page.locator("#new_password").fill("kurz")
    page.locator("#new_password_repeat").fill("anders")
    with page.expect_navigation():
        page.locator("form[action$='/passwort-aendern'] button[type=submit]").click()
    page.locator("#new_password-fehler").wait_for()
    page.locator("#new_password_repeat-fehler").wait_for()
    check(page, f"Passwort ändern mit Fehlermeldungen ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_table_view_with_errors(signed_in: Callable[[str | None], Any], site: Site, lang: str) -> None:
    """Nothing is saved (the other visits see the draft unchanged)."""
    page = signed_in(MODELER)
    page.goto(site.base + with_lang(f"/modellierung/entwurf/{site.drafts.bpmn}/tabelle", lang))
    page.locator("#Task_AnfragePruefen-frist").fill("irgendwann bald")
    with page.expect_navigation():
        page.locator("form[action$='/tabelle'] button[type=submit]").click()
    page.locator("#tabelle-fehler").wait_for()
    page.locator("#Task_AnfragePruefen-frist-fehler").wait_for()
    check(page, f"Tabellenansicht mit Fehlermeldungen ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_new_draft_page_with_refusals(signed_in: Callable[[str | None], Any], site: Site, lang: str) -> None:
    """A key that is taken and an unreadable upload: both refused, nothing created."""
    page = signed_in(MODELER)
    page.goto(site.base + with_lang("/modellierung/neu", lang))
    page.locator("#neu-key").fill("fallkonferenz")
    with page.expect_navigation():
        page.locator("form[action$='/neu'] button[type=submit]").click()
    page.locator(".flash-messages .alert--error").wait_for()
    check(page, f"Neu anlegen: Kennung vergeben ({lang})")
    file = {"name": "kaputt.bpmn", "mimeType": "application/xml", "buffer": b"<kein-xml"}
    page.locator("#upload-datei").set_input_files(file)
    with page.expect_navigation():
        page.locator("form[action$='/hochladen'] button[type=submit]").click()
    page.locator("[role=alert] .alert--error").wait_for()
    check(page, f"Neu anlegen: Hochladen abgelehnt ({lang})")
