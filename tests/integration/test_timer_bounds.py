"""A timer whose value is computed at run time (a variable, ``${frist(...)}``, ``str(...)``) is held to
the check's bounds when SpiffWorkflow evaluates it: a huge duration would otherwise make
``get_timedelta_from_start`` loop once per month and hang the worker (engine/timer_bounds.py)."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import pytest
from sqlalchemy import func, select

from engine.errors import ScriptError
from engine.persistence.models import ProcessInstance
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import FOOTER, HEADER, _flow, user_task, write_definitions

GROUP = "Fachkraft@frauenberatung-soest"


def _waiting(pid: str, kind: str, expression: str, value: object) -> str:
    """Start → a script that sets ``wert`` → a timer computed from ``wert`` → a task → end."""
    return (
        HEADER.format(pid=pid, name=quoteattr(pid))
        + '<bpmn:startEvent id="start"/>\n'
        + f'<bpmn:scriptTask id="setzen" name="Setzen"><bpmn:script>wert = {value!r}</bpmn:script>'
        + "</bpmn:scriptTask>"
        + '<bpmn:intermediateCatchEvent id="warten">'
        + f"<bpmn:timerEventDefinition><bpmn:{kind}>{expression}</bpmn:{kind}></bpmn:timerEventDefinition>"
        + "</bpmn:intermediateCatchEvent>\n"
        + user_task("danach", "Danach", GROUP, "notiz")
        + '<bpmn:endEvent id="ende"/>'
        + _flow("f0", "start", "setzen")
        + _flow("f1", "setzen", "warten")
        + _flow("f2", "warten", "danach")
        + _flow("f3", "danach", "ende")
        + FOOTER
    )


#: process id → (timer kind, expression, value of ``wert``, expected piece of the reason or None)
CASES: dict[str, tuple[str, str, object, str | None]] = {
    "dauer_riesig": ("timeDuration", "wert", "P99999999Y", "ist zu lang; höchstens 100 Jahre"),
    "dauer_berechnet": ("timeDuration", "${str(wert)}", "P1000000M", "ist zu lang; höchstens 100 Jahre"),
    "dauer_kaputt": ("timeDuration", "wert", "drei Tage", "keine gültige ISO-8601-Angabe"),
    "dauer_zahl": ("timeDuration", "wert", 3, "statt einer ISO-8601-Angabe"),
    "zyklus_endlos": ("timeCycle", "wert", "R/PT1H", "wiederholt sich ohne Ende"),
    "zyklus_null": ("timeCycle", "wert", "R5/PT0S", "mindestens eine Minute"),
    "zyklus_riesig": ("timeCycle", "wert", "R3/P99999999Y", "ist zu lang"),
    "dauer_gut": ("timeDuration", "wert", "P6M", None),
    "dauer_gut_berechnet": ("timeDuration", "${str(wert)}", "PT4H", None),
    "zyklus_gut": ("timeCycle", "wert", "R3/P1D", None),
}
DEFINITIONS = {pid: _waiting(pid, kind, expr, value) for pid, (kind, expr, value, _) in CASES.items()}
REFUSED = [(pid, case[3]) for pid, case in CASES.items() if case[3]]
ACCEPTED = [pid for pid, case in CASES.items() if not case[3]]


@pytest.fixture
def hn(tmp_path, any_db_url, clock):
    engine = build_engine(tmp_path, any_db_url, clock, write_definitions(tmp_path / "d", DEFINITIONS))
    yield engine
    engine.db.dispose()


def _instances(hn) -> int:
    with hn.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessInstance)) or 0)


@pytest.mark.parametrize(("process", "reason"), REFUSED, ids=[pid for pid, _ in REFUSED])
def test_a_computed_timer_beyond_the_bounds_is_refused_with_the_element(hn, process, reason):
    before = _instances(hn)
    with pytest.raises(ScriptError) as err:
        hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), process, {})
    assert err.value.element == "warten"
    assert "Zeitgeber „warten“" in err.value.message and reason in err.value.message, err.value.message
    assert _instances(hn) == before


@pytest.mark.parametrize("process", ACCEPTED)
def test_a_computed_timer_within_the_bounds_waits(hn, process):
    instance = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), process, {})
    with hn.db.read() as session:
        assert session.get(ProcessInstance, instance).next_timer_at is not None
