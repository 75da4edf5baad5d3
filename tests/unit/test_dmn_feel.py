"""FEEL in DMN tables: translated to Python at deployment, evaluated by SpiffWorkflow's DMN engine.

Every cell test runs the translated table through the real parser, the real DMN engine and
the restricted script engine (a business rule task in a tiny BPMN); the routing test runs
the full service: deploy, start with a start form, read the data of the next task.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from uuid import UUID
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.checks import check_file
from engine.clock import ManualClock
from engine.definitions import DefinitionSource, HilfenetzParser, build_bundle
from engine.dmn_feel import (
    DmnTranslationError,
    python_string,
    translate_dmn,
    translate_input_entry,
    translate_input_expression,
    translate_output_entry,
)
from engine.errors import InvalidDefinitionError
from engine.feel import feel_equal
from engine.persistence.models import ProcessInstance
from engine.scripting import RestrictedScriptEngine
from engine.xml_safety import parse_xml
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import FOOTER, HEADER, _flow, user_task, write_definitions

DMN11 = "http://www.omg.org/spec/DMN/20151101/dmn.xsd"
DMN12 = "http://www.omg.org/spec/DMN/20180521/MODEL/"
DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"

Rule = tuple[list[str], list[str]]


def dmn_xml(
    rules: list[Rule],
    *,
    inputs: tuple[tuple[str, str], ...] = (("Wert", "wert"),),
    outputs: tuple[str, ...] = ("treffer",),
    decision: str = "entscheidung",
    ns: str = DMN13,
    table_attrs: str = ' hitPolicy="FIRST"',
    definitions_attrs: str = "",
) -> str:
    """A DMN document with one decision table; inputs are (label, input expression)."""
    columns = "".join(
        f'<input id="in_{i}" label={quoteattr(label)}><inputExpression id="ie_{i}" typeRef="string">'
        f"<text>{escape(expression)}</text></inputExpression></input>"
        for i, (label, expression) in enumerate(inputs)
    )
    columns += "".join(
        f'<output id="out_{i}" label={quoteattr(name.title())} name={quoteattr(name)} typeRef="string"/>'
        for i, name in enumerate(outputs)
    )
    body = ""
    for r, (entries_in, entries_out) in enumerate(rules, start=1):
        cells = "".join(
            f'<inputEntry id="r{r}_i{i}"><text>{escape(t)}</text></inputEntry>'
            for i, t in enumerate(entries_in)
        )
        cells += "".join(
            f'<outputEntry id="r{r}_o{i}"><text>{escape(t)}</text></outputEntry>'
            for i, t in enumerate(entries_out)
        )
        body += f'<rule id="regel_{r}">{cells}</rule>'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="{ns}" id="defs_{decision}" '
        f'name="Tabelle" namespace="http://hilfenetz.example/dmn"{definitions_attrs}>'
        f'<decision id="{decision}" name="Entscheidung"><decisionTable id="tabelle_{decision}"{table_attrs}>'
        f"{columns}{body}</decisionTable></decision></definitions>\n"
    )


def rule_task_bpmn(pid: str, decision: str, start_form: str | None = None) -> str:
    """Start → business rule task → user task „weiterleiten“ → end."""
    form = f' camunda:formRef="{start_form}"' if start_form else ""
    body = (
        f'<bpmn:startEvent id="start"{form}/>\n'
        f'<bpmn:businessRuleTask id="entscheiden" name="Zuständigkeit" camunda:decisionRef="{decision}"/>\n'
        + user_task("weiterleiten", "Weiterleiten", "Koordination", "notiz")
        + '<bpmn:endEvent id="ende"/>\n'
        + _flow("f1", "start", "entscheiden")
        + _flow("f2", "entscheiden", "weiterleiten")
        + _flow("f3", "weiterleiten", "ende")
    )
    return HEADER.format(pid=pid, name=quoteattr("Regeltest")) + body + FOOTER


ENGINE = RestrictedScriptEngine(time_limit_seconds=2.0)


@functools.lru_cache(maxsize=256)
def _spec(dmn: str) -> Any:
    parser = HilfenetzParser()
    root = parse_xml(dmn, filename="tabelle.dmn")
    assert translate_dmn(root, "tabelle.dmn") == []
    parser.add_dmn_xml(root, filename="tabelle.dmn")
    parser.add_bpmn_xml(parse_xml(rule_task_bpmn("regel", "entscheidung")), filename="regel.bpmn")
    return parser.get_spec("regel")


def decide(dmn: str, **data: Any) -> dict[str, Any]:
    """Run the table exactly as a deployed process would; returns the data of the next task."""
    workflow = BpmnWorkflow(_spec(dmn), script_engine=ENGINE)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    workflow.do_engine_steps()
    ready = workflow.get_tasks(state=TaskState.READY)
    assert [t.task_spec.bpmn_id for t in ready] == ["weiterleiten"]
    return dict(ready[0].data)


def matches(entry: str, value: Any) -> bool:
    """Does a one-rule table with input entry ``entry`` match ``wert = value``?"""
    result = decide(dmn_xml([([entry], ['"ja"'])]), wert=value)
    assert result.get("treffer") in (None, "ja")
    return result.get("treffer") == "ja"


# --- input entries ---------------------------------------------------------------------------------

CASES = [
    # comma lists of texts, umlauts, brackets inside texts
    ('"Warstein","Rüthen"', "Rüthen", True),
    ('"Warstein","Rüthen"', "Warstein", True),
    ('"Warstein","Rüthen"', "Soest", False),
    ('"Warstein","Rüthen"', None, False),
    ('"Warstein","Rüthen"', 5, False),
    ('"Rüthen"', "Rüthen", True),
    ('"Rüthen"', "Ruthen", False),
    ('"Rüthen"', "rüthen", False),
    ('"Möhnesee"', "Möhnesee", True),
    ('"Wickede (Ruhr)"', "Wickede (Ruhr)", True),
    ('"Wickede (Ruhr)"', "Wickede", False),
    ('  "Bad Sassendorf" , "Ense"  ', "Ense", True),
    # comparisons
    ("< 10", 9, True),
    ("< 10", 9.5, True),
    ("< 10", 10, False),
    ("< 10", "9", False),
    ("< 10", None, False),
    ("< 10", True, False),
    ("<= 10", 10, True),
    ("<= 10", 11, False),
    ("> 3", 4, True),
    ("> 3", 3, False),
    (">= 3", 3, True),
    (">= 3", 2.9, False),
    ("= 5", 5, True),
    ("= 5", 5.0, True),
    ("= 5", "5", False),
    ("!= 5", 4, True),
    ("!= 5", 5, False),
    ("!= 5", "5", False),
    ("!= 5", None, False),
    ('!= "Soest"', "Werl", True),
    ('!= "Soest"', "Soest", False),
    ("!= null", "x", True),
    ("!= null", None, False),
    ('< "M"', "Anröchte", True),
    ('< "M"', "Soest", False),
    # ranges: [ closed start, ( or ] open start; ] closed end, ) or [ open end
    ("[1..5]", 1, True),
    ("[1..5]", 5, True),
    ("[1..5]", 3.5, True),
    ("[1..5]", 0, False),
    ("[1..5]", 6, False),
    ("[1..5]", "3", False),
    ("[1..5]", None, False),
    ("[1..5]", True, False),
    ("]1..5[", 1, False),
    ("]1..5[", 5, False),
    ("]1..5[", 2, True),
    ("(1..5)", 1, False),
    ("(1..5)", 5, False),
    ("(1..5)", 3, True),
    ("[1..5)", 1, True),
    ("[1..5)", 5, False),
    ("(1..5]", 1, False),
    ("(1..5]", 5, True),
    ("]1..5]", 1, False),
    ("]1..5]", 5, True),
    ("[1..5[", 1, True),
    ("[1..5[", 5, False),
    ("[-5..-1]", -3, True),
    ("[-5..-1]", 0, False),
    ("[0.5..1.5]", 1, True),
    ('["A".."M"]', "Ense", True),
    ('["A".."M"]', "Soest", False),
    # not(...) negates the whole list; unknown (null, other type) stays no match
    ('not("Soest", "Lippstadt")', "Werl", True),
    ('not("Soest", "Lippstadt")', "Soest", False),
    ('not("Soest", "Lippstadt")', "Lippstadt", False),
    ('not("Soest", "Lippstadt")', None, False),
    ('not("Soest", "Lippstadt")', 5, False),
    ("not([1..5])", 0, True),
    ("not([1..5])", 3, False),
    ("not(< 0)", 0, True),
    ("not(null)", "x", True),
    ("not(null)", 0, True),
    ("not(null)", None, False),
    # any
    ("-", "x", True),
    ("-", None, True),
    ("", 5, True),
    # null, booleans, numbers vs texts: no coercion
    ("null", None, True),
    ("null", 0, False),
    ("null", "", False),
    ("null", False, False),
    ("= null", None, True),
    ("true", True, True),
    ("true", 1, False),
    ("true", "true", False),
    ("false", False, True),
    ("false", 0, False),
    ("false", None, False),
    ("1", 1, True),
    ("1", 1.0, True),
    ("1", "1", False),
    ("1", True, False),
    ('"1"', "1", True),
    ('"1"', 1, False),
    ("-3", -3, True),
    ("-3", 3, False),
    ("2.5", 2.5, True),
    ("007", 7, True),
    ('"a", 5, null', "a", True),
    ('"a", 5, null', 5, True),
    ('"a", 5, null', None, True),
    ('"a", 5, null', "b", False),
    # quotes, question marks and backslashes inside texts
    ('"Wer?"', "Wer?", True),
    ('"Wer?"', "Wer", False),
    ('"?"', "?", True),
    ('"Sag \\"Hallo\\""', 'Sag "Hallo"', True),
    ('"O\'Brien"', "O'Brien", True),
    ('"a\\\\b"', "a\\b", True),
    ('"\\u00fc"', "ü", True),
    ('"x", "?", "\'"', "'", True),
]


@pytest.mark.parametrize(("entry", "value", "expected"), CASES)
def test_input_entry_matches_as_feel_would(entry: str, value: Any, expected: bool) -> None:
    assert matches(entry, value) is expected


def test_generated_python_is_safe_for_spiffs_question_mark_rewrite() -> None:
    python = translate_input_entry('"Wer?", "\\"", "\'", "a\\\\b"')
    assert "?" not in python and "'" not in python
    assert 'dmninputexpr in ("Wer\\x3f", "\\x22", "\\x27", "a\\x5cb")' in python
    assert python_string("Rüthen") == '"Rüthen"', "umlauts stay readable"


def test_any_and_empty_stay_unchanged() -> None:
    assert translate_input_entry("-") == "-"
    assert translate_input_entry(" - ") == "-"
    assert translate_input_entry("") == ""


# --- output entries and input expressions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('"jugendamt-soest"', "jugendamt-soest"),
        ('"Sag \\"Hallo\\"?"', 'Sag "Hallo"?'),
        ("5", 5),
        ("-2.5", -2.5),
        ("true", True),
        ("false", False),
        ("null", None),
        ("-", None),
        ("", None),
    ],
)
def test_output_entry_literals(entry: str, expected: Any) -> None:
    result = decide(dmn_xml([(["-"], [entry])]), wert=1)
    assert result["treffer"] == expected and type(result["treffer"]) is type(expected)


def test_input_expression_names_and_paths() -> None:
    assert translate_input_expression(" gemeinde ") == "gemeinde"
    assert translate_input_expression("kind.gemeinde") == 'kind["gemeinde"]'
    table = dmn_xml(
        [(['"Soest"', "> 2"], ['"ja"'])], inputs=(("Gemeinde", "kind.gemeinde"), ("Größe", "größe_kind"))
    )
    assert decide(table, kind={"gemeinde": "Soest"}, größe_kind=3)["treffer"] == "ja"
    assert "treffer" not in decide(table, kind={"gemeinde": "Soest"}, größe_kind=2)


@pytest.mark.parametrize(
    "text", ["", "a + b", "kind[0]", "_geheim", "true", "Gemeinde des Kindes", "f(x)", "a..b"]
)
def test_input_expression_refusals(text: str) -> None:
    with pytest.raises(DmnTranslationError):
        translate_input_expression(text)


@pytest.mark.parametrize(
    "text", ["gemeinde", '"x" "y"', "[1, 2]", "1 + 2", 'date("2024-01-01")', '"a", "b"', "< 5"]
)
def test_output_entry_refusals(text: str) -> None:
    with pytest.raises(DmnTranslationError, match="nicht unterstützt"):
        translate_output_entry(text)


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ('date("2024-01-01")', "date"),
        ('"a" and "b"', "and"),
        ("< 5 or > 10", "or"),
        ("gemeinde", "gemeinde"),
        ("kind.gemeinde", "kind"),
        ("< grenze", "grenze"),
        ("5 + 3", "+"),
        ("[1..5", "Ende"),
        ("[1..5]]", "]"),
        ("not(1", ")"),
        ('"offen', "Anführungszeichen"),
        ("not(not(1))", "not"),
        ('"a", not("b")', "not"),
        ("not()", "„)“"),
        ("1..5", ".."),
        ("[1, 2]", ".."),
        ('[1.."a"]', "Bereichsgrenzen"),
        ("[null..1]", "Bereichsgrenzen"),
        ("< true", "Zahlen oder Texten"),
        ("'einfach'", "'"),
        ('"a\\q"', "Escape"),
        ("?", "?"),
    ],
)
def test_untranslatable_input_entries_are_refused(entry: str, named: str) -> None:
    with pytest.raises(DmnTranslationError) as info:
        translate_input_entry(entry)
    assert info.value.reason.startswith("Dieser FEEL-Ausdruck wird nicht unterstützt")
    assert named in info.value.reason


def test_over_long_entry_is_refused() -> None:
    with pytest.raises(DmnTranslationError, match="länger als 2000 Zeichen"):
        translate_input_entry(", ".join(['"Soest"'] * 300))


# --- whole documents ---------------------------------------------------------------------------------


def _problems(dmn: str) -> list[str]:
    return [f"{p.element}: {p.reason}" for p in translate_dmn(parse_xml(dmn, filename="t.dmn"), "t.dmn")]


@pytest.mark.parametrize("ns", [DMN11, DMN12, DMN13])
def test_all_dmn_versions_are_translated(ns: str) -> None:
    table = dmn_xml(
        [(['"Werl","Ense"'], ['"kreis"']), (["-"], ['"sonst"'])], ns=ns, table_attrs=' hitPolicy="FIRST"'
    )
    assert decide(table, wert="Ense")["treffer"] == "kreis"
    assert decide(table, wert="Soest")["treffer"] == "sonst"


@pytest.mark.parametrize(
    "policy", ["ANY", "PRIORITY", "RULE ORDER", "OUTPUT ORDER", 'Collect" aggregation="SUM']
)
def test_unsupported_hit_policies_are_refused(policy: str) -> None:
    problems = _problems(dmn_xml([(["-"], ['"x"'])], table_attrs=f' hitPolicy="{policy}"'))
    assert len(problems) == 1 and problems[0].startswith("tabelle_entscheidung: ")
    assert "nicht unterstützt" in problems[0]


def test_collect_without_aggregation_gives_lists() -> None:
    table = dmn_xml([(["> 1"], ['"a"']), (["> 2"], ['"b"'])], table_attrs=' hitPolicy="COLLECT"')
    assert decide(table, wert=5)["treffer"] == ["a", "b"]


def test_table_without_rules_and_mismatched_rows_are_refused() -> None:
    assert _problems(dmn_xml([])) == ["tabelle_entscheidung: Die Entscheidungstabelle enthält keine Regeln."]
    problems = _problems(dmn_xml([(["1", "2"], ['"x"'])]))
    assert len(problems) == 1 and problems[0].startswith("regel_1: Regel 1: 2 Eingabe-")


def test_problems_name_rule_and_column() -> None:
    table = dmn_xml(
        [(['"Soest"'], ['"a"']), (["-"], ['"b"']), (['date("2024-01-01")'], ["amt"])],
        inputs=(("Gemeinde", "gemeinde"),),
        outputs=("jugendamt",),
    )
    problems = _problems(table)
    assert len(problems) == 2
    assert problems[0].startswith(
        "regel_3: Regel 3, Spalte „Gemeinde“: Dieser FEEL-Ausdruck wird nicht unterstützt"
    )
    assert problems[1].startswith("regel_3: Regel 3, Spalte „Jugendamt“: Dieser FEEL-Ausdruck")


def test_explicit_python_is_left_untouched() -> None:
    whole = dmn_xml([(["> 1"], ["'gross'"])], definitions_attrs=' expressionLanguage="python"')
    assert _problems(whole) == []
    assert decide(whole, wert=2)["treffer"] == "gross"
    typed = dmn_xml([(["> 1"], ["'gross'"])], definitions_attrs=' typeLanguage="http://www.python.org"')
    assert decide(typed, wert=2)["treffer"] == "gross"
    root = parse_xml(dmn_xml([(['"a"'], ['"x"'])]))
    entry = root.find(f".//{{{DMN13}}}inputEntry")
    assert entry is not None
    entry.set("expressionLanguage", "python")
    entry[0].text = "? in ('a', 'b')"
    assert translate_dmn(root, "t.dmn") == []
    assert entry[0].text == "? in ('a', 'b')"
    output = root.find(f".//{{{DMN13}}}outputEntry/{{{DMN13}}}text")
    assert output is not None and output.text == '"x"'


def test_other_expression_languages_are_refused() -> None:
    problems = _problems(dmn_xml([(["1"], ['"x"'])], definitions_attrs=' expressionLanguage="juel"'))
    assert len(problems) == 3 and all("Ausdruckssprache „juel“" in p for p in problems)


def test_comments_and_empty_cells_do_not_break_spiff() -> None:
    table = dmn_xml([([""], ['"x"'])]).replace("<rule ", "<!-- Kommentar --><rule ")
    assert "treffer" in decide(table, wert=None)


def test_not_dmn_is_refused() -> None:
    root = etree.fromstring(b'<definitions xmlns="urn:anders"/>')
    assert "Namensraum" in translate_dmn(root, "x.dmn")[0].reason


# --- property: translated lists match exactly when FEEL would -------------------------------------

_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc", "Cn")), st.sampled_from("?\"'\\,.()[]")
    ),
    max_size=8,
)
_LITERAL = st.one_of(_TEXT, st.integers(-1000, 1000))
_INPUT = st.one_of(_LITERAL, st.none(), st.booleans(), st.floats(-1000, 1000, allow_nan=False))


def _feel_text(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    return "text" if isinstance(value, str) else "number"


def _feel_decides(literals: list[str | int], value: Any, negated: bool) -> bool:
    """Oracle: FEEL equality without coercion; not(...) of an unknown (null, other type) is no match."""
    if not negated:
        return any(feel_equal(value, literal) for literal in literals)
    return all(_kind(value) == _kind(literal) and not feel_equal(value, literal) for literal in literals)


@settings(max_examples=150, deadline=None)
@given(
    literals=st.lists(_LITERAL, min_size=1, max_size=5),
    value=_INPUT,
    negated=st.booleans(),
    pick=st.booleans(),
)
def test_translated_lists_match_exactly_when_feel_would(
    literals: list[str | int], value: Any, negated: bool, pick: bool
) -> None:
    if pick:
        value = literals[-1]
    entry = ", ".join(_feel_text(literal) for literal in literals)
    entry = f"not({entry})" if negated else entry
    assert matches(entry, value) is _feel_decides(literals, value, negated)


# --- deployment through the service ----------------------------------------------------------------

MUNICIPALITIES = {
    "Lippstadt": "jugendamt-lippstadt",
    "Soest": "jugendamt-soest",
    "Warstein": "jugendamt-warstein",
    **dict.fromkeys(
        [
            "Anröchte",
            "Bad Sassendorf",
            "Ense",
            "Erwitte",
            "Geseke",
            "Lippetal",
            "Möhnesee",
            "Rüthen",
            "Welver",
            "Werl",
            "Wickede (Ruhr)",
        ],
        "kreisjugendamt",
    ),
}
ROUTING_RULES: list[Rule] = [
    (['"Lippstadt"'], ['"jugendamt-lippstadt"']),
    (['"Soest"'], ['"jugendamt-soest"']),
    (['"Warstein"'], ['"jugendamt-warstein"']),
    (
        [
            '"Anröchte","Bad Sassendorf","Ense","Erwitte","Geseke","Lippetal",'
            '"Möhnesee","Rüthen","Welver","Werl","Wickede (Ruhr)"'
        ],
        ['"kreisjugendamt"'],
    ),
    (["-"], ["null"]),
]
MELDUNG_FORM = {
    "id": "meldung",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        {
            "id": "f_gemeinde",
            "type": "textfield",
            "key": "gemeinde",
            "label": "Gemeinde",
            "validate": {"required": True},
        }
    ],
}


def _write(tmp_path: Path, dmn: str) -> tuple[Path, Path]:
    defs = write_definitions(
        tmp_path / "defs",
        {"zustaendigkeit": rule_task_bpmn("zustaendigkeit", "jugendamt_zustaendig", "meldung")},
        {"meldung": MELDUNG_FORM},
    )
    (defs[0] / "jugendamt_zustaendig.dmn").write_text(dmn, encoding="utf-8")
    return defs


def _routing_dmn() -> str:
    return dmn_xml(
        ROUTING_RULES,
        inputs=(("Gemeinde", "gemeinde"),),
        outputs=("jugendamt",),
        decision="jugendamt_zustaendig",
        table_attrs=' hitPolicy="FIRST"',
    )


def _next_task_data(hn: Any, instance_id: int) -> dict[str, Any]:
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        workflow = hn.runtime.peek(session, row)
        ready = [
            t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "weiterleiten"
        ]
        assert len(ready) == 1
        return dict(workflow.get_task_from_id(UUID(str(ready[0].id))).data)


def test_routing_table_sends_all_14_municipalities_to_their_youth_office(
    tmp_path: Path, clock: ManualClock
) -> None:
    assert len(MUNICIPALITIES) == 14
    dmn = _routing_dmn()
    defs = _write(tmp_path, dmn)
    hn = build_engine(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", clock, defs)
    try:
        user = actor_lookup(hn)("fachkraft.frauenberatung")
        for gemeinde, office in MUNICIPALITIES.items():
            instance_id = hn.start(user, "zustaendigkeit", {"gemeinde": gemeinde})
            assert _next_task_data(hn, instance_id)["jugendamt"] == office, gemeinde
        instance_id = hn.start(user, "zustaendigkeit", {"gemeinde": "Dortmund"})
        assert _next_task_data(hn, instance_id)["jugendamt"] is None
    finally:
        hn.db.dispose()
    bundle = build_bundle(defs[0] / "zustaendigkeit.bpmn", DefinitionSource(*defs))
    assert bundle.dmn == {"jugendamt_zustaendig.dmn": dmn}, "the stored file is the coordinators' FEEL"
    assert "dmninputexpr" in bundle.spec_json, "the deployed spec holds the translated Python"


def test_untranslatable_table_is_refused_and_nothing_is_deployed(tmp_path: Path, clock: ManualClock) -> None:
    empty = write_definitions(tmp_path / "defs", {})  # the folder _write fills later
    hn = build_engine(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", clock, empty)
    try:
        rules = [
            *ROUTING_RULES[:2],
            (['"Warstein" or "Rüthen"'], ['"jugendamt-warstein"']),
            *ROUTING_RULES[3:],
        ]
        defs = _write(
            tmp_path,
            dmn_xml(
                rules,
                inputs=(("Gemeinde", "gemeinde"),),
                outputs=("jugendamt",),
                decision="jugendamt_zustaendig",
            ),
        )
        with pytest.raises(InvalidDefinitionError) as info:
            hn.deploy_file(defs[0] / "zustaendigkeit.bpmn")
        [problem] = info.value.problems
        assert problem.file == "jugendamt_zustaendig.dmn" and problem.element == "regel_3"
        assert problem.reason.startswith(
            "Regel 3, Spalte „Gemeinde“: Dieser FEEL-Ausdruck wird nicht unterstützt"
        )
        assert "„or“" in problem.reason
        user = actor_lookup(hn)("fachkraft.frauenberatung")
        assert [p for p in hn.processes(user) if p.key == "zustaendigkeit"] == []
        assert [str(p) for p in check_file(defs[0] / "jugendamt_zustaendig.dmn", defs[1])] == [str(problem)]
    finally:
        hn.db.dispose()


def test_unique_tables_whose_rules_overlap_are_refused() -> None:
    overlapping = dmn_xml(
        [(['"Warstein","Rüthen"'], ['"jugendamt-warstein"']), (['"Rüthen"'], ['"kreisjugendamt"'])],
        table_attrs=' hitPolicy="UNIQUE"',
    )
    (problem,) = _problems(overlapping)
    assert problem.startswith("regel_2: Regel 1 und Regel 2 treffen beide zu")
    catch_all = dmn_xml([(['"Soest"'], ['"a"']), (["-"], ['"b"'])], table_attrs="")  # UNIQUE by default
    assert len(_problems(catch_all)) == 1
    disjoint = dmn_xml([(['"Soest"'], ['"a"']), (['"Werl","Ense"'], ['"b"'])], table_attrs="")
    assert _problems(disjoint) == []
    assert _problems(dmn_xml([(["1"], ['"a"']), (['"1"'], ['"b"'])], table_attrs="")) == []  # no coercion


def test_python_cells_holding_a_bare_list_are_refused() -> None:
    table = dmn_xml([(['"Warstein", "Rüthen"'], ["'x'"])], definitions_attrs=' expressionLanguage="python"')
    (problem,) = _problems(table)
    assert "Aufzählung" in problem and "trifft so nie zu" in problem
