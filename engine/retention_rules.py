"""Retention periods (Aufbewahrungsfristen) declared per process and data category in the BPMN.

Every process declares, on its ``bpmn:process`` element, one Camunda property per category::

    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="aufbewahrung.falldaten" value="P10Y" />
      …
    </camunda:properties></bpmn:extensionElements>

The value is an ISO-8601 duration (``P3Y``, ``P6M``, ``P90D``) counted from the end of the
instance. Deployment and ``hilfenetz check`` refuse a process that misses a category or whose
period does not parse or is zero (``P0D``, ``PT0S``). The daily retention job
(``engine/retention.py``) applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from engine.errors import Problem

PREFIX = "aufbewahrung."


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    what: str


#: The fixed list of data categories, in the order the job and the pages show them.
CATEGORIES: tuple[Category, ...] = (
    Category(
        "falldaten",
        "Falldaten",
        "Prozessdaten des Vorgangs: Formulareingaben und Variablen, Vorgangstitel und Aufgabenbezeichnungen",
    ),
    Category("entwuerfe", "Entwürfe", "Zwischengespeicherte Formulareingaben der Aufgaben"),
    Category("kontaktdaten", "Kontaktdaten", "Kontaktdaten der Betroffenen aus der Vermittlung"),
    Category(
        "benachrichtigungen", "Benachrichtigungen", "Benachrichtigungen in der Anwendung zu diesem Vorgang"
    ),
    Category(
        "einwilligungen",
        "Einwilligungen",
        "Einwilligungen des Vorgangs: das unterschriebene Formular wird gelöscht; Zeugin/Zeuge, wer "
        "widerrufen hat und der Zweck werden geleert (Datum, Datenarten und Empfänger bleiben als "
        "Nachweis ohne Namen)",
    ),
)
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)
LABELS = {c.key: c.label for c in CATEGORIES}


def parse_retention(
    properties: Mapping[str, str], filename: str, element: str
) -> tuple[dict[str, str], list[Problem]]:
    """The declared periods (category → ISO text) and a German problem per missing or bad one."""
    from engine.projection import parse_iso_duration  # projection imports definitions, which imports us

    periods: dict[str, str] = {}
    problems: list[Problem] = []
    for name, value in properties.items():
        if not name.startswith(PREFIX):
            continue
        category = name.removeprefix(PREFIX)
        if category not in CATEGORY_KEYS:
            problems.append(
                Problem(
                    filename,
                    element,
                    f"Unbekannte Datenkategorie „{category}“ in „{name}“. Erlaubt sind: "
                    f"{', '.join(CATEGORY_KEYS)}.",
                )
            )
            continue
        try:
            length = parse_iso_duration(value)
        except ValueError:
            problems.append(
                Problem(
                    filename,
                    element,
                    f"Die Aufbewahrungsfrist „{name}“ = „{value}“ ist keine ISO-8601-Dauer. Bitte z. B. "
                    "„P3Y“ (3 Jahre), „P6M“ (6 Monate) oder „P90D“ (90 Tage) eintragen.",
                )
            )
            continue
        if not length:
            problems.append(
                Problem(
                    filename,
                    element,
                    f"Die Aufbewahrungsfrist „{name}“ = „{value}“ ist null. Eine Frist von null würde die "
                    "Daten sofort beim Ende des Vorgangs löschen; bitte eine echte Dauer wie „P90D“ "
                    "eintragen.",
                )
            )
            continue
        periods[category] = value
    missing = [c for c in CATEGORY_KEYS if c not in periods and f"{PREFIX}{c}" not in properties]
    if missing:
        problems.append(
            Problem(
                filename,
                element,
                "Der Prozess legt keine Aufbewahrungsfrist fest für: "
                + ", ".join(f"{PREFIX}{c}" for c in missing)
                + ". Bitte am Prozess-Element je Datenkategorie eine Eigenschaft "
                "(camunda:property, Wert als ISO-8601-Dauer wie „P3Y“) eintragen.",
            )
        )
    return periods, problems


def periods_of(declared: Mapping[str, str]) -> dict[str, relativedelta]:
    """Parsed periods of the categories a stored definition declares (unparsable ones left out)."""
    from engine.projection import parse_iso_duration

    found = {}
    for category, value in declared.items():
        try:
            found[category] = parse_iso_duration(value)
        except ValueError:
            continue
    return found
