"""Rules whose violation would only show when a case reaches the element: refused at deployment.

Scripts and expressions must compile in the restricted environment (engine/scripting.py), must not
loop forever by construction, timers must parse and not fire without end, and message payloads must
name the variables they fill. ``hilfenetz check`` and every deployment run these, with the same reason.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bpmn_structure import BPMN_NS
from engine.errors import Problem
from engine.foreign_elements import CAMUNDA_NS, is_python_script
from engine.scripting import ALLOWED_FUNCTIONS, check_expression, check_script, strip_expression

_B = f"{{{BPMN_NS}}}"
_C = f"{{{CAMUNDA_NS}}}"
_QUOTED = re.compile(r"""^\s*(['"])(.*)\1\s*$""", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: A repeating timer fires at most this often and at most this many times.
MAX_CYCLE_REPETITIONS = 1000
MIN_CYCLE_INTERVAL = timedelta(minutes=1)
#: The helpers the engine passes to every script (engine/service.py builds the environment with them).
SCRIPT_HELPERS = frozenset({"frist", "frist_tage", "ist_ehrenamtlich"})
_SHOWN_FUNCTIONS = ("len", "min", "max", "sum", "sorted", "round", "str", "int", "frist")
#: SpiffWorkflow counts months one by one; a timer of millions of years would stop the server.
MAX_TIMER_MONTHS = 1200
_MAX_TIMER = timedelta(days=MAX_TIMER_MONTHS * 31)


def executable_problems(root: etree._Element, filename: str) -> list[Problem]:
    problems: list[Problem] = []
    for flow in root.iter(f"{_B}sequenceFlow"):
        for cond in flow.iter(f"{_B}conditionExpression"):
            problems.extend(expression_problems(filename, flow.get("id"), cond.text or "", "Bedingung"))
    for script in root.iter(f"{_B}script"):
        if not is_python_script(script.getparent()):
            continue  # foreign_elements names the language
        problems.extend(_script(filename, _owner_id(script, 1), script.text or ""))
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iter(f"{_B}{tag}"):
            problems.extend(_timer(filename, _owner_id(node, 2), node.text or "", tag))
    for definition in root.iter(f"{_B}messageEventDefinition"):
        problems.extend(_message(filename, definition))
    for task in root.iter(f"{_B}userTask"):
        problems.extend(_due_literals(filename, task))
    return problems


def _due_literals(filename: str, task: etree._Element) -> Iterator[Problem]:
    """A literal dueDate/followUpDate must be what resolve_due reads: "morgen" would pass as a Python
    name and fail every start of the version. Values with ``${…}`` are expressions (modelling_rules)."""
    from engine.projection import due_literal_reason  # projection imports definitions, which imports us

    for attribute in ("dueDate", "followUpDate"):
        literal = (task.get(f"{_C}{attribute}") or "").strip()
        reason = due_literal_reason(literal) if literal and "${" not in literal else None
        if reason:
            yield Problem(filename, task.get("id"), f"{attribute}: {reason}")


def _owner_id(node: etree._Element, levels: int) -> str | None:
    """The id of the element ``levels`` up (the task that holds a script, the event of a timer)."""
    owner: etree._Element | None = node
    for _ in range(levels):
        owner = owner.getparent() if owner is not None else None
    return owner.get("id") if owner is not None else None


def expression_problems(filename: str, element: str | None, text: str, what: str) -> Iterator[Problem]:
    source = strip_expression(text)
    if source.startswith("="):
        yield Problem(
            filename,
            element,
            f"{what}: „{source[:60]}“ ist ein FEEL-Ausdruck aus Camunda 8; Hilfenetz wertet Ausdrücke in "
            "Python aus (z. B. ${betrag > 5000}).",
        )
        return
    reason = check_expression(source) or _static_reason(source, "eval")
    if reason:
        yield Problem(filename, element, f"{what}: {reason}")


def _script(filename: str, element: str | None, text: str) -> Iterator[Problem]:
    reason = check_script(text) or _static_reason(text, "exec")
    if reason:
        yield Problem(filename, element, f"Skript: {reason}")


def _static_reason(source: str, mode: str) -> str | None:
    """What compiles but cannot work: unknown functions, loops that cannot end."""
    try:
        tree = ast.parse(source.strip() if mode == "eval" else _dedent(source), mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the compile check has already said why
    return _unknown_call(tree) or _endless(tree)


def _unknown_call(tree: ast.AST) -> str | None:
    """``open(…)``, ``eval(…)``, ``type(…)``: only the allowed builtins, the engine's helpers and
    functions the script defines itself can be called (task data never holds functions)."""
    defined = {
        target.id
        for node in ast.walk(tree)
        for target in ast.walk(node)
        if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store)
    }
    defined |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name not in ALLOWED_FUNCTIONS and name not in SCRIPT_HELPERS and name not in defined:
                return (
                    f"Zeile {node.lineno}: Die Funktion „{name}“ steht in Skripten und Ausdrücken nicht "
                    f"zur Verfügung (erlaubt sind u. a. {', '.join(_SHOWN_FUNCTIONS)})."
                )
    return None


def _endless(tree: ast.AST) -> str | None:
    """Constructs that cannot end: ``while True`` without ``break``, ``iter(f, stop)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.While) and _always_true(node.test) and not _breaks(node):
            return f"Zeile {node.lineno}: Endlosschleife (while ohne Abbruchbedingung)."
        if _is_sentinel_iter(node):
            return (
                f"Zeile {getattr(node, 'lineno', '?')}: iter() mit Endwert kann endlos laufen und ist nicht "
                "erlaubt; bitte über eine Liste oder range() laufen."
            )
    return None


def _is_sentinel_iter(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "iter"
        and len(node.args) >= 2
    )


def _dedent(source: str) -> str:
    return textwrap.dedent(source).strip("\n")


def _always_true(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)


def _breaks(loop: ast.While) -> bool:
    """A ``break`` (or ``return``) that belongs to this loop, not to one nested in it."""
    pending: list[ast.AST] = list(loop.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Break | ast.Return | ast.Raise):
            return True
        if isinstance(node, ast.While | ast.For | ast.FunctionDef | ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False


def _timer(filename: str, element: str | None, text: str, tag: str) -> Iterator[Problem]:
    stripped = strip_expression(text)
    quoted = _QUOTED.match(stripped)
    if quoted is None:
        yield from expression_problems(filename, element, stripped, "Zeitgeber")
        return
    value = quoted.group(2).strip()
    try:
        reason = timer_reason(tag, value)
    except (ValueError, OverflowError):
        reason = f"„{value[:60]}“ ist keine gültige ISO-8601-Angabe."
    if reason:
        yield Problem(filename, element, f"Zeitgeber: {reason}")


def timer_reason(tag: str, value: str) -> str | None:
    if tag == "timeDuration":
        return _duration(value)[1]
    if tag == "timeDate":
        if datetime.fromisoformat(value).tzinfo is None:
            return "Ein Datum braucht eine Zeitzone (z. B. +01:00)."
    else:
        return _cycle_reason(value)
    return None


def _cycle_reason(value: str) -> str | None:
    """``R<n>/<Dauer>`` (optionally with a start date): bounded, and not more often than once a minute."""
    parts = value.split("/")
    repeat = parts[0].upper()
    if not repeat.startswith("R") or len(parts) < 2:
        raise ValueError(value)
    count = repeat[1:]
    if not count:
        return f"„{value}“ wiederholt sich ohne Ende; bitte die Anzahl angeben (z. B. R3/P1D)."
    if not count.isdigit() or len(count) > 9:
        raise ValueError(value)
    if int(count) > MAX_CYCLE_REPETITIONS:
        return f"„{value}“: höchstens {MAX_CYCLE_REPETITIONS} Wiederholungen sind erlaubt."
    durations = [p for p in parts[1:] if p.upper().startswith("P")]
    if len(durations) != 1:
        raise ValueError(value)
    interval, reason = _duration(durations[0])
    if reason:
        return reason
    if interval < MIN_CYCLE_INTERVAL:
        return f"„{value}“: Der Abstand zwischen zwei Wiederholungen muss mindestens eine Minute sein."
    for other in parts[1:]:
        if other != durations[0] and datetime.fromisoformat(other).tzinfo is None:
            return "Ein Datum braucht eine Zeitzone (z. B. +01:00)."
    return None


def _duration(value: str) -> tuple[timedelta, str | None]:
    """The length of an ISO duration as SpiffWorkflow reads it (months as 31 days), bounded."""
    if not value.upper().startswith("P"):
        raise ValueError(value)
    try:
        parts = dict(TimerEventDefinition.parse_iso_duration(value))
    except Exception as exc:  # SpiffWorkflow raises a bare Exception for a bad duration
        raise ValueError(value) from exc
    months = parts.pop("years", 0) * 12 + parts.pop("months", 0)
    too_long = f"„{value}“ ist zu lang; höchstens {MAX_TIMER_MONTHS // 12} Jahre sind erlaubt."
    if months > MAX_TIMER_MONTHS:
        return timedelta(0), too_long
    parts["days"] = parts.get("days", 0) + months * 31
    length = timedelta(**parts)
    return (timedelta(0), too_long) if length > _MAX_TIMER else (length, None)


def _message(filename: str, definition: etree._Element) -> Iterator[Problem]:
    element = _owner_id(definition, 1)
    result = definition.get(f"{_C}resultVariable")
    if result is not None and not _IDENTIFIER.match(result.strip()):
        yield Problem(
            filename, element, f"Nachricht: „{result}“ ist kein gültiger Variablenname (resultVariable)."
        )
    payload = definition.get(f"{_C}expression")
    if payload is None:
        return
    found = list(expression_problems(filename, element, payload, "Nachrichteninhalt"))
    if found:
        yield from found
        return
    reason = _payload_reason(strip_expression(payload))
    if reason:
        yield Problem(filename, element, f"Nachrichteninhalt: {reason}")


def _payload_reason(source: str) -> str | None:
    """The receiving process gets one variable per key, so each value needs a key that is a name."""
    body = ast.parse(source, mode="eval").body
    if not isinstance(body, ast.Dict):
        return (
            "Der Inhalt muss ein Wörterbuch sein, z. B. {'gemeinde': gemeinde}; jeder Schlüssel wird "
            "beim Empfänger zu einer Variablen."
        )
    for key in body.keys:
        named = isinstance(key, ast.Constant) and isinstance(key.value, str) and _IDENTIFIER.match(key.value)
        if not named:
            shown = ast.unparse(key) if key is not None else "**"
            return f"Der Schlüssel {shown} ist kein Variablenname; der Wert hätte beim Empfänger kein Ziel."
    return None
