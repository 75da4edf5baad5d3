"""FEEL in DMN decision tables, translated into Python when a table is deployed.

SpiffWorkflow's DMN engine evaluates every input entry, output entry and input expression
as Python. The FEEL that dmn-js and the Camunda Modeler write (``"Warstein","Rüthen"``)
means something else in Python (a tuple compared with ``==``) and silently never
matches. So each cell is translated here, or refused with a German reason; a table is
never deployed half-translated.

Input entries (FEEL *unary tests*) become a boolean Python expression over
``dmninputexpr``, the name SpiffWorkflow binds to the value of the column's input
expression. Supported::

    -                      any value (kept as ``-``; an empty cell too)
    "Soest", 5, -2.5       equality; true, false and null as well
    < 10  <= 10  > 3  >= 3  = 5  != 5
    [1..5]  ]1..5[  (1..5)  [1..5)  (1..5]     ranges over numbers or texts
    "Werl", < 0, [1..5]    a comma list: any test matches
    not("Werl", "Ense")    negation of a whole list

Semantics follow FEEL without coercion: ``1`` does not match ``"1"``, ``true`` does not
match ``1`` (a boolean is no number), ints and decimals compare with each other. A test
whose type does not fit the input (and any test but ``null`` against a null input) is
*unknown*: it does not match, and ``not(...)`` of an unknown list does not match either
(FEEL's three-valued logic). So a null input matches only ``null``, ``= null`` and
``not(...)`` lists made of ``null`` tests alone; it never slips through ``not("Soest")``.

The generated Python needs only ``isinstance``, ``int``, ``float``, ``bool`` and ``str``
of the restricted script environment. String literals carry no raw ``?``, ``'`` or
``"`` (they are written as ``\\x3f``, ``\\x27``, ``\\x22``), so SpiffWorkflow's rewriting
of ``?`` outside quotes cannot touch them.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lxml import etree

from engine.errors import Problem

MAX_ENTRY_LENGTH = 2000
INPUT_NAME = "dmninputexpr"

DMN_NAMESPACES = frozenset(
    {
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
    }
)
SUPPORTED_HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")


class DmnTranslationError(ValueError):
    """A cell that cannot be translated; ``reason`` is German."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _shorten(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _unsupported(text: str, detail: str) -> DmnTranslationError:
    return DmnTranslationError(f"Dieser FEEL-Ausdruck wird nicht unterstützt: „{_shorten(text)}“ – {detail}")


# --------------------------------------------------------------------------- Python literals

_UNSAFE_CHARS = frozenset("\"'?\\")


def _escape_char(char: str) -> str:
    if char not in _UNSAFE_CHARS and char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def python_string(value: str) -> str:
    """A double-quoted Python literal whose content holds no raw quote, ``?`` or backslash."""
    return '"' + "".join(_escape_char(char) for char in value) + '"'


# --------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<range>\.\.)
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[^\W\d]\w*)
  | (?P<op><=|>=|!=|=|<|>|\(|\)|\[|\]|,|-)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
_UNICODE_ESCAPE = re.compile(r"[0-9a-fA-F]{4}")


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, op, range, end
    text: str


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN_RE.match(source, position)
        if match is None or match.lastgroup is None:
            char = source[position]
            if char == '"':
                raise _unsupported(source, "ein Text ohne schließendes Anführungszeichen.")
            raise _unsupported(source, f"unerwartetes Zeichen „{char}“ an Position {position + 1}.")
        if match.lastgroup != "ws":
            tokens.append(_Token(match.lastgroup, match.group()))
        position = match.end()
    tokens.append(_Token("end", ""))
    return tokens


def _unescape(literal: str, source: str) -> str:
    body, out, index = literal[1:-1], [], 0
    while index < len(body):
        char = body[index]
        index += 1
        if char != "\\":
            out.append(char)
            continue
        escaped = body[index]
        index += 1
        if escaped == "u" and _UNICODE_ESCAPE.fullmatch(body, index, index + 4):
            out.append(chr(int(body[index : index + 4], 16)))
            index += 4
        elif escaped in _ESCAPES:
            out.append(_ESCAPES[escaped])
        else:
            raise _unsupported(source, f"unbekannte Escape-Sequenz „\\{escaped}“ in einem Text.")
    return "".join(out)


# --------------------------------------------------------------------------- values and tests


@dataclass(frozen=True)
class _Value:
    kind: str  # str, num, bool, null
    python: str


