"""Restricted Python for diagram expressions and script tasks.

SpiffWorkflow's stock environment runs diagram code with plain ``eval``/``exec``.
Here every expression and script is compiled by RestrictedPython with a stricter
policy (no imports, no classes), then hardened by a second AST pass that the
user's code never sees:

* ``_hilfenetz_tick_()`` at the start of every loop body, function body, lambda
  and comprehension clause; it raises :class:`ScriptError` once the time limit
  of the current call has passed, so endless loops and recursion stop;
* ``+ * ** << %`` become ``_hilfenetz_binop_(op, a, b)``, which refuses results
  that would be huge (``'a' * 10**10``, ``10**10**10``, ``1 << 10**10``);
* f-string format specs pass ``_hilfenetz_format_spec_`` (``f"{x:>9999999999}"``).

The hidden names start with ``_``, which RestrictedPython refuses in user code,
and they are injected only after its policy has accepted the tree.

Errors: everything raised inside user code, and every refusal, surfaces from
:class:`RestrictedEnvironment` as :class:`ScriptError` with a German message (and
the original exception, if there is one, as ``__cause__``).
:class:`RestrictedScriptEngine` wraps it in SpiffWorkflow's ``WorkflowTaskException``
(message = the German text, ``__cause__`` = the ScriptError), as the stock engine
does for any error.

These guards stop the obvious time and memory bombs; they are no memory limit.
Single C calls on data built within the limits can still allocate a lot
(``str([s] * 10**6)`` with a long ``s``), so worker processes should still run
with an address-space limit.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import functools
import keyword
import math
import operator
import re
import textwrap
import time
import types
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NoReturn

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.errors import ScriptError

MAX_SEQUENCE_LENGTH = 1_000_000
"""Largest string, list or tuple an operator, padding or ``range()`` may produce."""
MAX_INT_BITS = 100_000
"""Largest integer (in bits) ``*``, ``**`` and ``<<`` may produce."""
MAX_POW_MOD_BITS = 4096
"""Largest exponent and modulus of a three-argument ``pow()``."""

SCRIPT_FILENAME = "<hilfenetz-skript>"
TICK_NAME = "_hilfenetz_tick_"
BINOP_NAME = "_hilfenetz_binop_"
FORMAT_SPEC_NAME = "_hilfenetz_format_spec_"

Mode = Literal["eval", "exec"]
VisitResult = ast.AST | Iterable[ast.AST] | None


# --- time budget ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Budget:
    deadline: float
    limit: float


# A context variable, not an attribute: one environment serves many threads at once.
_BUDGET: ContextVar[_Budget | None] = ContextVar("hilfenetz_script_budget", default=None)


@contextmanager
def _time_budget(limit: float) -> Iterator[None]:
    token = _BUDGET.set(_Budget(time.monotonic() + limit, limit))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _tick() -> bool:
    """Injected into every loop, function and comprehension; True so it can sit in ``if`` clauses."""
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        limit = f"{budget.limit:g}".replace(".", ",")
        raise ScriptError(f"Das Zeitlimit von {limit} s wurde überschritten; abgebrochen.")
    return True


# --- size guards ---------------------------------------------------------------------------------

_SEQUENCES = (str, bytes, bytearray, list, tuple)
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _refuse_length() -> NoReturn:
    raise ScriptError(f"Das Ergebnis wäre zu groß (höchstens {MAX_SEQUENCE_LENGTH} Zeichen bzw. Elemente).")


def _check_length(length: int) -> None:
    if length > MAX_SEQUENCE_LENGTH:
        _refuse_length()


def _check_bits(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise ScriptError(f"Die Zahl wäre zu groß (höchstens {MAX_INT_BITS} Bit).")


def _check_width(digits: str) -> None:
    if len(digits) > len(str(MAX_SEQUENCE_LENGTH)) or int(digits) > MAX_SEQUENCE_LENGTH:
        _refuse_length()


def _check_add(a: Any, b: Any) -> None:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _check_length(len(a) + len(b))


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        _check_bits(a.bit_length() + b.bit_length())
    elif isinstance(a, _SEQUENCES) and isinstance(b, int):
        _check_length(len(a) * b)
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        _check_length(len(b) * a)


def _check_pow(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _check_bits(b * math.log2(abs(a)))


def _check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a:
        _check_bits(a.bit_length() + b)


def _check_mod(a: Any, b: Any) -> None:
    """Refuse printf widths such as ``'%9999999999s' % x`` or ``'%*s' % (10**10, x)``."""
    if not isinstance(a, (str, bytes)):
        return
    text = a.decode("latin-1") if isinstance(a, bytes) else a
    for spec in _PRINTF_SPEC.finditer(text):
        for number in spec.groups():
            if number == "*":
                args = b if isinstance(b, tuple) else (b,)
                for arg in args:
                    if isinstance(arg, int):
                        _check_length(arg)
            elif number:
                _check_width(number)


def _format_spec(spec: str) -> str:
    for digits in re.findall(r"\d+", spec):
        _check_width(digits)
    return spec


_CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "+": _check_add,
    "*": _check_mul,
    "**": _check_pow,
    "<<": _check_lshift,
    "%": _check_mod,
}
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "*": operator.mul,
    "**": operator.pow,
    "<<": operator.lshift,
    "%": operator.mod,
}
_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _binop(op: str, a: Any, b: Any) -> Any:
    _CHECKS[op](a, b)
    return _BINOPS[op](a, b)


def _inplacevar(op: str, a: Any, b: Any) -> Any:
    check = _CHECKS.get(op[:-1])
    if check is not None:
        check(a, b)
    return _INPLACE[op](a, b)


# --- guarded attribute access --------------------------------------------------------------------


def _padded_length(text: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    width = args[0] if args else kwargs.get("width", 0)
    return int(width) if isinstance(width, int) else 0


def _expanded_length(text: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    size = args[0] if args else kwargs.get("tabsize", 8)
    tab = "\t" if isinstance(text, str) else b"\t"
    return int(len(text) + text.count(tab) * (size if isinstance(size, int) else 8))


def _joined_length(text: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    items = args[0] if args else ()
    return sum(len(item) for item in items if isinstance(item, (str, bytes))) + len(text) * len(items)


def _replaced_length(text: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    if len(args) < 2 or not isinstance(args[0], type(text)) or not isinstance(args[1], type(text)):
        return len(text)
    old, new = args[0], args[1]
    hits = text.count(old)
    if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
        hits = min(hits, args[2])
    return int(len(text) + hits * (len(new) - len(old)))


_GROWING_TEXT_METHODS: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any]], int]] = {
    "ljust": _padded_length,
    "rjust": _padded_length,
    "center": _padded_length,
    "zfill": _padded_length,
    "expandtabs": _expanded_length,
    "join": _joined_length,
    "replace": _replaced_length,
}


def _bounded_text_method(text: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """A closure, not functools.partial: a partial would expose ``.func`` to the script."""
    estimate = _GROWING_TEXT_METHODS[name]

    def bounded(*args: Any, **kwargs: Any) -> Any:
        if name == "join" and args:
            args = (list(args[0]), *args[1:])
        _check_length(estimate(text, args, kwargs))
        return method(*args, **kwargs)

    return bounded


def _getattr(obj: object, name: str) -> Any:
    """Runtime twin of RestrictedPython's compile-time check on attribute names."""
    if not isinstance(name, str) or name.startswith("_") or name in INSPECT_ATTRIBUTES:
        raise AttributeError(f"Der Zugriff auf das Attribut „{name}“ ist nicht erlaubt.")
    value = safer_getattr_raise(obj, name)  # type: ignore[no-untyped-call]
    if isinstance(obj, (str, bytes)) and name in _GROWING_TEXT_METHODS:
        return _bounded_text_method(obj, name, value)
    return value


