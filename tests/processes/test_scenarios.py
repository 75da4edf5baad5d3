"""Drive every process through every end state from the scenario file beside its BPMN.

The workflow cache is off, so every step restores the instance from the database; at each step
the stored state is also restored and dumped again and must be identical.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from lxml import etree
from sqlalchemy import select

from engine.clock import ManualClock
from engine.persistence.models import ProcessInstance
from engine.projection import parse_iso_duration
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from engine.workflow_state import dump_state, load_state
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine

PROCESSES = REPO_ROOT / "processes"
FORMS = REPO_ROOT / "forms"
SCENARIO_FILES = sorted(PROCESSES.glob("*.scenarios.json"))
BPMN_NS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def scenarios() -> list[Any]:
    cases = []
    for path in SCENARIO_FILES:
        data = json.loads(path.read_text(encoding="utf-8"))
        for scenario in data["scenarios"]:
            cases.append(pytest.param(data["process"], scenario, id=f"{data['process']}: {scenario['name']}"))
    return cases


@pytest.fixture
def engine(tmp_path: Path, clock: ManualClock) -> Hilfenetz:
    url = f"sqlite:///{tmp_path / 'szenario.db'}"
    return build_engine(tmp_path, url, clock, (PROCESSES, FORMS), workflow_cache_size=0)


def check_round_trip(hn: Hilfenetz, instance_id: int) -> None:
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        version = hn.runtime.version(session, row.definition_id)
        restored = load_state(row.state, row.state_format, version, hn.script_engine)
        assert json.loads(dump_state(restored)) == json.loads(row.state)


def task_data(hn: Hilfenetz, instance_id: int, task_id: str) -> dict[str, Any]:
    """The task's full data in the engine (the browser only gets what its form references)."""
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        task = hn.runtime.peek(session, row).get_task_from_id(UUID(task_id))
        return dict(task.data)


def find_task(hn: Hilfenetz, actor: Any, instance_id: int, element: str, where: dict[str, Any]) -> str:
    page = hn.worklist(actor, WorklistQuery(view="alle", per_page=100))
    for task in page.tasks:
        if task.instance_id != instance_id or task.element_id != element:
            continue
        data = task_data(hn, instance_id, task.id)
        if all(data.get(k) == v for k, v in where.items()):
            return task.id
    open_tasks = [(t.element_id, t.instance_id) for t in page.tasks]
    raise AssertionError(f"{actor.username} sieht keine Aufgabe {element} {where}; offen: {open_tasks}")


def run_step(hn: Hilfenetz, clock: ManualClock, instance_id: int, step: dict[str, Any]) -> None:
    look = actor_lookup(hn)
    if "complete" in step:
        actor = look(step["as"])
        task_id = find_task(hn, actor, instance_id, step["complete"], step.get("where", {}))
        hn.complete(actor, task_id, step.get("data", {}))
    elif "advance" in step:
        clock.advance(parse_iso_duration(step["advance"]))
        hn.fire_due_timers()
    elif "message" in step:
        hn.send_message(look(step["as"]), instance_id, step["message"])
    else:
        raise AssertionError(f"unbekannter Schritt {step}")


@pytest.mark.parametrize(("process", "scenario"), scenarios())
def test_scenario(engine: Hilfenetz, clock: ManualClock, process: str, scenario: dict[str, Any]) -> None:
    starter = actor_lookup(engine)(scenario["start"]["as"])
    instance_id = engine.start(starter, process, scenario["start"].get("data", {}))
    for number, step in enumerate(scenario["steps"], 1):
        check_round_trip(engine, instance_id)
        try:
            run_step(engine, clock, instance_id, step)
        except Exception as exc:
            raise AssertionError(f"Schritt {number} {step}: {exc}") from exc
    with engine.db.read() as session:
        row = session.scalars(select(ProcessInstance).where(ProcessInstance.id == instance_id)).one()
        assert (row.status, row.end_event) == ("completed", scenario["end"]), row.status_reason
    clock.advance(timedelta(0))


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_every_end_event_has_a_scenario(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    bpmn = etree.parse(str(PROCESSES / f"{data['process']}.bpmn"))  # our own trusted file
    process = bpmn.find(f"{BPMN_NS}process")
    assert process is not None
    ends = {e.get("id") for e in process.findall(f"{BPMN_NS}endEvent")}
    covered = {s["end"] for s in data["scenarios"]}
    assert ends <= covered, f"Endereignisse ohne Szenario: {sorted(ends - covered)}"