@dataclass(frozen=True)
class _Test:
    """One unary test: an equality with ``value`` (grouped into ``in``) or a ``condition``."""

    kind: str
    value: str | None = None
    condition: str | None = None


_NAMED_VALUES = {
    "true": _Value("bool", "True"),
    "false": _Value("bool", "False"),
    "null": _Value("null", "None"),
}
_GUARDS = {
    "str": f"isinstance({INPUT_NAME}, str)",
    "num": f"isinstance({INPUT_NAME}, (int, float)) and not isinstance({INPUT_NAME}, bool)",
    "bool": f"isinstance({INPUT_NAME}, bool)",
    "null": "",
}
_ORDERED_KINDS = ("str", "num")
_KIND_NAMES = {"str": "Text", "num": "Zahl", "bool": "Wahrheitswert", "null": "null"}
_COMPARISONS = ("<", "<=", ">", ">=", "=", "!=")
_RANGE_STARTS = {"[": "<=", "(": "<", "]": "<"}
_RANGE_ENDS = {"]": "<=", ")": "<", "[": "<"}


def _number(text: str, negative: bool, source: str) -> _Value:
    signed = f"-{text}" if negative else text
    if "." not in text:
        return _Value("num", repr(int(signed)))
    value = float(signed)
    if not math.isfinite(value):
        raise _unsupported(source, f"die Zahl {signed} ist zu groß.")
    return _Value("num", repr(value))


def _comparison(op: str, value: _Value, source: str) -> _Test:
    if op == "=":
        return _Test(value.kind, value=value.python)
    if op == "!=":
        operator = "is not" if value.kind in ("bool", "null") else "!="
        return _Test(value.kind, condition=f"{INPUT_NAME} {operator} {value.python}")
    if value.kind not in _ORDERED_KINDS:
        raise _unsupported(source, f"„{op}“ lässt sich nur mit Zahlen oder Texten vergleichen.")
    return _Test(value.kind, condition=f"{INPUT_NAME} {op} {value.python}")


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over FEEL's simple unary tests (no paths, no functions but ``not``)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        for token in self.tokens:
            if token.kind == "name" and token.text in ("and", "or"):
                raise _unsupported(
                    source,
                    f"die Verknüpfung „{token.text}“ (bitte mehrere Regeln oder eine Liste verwenden).",
                )

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        return token.kind == kind and (text is None or token.text == text)

    def expect(self, kind: str, text: str, what: str) -> None:
        if not self.at(kind, text):
            self.fail(what)
        self.advance()

    def fail(self, what: str) -> None:
        raise _unsupported(self.source, f"{what}, gefunden wurde {self._describe(self.peek())}.")

    def _describe(self, token: _Token) -> str:
        if token.kind == "end":
            return "das Ende"
        if token.text == "not" and self.peek(1).text == "(":
            return "„not(…)“, das nur um die ganze Zelle stehen darf"
        if token.kind == "name" and self.peek(1).text == "(":
            return f"der Funktionsaufruf „{token.text}(…)“ (nur not(…) ist erlaubt)"
        if token.kind == "name":
            return f"die Variable „{token.text}“ (nur feste Werte sind erlaubt)"
        return f"„{token.text}“"

    # -- grammar
    def entry(self) -> tuple[list[_Test], bool]:
        negated = self.at("name", "not") and self.peek(1).text == "("
        if negated:
            self.index += 2
        tests = self.tests()
        if negated:
            self.expect("op", ")", "„)“ erwartet")
        if not self.at("end"):
            self.fail("„,“ oder das Ende erwartet")
        return tests, negated

    def tests(self) -> list[_Test]:
        tests = [self.test()]
        while self.at("op", ","):
            self.advance()
            tests.append(self.test())
        return tests

    def test(self) -> _Test:
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.advance()
            return _comparison(token.text, self.value(), self.source)
        if token.kind == "op" and token.text in _RANGE_STARTS:
            return self.range()
        return _comparison("=", self.value(), self.source)

    def range(self) -> _Test:
        lower_op = _RANGE_STARTS[self.advance().text]
        low = self.value()
        self.expect("range", "..", "„..“ für einen Bereich erwartet")
        high = self.value()
        end = self.peek()
        if end.kind != "op" or end.text not in _RANGE_ENDS:
            self.fail("„]“, „)“ oder „[“ als Ende des Bereichs erwartet")
        self.advance()
        if low.kind != high.kind or low.kind not in _ORDERED_KINDS:
            raise _unsupported(
                self.source,
                "Bereichsgrenzen müssen beide Zahlen oder beide Texte sein "
                f"(gefunden: {_KIND_NAMES[low.kind]} und {_KIND_NAMES[high.kind]}).",
            )
        condition = f"{low.python} {lower_op} {INPUT_NAME} {_RANGE_ENDS[end.text]} {high.python}"
        return _Test(low.kind, condition=condition)

    def value(self) -> _Value:
        token = self.peek()
        negative = token.kind == "op" and token.text == "-" and self.peek(1).kind == "number"
        if negative:
            self.advance()
            token = self.peek()
        if token.kind == "number":
            self.advance()
            return _number(token.text, negative, self.source)
        if token.kind == "string":
            self.advance()
            return _Value("str", python_string(_unescape(token.text, self.source)))
        if token.kind == "name" and token.text in _NAMED_VALUES and self.peek(1).text != "(":
            self.advance()
            return _NAMED_VALUES[token.text]
        self.fail("ein Text, eine Zahl, true, false oder null erwartet")
        raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- rendering


