"""The anonymity guard: find what looks like personal data in German free text.

``find_personal_data(text)`` returns :class:`Finding` objects (kind, start, end, text and a
German explanation), sorted by position, none inside another. Kinds are stable keys:
``name``, ``adresse``, ``plz``, ``geburtsdatum``, ``alter``, ``telefon``, ``email``, ``iban``,
``aktenzeichen``, ``kennzeichen``, ``einrichtung``, ``ort``. Form fields marked
``properties.anonym = "true"`` are checked with it before anything is stored (engine/forms.py).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from engine.anonymity.patterns import RULE_FINDERS, Span
from engine.anonymity.persons import find_names

__all__ = ["EXPLANATIONS", "KINDS", "Finding", "check_text", "describe", "find_personal_data"]

#: kind -> (German label, German explanation)
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "name": ("Name", "Namen von Personen gehören nicht in einen anonymen Datensatz."),
    "adresse": ("Adresse", "Straße und Hausnummer machen eine Person auffindbar."),
    "plz": ("Postleitzahl", "Eine Postleitzahl grenzt den Wohnort zu genau ein."),
    "geburtsdatum": ("Geburtsdatum", "Nennen Sie statt des Geburtsdatums eine Altersgruppe."),
    "alter": (
        "genaues Alter",
        "Nennen Sie statt des genauen Alters eine Altersgruppe (z. B. Grundschulalter).",
    ),
    "telefon": ("Telefonnummer", "Telefonnummern identifizieren eine Person."),
    "email": ("E-Mail-Adresse", "E-Mail-Adressen identifizieren eine Person."),
    "iban": ("IBAN", "Kontonummern identifizieren eine Person."),
    "aktenzeichen": ("Aktenzeichen", "Akten- und Vorgangsnummern anderer Stellen führen zur Person."),
    "kennzeichen": ("Kfz-Kennzeichen", "Ein Kennzeichen führt zur Halterin oder zum Halter."),
    "einrichtung": (
        "benannte Einrichtung",
        "Nennen Sie nur die Art der Einrichtung (z. B. „eine Grundschule“, „Arbeitgeber im Einzelhandel“).",
    ),
    "ort": (
        "kleiner Ort",
        "Ortsteile und Dörfer machen eine Familie erkennbar; nennen Sie nur Stadt oder Gemeinde.",
    ),
}
KINDS = tuple(EXPLANATIONS)


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str

    @property
    def explanation(self) -> str:
        return EXPLANATIONS[self.kind][1]

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "start": self.start, "end": self.end, "text": self.text}


def find_personal_data(text: str) -> list[Finding]:
    """Every finding in ``text``, by position; a finding inside a longer one is dropped.

    The text is checked in NFKC form (fullwidth letters, ligatures, superscript digits become
    plain), names also with all-caps words in normal case ("MUSTERMANN, MAX"); offsets and texts
    of the findings always refer to the original ``text``."""
    folded, origin = _normalise(text)
    spans: list[Span] = list(find_names(_recase(folded)))
    for finder in RULE_FINDERS:
        spans.extend(finder(folded))
    spans.sort(key=lambda span: (span[1], -(span[2] - span[1])))
    kept: list[Span] = []
    for kind, start, end in spans:
        if kept and start < kept[-1][2] and end <= kept[-1][2]:
            continue
        kept.append((kind, start, end))
    findings = []
    for kind, start, end in kept:
        piece = folded[start:end]
        start += len(piece) - len(piece.lstrip())
        end -= len(piece) - len(piece.rstrip())
        if end <= start:
            continue
        if origin is not None:
            start, end = origin[0][start], origin[1][end - 1]
        findings.append(Finding(kind, start, end, text[start:end]))
    return findings


def _normalise(text: str) -> tuple[str, tuple[list[int], list[int]] | None]:
    """``text`` in NFKC form and, if that differs, for each of its characters the start and end
    offset of the original characters it came from (a base character with its combining marks)."""
    if unicodedata.is_normalized("NFKC", text):
        return text, None
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    index = 0
    while index < len(text):
        stop = index + 1
        while stop < len(text) and unicodedata.combining(text[stop]):
            stop += 1
        piece = unicodedata.normalize("NFKC", text[index:stop])
        pieces.append(piece)
        starts.extend([index] * len(piece))
        ends.extend([stop] * len(piece))
        index = stop
    return "".join(pieces), (starts, ends)


_ALL_CAPS = re.compile(r"\b[^\W\d_]{4,}\b")
_CAPS_HINT = re.compile(r"[A-ZÄÖÜ]{2}")  # cheap test: most text has no all-caps word at all


def _recase(text: str) -> str:
    """All-caps words of four or more letters in normal case (same length), for the name lists;
    shorter ones stay as they are (acronyms such as AWO or ASD are not names)."""

    if not _CAPS_HINT.search(text):
        return text

    def recase(match: re.Match[str]) -> str:
        word = match.group()
        normal = word.capitalize()
        return normal if word.isupper() and len(normal) == len(word) else word

    return _ALL_CAPS.sub(recase, text)


def describe(findings: list[Finding]) -> str:
    """One German sentence naming each finding (kind and text), for a field error."""
    parts = [f"{EXPLANATIONS[f.kind][0]} „{f.text}“" for f in findings]
    kinds = dict.fromkeys(f.kind for f in findings)
    hints = " ".join(EXPLANATIONS[k][1] for k in kinds)
    return (
        "Der Text enthält vermutlich personenbezogene Daten: "
        + "; ".join(parts)
        + f". {hints} Bitte formulieren Sie anonym."
    )


def check_text(text: str) -> tuple[list[str], int]:
    """``hilfenetz anonymity-check``: one JSON object per finding (``kind``, ``start``, ``end``,
    ``text``; offsets count Unicode characters) and the exit status: 1 if anything was found, else 0."""
    findings = find_personal_data(text)
    return [json.dumps(f.as_dict(), ensure_ascii=False) for f in findings], 1 if findings else 0
