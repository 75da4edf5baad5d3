"""A tiny, safe subset of FEEL for form conditions (``conditional.hide`` and friends).

form-js evaluates these expressions in the browser with feelin; the server evaluates
the same subset here, so a field hidden in the browser is also hidden on the server.
A tokenizer and a recursive-descent parser build a small tree; nothing is ever
passed to ``eval``.

Supported::

    literals        "text" (escapes \\" \\\\ \\n \\r \\t), 12, 12.5, -3, true, false, null
    variables       a, a.b.c          (unknown -> null)
    lists           [1, "a", x]
    comparison      =  !=  <  <=  >  >=
    membership      x in [1, 2]       (or a list-valued variable)
    logic           and, or, not(x)   (three-valued, as in FEEL)
    functions       is defined(a.b)
    grouping        ( ... )

Null semantics follow FEEL: ``null = null`` is true, ``x = null`` is false for any
other x, ``!=`` is the negation of ``=``; ordering comparisons involving null or
values of different types give null. ``and``/``or`` are three-valued.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

MAX_EXPRESSION_LENGTH = 2000
MAX_DEPTH = 32

_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|=|<|>|\(|\)|\[|\]|,|\.|-)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})


class FeelError(ValueError):
    """An expression outside the supported subset; ``reason`` is German."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"Ungültiger FEEL-Ausdruck „{expression}“: {reason}")
        self.expression = expression
        self.reason = reason


_MISSING = object()


