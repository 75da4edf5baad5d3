"""The restricted script environment: what runs, what is refused, and how errors surface."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from engine import scripting
from engine.errors import ScriptError
from engine.scripting import (
    RestrictedEnvironment,
    RestrictedScriptEngine,
    check_expression,
    check_script,
    strip_expression,
)
from engine.xml_safety import parse_xml

LIMIT = 0.3


@pytest.fixture
def env() -> RestrictedEnvironment:
    return RestrictedEnvironment(time_limit_seconds=LIMIT)


def run(env: RestrictedEnvironment, script: str, **data: Any) -> dict[str, Any]:
    env.execute(script, data)
    return data


# --- expressions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${betrag > 5000}", "betrag > 5000"),
        ("  ${ approved }  ", "approved"),
        ("#{a and b}", "a and b"),
        ("${ {'a': 1}['a'] }", "{'a': 1}['a']"),
        ("  betrag > 5000\n", "betrag > 5000"),
        ('"P3D"', '"P3D"'),
    ],
)
def test_strip_expression(text: str, expected: str) -> None:
    assert strip_expression(text) == expected


def test_camunda_style_conditions_evaluate(env: RestrictedEnvironment) -> None:
    assert env.evaluate("${betrag > 5000}", {"betrag": 6000}) is True
    assert env.evaluate("${betrag > 5000}", {"betrag": 10}) is False
    assert env.evaluate("${approved}", {"approved": True}) is True
    assert env.evaluate("#{len(namen)}", {"namen": ["a", "b"]}) == 2


def test_external_context_is_visible_and_task_data_wins(env: RestrictedEnvironment) -> None:
    assert env.evaluate("x + y", {"x": 1}, {"y": 2, "x": 100}) == 3


def test_evaluate_refuses_non_plain_results(env: RestrictedEnvironment) -> None:
    with pytest.raises(ScriptError, match="nicht erlaubt"):
        env.evaluate("(i for i in liste)", {"liste": [1]})


def test_check_expression_and_check_script() -> None:
    assert check_expression("${betrag > 5000}") is None
    assert check_script("x = 1\nif x:\n    y = 2") is None
    assert check_script("    x = 1\n    y = x + 1\n") is None, "indentation from the XML is removed"
    reason = check_expression("${betrag >}")
    assert reason is not None and "Syntaxfehler" in reason
    reason = check_script("x = y.__class__")
    assert reason is not None and "„__class__“" in reason and "nicht erlaubt" in reason
    reason = check_script("import os")
    assert reason == "Zeile 1: Importe sind nicht erlaubt."


# --- refused and hostile code ----------------------------------------------------------------------

HOSTILE = [
    "__import__('os')",
    "().__class__.__base__.__subclasses__()",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('x = 1')",
    "globals()",
    "getattr(x, '__class__')",
    "type(x).__mro__",
    "x.__class__",
    "compile('1', 'f', 'eval')",
    "vars()",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_expression_fails(env: RestrictedEnvironment, source: str) -> None:
    with pytest.raises(ScriptError) as info:
        env.evaluate(source, {"x": 1})
    assert "Ausdruck" in info.value.message


@pytest.mark.parametrize("source", [*HOSTILE, "import os", "from os import system", "class A:\n    pass"])
def test_hostile_script_fails_and_leaves_data_alone(env: RestrictedEnvironment, source: str) -> None:
    data: dict[str, Any] = {"x": 1}
    with pytest.raises(ScriptError):
        env.execute(f"marker = 1\n{source}", data)
    assert data == {"x": 1}


def test_runtime_attribute_guard_refuses_underscore_names() -> None:
    """RestrictedPython refuses ``x.__class__`` at compile time; the guard refuses it at run time too."""
    with pytest.raises(AttributeError):
        scripting._getattr(1, "__class__")
    with pytest.raises(AttributeError):
        scripting._getattr(iter(()), "gi_frame")
    with pytest.raises(NotImplementedError):
        scripting._getattr("{0.__class__}", "format")


def test_no_import_function_in_builtins() -> None:
    assert "__import__" not in scripting._BUILTINS
    assert "open" not in scripting._BUILTINS
    assert "SystemExit" not in scripting._BUILTINS


# --- time limit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "while True:\n    pass",
        "x = [i for i in iter(int, 1)]",
        "x = list(iter(int, 1))",
        "f = lambda n: f(n - 1) + f(n - 1) if n else 1\nx = f(200)",
        "def f(n):\n    return 1 if n == 0 else f(n - 1) + f(n - 1)\nx = f(200)",
        "while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass",
    ],
)
def test_endless_code_is_stopped_at_the_time_limit(env: RestrictedEnvironment, script: str) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptError, match="Zeitlimit von 0,3 s"):
        env.execute(script, {})
    assert time.monotonic() - started < LIMIT + 1.0


def test_endless_expression_is_stopped(env: RestrictedEnvironment) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptError, match="Zeitlimit"):
        env.evaluate("[x for x in iter(int, 1)]", {})
    assert time.monotonic() - started < LIMIT + 1.0


def test_time_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="Zeitlimit"):
        RestrictedEnvironment(time_limit_seconds=0)


# --- size limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "'a' * 10**10",
        "10**10 * 'a'",
        "[0] * 10**9",
        "10**10**10",
        "pow(10, 10**10)",
        "pow(3, 2**5000, 2**5000 + 1)",
        "1 << 10**10",
        "'x'.ljust(10**10)",
        "'x'.center(width=10**10)",
        "f\"{'':>9999999999}\"",
        "'%9999999999s' % 'x'",
        "'%*s' % (10**10, 'x')",
        "range(10**9)",
        "range(10**30)",
        "round(5, -10**9)",
        "('a' * 1000000) + 'b'",
        "'-'.join(['a' * 1000] * 1000)",
        "('a' * 100000).replace('a', 'b' * 100)",
    ],
)
def test_huge_results_are_refused(env: RestrictedEnvironment, source: str) -> None:
    with pytest.raises(ScriptError, match=r"zu groß|begrenzt|höchstens"):
        env.evaluate(source, {})


def test_sum_of_lists_is_checked_step_by_step(env: RestrictedEnvironment) -> None:
    """C's sum() would concatenate quadratically without any check or tick."""
    started = time.monotonic()
    with pytest.raises(ScriptError, match=r"zu groß|Zeitlimit"):
        env.evaluate("sum([[0] * 1000] * 2000, [])", {})
    assert time.monotonic() - started < LIMIT + 1.0


