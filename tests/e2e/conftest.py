"""Browser tests: the real app on a local port, driven by Playwright in Debian's Chromium.

Nothing downloads a browser: Playwright is pointed at /usr/bin/chromium. Without it the tests
skip locally with a reason and fail under CI=true.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.clock import SystemClock
from engine.settings import REPO_ROOT
from tests.conftest import build_engine, need_service
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