def _kind_condition(kind: str, tests: list[_Test]) -> str:
    values = list(dict.fromkeys(t.value for t in tests if t.value is not None))
    conditions = [t.condition for t in tests if t.condition is not None]
    if len(values) == 1:
        operator = "is" if kind in ("bool", "null") else "=="
        conditions.insert(0, f"{INPUT_NAME} {operator} {values[0]}")
    elif values:
        conditions.insert(0, f"{INPUT_NAME} in ({', '.join(values)})")
    return conditions[0] if len(conditions) == 1 else "(" + " or ".join(conditions) + ")"


def _render(tests: list[_Test], negated: bool) -> str:
    parts = []
    for kind in dict.fromkeys(t.kind for t in tests):
        condition = _kind_condition(kind, [t for t in tests if t.kind == kind])
        test = f"not ({condition})" if negated else f"({condition})"
        parts.append(f"({_GUARDS[kind]} and {test})" if _GUARDS[kind] else f"({test})")
    return "(" + (" and " if negated else " or ").join(parts) + ")"


def _checked_source(text: str) -> str:
    if len(text) > MAX_ENTRY_LENGTH:
        raise DmnTranslationError(
            f"Dieser FEEL-Ausdruck ist länger als {MAX_ENTRY_LENGTH} Zeichen: „{_shorten(text, 40)}“."
        )
    return text.strip()


# --------------------------------------------------------------------------- public: cells


def translate_input_entry(text: str) -> str:
    """FEEL unary tests -> a Python boolean expression over ``dmninputexpr``; ``-``/empty stay."""
    source = _checked_source(text)
    if source in ("", "-"):
        return source
    tests, negated = _Parser(source).entry()
    return _render(tests, negated)


def translate_output_entry(text: str) -> str:
    """A FEEL literal (text, number, true, false, null) -> a Python literal; ``-``/empty -> ``None``."""
    source = _checked_source(text)
    if source in ("", "-"):
        return "None"
    parser = _Parser(source)
    value = parser.value()
    if not parser.at("end"):
        parser.fail("als Ergebnis ist nur ein einzelner fester Wert erlaubt")
    return value.python


_NAME = re.compile(r"[^\W\d]\w*")
_RESERVED = frozenset({"true", "false", "null", "not", "and", "or", "in", "dmninputexpr"})


def _path_part(part: str, source: str, first: bool) -> str:
    if not _NAME.fullmatch(part) or unicodedata.normalize("NFKC", part) != part:
        raise _unsupported(source, f"„{part}“ ist kein gültiger Variablenname.")
    if first and (keyword.iskeyword(part) or part in _RESERVED or part.startswith("_")):
        raise _unsupported(source, f"„{part}“ ist als Variablenname nicht erlaubt.")
    return part if first else f"[{python_string(part)}]"


def translate_input_expression(text: str) -> str:
    """A FEEL name or dotted path (``kind.gemeinde``) -> Python (``kind["gemeinde"]``)."""
    source = _checked_source(text)
    if not source:
        raise DmnTranslationError("Der Eingabeausdruck ist leer; bitte den Namen einer Variablen eintragen.")
    parts = [part.strip() for part in source.split(".")]
    return "".join(_path_part(part, source, index == 0) for index, part in enumerate(parts))


# --------------------------------------------------------------------------- public: documents