def test_inplace_operators_are_guarded(env: RestrictedEnvironment) -> None:
    with pytest.raises(ScriptError, match="zu groß"):
        env.execute("s = 'a'\ns *= 10**10", {})
    with pytest.raises(ScriptError, match="zu groß"):
        env.execute("n = 10\nn **= 10**10", {})


def test_moderate_sizes_still_work(env: RestrictedEnvironment) -> None:
    assert env.evaluate("len('ab' * 1000)", {}) == 2000
    assert env.evaluate("2**64", {}) == 18446744073709551616
    assert env.evaluate("pow(2, 10, 1000)", {}) == 24
    assert env.evaluate("'%05.1f|%s' % (3.14159, 'x')", {}) == "003.1|x"
    assert env.evaluate("f'{zahl:08.2f}'", {"zahl": 3.14159}) == "00003.14"
    assert env.evaluate("'x'.rjust(3, '-')", {}) == "--x"
    assert env.evaluate("', '.join(namen)", {"namen": ["a", "b"]}) == "a, b"
    assert env.evaluate("round(2.567, 2)", {}) == 2.57
    assert env.evaluate("sum(range(10))", {}) == 45
    assert env.evaluate("sum([[1], [2]], [])", {}) == [1, 2]
    assert env.evaluate("sum([0.5, 1], 1)", {}) == 2.5


