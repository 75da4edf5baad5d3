"""form-js (bpmn.io, schema of @bpmn-io/form-js 1.x) form definitions and server-side validation.

``load_form`` checks a ``forms/<id>.form`` file once, when a process version is
deployed; ``validate_submission`` checks every submission against it and returns
only the data the form defines, coerced to proper types (design §6: no one can set
``approved`` or a candidate group by crafting a request).

Data layout follows form-js: a field's ``key`` may be a dotted path, a ``group``
with a ``path`` nests its fields under that path, a ``dynamiclist`` submits a list
of row objects at its ``path``. Error keys are dotted paths such as
``person.name`` or ``massnahmen.0.frist``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from engine.anonymity.guard import REASON_KEY, AnonymityGuard
from engine.errors import InvalidDefinitionError, InvalidSubmissionError, PersonalDataError, Problem
from engine.feel import FeelError, FeelExpression, parse_feel

__all__ = [
    "CheckedSubmission",
    "FieldSpec",
    "FormDefinition",
    "anonymity_check",
    "check_draft",
    "check_submission",
    "form_field_keys",
    "load_form",
    "validate_submission",
]

MAX_FORM_BYTES = 500_000
MAX_NESTING = 16
MAX_ROWS = 200
MAX_PATTERN_LENGTH = 1000
DEFAULT_MAX_LENGTH = {"textfield": 1_000, "textarea": 10_000}
MAX_NUMBER = Decimal(10) ** 15
_MAX_INT = 10**18
SUBMISSION_MESSAGE = "Bitte korrigieren Sie die markierten Felder."
PERSONAL_DATA_MESSAGE = (
    "Dieser Datensatz ist anonym: Einige Felder enthalten vermutlich personenbezogene Daten. "
    "Bitte formulieren Sie die markierten Stellen anonym. Nur wenn die Angaben ausnahmsweise nötig "
    "sind, geben Sie eine Begründung ein; die Ausnahme wird protokolliert."
)
#: ``properties.anonym``: free text of an anonymous record, checked by the anonymity guard.
ANONYMOUS_TYPES = frozenset({"textfield", "textarea"})

INPUT_TYPES = frozenset(
    {"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select", "taglist", "datetime"}
)
CHOICE_TYPES = frozenset({"checklist", "radio", "select", "taglist"})
MULTI_CHOICE_TYPES = frozenset({"checklist", "taglist"})
DISPLAY_TYPES = frozenset(
    {"text", "html", "image", "spacer", "separator", "button", "iframe", "table", "documentPreview"}
)
CONTAINER_TYPES = frozenset({"group", "dynamiclist"})
COMPUTED_TYPES = frozenset({"expression"})
REFUSED_TYPES = frozenset({"filepicker"})
DATETIME_SUBTYPES = frozenset({"date", "time", "datetime"})
VALIDATION_TYPES = frozenset({"", "custom", "email", "phone"})

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_]*"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT})*")
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
#: One e-mail address (also for the account's own address, engine/notifications.py).
EMAIL_RE = _EMAIL_RE
EMAIL_MAX = 254
_PHONE_RE = re.compile(r"(?:\+|00)[1-9]\d{6,14}")
_PHONE_SEPARATORS_RE = re.compile(r"[\s()/-]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_GERMAN_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+,\d*")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?")
_TRUE_STRINGS = frozenset({"true", "on", "1", "yes", "ja"})
_FALSE_STRINGS = frozenset({"false", "off", "0", "no", "nein", ""})

Limit = int | float | FeelExpression | None


# =========================================================================== model


#: ``properties.datenart`` values: referral contact data and the consent that must come with them.
DATA_KINDS = frozenset(
    {"kontaktdaten", "einwilligung", "einwilligung_empfaenger", "einwilligung_datum", "einwilligung_umfang"}
)
CONSENT_KINDS = ("einwilligung", "einwilligung_empfaenger", "einwilligung_datum")


@dataclass(frozen=True)
class FieldSpec:
    """One input field of a form, flattened out of groups.

    ``key`` is the dotted data path relative to the field's scope: the form root,
    or one row of the enclosing ``dynamiclist`` (whose own spec lists the row's
    fields in ``row_fields``). ``hide`` holds the field's own condition and those
    of the groups around it inside the same scope; the field is hidden when any
    evaluates to true. ``readonly`` is true for readonly or disabled fields, or a
    FEEL expression deciding it per submission.
    """

    key: str
    type: str
    label: str = ""
    required: bool = False
    hide: tuple[FeelExpression, ...] = ()
    readonly: bool | FeelExpression = False
    min_length: Limit = None
    max_length: Limit = None
    minimum: Limit = None
    maximum: Limit = None
    pattern: re.Pattern[str] | None = None
    validation_type: str | None = None
    custom: tuple[tuple[FeelExpression, str | FeelExpression], ...] = ()
    options: tuple[Any, ...] | None = None
    options_key: str | None = None
    options_expression: FeelExpression | None = None
    decimal_digits: int | None = None
    increment: Decimal | None = None
    subtype: str = "date"
    disallow_past: bool = False
    row_fields: tuple[FieldSpec, ...] = ()
    data_kind: str = ""
    """``properties.datenart`` of the component: personal data the engine keeps out of process data."""
    consent_scope: str = ""
    """``properties.umfang`` of a contact field: the value of the consent-scope field that covers it."""
    anonymous: bool = False
    """``properties.anonym = "true"``: free text of an anonymous record, checked for personal data."""

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))


@dataclass(frozen=True)
class FormDefinition:
    """A checked form: its id, the raw form-js schema (for the viewer) and its input fields."""

    id: str
    schema: dict[str, Any]
    fields: tuple[FieldSpec, ...]


def form_field_keys(form: FormDefinition) -> list[str]:
    """Dotted keys of the form's top-level data (a dynamiclist appears once, by its path)."""
    return [spec.key for spec in form.fields]


