"""Drive every process through every end state from the scenario file beside its BPMN.

The workflow cache is off, so every step restores the instance from the database; at each step
the stored state is also restored and dumped again and must be identical.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.clock import ManualClock
from engine.consent import ConsentInput
from engine.errors import HilfenetzError
from engine.persistence.models import Ballot, BallotElector, ProcessInstance
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


def family(hn: Hilfenetz, instance_id: int) -> list[int]:
    """The instance and every instance its messages started (P1 → P1a …), oldest first."""
    found = [instance_id]
    with hn.db.read() as session:
        for current in found:
            found.extend(
                session.scalars(
                    select(ProcessInstance.id)
                    .where(ProcessInstance.parent_instance_id == current)
                    .order_by(ProcessInstance.id)
                ).all()
            )
    return found


def find_task(hn: Hilfenetz, actor: Any, instance_id: int, element: str, where: dict[str, Any]) -> str:
    page = hn.worklist(actor, WorklistQuery(view="alle", per_page=100))
    instances = set(family(hn, instance_id))
    for task in page.tasks:
        if task.instance_id not in instances or task.element_id != element:
            continue
        data = task_data(hn, task.instance_id, task.id)
        if all(data.get(k) == v for k, v in where.items()):
            return task.id
    open_tasks = [(t.element_id, t.instance_id) for t in page.tasks]
    raise AssertionError(f"{actor.username} sieht keine Aufgabe {element} {where}; offen: {open_tasks}")


def run_step(hn: Hilfenetz, clock: ManualClock, instance_id: int, step: dict[str, Any]) -> None:
    look = actor_lookup(hn)
    if "complete" in step:
        actor = look(step["as"])
        task_id = find_task(hn, actor, instance_id, step["complete"], step.get("where", {}))
        if "refused" in step:  # the step is refused with this German message and nothing is saved
            with pytest.raises(HilfenetzError) as refused:
                hn.complete(actor, task_id, step.get("data", {}))
            assert step["refused"] in refused.value.message, refused.value.message
            assert task_id in {t.id for t in hn.worklist(actor, WorklistQuery(per_page=100)).tasks}
            return
        hn.complete(actor, task_id, step.get("data", {}))
    elif "advance" in step:
        clock.advance(parse_iso_duration(step["advance"]))
        hn.fire_due_timers()
        hn.close_due_ballots()
    elif "vote" in step:
        ballot = open_ballot_of(hn, instance_id)
        for username, choice, *member in step["vote"]:
            hn.cast_vote(look(username), ballot, choice, member=member[0] if member else None)
    elif "ballot" in step:
        check_ballot(hn, instance_id, step["ballot"])
    elif "absence" in step:
        absent = step["absence"]
        now = clock.now()
        ends = now + parse_iso_duration(absent.get("for", "P30D"))
        hn.add_absence(look(absent["as"]), absent["substitute"], now, ends)
    elif "message" in step:
        hn.send_message(look(step["as"]), instance_id, step["message"])
    elif "sees" in step:
        check_sees(hn, instance_id, step)
    elif "contact_data" in step:
        check_contact_data(hn, instance_id, step)
    elif {"consent", "withdraw_consent", "variables"} & set(step):
        run_consent_step(hn, instance_id, step)
    else:
        raise AssertionError(f"unbekannter Schritt {step}")


def open_ballot_of(hn: Hilfenetz, instance_id: int) -> int:
    """The open ballot a system step of the case (or its family) opened."""
    with hn.db.read() as session:
        found = session.scalars(
            select(Ballot.id).where(Ballot.instance_id.in_(family(hn, instance_id)), Ballot.status == "offen")
        ).all()
    assert len(found) == 1, f"erwartet genau eine offene Abstimmung, gefunden: {found}"
    return found[0]


def check_ballot(hn: Hilfenetz, instance_id: int, expected: dict[str, Any]) -> None:
    """``{"ballot": {"outcome": …, "closed_how": …, "excluded": n}}`` for the case's newest ballot."""
    with hn.db.read() as session:
        ballot = session.scalars(
            select(Ballot).where(Ballot.instance_id == instance_id).order_by(Ballot.id.desc())
        ).first()
        assert ballot is not None, "der Vorgang hat keine Abstimmung"
        got = {"status": ballot.status, "outcome": ballot.outcome, "closed_how": ballot.closed_how}
        got["excluded"] = len(
            session.scalars(
                select(BallotElector.id).where(
                    BallotElector.ballot_id == ballot.id, BallotElector.voter_id.is_(None)
                )
            ).all()
        )
    assert {k: got[k] for k in expected} == expected, got