# --- normal scripts --------------------------------------------------------------------------------


def test_normal_script(env: RestrictedEnvironment) -> None:
    script = """
        summe = 0
        for posten in posten_liste:
            if posten["betrag"] > 0:
                summe += posten["betrag"]
        namen = [p["name"].upper() for p in posten_liste]
        nach_name = {p["name"]: p["betrag"] for p in posten_liste}
        gerade = {n for n in range(6) if n % 2 == 0}
        a, (b, c) = 1, (2, 3)
        text = f"Summe: {summe:.2f} € für {len(namen)} Posten"
        x = 0
        while x < 3:
            x = x + 1
        print(text)
    """
    posten = [{"name": "miete", "betrag": 500}, {"name": "strom", "betrag": 80.5}]
    data = run(env, script, posten_liste=posten)
    assert data["summe"] == 580.5
    assert data["namen"] == ["MIETE", "STROM"]
    assert data["nach_name"] == {"miete": 500, "strom": 80.5}
    assert data["gerade"] == {0, 2, 4}
    assert (data["a"], data["b"], data["c"], data["x"]) == (1, 2, 3, 3)
    assert data["text"] == "Summe: 580.50 € für 2 Posten"
    assert not [key for key in data if key.startswith("_")]


def test_datetime_arithmetic_via_helpers() -> None:
    env = RestrictedEnvironment(helpers={"datetime": datetime, "timedelta": timedelta, "date": date})
    data = run(
        env,
        "frist = eingang + timedelta(days=14)\ntage = (frist - eingang).days\nheute = date(2024, 5, 1)",
        eingang=datetime(2024, 3, 1, 9, 30),
    )
    assert data["frist"] == datetime(2024, 3, 15, 9, 30)
    assert data["tage"] == 14
    assert data["heute"] == date(2024, 5, 1)
    assert "timedelta" not in data and "datetime" not in data
    assert env.evaluate("eingang < datetime(2025, 1, 1)", {"eingang": datetime(2024, 3, 1)}) is True


def test_execute_drops_helpers_and_functions_and_keeps_variables() -> None:
    env = RestrictedEnvironment(helpers={"verdoppeln": lambda n: n * 2})
    data = run(env, "def plus_eins(n):\n    return n + 1\nergebnis = plus_eins(verdoppeln(wert))", wert=20)
    assert data == {"wert": 20, "ergebnis": 41}


def test_execute_deletes_variables(env: RestrictedEnvironment) -> None:
    assert run(env, "del alt\nneu = 1", alt=0) == {"neu": 1}


def test_failed_script_leaves_data_untouched(env: RestrictedEnvironment) -> None:
    data: dict[str, Any] = {"liste": [1]}
    with pytest.raises(ScriptError, match="Zeile 3") as info:
        env.execute("liste.append(2)\nneu = 1\nfehler = 1 / 0", data)
    assert data == {"liste": [1]}
    assert "ZeroDivisionError" in info.value.message
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_execute_refuses_unstorable_values(env: RestrictedEnvironment) -> None:
    with pytest.raises(ScriptError, match="„paare“ hat den Typ zip"):
        env.execute("paare = zip([1], [2])", {})


def test_task_data_must_not_hide_a_helper() -> None:
    env = RestrictedEnvironment(helpers={"frist": lambda: 1})
    with pytest.raises(ScriptError, match="frist"):
        env.execute("x = 1", {"frist": 3})


def test_helper_names_are_checked() -> None:
    with pytest.raises(ValueError, match="_geheim"):
        RestrictedEnvironment(helpers={"_geheim": len})


def test_name_error_is_german(env: RestrictedEnvironment) -> None:
    with pytest.raises(ScriptError, match="„unbekannt“ ist nicht definiert"):
        env.evaluate("${unbekannt > 1}", {})


