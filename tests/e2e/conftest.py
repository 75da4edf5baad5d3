"""Browser tests: the real app on a local port, driven by Playwright in Debian's Chromium.

Nothing downloads a browser: Playwright is pointed at /usr/bin/chromium. Without it the tests
skip locally with a reason and fail under CI=true.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.clock import SystemClock
from engine.settings import REPO_ROOT
from tests.conftest import actor_lookup, build_engine, need_service
from tests.support.bpmn_factory import handover_bpmn, write_definitions

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Hilfenetz-Demo-2026"


@contextmanager
def serve_app(root: Path) -> Iterator[str]:
    """The app with the shipped processes and forms in ``root`` on a free local port."""
    from webapp import create_app

    processes, forms = write_definitions(root / "defs", {"uebergabe": handover_bpmn()})
    for path in (REPO_ROOT / "processes").glob("*"):
        shutil.copy(path, processes / path.name)
    for path in (REPO_ROOT / "forms").glob("*.form"):
        shutil.copy(path, forms / path.name)
    hn = build_engine(root, f"sqlite:///{root / 'e2e.db'}", SystemClock(), (processes, forms))
    app = create_app({"TESTING": False}, hilfenetz=hn)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        hn.db.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("e2e")) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        need_service(f"Chromium fehlt unter {CHROMIUM} (make test installiert es).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/anmelden")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(f"{base}/aufgaben**")


def logout(page: Any) -> None:
    page.get_by_role("button", name="Abmelden").click()


@dataclass(frozen=True)
class Site:
    """A live server over an engine with the real processes and forms, and the objects the page
    tests visit: a P1 case handed to the Frauenberatung (referral with contact data), a P1 case
    waiting for the police's DASH step, a P4 request waiting for the Koordination, a ballot, a
    consent record and an accessibility feedback report; for the modelling pages a draft of P4 by
    one coordinator with a form draft in its change set, and a changed P1 draft she submitted for
    approval (the other coordinator reviews it)."""

    base: str
    hn: Any
    p1: int
    p1_dash: int
    p4: int
    ballot: int
    consent: int
    drafts: ModelDrafts

    def task(self, username: str, instance_id: int, element_id: str) -> str:
        return task_of(self.hn, username, instance_id, element_id)


def scenario(process: str, name_start: str) -> dict[str, Any]:
    data = json.loads((REPO_ROOT / "processes" / f"{process}.scenarios.json").read_text(encoding="utf-8"))
    found: dict[str, Any] = next(s for s in data["scenarios"] if s["name"].startswith(name_start))
    return found


@dataclass(frozen=True)
class ModelDrafts:
    """Drafts for the modelling pages: ``bpmn`` (editable, with ``form`` and the uploaded DMN table
    ``dmn`` in its change set) and ``review`` (submitted, with a changed task name, so the approval
    page shows a diff)."""

    bpmn: int
    form: int
    dmn: int
    review: int


MODEL_AUTHOR = "koordination.jugendamt"
MODEL_REVIEWER = "koordination.frauenberatung"


def model_drafts(hn: Any) -> ModelDrafts:
    """Through the engine facade, as the modelling pages would: draft, add a form, change, submit."""
    author = actor_lookup(hn)(MODEL_AUTHOR)
    latest = {p.key: p.versions[0].definition_id for p in hn.model_overview(author) if p.versions}
    bpmn = hn.draft_from_version(author, latest["fallkonferenz"])
    form = hn.add_file_to_draft(author, bpmn, "fallkonferenz_anfrage")
    table = REPO_ROOT / "processes" / "jugendamt_zustaendigkeit.dmn"
    dmn = hn.upload_model_draft(author, table.name, table.read_bytes(), bpmn)
    review = hn.draft_from_version(author, latest["polizeieinsatz"])
    content = hn.model_draft(author, review).content
    old = 'name="Betroffene proaktiv kontaktieren"'
    assert old in content
    hn.save_model_draft(author, review, content.replace(old, 'name="Betroffene zeitnah kontaktieren"'))
    hn.submit_model_draft(author, review)
    return ModelDrafts(bpmn, form, dmn, review)


def task_of(hn: Any, username: str, instance_id: int, element_id: str) -> str:
    from engine.worklist import WorklistQuery

    who = actor_lookup(hn)(username)
    tasks = hn.worklist(who, WorklistQuery(view="alle", per_page=100)).tasks
    return str(next(t.id for t in tasks if t.instance_id == instance_id and t.element_id == element_id))


def start_p1(hn: Any, dash: bool) -> int:
    """A P1 call-out with consent for the Frauenberatung; with ``dash`` the DASH step is done too."""
    given = scenario("polizeieinsatz", "Einwilligung nur für die Frauenberatung")
    police = actor_lookup(hn)("fachkraft.polizei")
    instance_id: int = hn.start(police, "polizeieinsatz", given["start"]["data"])
    if dash:
        step = next(s for s in given["steps"] if s.get("complete") == "Task_Gefaehrdungseinschaetzung")
        task = task_of(hn, "fachkraft.polizei", instance_id, "Task_Gefaehrdungseinschaetzung")
        hn.complete(police, task, step["data"])
    return instance_id


def start_p4(hn: Any) -> int:
    given = scenario("fallkonferenz", "Anonym angenommen")
    instance_id: int = hn.start(
        actor_lookup(hn)(given["start"]["as"]), "fallkonferenz", given["start"]["data"]
    )
    return instance_id


def open_ballot(hn: Any, subject: str) -> int:
    from datetime import UTC, datetime, timedelta

    coordination = actor_lookup(hn)("koordination.jugendamt")
    deadline = datetime.now(UTC) + timedelta(days=7)
    ballot_id: int = hn.open_ballot(subject, None, None, deadline, False, coordination)
    return ballot_id


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from engine.accessibility_feedback import FeedbackInput
    from engine.consent import ConsentInput
    from webapp import create_app

    root = tmp_path_factory.mktemp("site")
    hn = build_engine(
        root, f"sqlite:///{root / 'site.db'}", SystemClock(), (REPO_ROOT / "processes", REPO_ROOT / "forms")
    )
    p1 = start_p1(hn, dash=True)
    consent = ConsentInput(
        subject="Pseudonym A-17",
        categories=["falldaten"],
        recipients=["frauenberatung-soest"],
        purpose="Beratung nach Polizeieinsatz",
        given_on="2026-01-05",
        form="muendlich",
        witness="Kollegin B.",
    )
    consent_id = hn.record_consent(actor_lookup(hn)("fachkraft.polizei"), p1, consent)
    hn.send_accessibility_feedback(FeedbackInput(message="Kontrast im Kopfbereich zu schwach", reply="nein"))
    hn.create_access_token(actor_lookup(hn)("fachkraft.polizei"), "Auswertung Polizei", ["lesen"], None)
    app = create_app({"TESTING": False}, hilfenetz=hn)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(
        f"http://127.0.0.1:{server.server_port}",
        hn,
        p1,
        start_p1(hn, dash=False),
        start_p4(hn),
        open_ballot(hn, "Förderantrag Präventionsprojekt"),
        consent_id,
        model_drafts(hn),
    )
    server.shutdown()
    hn.db.dispose()
