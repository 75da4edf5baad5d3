"""A coordinator opens the process heatmap in Chromium and sees the overlays and the table; a
Fachkraft is refused.

The server has its own engine on a manual clock: six cases of a small drawn process („Heatmap“)
finished task 1 after 1 … 6 days, so the figures on the page are known.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.clock import ManualClock
from engine.persistence.models import UserTask
from tests.conftest import actor_lookup, build_engine
from tests.e2e.conftest import login
from tests.support.bpmn_factory import write_definitions

pytestmark = pytest.mark.browser

GROUPS = "Fachkraft@frauenberatung-soest"
#: element id → (x, y, width, height) of its shape; flows as (id, source, target, x1, x2).
SHAPES = {
    "start": (100, 100, 36, 36),
    "aufgabe_1": (200, 78, 100, 80),
    "aufgabe_2": (400, 78, 100, 80),
    "ende": (600, 100, 36, 36),
}
FLOWS = [("f1", "start", "aufgabe_1", 136, 200), ("f2", "aufgabe_1", "aufgabe_2", 300, 400)]
FLOWS.append(("f3", "aufgabe_2", "ende", 500, 600))


def drawn_bpmn() -> str:
    """Start → two user tasks → end, with diagram interchange so bpmn-js can draw it."""
    task = f'camunda:candidateGroups="{GROUPS}" camunda:formRef="notiz"'
    nodes = (
        '<bpmn:startEvent id="start" name="Beginn"/>'
        f'<bpmn:userTask id="aufgabe_1" name="Aufgabe 1" {task}/>'
        f'<bpmn:userTask id="aufgabe_2" name="Aufgabe 2" {task}/>'
        '<bpmn:endEvent id="ende" name="Ende"/>'
    )
    flows = "".join(
        f'<bpmn:sequenceFlow id="{f}" sourceRef="{a}" targetRef="{b}"/>' for f, a, b, _, _ in FLOWS
    )
    shapes = "".join(
        f'<bpmndi:BPMNShape id="{e}_di" bpmnElement="{e}">'
        f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/></bpmndi:BPMNShape>'
        for e, (x, y, w, h) in SHAPES.items()
    )
    edges = "".join(
        f'<bpmndi:BPMNEdge id="{f}_di" bpmnElement="{f}">'
        f'<di:waypoint x="{x1}" y="118"/><di:waypoint x="{x2}" y="118"/></bpmndi:BPMNEdge>'
        for f, _, _, x1, x2 in FLOWS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
        'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_heatmap" '
        'targetNamespace="http://hilfenetz.example/bpmn">'
        f'<bpmn:process id="heatmap" name="Heatmap" isExecutable="true">{nodes}{flows}</bpmn:process>'
        '<bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="heatmap">'
        f"{shapes}{edges}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>\n"
    )


PAGE = "/auswertung/prozess/heatmap?von=2026-01-01&bis=2026-01-31"


@pytest.fixture(scope="module")
def heat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from webapp import create_app

    root = tmp_path_factory.mktemp("heatmap")
    clock = ManualClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    hn = build_engine(
        root, f"sqlite:///{root / 'e2e.db'}", clock, write_definitions(root / "d", {"heatmap": drawn_bpmn()})
    )
    fachkraft = actor_lookup(hn)("fachkraft.frauenberatung")
    instances = [hn.start(fachkraft, "heatmap", {}) for _ in range(6)]
    for instance in instances:
        clock.advance(timedelta(days=1))
        with hn.db.read() as session:
            task_id = session.scalars(
                select(UserTask.id).where(UserTask.instance_id == instance, UserTask.status == "open")
            ).one()
        hn.complete(fachkraft, task_id, {"notiz": "erledigt"})
    app = create_app({"TESTING": False}, hilfenetz=hn)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    hn.db.dispose()


def test_the_coordinator_sees_overlays_colours_and_the_table(page: Any, heat_server: str) -> None:
    login(page, heat_server, "koordination.jugendamt")
    page.goto(heat_server + PAGE)
    badge = page.locator('.hn-heat-badge[data-element="aufgabe_1"]')
    badge.wait_for(state="visible")
    assert badge.inner_text().split("\n") == ["≈ 5×", "Median 3 Tage 12 Std.", "90 % 5 Tage 12 Std."]
    assert "hn-heat-4" in page.locator('g.djs-element[data-element-id="aufgabe_1"]').get_attribute("class")
    assert page.locator('.hn-heat-badge[data-element="ende"]').inner_text() == "0 Durchläufe"
    assert page.locator('.hn-heat-badge[data-element="aufgabe_2"]').inner_text().startswith("≈ 5×")
    drawing = page.locator(".hn-heatmap svg[role='img']")
    assert drawing.get_attribute("aria-label") == "Prozessdiagramm mit Zeiten: Heatmap"
    table = page.get_by_role("table", name="Durchläufe und Verweildauer je Schritt: Heatmap")
    row = table.get_by_role("row", name="Aufgabe 1")
    assert row.get_by_role("cell").all_inner_texts()[1:5] == ["≈ 5", "0", "3 Tage 12 Std.", "5 Tage 12 Std."]
    assert page.get_by_role("button", name="Ganzes Diagramm zeigen").is_visible()


def test_a_fachkraft_is_refused(page: Any, heat_server: str) -> None:
    login(page, heat_server, "fachkraft.frauenberatung")
    response = page.goto(heat_server + PAGE)
    assert response.status == 403
    assert page.locator(".hn-heatmap").count() == 0
