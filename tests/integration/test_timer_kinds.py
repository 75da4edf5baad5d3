"""Every BPMN timer kind the processes use fires through both paths — the embedded runner
(``fire_due_timers``) and the distributed one (scheduler claim ``dispatch_due`` → worker
``fire_timer``) — on SQLite and PostgreSQL: start timers, intermediate date timers, and
non-interrupting cycles that fire exactly their number of repetitions."""

from __future__ import annotations

from datetime import timedelta
from xml.sax.saxutils import quoteattr

import pytest

from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import FOOTER, HEADER, _flow, user_task, write_definitions

GROUP = "Fachkraft@frauenberatung-soest"


def _process(pid: str, body: str) -> str:
    return HEADER.format(pid=pid, name=quoteattr(pid)) + body + FOOTER


def _timer(kind: str, value: str) -> str:
    """A timer definition; the value is a Python string expression, as SpiffWorkflow evaluates it."""
    return f'<bpmn:timerEventDefinition><bpmn:{kind}>"{value}"</bpmn:{kind}></bpmn:timerEventDefinition>'


DEFINITIONS = {
    "startzeit": _process(
        "startzeit",
        f'<bpmn:startEvent id="start">{_timer("timeDuration", "PT2H")}</bpmn:startEvent>\n'
        + user_task("danach", "Danach", GROUP, "notiz")
        + '<bpmn:endEvent id="ende"/>'
        + _flow("f1", "start", "danach")
        + _flow("f2", "danach", "ende"),
    ),
    "stichtag": _process(
        "stichtag",
        '<bpmn:startEvent id="start"/>\n'
        + '<bpmn:intermediateCatchEvent id="warten">'
        + _timer("timeDate", "2026-01-06T09:00:00+01:00")
        + "</bpmn:intermediateCatchEvent>\n"
        + user_task("danach", "Danach", GROUP, "notiz")
        + '<bpmn:endEvent id="ende"/>'
        + _flow("f1", "start", "warten")
        + _flow("f2", "warten", "danach")
        + _flow("f3", "danach", "ende"),
    ),
    "zyklus": _process(
        "zyklus",
        '<bpmn:startEvent id="start"/>\n'
        + user_task("arbeit", "Arbeit", GROUP, "notiz")
        + '<bpmn:boundaryEvent id="zyklus" attachedToRef="arbeit" cancelActivity="false">'
        + _timer("timeCycle", "R3/PT1H")
        + "</bpmn:boundaryEvent>\n"
        + user_task("erinnern", "Erinnern", "Leitung@frauenberatung-soest", "notiz")
        + '<bpmn:endEvent id="ende"/><bpmn:endEvent id="ende_erinnert"/>'
        + _flow("f1", "start", "arbeit")
        + _flow("f2", "arbeit", "ende")
        + _flow("f3", "zyklus", "erinnern")
        + _flow("f4", "erinnern", "ende_erinnert"),
    ),
}


@pytest.fixture
def hn(tmp_path, any_db_url, clock):
    engine = build_engine(tmp_path, any_db_url, clock, write_definitions(tmp_path / "d", DEFINITIONS))
    yield engine
    engine.db.dispose()


def fire(hn, path: str) -> int:
    """One round of the embedded runner, or one scheduler tick whose timers the workers fire."""
    if path == "eingebettet":
        return int(hn.fire_due_timers())
    return sum(hn.fire_timer(instance) for instance in hn.dispatch_due().timers)


def tasks(hn, username: str, instance: int, view: str = "meine") -> list[str]:
    page = hn.worklist(actor_lookup(hn)(username), WorklistQuery(view=view, per_page=100))
    return sorted(t.element_id for t in page.tasks if t.instance_id == instance)


@pytest.mark.parametrize("path", ["eingebettet", "verteilt"])
def test_start_and_date_timers_fire_once_when_due(hn, clock, path) -> None:
    fb = actor_lookup(hn)("fachkraft.frauenberatung")
    started = hn.start(fb, "startzeit", {})
    dated = hn.start(fb, "stichtag", {})  # due 2026-01-06 09:00 Berlin; the clock is 2026-01-05 08:00 UTC
    assert fire(hn, path) == 0
    clock.advance(timedelta(hours=2, seconds=1))
    assert fire(hn, path) == 1 and fire(hn, path) == 0
    assert tasks(hn, "fachkraft.frauenberatung", started, "gruppe") == ["danach"]
    assert tasks(hn, "fachkraft.frauenberatung", dated, "gruppe") == []
    clock.advance(timedelta(hours=23))
    assert fire(hn, path) == 1
    assert tasks(hn, "fachkraft.frauenberatung", dated, "gruppe") == ["danach"]


@pytest.mark.parametrize("path", ["eingebettet", "verteilt"])
def test_a_cycle_fires_exactly_its_repetitions(hn, clock, path) -> None:
    instance = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "zyklus", {})
    for round_ in range(1, 5):
        clock.advance(timedelta(hours=1, seconds=1))
        fire(hn, path)
        expected = min(round_, 3)
        assert tasks(hn, "leitung.frauenberatung", instance, "gruppe").count("erinnern") == expected
    assert tasks(hn, "fachkraft.frauenberatung", instance, "gruppe") == ["arbeit"]  # not interrupted