def check_sees(hn: Hilfenetz, instance_id: int, step: dict[str, Any]) -> None:
    """``{"sees": element, "as": user, "count": n}``: how many open tasks of that element the user
    finds in the case's family (0 = the user must not see it)."""
    actor = actor_lookup(hn)(step["as"])
    page = hn.worklist(actor, WorklistQuery(view="alle", per_page=100))
    instances = set(family(hn, instance_id))
    found = [t for t in page.tasks if t.instance_id in instances and t.element_id == step["sees"]]
    assert len(found) == step.get("count", 1), f"{step['as']} sieht {len(found)}× {step['sees']}"


def check_contact_data(hn: Hilfenetz, instance_id: int, step: dict[str, Any]) -> None:
    """``{"contact_data": element, "as": user, "visible": bool}``: whether the user's task page
    shows the case's Kontaktdaten (and nothing of them sits in any instance's data)."""
    actor = actor_lookup(hn)(step["as"])
    task_id = find_task(hn, actor, instance_id, step["contact_data"], step.get("where", {}))
    detail = hn.task_detail(actor, task_id)
    assert bool(detail.contact_records) == step["visible"], detail.contact_records
    with hn.db.read() as session:
        for member in family(hn, instance_id):
            state = session.get(ProcessInstance, member).state.decode("utf-8")
            for name in step.get("never_in_state", []):
                assert name not in state, f"{name} steht in den Prozessdaten von Vorgang {member}"


def run_consent_step(hn: Hilfenetz, instance_id: int, step: dict[str, Any]) -> None:
    """``{"consent": {…ConsentInput}, "as": user}`` records an Einwilligung on the case page;
    ``{"withdraw_consent": by, "as": user}`` withdraws the case's newest one; ``variables`` checks data."""
    if "variables" in step:
        check_variables(hn, instance_id, step)
        return
    actor = actor_lookup(hn)(step["as"])
    if "consent" in step:
        hn.record_consent(actor, instance_id, ConsentInput(**step["consent"]))
    else:
        newest = hn.consents_of_case(actor, instance_id)[-1]
        hn.withdraw_consent(actor, newest.id, step["withdraw_consent"])


def check_variables(hn: Hilfenetz, instance_id: int, step: dict[str, Any]) -> None:
    """``{"variables": {name: value}, "at": element}``: the data of the instance's open task at
    that element (without ``at``: the data the finished instance ended with)."""
    with hn.db.read() as session:
        workflow = hn.runtime.peek(session, session.get(ProcessInstance, instance_id))
        if "at" in step:
            ready = workflow.get_tasks(state=TaskState.READY)
            found = [t for t in ready if t.task_spec.bpmn_id == step["at"]]
            assert found, f"keine offene Aufgabe {step['at']}"
            data = found[0].data
        else:
            data = workflow.data
    got = {k: data.get(k) for k in step["variables"]}
    assert got == step["variables"], got


def check_children(hn: Hilfenetz, instance_id: int, expected: list[dict[str, Any]]) -> None:
    """``"children": [{"process": key, "status": s, "end": e}, …]`` in start order."""
    with hn.db.read() as session:
        rows = [session.get(ProcessInstance, i) for i in family(hn, instance_id)[1:]]
        got = [{"process": r.process_key, "status": r.status, "end": r.end_event} for r in rows if r]
    want = [
        {"process": c["process"], "status": c.get("status", "completed"), "end": c.get("end")}
        for c in expected
    ]
    assert got == want


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
    if "children" in scenario:
        check_children(engine, instance_id, scenario["children"])
    if "also_ends" in scenario:
        assert set(scenario["also_ends"]) <= completed_end_events(engine, instance_id)


def completed_end_events(hn: Hilfenetz, instance_id: int) -> set[str]:
    """Every end event the instance's top level reached (parallel branches end separately)."""
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        workflow = hn.runtime.peek(session, row)
        return {
            str(t.task_spec.bpmn_id)
            for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if type(t.task_spec).__name__ == "EndEvent"
        }


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_every_end_event_has_a_scenario(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    bpmn = etree.parse(str(PROCESSES / f"{data['process']}.bpmn"))  # our own trusted file
    process = bpmn.find(f"{BPMN_NS}process")
    assert process is not None
    ends = {e.get("id") for e in process.findall(f"{BPMN_NS}endEvent")}
    covered = {s["end"] for s in data["scenarios"]} | {
        e for s in data["scenarios"] for e in s.get("also_ends", [])
    }
    assert ends <= covered, f"Endereignisse ohne Szenario: {sorted(ends - covered)}"
