"""Property tests (hypothesis) of the server-side form validation (``engine/forms.py``), the check
every API and web submission passes: for every field type, any JSON value either comes out in
normalised form — text stripped, numbers inside their bounds, dates real calendar days, choices
only from their options — or is refused with a German message for exactly that field. Nothing
crashes, nothing undeclared comes through."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InvalidSubmissionError
from engine.forms import FormDefinition, load_form, validate_submission

#: Every word a refusal starts with; an English or empty message fails the test.
GERMAN_OPENINGS = (
    "Bitte",
    "Ungültig",
    "Höchstens",
    "Mindestens",
    "Der Wert",
    "Die Zahl",
    "Die Eingabe",
    "Der Text",
    "Das Datum",
    "Dieses Feld",
    "Pflichtfeld",
)
OPTIONS = ("ja", "nein", "unklar")

_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
#: Arbitrary JSON values (as the API hands them to the engine after ``json.loads``).
json_values = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
#: Values a user (or a client program) plausibly sends for a field.
plausible = (
    json_values
    | st.sampled_from([*OPTIONS, "JA", " ja ", "2026-02-29", "2028-02-29", "29.02.2028", "1e3", "10,5", "-0"])
    | st.dates().map(date.isoformat)
    | st.integers(-1000, 1000).map(str)
    | st.lists(st.sampled_from([*OPTIONS, "vielleicht"]), max_size=4)
)
PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def form(*components: dict[str, Any]) -> FormDefinition:
    document = {"id": "eigenschaften", "type": "default", "components": list(components)}
    return load_form(json.dumps(document), filename="eigenschaften.form")


def outcome(definition: FormDefinition, data: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The cleaned data, or None and the field errors (which must all be German)."""
    try:
        return validate_submission(definition, data), {}
    except InvalidSubmissionError as error:
        assert error.field_errors, "a refusal names the field"
        for message in error.field_errors.values():
            assert isinstance(message, str) and message.startswith(GERMAN_OPENINGS), message
        return None, dict(error.field_errors)


TEXT = form(
    {"type": "textfield", "key": "t", "label": "Text", "validate": {"required": True, "maxLength": 20}}
)


@PROPERTY
@given(value=plausible)
def test_required_text_is_stripped_bounded_or_refused(value: Any) -> None:
    cleaned, errors = outcome(TEXT, {"t": value, "fremd": value})
    if cleaned is None:
        assert set(errors) == {"t"}
        return
    assert set(cleaned) == {"t"}  # undeclared keys never come through
    text = cleaned["t"]
    assert isinstance(text, str) and text == text.strip() and 0 < len(text) <= 20


def test_a_missing_required_text_is_named() -> None:
    assert outcome(TEXT, {}) == (None, {"t": outcome(TEXT, {"t": ""})[1]["t"]})
    assert outcome(TEXT, {"t": "   "})[1]["t"].startswith("Bitte")


NUMBER = form(
    {"type": "number", "key": "n", "label": "Anzahl", "validate": {"required": True, "min": 0, "max": 100}}
)


@PROPERTY
@given(value=plausible)
def test_numbers_stay_inside_their_bounds(value: Any) -> None:
    cleaned, errors = outcome(NUMBER, {"n": value})
    if cleaned is None:
        assert set(errors) == {"n"}
        return
    number = cleaned["n"]
    assert isinstance(number, int | float) and not isinstance(number, bool)
    assert math.isfinite(number) and 0 <= number <= 100


@PROPERTY
@given(value=st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6))
def test_every_number_inside_the_bounds_is_accepted_and_outside_refused(value: float) -> None:
    cleaned, errors = outcome(NUMBER, {"n": value})
    if 0 <= value <= 100:
        assert cleaned == {"n": value}
    else:
        assert cleaned is None and errors["n"].startswith("Der Wert")


DAY = form({"type": "datetime", "key": "d", "label": "Datum", "subtype": "date"})


@PROPERTY
@given(value=plausible)
def test_dates_are_real_calendar_days(value: Any) -> None:
    cleaned, errors = outcome(DAY, {"d": value})
    if cleaned is None:
        assert set(errors) == {"d"}
        return
    if cleaned["d"] in ("", None):
        return  # optional and empty
    assert date.fromisoformat(cleaned["d"]).isoformat() == cleaned["d"]


@PROPERTY
@given(day=st.dates())
def test_every_iso_day_is_accepted(day: date) -> None:
    assert outcome(DAY, {"d": day.isoformat()})[0] == {"d": day.isoformat()}


CHOICES = form(
    {
        "type": "select",
        "key": "s",
        "label": "Auswahl",
        "values": [{"label": o, "value": o} for o in OPTIONS],
        "validate": {"required": True},
    },
    {
        "type": "checklist",
        "key": "c",
        "label": "Mehrfach",
        "values": [{"label": o, "value": o} for o in OPTIONS],
    },
    {"type": "checkbox", "key": "b", "label": "Haken"},
)


@PROPERTY
@given(select=plausible, checklist=plausible, checkbox=plausible)
def test_choices_only_allow_their_options(select: Any, checklist: Any, checkbox: Any) -> None:
    cleaned, errors = outcome(CHOICES, {"s": select, "c": checklist, "b": checkbox})
    if cleaned is None:
        assert errors and set(errors) <= {"s", "c", "b"}
        return
    assert cleaned["s"] in OPTIONS
    assert isinstance(cleaned["c"], list) and set(cleaned["c"]) <= set(OPTIONS)
    assert isinstance(cleaned["b"], bool)


@PROPERTY
@given(data=st.dictionaries(st.sampled_from(["t", "n", "d", "s", "c", "b", "x"]), json_values, max_size=7))
def test_arbitrary_submissions_to_every_form_never_crash(data: dict[str, Any]) -> None:
    for definition in (TEXT, NUMBER, DAY, CHOICES):
        cleaned, errors = outcome(definition, data)
        declared = {spec.key for spec in definition.fields}
        assert set(cleaned or errors) <= declared