def _language(element: etree._Element, root: etree._Element) -> str:
    """The expression language in force at ``element``: ``python``, ``feel`` or the raw URI."""
    node: etree._Element | None = element
    while node is not None:
        value = (node.get("expressionLanguage") or "").strip()
        if value:
            return _language_kind(value)
        node = node.getparent()
    return "python" if "python" in (root.get("typeLanguage") or "").lower() else "feel"


def _language_kind(value: str) -> str:
    lowered = value.lower()
    if "python" in lowered:
        return "python"
    return "feel" if "feel" in lowered else value


@dataclass
class _Table:
    """Translates one decisionTable in place and collects its problems."""

    element: etree._Element
    root: etree._Element
    ns: str
    filename: str

    def q(self, local: str) -> str:
        return f"{{{self.ns}}}{local}"

    def problem(self, element: str | None, reason: str) -> Problem:
        return Problem(self.filename, element, reason)

    def translate(self) -> list[Problem]:
        self._drop_comments()
        inputs = self.element.findall(self.q("input"))
        outputs = self.element.findall(self.q("output"))
        rules = self.element.findall(self.q("rule"))
        in_labels = [self._input_label(column) for column in inputs]
        out_labels = [
            column.get("label") or column.get("name") or column.get("id") or "?" for column in outputs
        ]
        problems = list(self._policy_problems(rules))
        if (self.element.get("hitPolicy") or "UNIQUE").strip().upper() == "UNIQUE":
            problems.extend(self._overlaps(rules))
        for column, label in zip(inputs, in_labels, strict=True):
            problems.extend(self._input_expression(column, label))
        for number, rule in enumerate(rules, start=1):
            problems.extend(self._rule(rule, number, in_labels, out_labels))
        return problems

    def _python_cell(
        self, cell: etree._Element, translate: Callable[[str], str], element: str | None, where: str
    ) -> Iterator[Problem]:
        """A Python input cell holding a bare list or tuple (FEEL habit) is compared with ``==``
        and never matches; refuse it instead of routing silently wrong."""
        if translate is not _input_cell:
            return
        text = (cell.findtext(self.q("text")) or "").strip()
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            return
        if isinstance(tree.body, ast.Tuple | ast.List | ast.Set):
            yield self.problem(
                element,
                f"{where}: Die Python-Zelle „{_shorten(text)}“ ist eine Aufzählung und trifft so nie zu; "
                "schreiben Sie „? in (…)“ oder verwenden Sie FEEL.",
            )

    def _overlaps(self, rules: list[etree._Element]) -> Iterator[Problem]:
        """UNIQUE means at most one rule matches; SpiffWorkflow would silently take the first.
        Rules made of fixed values (the routing tables) are checked pairwise; rules with
        comparisons or ranges are not decided here."""
        cells = [[self._matches(entry) for entry in rule.findall(self.q("inputEntry"))] for rule in rules]
        for i, first in enumerate(cells):
            for j in range(i + 1, len(cells)):
                second = cells[j]
                if len(first) == len(second) and all(
                    _may_meet(a, b) for a, b in zip(first, second, strict=True)
                ):
                    yield self.problem(
                        rules[j].get("id"),
                        f"Regel {i + 1} und Regel {j + 1} treffen beide zu, die Trefferrichtlinie UNIQUE "
                        "verlangt aber genau eine Regel. Werte nur in einer Regel nennen, oder für eine "
                        "Auffangregel (-) die Trefferrichtlinie FIRST wählen.",
                    )

    def _matches(self, entry: etree._Element) -> frozenset[str] | bool | None:
        """None: matches anything; a set of Python literals: matches exactly these; False: unknown."""
        if _language(entry, self.root) != "feel":
            return False
        text = (entry.findtext(self.q("text")) or "").strip()
        if text in ("", "-"):
            return None
        try:
            tests, negated = _Parser(_checked_source(text)).entry()
        except DmnTranslationError:
            return False
        if negated or any(t.value is None for t in tests):
            return False
        return frozenset(f"{t.kind}:{t.value}" for t in tests)

    def _drop_comments(self) -> None:
        """SpiffWorkflow's DMN parser fails on comments inside a table (``tag.endswith``)."""
        for comment in list(self.element.iter(etree.Comment)):
            parent = comment.getparent()
            if parent is not None:
                parent.remove(comment)

    def _input_label(self, column: etree._Element) -> str:
        text = column.findtext(f"{self.q('inputExpression')}/{self.q('text')}")
        return column.get("label") or (text or "").strip() or column.get("id") or "?"

    def _policy_problems(self, rules: list[etree._Element]) -> Iterator[Problem]:
        table_id = self.element.get("id")
        policy = (self.element.get("hitPolicy") or "UNIQUE").strip().upper()
        if policy not in SUPPORTED_HIT_POLICIES:
            yield self.problem(
                table_id,
                f"Die Trefferrichtlinie (hitPolicy) „{policy}“ wird nicht unterstützt; "
                "erlaubt sind UNIQUE, FIRST und COLLECT (ohne Aggregation).",
            )
        aggregation = self.element.get("aggregation")
        if aggregation:
            yield self.problem(
                table_id,
                f"COLLECT mit Aggregation „{aggregation}“ wird nicht unterstützt; "
                "erlaubt ist COLLECT ohne Aggregation (liefert Listen).",
            )
        if not rules:
            yield self.problem(table_id, "Die Entscheidungstabelle enthält keine Regeln.")

    def _input_expression(self, column: etree._Element, label: str) -> Iterator[Problem]:
        expression = column.find(self.q("inputExpression"))
        where = f"Eingabespalte „{label}“"
        if expression is None:
            yield self.problem(column.get("id"), f"{where}: Der Eingabeausdruck (inputExpression) fehlt.")
            return
        yield from self._cell(expression, translate_input_expression, column.get("id"), where)

    def _rule(
        self, rule: etree._Element, number: int, in_labels: list[str], out_labels: list[str]
    ) -> Iterator[Problem]:
        entries_in = rule.findall(self.q("inputEntry"))
        entries_out = rule.findall(self.q("outputEntry"))
        if len(entries_in) != len(in_labels) or len(entries_out) != len(out_labels):
            yield self.problem(
                rule.get("id"),
                f"Regel {number}: {len(entries_in)} Eingabe- und {len(entries_out)} Ausgabezellen, "
                f"die Tabelle hat aber {len(in_labels)} Eingabe- und {len(out_labels)} Ausgabespalten.",
            )
            return
        for entry, label in zip(entries_in, in_labels, strict=True):
            where = f"Regel {number}, Spalte „{label}“"
            yield from self._cell(entry, _input_cell, rule.get("id"), where)
        for entry, label in zip(entries_out, out_labels, strict=True):
            where = f"Regel {number}, Spalte „{label}“"
            yield from self._cell(entry, translate_output_entry, rule.get("id"), where)

    def _cell(
        self, cell: etree._Element, translate: Callable[[str], str], element: str | None, where: str
    ) -> Iterator[Problem]:
        language = _language(cell, self.root)
        if language == "python":
            yield from self._python_cell(cell, translate, element, where)
            return
        if language != "feel":
            yield self.problem(
                element,
                f"{where}: Die Ausdruckssprache „{language}“ wird nicht unterstützt (nur FEEL oder Python).",
            )
            return
        text = cell.find(self.q("text"))
        if text is None:
            text = etree.SubElement(cell, self.q("text"))
        try:
            text.text = translate(text.text or "")
        except DmnTranslationError as exc:
            yield self.problem(element, f"{where}: {exc.reason}")