def _getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


# --- builtins ------------------------------------------------------------------------------------


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        too_long = len(numbers) > MAX_SEQUENCE_LENGTH
    except OverflowError:
        too_long = True
    if too_long:
        raise ScriptError(f"range() ist auf {MAX_SEQUENCE_LENGTH} Elemente begrenzt.")
    return numbers


def _pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        return _binop("**", base, exp)
    if isinstance(exp, int) and isinstance(mod, int):
        _check_pow_mod_bits(exp, mod)
    return pow(base, exp, mod)


def _check_pow_mod_bits(exp: int, mod: int) -> None:
    if exp.bit_length() > MAX_POW_MOD_BITS or mod.bit_length() > MAX_POW_MOD_BITS:
        raise ScriptError(f"pow() mit Modulus ist auf {MAX_POW_MOD_BITS} Bit begrenzt.")


def _round(number: Any, ndigits: Any = None) -> Any:
    # round(5, -10**9) would compute 10**(10**9) inside C code.
    if isinstance(ndigits, int) and abs(ndigits) > 400:
        raise ScriptError("round() erlaubt höchstens 400 Stellen.")
    return round(number) if ndigits is None else round(number, ndigits)


def _sum(items: Iterable[Any], start: Any = 0) -> Any:
    """``sum(listen, [])`` concatenates in C, quadratically and unchecked; do it step by step."""
    if not isinstance(start, _SEQUENCES):
        return sum(items, start)
    total = start
    for item in items:
        _tick()
        total = _binop("+", total, item)
    return total


