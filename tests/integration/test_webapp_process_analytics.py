"""Web app: /auswertung/prozess (heatmap and table) for Koordination and Steuerungsgruppe only, on
SQLite and PostgreSQL; bad input answers 422 in German and never 500."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.clock import ManualClock
from engine.persistence.models import UserTask
from engine.service import Hilfenetz
from tests.conftest import actor_lookup
from tests.integration.test_webapp_auth import login, make_app
from tests.support.bpmn_factory import chain_bpmn
from webapp.process_analytics import duration_text

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PERIOD = "von=2026-01-01&bis=2026-01-31"


@pytest.fixture
def hn(engine_for: Callable[..., Hilfenetz], any_db_url: str, clock: ManualClock) -> Hilfenetz:
    """Six cases of „kette“: the i-th finished task 1 after i days, none finished task 2."""
    engine = engine_for({"kette": chain_bpmn(tasks=2)}, url=any_db_url)
    fachkraft = actor_lookup(engine)("fachkraft.frauenberatung")
    clock.set(START)
    instances = [engine.start(fachkraft, "kette", {}) for _ in range(6)]
    for instance in instances:
        clock.advance(timedelta(days=1))
        with engine.db.read() as session:
            task_id = session.scalars(
                select(UserTask.id).where(UserTask.instance_id == instance, UserTask.status == "open")
            ).one()
        engine.complete(fachkraft, task_id, {"notiz": "erledigt"})
    return engine


@pytest.fixture
def client(hn: Hilfenetz) -> Iterator[FlaskClient]:
    with make_app(hn).test_client() as test_client:
        yield test_client


def row_of(html: str, element_id: str) -> str:
    match = re.search(rf'<tr data-element="{element_id}">(.*?)</tr>', html, re.S)
    assert match, f"no table row for {element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def overlays_of(html: str) -> list[dict[str, object]]:
    match = re.search(r"data-overlays='([^']*)'", html)
    assert match, "no overlay data on the page"
    return list(json.loads(unescape(match.group(1))))


@pytest.mark.parametrize("path", ["/auswertung/prozess", f"/auswertung/prozess/kette?{PERIOD}"])
def test_a_fachkraft_gets_403(client: FlaskClient, path: str) -> None:
    login(client, "fachkraft.frauenberatung")
    response = client.get(path)
    assert response.status_code == 403
    assert "Koordination" in response.get_data(as_text=True)
    assert 'href="/auswertung/prozess"' not in client.get("/aufgaben").get_data(as_text=True)


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get(f"/auswertung/prozess/kette?{PERIOD}")
    assert response.status_code == 302 and "/anmelden" in response.headers["Location"]


def test_the_coordinator_sees_diagram_overlays_and_table(client: FlaskClient) -> None:
    login(client, "koordination.jugendamt")
    response = client.get(f"/auswertung/prozess/kette?{PERIOD}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="bpmn-diagram hn-heatmap"' in html and "js/heatmap.js" in html
    # 1 … 6 days: median 3 days 12 h, 90th percentile 1 + 0.9 · 5 = 5.5 days.
    # Counts rounded to the nearest multiple of five: 6 cases show "≈ 5".
    assert row_of(html, "aufgabe_1") == "Aufgabe 1 Aufgabe ≈ 5 0 3 Tage 12 Std. 5 Tage 12 Std. Stufe 5 von 5"
    assert row_of(html, "aufgabe_2") == "Aufgabe 2 Aufgabe ≈ 5 ≈ 5 – – keine Angabe"
    assert row_of(html, "ende") == "ohne Namen (ende) Endereignis 0 0 – – keine Angabe"
    overlays = {o["id"]: o for o in overlays_of(html)}
    assert overlays["aufgabe_1"] == {
        "id": "aufgabe_1",
        "text": "≈ 5× · Median 3 Tage 12 Std. · 90 % 5 Tage 12 Std.",
        "heat": 4,
    }
    assert overlays["aufgabe_2"]["text"] == "≈ 5× · Zeiten: zu wenige abgeschlossen"
    assert "Vielfache von 5" in html  # the rounding rule is stated
    assert '<th scope="row"' in html
    assert 'href="/auswertung/prozess" aria-current="page"' in html  # the navigation link


def test_fewer_than_five_cases_show_less_than_five(client: FlaskClient) -> None:
    login(client, "koordination.jugendamt")
    # On 6 January only one case finished task 1 and began task 2.
    html = client.get("/auswertung/prozess/kette?von=2026-01-06&bis=2026-01-06").get_data(as_text=True)
    assert row_of(html, "aufgabe_2") == "Aufgabe 2 Aufgabe &lt; 5 – – – keine Angabe"
    overlays = {o["id"]: o for o in overlays_of(html)}
    assert overlays["aufgabe_2"] == {"id": "aufgabe_2", "text": "< 5 Fälle", "heat": None}
    assert overlays["aufgabe_1"]["text"] == "0 Durchläufe"


@pytest.mark.parametrize(("finished", "open_cell"), [(4, "&lt; 5"), (1, "–")])
def test_davon_offen_never_gives_away_a_small_number(
    client: FlaskClient, hn: Hilfenetz, clock: ManualClock, finished: int, open_cell: str
) -> None:
    """Six cases at task 2: 2 open show "< 5"; 5 open are withheld when only 1 finished (6 − 5)."""
    fachkraft = actor_lookup(hn)("fachkraft.frauenberatung")
    clock.advance(timedelta(hours=1))
    with hn.db.read() as session:
        open_tasks = session.scalars(
            select(UserTask.id).where(UserTask.element_id == "aufgabe_2", UserTask.status == "open")
        ).all()
    for task_id in open_tasks[:finished]:
        hn.complete(fachkraft, task_id, {"notiz": "erledigt"})
    login(client, "koordination.jugendamt")
    html = client.get(f"/auswertung/prozess/kette?{PERIOD}").get_data(as_text=True)
    assert row_of(html, "aufgabe_2") == f"Aufgabe 2 Aufgabe ≈ 5 {open_cell} – – keine Angabe"


def test_the_steering_group_sees_it_in_english(client: FlaskClient) -> None:
    login(client, "fachkraft.gesundheitsamt")  # Steuerungsgruppe
    html = client.get(f"/auswertung/prozess/kette?{PERIOD}&lang=en").get_data(as_text=True)
    assert "Process analytics" in html
    assert "3 days 12 h" in html


def test_the_chooser_goes_to_the_process_address(client: FlaskClient) -> None:
    login(client, "koordination.jugendamt")
    page = client.get("/auswertung/prozess")
    assert page.status_code == 200 and 'value="kette"' in page.get_data(as_text=True)
    response = client.get("/auswertung/prozess?prozess=kette&von=2026-01-01&bis=2026-01-31&version=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auswertung/prozess/kette?")
    assert client.get(response.headers["Location"]).status_code == 200
    unknown = client.get("/auswertung/prozess?prozess=%3Cscript%3E")
    assert unknown.status_code == 200 and "<script>" not in unknown.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("von=31.01.2026", 422, "kein Datum"),
        ("von=2026-02-01&bis=2026-01-01", 422, "nach dem Ende"),
        ("version=eins", 422, "Versionsnummer"),
        ("version=99", 404, "Version 99"),
        ("von=" + "9" * 5000, 422, "kein Datum"),
        ("bis=9999-12-31", 422, "zwischen 2000 und 2100"),
        ("von=0001-01-01", 422, "zwischen 2000 und 2100"),
        ("von=2000-01-01&bis=2100-12-31", 422, "länger als drei Jahre"),
    ],
)
def test_bad_input_answers_in_german_without_500(
    client: FlaskClient, query: str, status: int, text: str
) -> None:
    login(client, "koordination.jugendamt")
    response = client.get(f"/auswertung/prozess/kette?{query}")
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


def test_an_unknown_process_is_404(client: FlaskClient) -> None:
    login(client, "koordination.jugendamt")
    assert client.get("/auswertung/prozess/gibt-es-nicht").status_code == 404


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "–"),
        (0.0, "< 1 Min."),
        (59.4, "< 1 Min."),
        (60.0, "1 Min."),
        (3600.0, "1 Std."),
        (3660.0, "1 Std. 1 Min."),
        (86400.0, "1 Tag"),
        (90000.0, "1 Tag 1 Std."),
        (2 * 86400.0 + 4 * 3600.0 + 59.0, "2 Tage 4 Std."),
    ],
)
def test_durations_are_written_for_people(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text