def test_compiled_code_is_cached(env: RestrictedEnvironment) -> None:
    scripting._compile.cache_clear()
    env.evaluate("${cache_test + 1}", {"cache_test": 1})
    env.evaluate("cache_test + 1", {"cache_test": 2})
    check_expression("cache_test + 1")
    info = scripting._compile.cache_info()
    assert (info.misses, info.hits) == (1, 2)


# --- SpiffWorkflow ---------------------------------------------------------------------------------

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="pruefung" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Berechnen" name="Betrag berechnen" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Pruefen">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f_hoch</bpmn:outgoing>
      <bpmn:outgoing>f_niedrig</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="StartEvent_1" targetRef="Berechnen" />
    <bpmn:sequenceFlow id="f2" sourceRef="Berechnen" targetRef="Pruefen" />
    <bpmn:sequenceFlow id="f_hoch" sourceRef="Pruefen" targetRef="EndeHoch">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{hoch}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_niedrig" sourceRef="Pruefen" targetRef="EndeNiedrig">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{niedrig}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="EndeHoch"><bpmn:incoming>f_hoch</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="EndeNiedrig"><bpmn:incoming>f_niedrig</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""

SCRIPT = """
      betrag = menge * preis
      hinweis = f"Summe: {betrag} €"
"""


def _workflow(script: str = SCRIPT, hoch: str = "${betrag > 5000}", **data: Any) -> BpmnWorkflow:
    parser = CamundaParser()
    xml = PROCESS.format(script=escape(script), hoch=escape(hoch), niedrig=escape("${betrag <= 5000}"))
    parser.add_bpmn_xml(parse_xml(xml, filename="pruefung.bpmn"), filename="pruefung.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("pruefung"), script_engine=RestrictedScriptEngine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    return workflow


def _completed(workflow: BpmnWorkflow) -> set[str]:
    return {t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id}


@pytest.mark.parametrize(("menge", "ende"), [(10, "EndeHoch"), (2, "EndeNiedrig")])
def test_workflow_runs_script_and_gateway(menge: int, ende: str) -> None:
    workflow = _workflow(menge=menge, preis=600)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    other = ({"EndeHoch", "EndeNiedrig"} - {ende}).pop()
    assert ende in _completed(workflow)
    assert other not in _completed(workflow)
    assert workflow.data["betrag"] == menge * 600
    assert workflow.data["hinweis"] == f"Summe: {menge * 600} €"


@pytest.mark.parametrize(
    "hostile",
    [
        "().__class__.__base__.__subclasses__()",
        "import os\nos.system('touch /tmp/hilfenetz-pwned')",
        "open('/tmp/hilfenetz-pwned', 'w').write('x')",
    ],
)
def test_hostile_script_task_is_an_error(hostile: str) -> None:
    workflow = _workflow(script=f"betrag = 1\n{hostile}", menge=1, preis=1)
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert isinstance(info.value.__cause__, ScriptError)
    assert "Skript" in str(info.value)
    assert not Path("/tmp/hilfenetz-pwned").exists()
    failed = [t for t in workflow.get_tasks(state=TaskState.ERROR) if t.task_spec.bpmn_id == "Berechnen"]
    assert len(failed) == 1
    assert "betrag" not in failed[0].data, "nothing of the script was applied"


def test_failing_condition_is_a_workflow_task_error() -> None:
    workflow = _workflow(hoch="${unbekannt > 1}", menge=1, preis=1)
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    cause = info.value.__cause__
    assert isinstance(cause, ScriptError)
    assert "„unbekannt“ ist nicht definiert" in cause.message
    assert str(info.value).startswith("Fehler im Ausdruck „unbekannt > 1“")


def test_engine_validate_raises_syntax_error_like_the_stock_engine() -> None:
    engine = RestrictedScriptEngine()
    engine.validate('"Warstein"')
    with pytest.raises(SyntaxError):
        engine.validate("> 5")
    with pytest.raises(SyntaxError):
        engine.validate("x.__class__")