# --------------------------------------------------------------------------- values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def feel_equal(left: Any, right: Any) -> bool:
    """FEEL equality: no coercion between types; ``true`` is not ``1``."""
    if left is None or right is None:
        return left is None and right is None
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(feel_equal(a, b) for a, b in zip(left, right, strict=True))
    if type(left) is not type(right):
        return False
    return bool(left == right)


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if op == "=":
        return feel_equal(left, right)
    if op == "!=":
        return not feel_equal(left, right)
    comparable = (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not comparable or any(isinstance(v, float) and math.isnan(v) for v in (left, right)):
        return None
    return _ORDERINGS[op](left, right)


def _lookup(context: Any, parts: tuple[str, ...]) -> Any:
    current = context
    for part in parts:
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


# --------------------------------------------------------------------------- tree


class _Node(Protocol):
    def evaluate(self, context: Mapping[str, Any]) -> Any: ...


@dataclass(frozen=True)
class _Literal:
    value: Any

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class _Path:
    parts: tuple[str, ...]

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        value = _lookup(context, self.parts)
        return None if value is _MISSING else value


@dataclass(frozen=True)
class _IsDefined:
    path: _Path

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        return _lookup(context, self.path.parts) is not _MISSING


@dataclass(frozen=True)
class _ListLiteral:
    items: tuple[_Node, ...]

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        return [item.evaluate(context) for item in self.items]


@dataclass(frozen=True)
class _Comparison:
    op: str
    left: _Node
    right: _Node

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        return _compare(self.op, self.left.evaluate(context), self.right.evaluate(context))


@dataclass(frozen=True)
class _In:
    left: _Node
    right: _Node

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        value = self.left.evaluate(context)
        candidates = self.right.evaluate(context)
        if not isinstance(candidates, list):
            return feel_equal(value, candidates)
        return any(feel_equal(value, candidate) for candidate in candidates)


@dataclass(frozen=True)
class _Not:
    operand: _Node

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        value = self.operand.evaluate(context)
        return (not value) if isinstance(value, bool) else None


@dataclass(frozen=True)
class _Junction:
    """``and`` (``is_and``) or ``or`` over two or more operands, three-valued."""

    is_and: bool
    operands: tuple[_Node, ...]

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        decisive = not self.is_and  # false decides an "and", true decides an "or"
        unknown = False
        for operand in self.operands:
            value = operand.evaluate(context)
            if value is decisive:
                return decisive
            if not isinstance(value, bool):
                unknown = True
        return None if unknown else not decisive


# --------------------------------------------------------------------------- parser


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "name", "op", "end"
    text: str
    position: int


def _unescape(literal: str, source: str) -> str:
    body = literal[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1]
            if escaped not in _ESCAPES:
                raise FeelError(source, f"unbekannte Escape-Sequenz „\\{escaped}“.")
            out.append(_ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN_RE.match(source, position)
        if match is None or match.lastgroup is None:
            raise FeelError(source, f"unerwartetes Zeichen „{source[position]}“ an Position {position + 1}.")
        if match.lastgroup != "ws":
            tokens.append(_Token(match.lastgroup, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(source)))
    return tokens


@dataclass
class _Parser:
    source: str
    tokens: list[_Token]
    index: int = 0
    depth: int = field(default=0)

    # -- helpers
    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def at(self, text: str, kind: str = "op") -> bool:
        token = self.peek()
        return token.kind == kind and token.text == text

    def expect(self, text: str) -> None:
        if not self.at(text):
            self.fail(f"„{text}“ erwartet")
        self.advance()

    def fail(self, what: str) -> None:
        token = self.peek()
        found = f"„{token.text}“" if token.kind != "end" else "das Ende"
        raise FeelError(self.source, f"{what}, gefunden wurde {found} (Position {token.position + 1}).")

    # -- grammar
    def parse(self) -> _Node:
        node = self.disjunction()
        if self.peek().kind != "end":
            self.fail("Operator oder Ende erwartet")
        return node

    def disjunction(self) -> _Node:
        return self._junction("or", self.conjunction)

    def conjunction(self) -> _Node:
        return self._junction("and", self.comparison)

    def _junction(self, keyword: str, operand: Callable[[], _Node]) -> _Node:
        operands = [operand()]
        while self.at(keyword, "name"):
            self.advance()
            operands.append(operand())
        if len(operands) == 1:
            return operands[0]
        return _Junction(keyword == "and", tuple(operands))

    def comparison(self) -> _Node:
        left = self.primary()
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.advance()
            return _Comparison(token.text, left, self.primary())
        if self.at("in", "name"):
            self.advance()
            return _In(left, self.primary())
        return left

    def primary(self) -> _Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FeelError(self.source, "zu tief verschachtelt.")
        try:
            return self._primary()
        finally:
            self.depth -= 1

    def _primary(self) -> _Node:
        token = self.peek()
        if token.kind == "number":
            self.advance()
            return _Literal(_number(token.text))
        if token.kind == "string":
            self.advance()
            return _Literal(_unescape(token.text, self.source))
        if token.kind == "name":
            return self._named()
        return self._punctuated()

    def _punctuated(self) -> _Node:
        if self.at("-") and self.peek(1).kind == "number":
            self.advance()
            return _Literal(-_number(self.advance().text))
        if self.at("("):
            self.advance()
            node = self.disjunction()
            self.expect(")")
            return node
        if self.at("["):
            return self._list()
        self.fail("Wert, Variable oder „(“ erwartet")
        raise AssertionError("unreachable")  # pragma: no cover

    def _list(self) -> _Node:
        self.expect("[")
        items: list[_Node] = []
        if not self.at("]"):
            items.append(self.disjunction())
            while self.at(","):
                self.advance()
                items.append(self.disjunction())
        self.expect("]")
        return _ListLiteral(tuple(items))

    def _named(self) -> _Node:
        text = self.peek().text
        if text in _LITERALS:
            self.advance()
            return _Literal(_LITERALS[text])
        if text == "not" and self.peek(1).text == "(":
            self.advance()
            self.expect("(")
            operand = self.disjunction()
            self.expect(")")
            return _Not(operand)
        if text == "is" and self.peek(1).text == "defined" and self.peek(2).text == "(":
            self.advance()
            self.advance()
            self.expect("(")
            path = self._path()
            self.expect(")")
            return _IsDefined(path)
        if self.peek(1).text == "(":
            raise FeelError(self.source, f"die Funktion „{text}“ wird nicht unterstützt.")
        return self._path()

    def _path(self) -> _Path:
        parts = [self._name()]
        while self.at("."):
            self.advance()
            parts.append(self._name())
        return _Path(tuple(parts))

    def _name(self) -> str:
        token = self.peek()
        if token.kind != "name" or token.text in _KEYWORDS:
            self.fail("Variablenname erwartet")
        self.advance()
        return token.text


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


# --------------------------------------------------------------------------- public


@dataclass(frozen=True)
class FeelExpression:
    """A parsed expression; ``source`` is the text without the leading ``=``."""

    source: str
    root: _Node = field(repr=False, compare=False)

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """Evaluate against ``context``; never raises for any JSON-like context."""
        return self.root.evaluate(context)


def parse_feel(expression: str) -> FeelExpression:
    """Parse ``expression`` (an optional leading ``=`` is dropped); raise :class:`FeelError`."""
    source = expression[1:] if expression.startswith("=") else expression
    source = source.strip()
    if not source:
        raise FeelError(expression, "der Ausdruck ist leer.")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise FeelError(source[:40] + "…", f"länger als {MAX_EXPRESSION_LENGTH} Zeichen.")
    root = _Parser(source, _tokenize(source)).parse()
    return FeelExpression(source, root)