def _may_meet(a: frozenset[str] | bool | None, b: frozenset[str] | bool | None) -> bool:
    if a is False or b is False:
        return False  # undecided: comparisons, ranges, negations
    if a is None or b is None:
        return True
    assert isinstance(a, frozenset) and isinstance(b, frozenset)
    return bool(a & b)


def _input_cell(text: str) -> str:
    """An input cell for SpiffWorkflow: an empty cell becomes ``-`` (Spiff maps only ``-`` to any)."""
    return translate_input_entry(text) or "-"


def translate_dmn(root: etree._Element, filename: str) -> list[Problem]:
    """Rewrite every FEEL cell of a parsed DMN 1.1–1.3 document to Python, in place.

    Returns the problems (German, naming rule and column); the tree must not be deployed
    unless the list is empty. Cells in an explicitly Python expression language stay untouched.
    """
    ns = etree.QName(root).namespace
    if ns not in DMN_NAMESPACES:
        return [Problem(filename, None, f"Keine DMN-1.1/1.2/1.3-Datei (Namensraum „{ns or '-'}“).")]
    problems: list[Problem] = []
    for decision in root.iter(f"{{{ns}}}decision"):
        tables = decision.findall(f"{{{ns}}}decisionTable")
        if not tables:
            problems.append(
                Problem(filename, decision.get("id"), "Die Entscheidung enthält keine Entscheidungstabelle.")
            )
        for table in tables:
            problems.extend(_Table(table, root, ns, filename).translate())
    return problems