# =========================================================================== loading


_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def referenced_names(form: FormDefinition) -> set[str]:
    """Every variable name a form could show or use: field keys and paths, ``valuesKey``, and any
    identifier in its texts, labels and FEEL expressions. Task data outside this set is not sent to
    the browser (data minimisation); over-inclusion only costs a name that merely appears in text.
    """
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            names.update(_NAME_TOKEN.findall(node))

    walk(form.schema.get("components", []))
    return names


def load_form(text: str | bytes, *, filename: str) -> FormDefinition:
    """Parse and check a form-js definition; raise :class:`InvalidDefinitionError` listing every problem."""
    raw = _parse_json(text, filename)
    loader = _Loader(filename)
    form = loader.load(raw)
    if loader.problems or form is None:
        raise InvalidDefinitionError(f"Das Formular „{filename}“ ist ungültig.", loader.problems)
    return form


def _parse_json(text: str | bytes, filename: str) -> Any:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    reason: str | None = None
    if len(data) > MAX_FORM_BYTES:
        reason = f"Die Datei ist größer als {MAX_FORM_BYTES // 1000} kB."
    else:
        try:
            return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            reason = "Die Datei ist nicht UTF-8-kodiert."
        except json.JSONDecodeError as exc:
            reason = f"Die Datei ist kein gültiges JSON (Zeile {exc.lineno}, Spalte {exc.colno})."
        except ValueError:
            reason = "Die Datei enthält NaN oder Infinity; das ist kein gültiges JSON."
        except RecursionError:
            reason = "Die Datei ist zu tief verschachtelt."
    raise InvalidDefinitionError(
        f"Das Formular „{filename}“ ist ungültig.", [Problem(filename, None, reason)]
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


@dataclass(frozen=True)
class _Scope:
    """Where components are being read: key prefix, enclosing hide conditions, nesting depth."""

    prefix: tuple[str, ...] = ()
    hide: tuple[FeelExpression, ...] = ()
    depth: int = 0

    def key(self, key: str) -> str:
        return ".".join((*self.prefix, key))


class _Loader:
    """Reads one form, collecting every problem instead of stopping at the first."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []

    def problem(self, element: str | None, reason: str) -> None:
        self.problems.append(Problem(self.filename, element, reason))

    def load(self, raw: Any) -> FormDefinition | None:
        if not isinstance(raw, dict):
            self.problem(None, "Das Formular muss ein JSON-Objekt sein.")
            return None
        form_id = raw.get("id")
        if not isinstance(form_id, str) or not form_id.strip():
            self.problem(None, "Die Formular-ID („id“) fehlt.")
        if raw.get("type", "default") != "default":
            self.problem(None, "Der Formulartyp muss „default“ sein.")
        components = raw.get("components")
        if not isinstance(components, list):
            self.problem(None, "„components“ muss eine Liste sein.")
            return None
        fields = self.scope_fields(components, _Scope())
        self.check_consent(fields)
        return FormDefinition(form_id if isinstance(form_id, str) else "", raw, fields)

    def check_consent(self, fields: Sequence[FieldSpec]) -> None:
        """Contact data only in a form that also records the consent: whether, to whom, when."""
        kinds = [f.data_kind for f in fields]
        if "kontaktdaten" not in kinds:
            return
        for kind in CONSENT_KINDS:
            if kinds.count(kind) != 1:
                self.problem(
                    None,
                    f"Ein Formular mit Kontaktdaten braucht genau ein Feld mit Datenart „{kind}“ "
                    "(Einwilligung: ob, an wen, wann).",
                )
        scope = next((f for f in fields if f.data_kind == "einwilligung_umfang"), None)
        if scope is None:
            return
        allowed = set(scope.options or ())
        for spec in fields:
            if spec.data_kind == "kontaktdaten" and spec.consent_scope not in allowed:
                self.problem(
                    spec.key,
                    f"Kontaktfeld „{spec.key}“: properties.umfang muss einen Wert des Felds "
                    f"„{scope.key}“ nennen ({', '.join(sorted(map(str, allowed)))}).",
                )

    # -- scopes and components

    def scope_fields(self, components: list[Any], scope: _Scope) -> tuple[FieldSpec, ...]:
        """Read the fields of one data scope and check their keys for clashes."""
        specs = self.components(components, scope)
        self.check_keys(specs)
        return tuple(spec for spec in specs if spec.type not in COMPUTED_TYPES)

    def components(self, components: list[Any], scope: _Scope) -> list[FieldSpec]:
        specs: list[FieldSpec] = []
        for index, component in enumerate(components):
            if not isinstance(component, dict):
                self.problem(f"components[{index}]", "Eine Komponente muss ein JSON-Objekt sein.")
                continue
            specs.extend(self.component(component, scope, index))
        return specs

    def component(self, component: dict[str, Any], scope: _Scope, index: int) -> list[FieldSpec]:
        ctype = component.get("type")
        ctype = ctype if isinstance(ctype, str) else repr(ctype)
        element = _element(component, index)
        hide = (*scope.hide, *self.condition(component, element))
        if ctype in INPUT_TYPES:
            spec = self.input_field(component, element, _Scope(scope.prefix, hide, scope.depth))
            return [spec] if spec else []
        if ctype in CONTAINER_TYPES:
            return self.container(component, element, _Scope(scope.prefix, hide, scope.depth + 1))
        if ctype in COMPUTED_TYPES:
            key = self.key(component, element, scope)
            return [FieldSpec(key=key, type="expression")] if key else []
        if ctype in REFUSED_TYPES:
            self.problem(element, "Datei-Uploads („filepicker“) werden in Formularen nicht unterstützt.")
        elif ctype not in DISPLAY_TYPES:
            self.problem(element, f"Unbekannter Komponententyp „{ctype}“.")
        return []

    def container(self, component: dict[str, Any], element: str, scope: _Scope) -> list[FieldSpec]:
        if scope.depth > MAX_NESTING:
            self.problem(element, f"Mehr als {MAX_NESTING} Ebenen verschachtelter Gruppen.")
            return []
        children = component.get("components", [])
        if not isinstance(children, list):
            self.problem(element, "„components“ muss eine Liste sein.")
            return []
        path = self.path(component, element, required=component["type"] == "dynamiclist")
        if component["type"] == "group":
            prefix = (*scope.prefix, *path.split(".")) if path else scope.prefix
            return self.components(children, _Scope(prefix, scope.hide, scope.depth))
        if not path:
            return []
        rows = self.scope_fields(children, _Scope((), (), scope.depth))
        key = scope.key(path)
        label = _label(component)
        return [FieldSpec(key=key, type="dynamiclist", label=label, hide=scope.hide, row_fields=rows)]

    # -- keys

    def key(self, component: dict[str, Any], element: str, scope: _Scope) -> str | None:
        key = component.get("key")
        if not isinstance(key, str) or not key:
            self.problem(element, "Der Schlüssel („key“) fehlt.")
            return None
        return scope.key(key) if self.valid_path(key, element) else None

    def path(self, component: dict[str, Any], element: str, *, required: bool) -> str:
        path = component.get("path")
        if path in (None, "") and not required:
            return ""
        if not isinstance(path, str) or not path:
            self.problem(element, "Der Pfad („path“) fehlt.")
            return ""
        return path if self.valid_path(path, element) else ""

    def valid_path(self, path: str, element: str) -> bool:
        if not _KEY_RE.fullmatch(path):
            self.problem(
                element,
                f"Ungültiger Schlüssel „{path}“: erlaubt sind Buchstaben, Ziffern und „_“, "
                "getrennt durch Punkte.",
            )
            return False
        if any(part.startswith("_") for part in path.split(".")):
            self.problem(element, f"Der Schlüssel „{path}“ beginnt mit „_“; das ist der Engine vorbehalten.")
            return False
        return True

    def check_keys(self, specs: Sequence[FieldSpec]) -> None:
        seen: set[str] = set()
        for spec in specs:
            if spec.key in seen:
                self.problem(spec.key, f"Der Schlüssel „{spec.key}“ ist mehrfach vergeben.")
            seen.add(spec.key)
        for spec in specs:
            for size in range(1, len(spec.path)):
                prefix = ".".join(spec.path[:size])
                if prefix in seen:
                    self.problem(spec.key, f"Der Schlüssel „{spec.key}“ liegt unter dem Feld „{prefix}“.")

    # -- expressions

    def feel(self, value: Any, element: str, what: str) -> FeelExpression | None:
        if not isinstance(value, str) or not value.startswith("="):
            self.problem(element, f"{what} muss ein FEEL-Ausdruck sein, der mit „=“ beginnt: „{value}“.")
            return None
        try:
            return parse_feel(value)
        except FeelError as exc:
            self.problem(element, f"{what}: {exc}")
            return None

    def condition(self, component: dict[str, Any], element: str) -> tuple[FeelExpression, ...]:
        conditional = component.get("conditional")
        if conditional is None:
            return ()
        if not isinstance(conditional, dict):
            self.problem(element, "„conditional“ muss ein JSON-Objekt sein.")
            return ()
        hide = conditional.get("hide")
        if hide in (None, ""):
            return ()
        expression = self.feel(hide, element, "Die Bedingung „hide“")
        return (expression,) if expression else ()

    # -- input fields

    def input_field(self, component: dict[str, Any], element: str, scope: _Scope) -> FieldSpec | None:
        key = self.key(component, element, scope)
        validate = component.get("validate", {})
        if not isinstance(validate, dict):
            self.problem(element, "„validate“ muss ein JSON-Objekt sein.")
            validate = {}
        ctype = component["type"]
        spec = FieldSpec(
            key=key or "",
            type=ctype,
            label=_label(component),
            required=self.flag(validate, "required", element),
            hide=scope.hide,
            readonly=self.readonly(component, element),
            **self.limits(validate, element),
            **self.text_rules(validate, element),
            **self.type_options(component, element),
            data_kind=self.data_kind(component, element, scope),
            consent_scope=str((component.get("properties") or {}).get("umfang", "") or ""),
            anonymous=self.anonymous(component, element),
        )
        return spec if key else None

    def anonymous(self, component: dict[str, Any], element: str) -> bool:
        properties = component.get("properties") or {}
        value = properties.get("anonym", "false") if isinstance(properties, dict) else "false"
        if value not in ("true", "false", True, False):
            self.problem(element, f"„properties.anonym“ muss „true“ oder „false“ sein, nicht „{value}“.")
            return False
        marked = value in ("true", True)
        if marked and component["type"] not in ANONYMOUS_TYPES:
            self.problem(
                element, "Nur Textfelder („textfield“, „textarea“) können als anonym markiert werden."
            )
            return False
        return marked

    def data_kind(self, component: dict[str, Any], element: str, scope: _Scope) -> str:
        properties = component.get("properties") or {}
        kind = properties.get("datenart", "") if isinstance(properties, dict) else ""
        if not kind:
            return ""
        if kind not in DATA_KINDS:
            self.problem(element, f"Unbekannte Datenart „{kind}“ (erlaubt: {', '.join(sorted(DATA_KINDS))}).")
            return ""
        if scope.prefix:
            self.problem(element, "Felder mit Datenart gehören auf die oberste Ebene.")
        return str(kind)

    def flag(self, mapping: Mapping[str, Any], name: str, element: str) -> bool:
        value = mapping.get(name, False)
        if not isinstance(value, bool):
            self.problem(element, f"„{name}“ muss true oder false sein.")
            return False
        return value

    def readonly(self, component: dict[str, Any], element: str) -> bool | FeelExpression:
        if self.flag(component, "disabled", element):
            return True
        value = component.get("readonly", False)
        if value in (None, "", False):
            return False
        if isinstance(value, str):
            return self.feel(value, element, "„readonly“") or False
        return self.flag(component, "readonly", element)

    def limits(self, validate: Mapping[str, Any], element: str) -> dict[str, Any]:
        names = {"minLength": "min_length", "maxLength": "max_length", "min": "minimum", "max": "maximum"}
        return {attr: self.limit(validate, name, element) for name, attr in names.items()}

    def limit(self, validate: Mapping[str, Any], name: str, element: str) -> Limit:
        value = validate.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return self.feel(value, element, f"„{name}“")
        if not _is_number(value):
            self.problem(element, f"„{name}“ muss eine Zahl sein.")
            return None
        if name.endswith("Length") and (value < 0 or value != int(value)):
            self.problem(element, f"„{name}“ muss eine nicht negative ganze Zahl sein.")
            return None
        return int(value) if isinstance(value, int) else float(value)

    def text_rules(self, validate: Mapping[str, Any], element: str) -> dict[str, Any]:
        validation_type = validate.get("validationType") or ""
        if not isinstance(validation_type, str) or validation_type not in VALIDATION_TYPES:
            self.problem(element, f"Unbekannter Prüftyp „{validation_type}“ (erlaubt: email, phone).")
            validation_type = ""
        return {
            "pattern": self.pattern(validate.get("pattern"), element),
            "validation_type": validation_type if validation_type in ("email", "phone") else None,
            "custom": self.custom(validate.get("custom"), element),
        }

    def pattern(self, pattern: Any, element: str) -> re.Pattern[str] | None:
        if pattern in (None, ""):
            return None
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
            self.problem(
                element,
                f"„pattern“ muss ein regulärer Ausdruck (höchstens {MAX_PATTERN_LENGTH} Zeichen) sein.",
            )
            return None
        try:
            return re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as exc:
            self.problem(element, f"Ungültiges Muster („pattern“) „{pattern}“: {exc}.")
            return None

    def custom(self, rules: Any, element: str) -> tuple[tuple[FeelExpression, str | FeelExpression], ...]:
        if rules in (None, []):
            return ()
        if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
            self.problem(element, "„custom“ muss eine Liste von Objekten sein.")
            return ()
        out: list[tuple[FeelExpression, str | FeelExpression]] = []
        for rule in rules:
            condition = self.feel(rule.get("condition"), element, "Die Prüfregel „condition“")
            message = rule.get("message")
            if isinstance(message, str) and message.startswith("="):
                message = self.feel(message, element, "Die Fehlermeldung „message“")
            if condition and isinstance(message, str | FeelExpression):
                out.append((condition, message))
        return tuple(out)

    def type_options(self, component: dict[str, Any], element: str) -> dict[str, Any]:
        ctype = component["type"]
        if ctype in CHOICE_TYPES:
            return self.choices(component, element)
        if ctype == "number":
            return self.number_options(component, element)
        if ctype == "datetime":
            return self.datetime_options(component, element)
        return {}

    def choices(self, component: dict[str, Any], element: str) -> dict[str, Any]:
        if "valuesKey" in component:
            key = component["valuesKey"]
            valid = isinstance(key, str) and bool(_KEY_RE.fullmatch(key))
            if not valid:
                self.problem(element, f"Ungültiger „valuesKey“ „{key}“.")
            return {"options_key": key if valid else None, "options": None if valid else ()}
        if "valuesExpression" in component:
            expression = self.feel(component["valuesExpression"], element, "„valuesExpression“")
            return {"options_expression": expression, "options": None if expression else ()}
        return {"options": self.static_values(component.get("values"), element)}

    def static_values(self, values: Any, element: str) -> tuple[Any, ...]:
        if not isinstance(values, list) or not values:
            self.problem(element, "Keine Auswahlmöglichkeiten („values“, „valuesKey“) angegeben.")
            return ()
        options = _option_values(values)
        if len(options) != len(values):
            self.problem(element, "Jede Auswahlmöglichkeit braucht „label“ und einen einfachen „value“.")
        return options

    def number_options(self, component: dict[str, Any], element: str) -> dict[str, Any]:
        digits = component.get("decimalDigits")
        if digits is not None and (not isinstance(digits, int) or isinstance(digits, bool) or digits < 0):
            self.problem(element, "„decimalDigits“ muss eine nicht negative ganze Zahl sein.")
            digits = None
        increment = _parse_decimal(component.get("increment"))
        if component.get("increment") not in (None, "") and (increment is None or increment <= 0):
            self.problem(element, "„increment“ muss eine positive Zahl sein.")
            increment = None
        return {"decimal_digits": digits, "increment": increment}

    def datetime_options(self, component: dict[str, Any], element: str) -> dict[str, Any]:
        subtype = component.get("subtype", "date")
        if not isinstance(subtype, str) or subtype not in DATETIME_SUBTYPES:
            self.problem(element, f"Unbekannter Untertyp „{subtype}“ (erlaubt: date, time, datetime).")
            subtype = "date"
        return {"subtype": subtype, "disallow_past": self.flag(component, "disallowPassedDates", element)}


def _element(component: Mapping[str, Any], index: int) -> str:
    for name in ("key", "path", "id"):
        value = component.get(name)
        if isinstance(value, str) and value:
            return value
    return f"components[{index}]"


def _label(component: Mapping[str, Any]) -> str:
    label = component.get("label")
    return label if isinstance(label, str) else ""


def _is_number(value: Any) -> bool:
    """A finite JSON number of sane size (``bool`` is not a number here)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < _MAX_INT
    return isinstance(value, float) and math.isfinite(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _option_values(items: Iterable[Any]) -> tuple[Any, ...]:
    """The values of form-js options: ``{"label", "value"}`` objects or plain scalars."""
    values: list[Any] = []
    for item in items:
        value = item.get("value") if isinstance(item, Mapping) else item
        if _is_scalar(value):
            values.append(value)
    return tuple(values)


# =========================================================================== submission


class _FieldError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_MISSING: Any = object()


@dataclass
class _Coerced:
    """Phase one of a scope: every field's typed value, or its type error."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Env:
    """What conditions see: the merged data, plus ``this``/``parent``/``i`` inside dynamic lists."""

    root: Mapping[str, Any]
    this: Any
    parent: Any = None
    indexes: tuple[int, ...] = ()
    guard: AnonymityGuard = field(default_factory=AnonymityGuard)

    def context(self) -> dict[str, Any]:
        return {**self.root, "this": self.this, "parent": self.parent, "i": list(self.indexes)}


@dataclass(frozen=True)
class CheckedSubmission:
    """A valid submission: the cleaned data and the anonymity guard that checked it."""

    data: dict[str, Any]
    guard: AnonymityGuard


def validate_submission(
    form: FormDefinition, data: Mapping[str, Any], *, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the cleaned submission or raise :class:`InvalidSubmissionError` with every field error."""
    return check_submission(form, data, context=context).data


def check_submission(
    form: FormDefinition, data: Mapping[str, Any], *, context: Mapping[str, Any] | None = None
) -> CheckedSubmission:
    """Validate like :func:`validate_submission`; fields marked anonymous also pass the anonymity
    guard (findings raise :class:`PersonalDataError`, unless the submission carries a typed reason
    under ``_anonymitaet_begruendung``; the guard then lists what was let through, for the audit)."""
    context = context if isinstance(context, Mapping) else {}
    data = data if isinstance(data, Mapping) else {}
    guard = AnonymityGuard.for_submission(data)
    coerced = _coerce_scope(form.fields, data, context)
    merged = _merge(context, _nest(form.fields, coerced))
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    _check_scope(form.fields, coerced, _Env(merged, merged, guard=guard), "", out, errors)
    if guard.refused:
        raise PersonalDataError(PERSONAL_DATA_MESSAGE, errors, guard.finding_details(), REASON_KEY)
    if errors:
        raise InvalidSubmissionError(SUBMISSION_MESSAGE, field_errors=errors)
    return CheckedSubmission(out, guard)


def anonymity_check(form: FormDefinition | None, data: Mapping[str, Any]) -> AnonymityGuard:
    """Check the marked fields of unvalidated input (a draft); raise :class:`PersonalDataError`
    when something is found and no reason was typed."""
    return check_draft(form, data)[1]


def check_draft(
    form: FormDefinition | None, data: Mapping[str, Any], *, leave_out: Set[str] = frozenset()
) -> tuple[dict[str, Any], AnonymityGuard]:
    """The storable draft of unvalidated input and the guard that checked it.

    Only what the guard has seen is kept: the form's own fields (top-level keys in ``leave_out``
    dropped), by their exact paths, as nested data; marked text as a string, a dynamic list as a
    list of rows holding only the row's fields (recursively), other fields as a scalar or a list
    of scalars. Anything of another shape is dropped, so no text can hide from the guard in an
    odd key or a nested object. Raises :class:`PersonalDataError` like :func:`check_submission`.
    """
    data = data if isinstance(data, Mapping) else {}
    fields = [f for f in form.fields if f.key not in leave_out] if form is not None else []
    draft = _draft_scope(fields, data)
    guard = AnonymityGuard.for_submission(data)
    errors: dict[str, str] = {}
    _guard_scope(guard, fields, draft, "", errors)
    if guard.refused:
        raise PersonalDataError(PERSONAL_DATA_MESSAGE, errors, guard.finding_details(), REASON_KEY)
    return draft, guard


def draft_shape(
    form: FormDefinition | None, data: Mapping[str, Any], *, leave_out: Set[str] = frozenset()
) -> dict[str, Any]:
    """``data`` cut to the shape :func:`check_draft` stores, without checking it again: for showing
    a draft stored before that shape was enforced (anything in an odd key or shape is dropped)."""
    data = data if isinstance(data, Mapping) else {}
    fields = [f for f in form.fields if f.key not in leave_out] if form is not None else []
    return _draft_scope(fields, data)


def _draft_scope(fields: Sequence[FieldSpec], raw: Mapping[str, Any]) -> dict[str, Any]:
    draft: dict[str, Any] = {}
    for spec in fields:
        value = _draft_value(spec, _get(raw, spec.path))
        if value is not _MISSING:
            _set(draft, spec.path, value)
    return draft


def _draft_value(spec: FieldSpec, value: Any) -> Any:
    """``value`` in the shape the field can hold, or ``_MISSING`` (dropped)."""
    if value is _MISSING or value is None:
        return value
    if spec.type == "dynamiclist":
        if not isinstance(value, list):
            return _MISSING
        return [
            _draft_scope(spec.row_fields, row if isinstance(row, Mapping) else {}) for row in value[:MAX_ROWS]
        ]
    if spec.anonymous:
        return str(value) if _is_number(value) else value if isinstance(value, str) else _MISSING
    if _is_scalar(value):
        return value
    if isinstance(value, list) and len(value) <= 1000 and all(_is_scalar(item) for item in value):
        return list(value)
    return _MISSING


def _guard_scope(
    guard: AnonymityGuard,
    fields: Sequence[FieldSpec],
    data: Mapping[str, Any],
    prefix: str,
    errors: dict[str, str],
) -> None:
    for spec in fields:
        value = _get(data, spec.path)
        if spec.type == "dynamiclist":
            for index, row in enumerate(value if isinstance(value, list) else []):
                _guard_scope(guard, spec.row_fields, row, f"{prefix}{spec.key}.{index}.", errors)
        elif spec.anonymous:
            message = guard.check(prefix + spec.key, value)
            if message:
                errors[prefix + spec.key] = message


# --------------------------------------------------------------------------- phase 1: types


def _coerce_scope(
    fields: Sequence[FieldSpec], raw: Mapping[str, Any], context: Mapping[str, Any]
) -> _Coerced:
    coerced = _Coerced()
    for spec in fields:
        value = _get(raw, spec.path)
        try:
            if spec.type == "dynamiclist":
                coerced.values[spec.key] = _coerce_rows(spec, value, context)
            else:
                coerced.values[spec.key] = _COERCERS[spec.type](spec, value, context)
        except _FieldError as exc:
            coerced.values[spec.key] = None
            coerced.errors[spec.key] = exc.message
    return coerced


def _get(raw: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = raw
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return raw.get(".".join(path), _MISSING) if len(path) > 1 else _MISSING
        current = current[part]
    return current


def _is_blank(value: Any) -> bool:
    return value is _MISSING or value is None or (isinstance(value, str) and not value.strip())


def _coerce_rows(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> list[_Coerced]:
    if _is_blank(value):
        return []
    if not isinstance(value, list):
        raise _FieldError("Ungültige Liste.")
    if len(value) > MAX_ROWS:
        raise _FieldError(f"Höchstens {MAX_ROWS} Einträge.")
    return [_coerce_scope(spec.row_fields, row if isinstance(row, Mapping) else {}, context) for row in value]


def _coerce_text(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> str:
    if _is_blank(value):
        return ""
    if _is_number(value):
        value = str(value)
    if not isinstance(value, str):
        raise _FieldError("Bitte geben Sie einen Text ein.")
    if _CONTROL_RE.search(value):
        raise _FieldError("Der Text enthält unzulässige Steuerzeichen.")
    return value.strip()


def _coerce_checkbox(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> bool:
    if value is _MISSING or value is None or isinstance(value, bool):
        return bool(value is True)
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.strip().lower() in _TRUE_STRINGS | _FALSE_STRINGS:
        return value.strip().lower() in _TRUE_STRINGS
    raise _FieldError("Ungültiger Wert.")


def _coerce_number(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> int | float | None:
    if _is_blank(value):
        return None
    number = _parse_number(value)
    if number is None:
        raise _FieldError("Bitte geben Sie eine Zahl ein.")
    if abs(number) >= MAX_NUMBER:
        raise _FieldError("Die Zahl ist zu groß.")
    _check_decimals(spec, number)
    _check_increment(spec, number)
    integral = spec.decimal_digits == 0 or (spec.decimal_digits is None and _exponent(number) >= 0)
    return int(number) if integral else float(number)


def _parse_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _parse_decimal(value)
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip().replace(" ", "").replace("\u00a0", "")
    if "," in text:
        if "." in text and not _GERMAN_THOUSANDS_RE.fullmatch(text):
            return None
        text = text.replace(".", "").replace(",", ".")
    return _parse_decimal(text) if _NUMBER_RE.fullmatch(text) else None


def _parse_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _check_decimals(spec: FieldSpec, number: Decimal) -> None:
    if spec.decimal_digits is None or number == number.to_integral_value():
        return
    decimals = -_exponent(number.normalize())
    if decimals > spec.decimal_digits:
        if spec.decimal_digits == 0:
            raise _FieldError("Bitte geben Sie eine ganze Zahl ein.")
        raise _FieldError(f"Höchstens {spec.decimal_digits} Nachkommastellen.")


def _check_increment(spec: FieldSpec, number: Decimal) -> None:
    if spec.increment is None:
        return
    with localcontext() as exact:
        exact.prec = 200
        try:
            offset = number % spec.increment
        except InvalidOperation:
            raise _FieldError("Ungültiger Wert.") from None
        if offset == 0:
            return
        below = number - offset if number >= 0 else number - offset - spec.increment
        above = below + spec.increment
        raise _FieldError(
            f"Bitte wählen Sie einen gültigen Wert; die nächsten gültigen Werte sind "
            f"{_format_number(below)} und {_format_number(above)}."
        )


def _coerce_single(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> Any:
    if _is_blank(value):
        return None
    return _match_option(value, _options(spec, context))


def _coerce_multi(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> list[Any]:
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, list | tuple) or len(value) > 1000:
        raise _FieldError("Ungültige Auswahl.")
    options = _options(spec, context)
    chosen: list[Any] = []
    for item in value:
        option = _match_option(item, options)
        if not any(option is seen for seen in chosen):
            chosen.append(option)
    return chosen


def _options(spec: FieldSpec, context: Mapping[str, Any]) -> tuple[Any, ...]:
    if spec.options is not None:
        return spec.options
    if spec.options_key is not None:
        source = _get(context, tuple(spec.options_key.split(".")))
    elif spec.options_expression is not None:
        source = spec.options_expression.evaluate(context)
    else:
        return ()
    return _option_values(source) if isinstance(source, list) else ()


def _match_option(value: Any, options: tuple[Any, ...]) -> Any:
    """The option equal to ``value`` (same type), else one whose text form is ``value``."""
    if not _is_scalar(value):
        raise _FieldError("Ungültige Auswahl.")
    wanted = value.strip() if isinstance(value, str) else value
    for option in options:
        same_kind = type(option) is type(wanted) or (_is_number(option) and _is_number(wanted))
        if same_kind and option == wanted:
            return option
    if isinstance(wanted, str):
        for option in options:
            if _option_text(option) == wanted:
                return option
    raise _FieldError("Ungültige Auswahl.")


def _option_text(option: Any) -> str:
    if isinstance(option, bool):
        return "true" if option else "false"
    return str(option)


def _coerce_datetime(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> str | None:
    if _is_blank(value):
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise _FieldError(_DATETIME_MESSAGES[spec.subtype])
    text = value.strip()
    day = _DATETIME_PARSERS[spec.subtype](text)
    if day is None:
        raise _FieldError(_DATETIME_MESSAGES[spec.subtype])
    if spec.disallow_past and isinstance(day, date) and day < date.today():
        raise _FieldError("Das Datum darf nicht in der Vergangenheit liegen.")
    return text


def _parse_date(text: str) -> date | None:
    if not _DATE_RE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_time(text: str) -> bool | None:
    if not _TIME_RE.fullmatch(text):
        return None
    try:
        time.fromisoformat(text)
    except ValueError:
        return None
    return True


def _parse_datetime(text: str) -> date | None:
    day, separator, clock = text.partition("T")
    if not separator or _parse_date(day) is None or _parse_time(clock) is None:
        return None
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return None


_DATETIME_PARSERS: dict[str, Callable[[str], Any]] = {
    "date": _parse_date,
    "time": _parse_time,
    "datetime": _parse_datetime,
}
_DATETIME_MESSAGES = {
    "date": "Bitte geben Sie ein gültiges Datum ein (JJJJ-MM-TT).",
    "time": "Bitte geben Sie eine gültige Uhrzeit ein (HH:MM).",
    "datetime": "Bitte geben Sie ein gültiges Datum mit Uhrzeit ein (JJJJ-MM-TTTHH:MM).",
}
_COERCERS: dict[str, Callable[[FieldSpec, Any, Mapping[str, Any]], Any]] = {
    "textfield": _coerce_text,
    "textarea": _coerce_text,
    "number": _coerce_number,
    "checkbox": _coerce_checkbox,
    "checklist": _coerce_multi,
    "taglist": _coerce_multi,
    "radio": _coerce_single,
    "select": _coerce_single,
    "datetime": _coerce_datetime,
}


# --------------------------------------------------------------------------- phase 2: rules


def _nest(fields: Sequence[FieldSpec], coerced: _Coerced) -> dict[str, Any]:
    """The typed values of a scope as nested data (statically read-only fields left out)."""
    nested: dict[str, Any] = {}
    for spec in fields:
        if spec.readonly is True:
            continue
        value = coerced.values.get(spec.key)
        if spec.type == "dynamiclist":
            value = [_nest(spec.row_fields, row) for row in value or []]
        _set(nested, spec.path, value)
    return nested


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = _merge(below, value)
        else:
            merged[key] = value
    return merged


def _set(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value


def _check_scope(
    fields: Sequence[FieldSpec],
    coerced: _Coerced,
    env: _Env,
    prefix: str,
    out: dict[str, Any],
    errors: dict[str, str],
) -> None:
    context = env.context()
    for spec in fields:
        if _is_hidden(spec, context) or _is_readonly(spec, context):
            continue
        if spec.key in coerced.errors:
            errors[prefix + spec.key] = coerced.errors[spec.key]
        elif spec.type == "dynamiclist":
            rows = coerced.values[spec.key]
            _set(out, spec.path, _check_rows(spec, rows, env, prefix + spec.key, errors))
        else:
            value = coerced.values[spec.key]
            message = _rule_error(spec, value, context)
            if not message and spec.anonymous:
                message = env.guard.check(prefix + spec.key, value)
            if message:
                errors[prefix + spec.key] = message
            else:
                _set(out, spec.path, value)


def _check_rows(
    spec: FieldSpec, rows: list[_Coerced], env: _Env, prefix: str, errors: dict[str, str]
) -> list[dict[str, Any]]:
    cleaned: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        row_env = _Env(env.root, _nest(spec.row_fields, row), env.this, (*env.indexes, index + 1), env.guard)
        row_out: dict[str, Any] = {}
        _check_scope(spec.row_fields, row, row_env, f"{prefix}.{index}.", row_out, errors)
        cleaned.append(row_out)
    return cleaned


def _is_hidden(spec: FieldSpec, context: Mapping[str, Any]) -> bool:
    return any(condition.evaluate(context) is True for condition in spec.hide)


def _is_readonly(spec: FieldSpec, context: Mapping[str, Any]) -> bool:
    if isinstance(spec.readonly, FeelExpression):
        return spec.readonly.evaluate(context) is True
    return spec.readonly


def _is_empty(value: Any) -> bool:
    return value is None or value is False or value == "" or value == []


def _rule_error(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> str | None:
    if _is_empty(value):
        return _REQUIRED_MESSAGES.get(spec.type, _REQUIRED) if spec.required else None
    for rule in _RULES:
        message = rule(spec, value, context)
        if message:
            return message
    return None


def _limit(limit: Limit, context: Mapping[str, Any]) -> int | float | None:
    value = limit.evaluate(context) if isinstance(limit, FeelExpression) else limit
    return value if _is_number(value) else None


def _length_rule(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return None
    maximum = _limit(spec.max_length, context)
    if maximum is None:
        maximum = DEFAULT_MAX_LENGTH.get(spec.type)
    if maximum is not None and len(value) > maximum:
        return f"Höchstens {_format_number(maximum)} Zeichen."
    minimum = _limit(spec.min_length, context)
    if minimum is not None and len(value) < minimum:
        return f"Mindestens {_format_number(minimum)} Zeichen."
    return None


def _range_rule(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    minimum = _limit(spec.minimum, context)
    if minimum is not None and value < minimum:
        return f"Der Wert muss mindestens {_format_number(minimum)} sein."
    maximum = _limit(spec.maximum, context)
    if maximum is not None and value > maximum:
        return f"Der Wert darf höchstens {_format_number(maximum)} sein."
    return None


def _pattern_rule(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> str | None:
    if spec.pattern is None or not isinstance(value, str) or spec.pattern.search(value):
        return None
    return "Die Eingabe hat nicht das erwartete Format."


def _type_rule(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return None
    if spec.validation_type == "email" and (len(value) > EMAIL_MAX or not _EMAIL_RE.fullmatch(value)):
        return "Bitte geben Sie eine gültige E-Mail-Adresse ein."
    if spec.validation_type == "phone" and not _PHONE_RE.fullmatch(_PHONE_SEPARATORS_RE.sub("", value)):
        return "Bitte geben Sie eine gültige internationale Telefonnummer ein (z. B. +49 2921 30-0)."
    return None


def _custom_rule(spec: FieldSpec, value: Any, context: Mapping[str, Any]) -> str | None:
    scope = {**context, "value": value}
    for condition, message in spec.custom:
        if not condition.evaluate(scope):
            text = message.evaluate(scope) if isinstance(message, FeelExpression) else message
            return text if isinstance(text, str) and text else "Ungültiger Wert."
    return None


_RULES: tuple[Callable[[FieldSpec, Any, Mapping[str, Any]], str | None], ...] = (
    _length_rule,
    _range_rule,
    _pattern_rule,
    _type_rule,
    _custom_rule,
)
_REQUIRED = "Bitte füllen Sie dieses Feld aus."
_REQUIRED_MESSAGES = {
    "checkbox": "Bitte bestätigen Sie dieses Feld.",
    "checklist": "Bitte wählen Sie mindestens einen Eintrag aus.",
    "taglist": "Bitte wählen Sie mindestens einen Eintrag aus.",
    "radio": "Bitte wählen Sie eine Option aus.",
    "select": "Bitte wählen Sie eine Option aus.",
}


def _format_number(value: int | float | Decimal) -> str:
    """German notation: decimal comma, no exponent (12.5 -> "12,5")."""
    if isinstance(value, float):
        value = int(value) if value.is_integer() else Decimal(repr(value))
    text = str(value) if isinstance(value, int) else format(value, "f")
    return text.replace(".", ",")