def _iter(obj: Any, *sentinel: Any) -> Iterator[Any]:
    """``iter()`` whose items tick: ``iter(int, 1)`` is endless and may be consumed by C code."""
    return _ticking(iter(obj, *sentinel) if sentinel else iter(obj))


def _ticking(items: Iterator[Any]) -> Iterator[Any]:
    for item in items:
        _tick()
        yield item


_UNSAFE_DEFAULTS = (
    "__build_class__",  # classes are refused at compile time anyway
    "setattr",
    "delattr",
    "BaseException",  # raising these would escape `except Exception` in the caller
    "SystemExit",
    "KeyboardInterrupt",
    "GeneratorExit",
)


def _build_builtins() -> dict[str, Any]:
    """RestrictedPython's safe builtins plus a short whitelist; no modules, no ``__import__``.

    ``utility_builtins`` contributes only ``set``/``frozenset``: its ``math``, ``random`` and
    ``string`` modules offer uninterruptible C loops (``math.factorial``) and memory bombs
    (``random.randbytes``). Pass such functions as helpers where a process needs them.
    """
    names = {key: value for key, value in safe_builtins.items() if key not in _UNSAFE_DEFAULTS}
    names.update(
        {
            "len": len,
            "min": min,
            "max": max,
            "sum": _sum,
            "sorted": sorted,
            "any": any,
            "all": all,
            "list": list,
            "dict": dict,
            "set": set,
            "frozenset": frozenset,
            "tuple": tuple,
            "enumerate": enumerate,
            "zip": zip,
            "str": str,
            "int": int,
            "float": float,
            "bool": bool,
            "abs": abs,
            "isinstance": isinstance,
            "range": _range,
            "pow": _pow,
            "round": _round,
            "iter": _iter,
        }
    )
    return names


_BUILTINS = _build_builtins()
#: What scripts and expressions may call besides the engine's helpers (checked before deployment).
ALLOWED_FUNCTIONS = frozenset(name for name, value in _BUILTINS.items() if callable(value))
_GUARDS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "_getattr_": _getattr,
    "_getitem_": _getitem,
    "_getiter_": iter,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_apply_": _apply,
    "_print_": PrintCollector,
    TICK_NAME: _tick,
    BINOP_NAME: _binop,
    FORMAT_SPEC_NAME: _format_spec,
}


# --- compilation ---------------------------------------------------------------------------------

_GUARDED_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Mult: "*",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.Mod: "%",
}


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _tick_at(where: ast.AST) -> ast.Call:
    """A tick carrying the line of ``where``, so errors raised in it point at the user's line."""
    return ast.copy_location(_call(TICK_NAME), where)


