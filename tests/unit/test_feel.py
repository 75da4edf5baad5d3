"""The FEEL subset used by form conditions (engine/feel.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.feel import FeelError, parse_feel


def ev(expression: str, **context: Any) -> Any:
    return parse_feel(expression).evaluate(context)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('="text"', "text"),
        (r'="a \"b\" c\\"', 'a "b" c\\'),
        ("=12", 12),
        ("=12.5", 12.5),
        ("=-3", -3),
        ("=true", True),
        ("=false", False),
        ("=null", None),
        ('=[1, 2, "x"]', [1, 2, "x"]),
        ("=[]", []),
    ],
)
def test_literals(expression: str, expected: Any) -> None:
    assert ev(expression) == expected


def test_leading_equals_is_optional() -> None:
    assert ev("1 = 1") is True
    assert parse_feel("= a").source == "a"


def test_variables_and_paths() -> None:
    assert ev("=a", a=5) == 5
    assert ev("=person.name", person={"name": "Kim"}) == "Kim"
    assert ev("=person.name", person="kein Objekt") is None
    assert ev("=unknown.deeper") is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("=betrag > 5000", True),
        ("=betrag >= 6000", True),
        ("=betrag < 6000", False),
        ("=betrag <= 6000", True),
        ("=betrag = 6000", True),
        ("=betrag = 6000.0", True),
        ("=betrag != 6000", False),
        ('=art = "b"', True),
        ('=art != "b"', False),
        ('=art < "c"', True),
    ],
)
def test_comparisons(expression: str, expected: bool) -> None:
    assert ev(expression, betrag=6000, art="b") is expected


def test_null_semantics() -> None:
    assert ev("=x = null") is True
    assert ev("=x != null") is False
    assert ev("=x = 5") is False
    assert ev("=x != 5") is True
    assert ev("=x > 5") is None
    assert ev("=x < 5") is None
    assert ev("=5 >= x") is None


def test_no_coercion_between_types() -> None:
    assert ev('=a = "5"', a=5) is False
    assert ev("=a = 1", a=True) is False
    assert ev('=a > "4"', a=5) is None
    assert ev("=a < 1", a=True) is None


def test_three_valued_logic() -> None:
    assert ev("=true and true") is True
    assert ev("=true and false") is False
    assert ev("=false and null") is False
    assert ev("=true and null") is None
    assert ev("=true or null") is True
    assert ev("=false or null") is None
    assert ev("=false or false") is False
    assert ev('=true and "x"') is None


def test_precedence_and_parentheses() -> None:
    assert ev("=true or false and false") is True
    assert ev("=(true or false) and false") is False
    assert ev("=a > 1 and a < 10 or b", a=20, b=True) is True


def test_not() -> None:
    assert ev("=not(true)") is False
    assert ev("=not(a = 1)", a=2) is True
    assert ev("=not(x)") is None


def test_in_list() -> None:
    assert ev('=art in ["a", "b"]', art="b") is True
    assert ev('=art in ["a", "b"]', art="c") is False
    assert ev("=art in erlaubte", art=2, erlaubte=[1, 2]) is True
    assert ev("=x in [null]") is True
    assert ev("=a in 5", a=5) is True


def test_is_defined() -> None:
    assert ev("=is defined(a)", a=None) is True
    assert ev("=is defined(a.b)", a={"c": 1}) is False
    assert ev("=is defined(a)") is False


def test_variable_named_like_a_keyword_prefix() -> None:
    assert ev("=notiz = 1", notiz=1) is True
    assert ev("=order", order=3) == 3
    assert ev("=is", **{"is": 4}) == 4


@pytest.mark.parametrize(
    "expression",
    [
        "=",
        "=   ",
        "=a +",
        "=a + 1",
        "=a * 2",
        "=1 < a < 3",
        "=(a = 1",
        "=[1, 2",
        "=a..b",
        "=a.",
        "=string length(a) > 3",
        '=date("2024-01-01")',
        "=x in [1..5]",
        "=a = 'b'",
        '="unterminated',
        r'="bad \q escape"',
        "=a = 1 a",
        "=and",
        "=true.x",
        "=" + "(" * 40 + "1" + ")" * 40,
        "=" + "a or " * 500 + "a",
    ],
)
def test_outside_the_subset_is_refused(expression: str) -> None:
    with pytest.raises(FeelError) as caught:
        parse_feel(expression)
    assert "FEEL" in str(caught.value)


def test_error_names_the_expression() -> None:
    with pytest.raises(FeelError) as caught:
        parse_feel("=betrag ** 2")
    assert "betrag ** 2" in str(caught.value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abx"), inner, max_size=3),
    max_leaves=10,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["a", "b", "x", "this"]), _json, max_size=4))
def test_evaluation_never_raises(context: dict[str, Any]) -> None:
    expressions = [
        "=a = b",
        "=a < b or a >= 3",
        '=not(a) and b in [1, "x", null]',
        "=a.b.x != x",
        "=is defined(this.a) and a in b",
    ]
    for expression in expressions:
        result = parse_feel(expression).evaluate(context)
        assert result is None or isinstance(result, bool)