class _Hardener(ast.NodeTransformer):
    """Second pass over an accepted tree: inserts the tick and the size guards."""

    def _tick_body(self, node: ast.While | ast.For | ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body.insert(0, ast.copy_location(ast.Expr(_tick_at(node.body[0])), node.body[0]))
        return node

    visit_While = _tick_body
    visit_For = _tick_body
    visit_FunctionDef = _tick_body

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        node.body = ast.BoolOp(op=ast.And(), values=[_tick_at(node.body), node.body])
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.ifs.insert(0, _tick_at(node.iter))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        symbol = _GUARDED_BINOPS.get(type(node.op))
        if symbol is None:
            return node
        return ast.copy_location(_call(BINOP_NAME, ast.Constant(symbol), node.left, node.right), node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        if node.format_spec is not None:
            node.format_spec = _call(FORMAT_SPEC_NAME, node.format_spec)
        return node


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter (no imports, no classes), German, then hardened."""

    def error(self, node: ast.AST, info: str) -> None:
        self.errors.append(f"Zeile {getattr(node, 'lineno', '?')}: {_translate(info)}")

    def visit_Import(self, node: ast.Import) -> VisitResult:
        self.error(node, "Importe sind nicht erlaubt.")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> VisitResult:
        self.error(node, "Importe sind nicht erlaubt.")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> VisitResult:
        self.error(node, "Klassendefinitionen sind nicht erlaubt.")
        return node

    def visit_Module(self, node: ast.Module) -> VisitResult:
        result = super().visit_Module(node)
        self._harden(node)
        return result

    def visit_Expression(self, node: ast.Expression) -> VisitResult:
        result = super().visit_Expression(node)
        self._harden(node)
        return result

    def _harden(self, node: ast.Module | ast.Expression) -> None:
        """In place: RestrictedPython compiles the root object it passed to the policy."""
        if not self.errors:
            _Hardener().visit(node)
            ast.fix_missing_locations(node)


_TRANSLATIONS = (
    (
        re.compile(r'^"(.+)" is an invalid variable name because it starts with "_"\.?$'),
        "Der Name „{0}“ ist nicht erlaubt, weil er mit „_“ beginnt.",
    ),
    (
        re.compile(r'^"(.+)" is an invalid attribute name because it starts with "_"\.?$'),
        "Das Attribut „{0}“ ist nicht erlaubt, weil es mit „_“ beginnt.",
    ),
    (
        re.compile(r'^"(.+)" is a restricted name, that is forbidden to access in RestrictedPython\.$'),
        "Das Attribut „{0}“ ist gesperrt.",
    ),
    (re.compile(r'^"(.+)" is a reserved name\.$'), "Der Name „{0}“ ist reserviert."),
    (re.compile(r"^(Exec|Eval) calls are not allowed\.$"), "{0}() ist nicht erlaubt."),
    (re.compile(r"^(\w+) statements are not allowed\.$"), "Anweisungen vom Typ {0} sind nicht erlaubt."),
)
_SYNTAX_ERROR = re.compile(r"^Line (\S+): \w+: (.*?)(?: at statement: .*)?$", re.DOTALL)


def _translate(info: str) -> str:
    for pattern, german in _TRANSLATIONS:
        match = pattern.match(info)
        if match:
            return german.format(
                *(group.lower() if group in ("Exec", "Eval") else group for group in match.groups())
            )
    return info


def _german_reason(errors: Sequence[str]) -> str:
    reasons = []
    for error in errors:
        match = _SYNTAX_ERROR.match(error)
        reasons.append(f"Zeile {match[1]}: Syntaxfehler: {match[2]}" if match else error)
    return " ".join(reasons)


class _Compiled(NamedTuple):
    code: types.CodeType | None
    errors: tuple[str, ...]


@functools.lru_cache(maxsize=2048)
def _compile(mode: Mode, source: str) -> _Compiled:
    """Compile once per (mode, source); refusals are cached too."""
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=SCRIPT_FILENAME, policy=_Policy)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return _Compiled(None, (f"Zeile ?: Der Quelltext kann nicht übersetzt werden ({exc}).",))
    return _Compiled(result.code, tuple(result.errors))


# --- public helpers ------------------------------------------------------------------------------

_WRAPPED_EXPRESSION = re.compile(r"\A\s*[$#]\{(?P<inner>.*)\}\s*\Z", re.DOTALL)


def strip_expression(text: str) -> str:
    """Accept Camunda's ``${ … }`` / ``#{ … }`` around a Python expression; trim whitespace."""
    match = _WRAPPED_EXPRESSION.match(text)
    return (match["inner"] if match else text).strip()


def _prepare_script(script: str | None) -> str:
    """Script text from a diagram is often indented as a whole by the XML around it."""
    return textwrap.dedent(script or "").strip("\n")


def check_expression(source: str) -> str | None:
    """German reason why the expression is refused, or None when it compiles."""
    compiled = _compile("eval", strip_expression(source))
    return None if compiled.code is not None else _german_reason(compiled.errors)


def check_script(source: str) -> str | None:
    """German reason why the script is refused, or None when it compiles."""
    compiled = _compile("exec", _prepare_script(source))
    return None if compiled.code is not None else _german_reason(compiled.errors)


# --- results -------------------------------------------------------------------------------------

_PLAIN_SCALARS = (type(None), bool, int, float, str, dt.date, dt.timedelta, uuid.UUID)
_MAX_PLAIN_DEPTH = 64


def _is_plain(value: object, depth: int = 0) -> bool:
    """JSON-like values plus the date/time types the serializer knows; no objects, no cycles."""
    if isinstance(value, _PLAIN_SCALARS):
        return True
    if depth > _MAX_PLAIN_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_is_plain(k, depth + 1) and _is_plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return all(_is_plain(item, depth + 1) for item in value)
    return False


def _shorten(source: str, limit: int = 120) -> str:
    text = " ".join(source.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _script_line(exc: BaseException) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ScriptError):
        return exc.message
    if isinstance(exc, NameError) and exc.name:
        return f"Der Name „{exc.name}“ ist nicht definiert (NameError)."
    return f"{type(exc).__name__}: {exc}"


def _failure(mode: Mode, source: str, exc: BaseException) -> ScriptError:
    if mode == "eval":
        return ScriptError(f"Fehler im Ausdruck „{_shorten(source)}“: {_describe(exc)}")
    line = _script_line(exc)
    if line is None:
        return ScriptError(f"Fehler im Skript: {_describe(exc)}")
    text = _shorten(source.splitlines()[line - 1]) if line <= len(source.splitlines()) else ""
    return ScriptError(f"Fehler im Skript in Zeile {line} („{text}“): {_describe(exc)}")


def _refused(mode: Mode, source: str, errors: Sequence[str]) -> ScriptError:
    what = f"Der Ausdruck „{_shorten(source)}“" if mode == "eval" else "Das Skript"
    return ScriptError(f"{what} ist nicht erlaubt: {_german_reason(errors)}")


def _not_storable(name: str, value: object) -> ScriptError:
    return ScriptError(
        f"Fehler im Skript: Die Variable „{name}“ hat den Typ {type(value).__name__}, der nicht in den "
        "Prozessdaten gespeichert werden kann (erlaubt sind Zahlen, Texte, Wahrheitswerte, Datum/Zeit "
        "sowie Listen und Dictionaries davon; z. B. list(...) verwenden)."
    )


# --- environment ---------------------------------------------------------------------------------


def _check_helper_names(helpers: Mapping[str, Any]) -> None:
    for name in helpers:
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise ValueError(f"Ungültiger Name für eine Hilfsfunktion: „{name}“.")


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Drop-in for SpiffWorkflow's ``TaskDataEnvironment`` that runs RestrictedPython.

    ``execute`` works on a deep copy of the task data and writes back only on success,
    so a failing script leaves the data untouched (the stock environment leaves half-run
    changes behind). Functions and modules are dropped from the result, as in the stock
    environment; any other value that is not plain data is refused.
    """

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        time_limit_seconds: float = 2.0,
    ) -> None:
        if time_limit_seconds <= 0:
            raise ValueError("Das Zeitlimit muss positiv sein.")
        self.helpers: dict[str, Callable[..., Any]] = dict(helpers or {})
        _check_helper_names(self.helpers)
        super().__init__(environment_globals=self.helpers)
        self.time_limit_seconds = time_limit_seconds

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Evaluate an expression (``${ … }`` accepted); task data shadows helpers, as in Spiff."""
        source = strip_expression(expression)
        code = self._code("eval", source)
        namespace = {**self.helpers, **(external_context or {}), **context, **_GUARDS}
        result = self._run("eval", source, code, namespace)
        if not _is_plain(result):
            raise ScriptError(
                f"Der Ausdruck „{_shorten(source)}“ liefert einen Wert vom Typ {type(result).__name__}, "
                "der nicht erlaubt ist."
            )
        return copy.deepcopy(result)

    def execute(
        self,
        script: str | None,
        context: MutableMapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Run a script task; new and changed variables land in ``context``, helpers do not."""
        source = _prepare_script(script)
        code = self._code("exec", source)
        external = dict(external_context or {})
        self._refuse_shadowing(context, external)
        working = copy.deepcopy(dict(context))
        namespace = {**working, **self.helpers, **external, **_GUARDS}
        self._run("exec", source, code, namespace)
        updated = self._collect(namespace, working, reserved={*_GUARDS, *self.helpers, *external})
        context.clear()
        context.update(updated)
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> NoReturn:
        raise ScriptError("Service-Aufrufe aus Diagrammen werden nicht unterstützt.")

    @staticmethod
    def _code(mode: Mode, source: str) -> types.CodeType:
        compiled = _compile(mode, source)
        if compiled.code is None:
            raise _refused(mode, source, compiled.errors)
        return compiled.code

    def _run(self, mode: Mode, source: str, code: types.CodeType, namespace: dict[str, Any]) -> Any:
        with _time_budget(self.time_limit_seconds):
            try:
                if mode == "eval":
                    # B307 (S307): RestrictedPython-compiled code, guarded globals
                    return eval(code, namespace)  # noqa: S307  # nosec B307
                # B102 (S102): RestrictedPython-compiled code, guarded globals
                exec(code, namespace)  # noqa: S102  # nosec B102
            except Exception as exc:
                raise _failure(mode, source, exc) from exc
        return None

    def _refuse_shadowing(self, context: Mapping[str, Any], external: Mapping[str, Any]) -> None:
        """Fail fast like Spiff's ``check_for_overwrite``: data must not hide a helper."""
        clashes = sorted((set(self.helpers) | set(external)) & set(context))
        if clashes:
            raise ScriptError(
                "Die Prozessdaten enthalten Namen vordefinierter Funktionen; bitte umbenennen: "
                + ", ".join(clashes)
            )

    @staticmethod
    def _collect(
        namespace: Mapping[str, Any], before: Mapping[str, Any], reserved: set[str]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in namespace.items():
            # New underscore names can only come from RestrictedPython itself (_print, _tmp0).
            if name in reserved or (name.startswith("_") and name not in before):
                continue
            if callable(value) or isinstance(value, types.ModuleType):
                continue
            if not (name in before and value is before[name]) and not _is_plain(value):
                raise _not_storable(name, value)
            result[name] = value
        return result


# --- SpiffWorkflow engine ------------------------------------------------------------------------


def task_error(task: Any, err: ScriptError) -> Exception:
    wrapped: Exception = WorkflowTaskException(err.message, task=task, exception=err)
    wrapped.__cause__ = err
    return wrapped


class RestrictedScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """``PythonScriptEngine`` running on :class:`RestrictedEnvironment`.

    A :class:`ScriptError` surfaces as ``WorkflowTaskException`` whose message is the German
    text and whose ``__cause__`` is the ScriptError. The engine is not serialized with a
    workflow: attach it again after every restore.
    """

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        time_limit_seconds: float = 2.0,
        environment: RestrictedEnvironment | None = None,
    ) -> None:
        super().__init__(environment=environment or RestrictedEnvironment(helpers, time_limit_seconds))

    def validate(self, expression: str) -> None:
        """Raise SyntaxError like the stock engine; the DMN engine relies on that type."""
        reason = check_expression(expression)
        if reason is not None:
            raise SyntaxError(reason)

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ScriptError as err:
            raise task_error(task, err) from err

    def create_task_exec_exception(self, task: Any, script: str, err: Exception) -> Exception:
        if isinstance(err, ScriptError):
            return task_error(task, err)
        wrapped: Exception = super().create_task_exec_exception(task, script, err)
        return wrapped
