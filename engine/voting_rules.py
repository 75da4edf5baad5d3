"""Abstimmungsregeln: quorum, decision rule and tie rule of a steering-group ballot — pure functions.

Quorum (Beschlussfähigkeit) and decision rule (Mehrheit) are separate settings. Defaults live in
``processes/abstimmung.json`` so coordinators can change them without a developer; a ballot copies
the rules in force when it opens.

* Eligible (stimmberechtigt): electorate members not excluded (applying organisation) and not
  ``befangen`` (conflict of interest declared).
* Participation (Beteiligung): ``ja + nein + enthaltung``.
* Quorum: participation > (or >=, ``quorum_streng``) ``quorum_anteil`` × eligible.
* Decision: ``einfach`` = more ja than nein; ``zwei_drittel`` = ja at least two thirds of the votes
  cast (ja + nein + enthaltung). Exactly *on* the threshold (ja = nein; ja exactly two thirds) is a
  tie (Patt) and the tie rule decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

from engine.errors import ConfigurationError

RULES_FILE = "abstimmung.json"


class Stimme(StrEnum):
    JA = "ja"
    NEIN = "nein"
    ENTHALTUNG = "enthaltung"
    BEFANGEN = "befangen"

    @property
    def label(self) -> str:
        return {"ja": "Ja", "nein": "Nein", "enthaltung": "Enthaltung", "befangen": "Befangen"}[self.value]


class Mehrheit(StrEnum):
    EINFACH = "einfach"
    ZWEI_DRITTEL = "zwei_drittel"

    @property
    def label(self) -> str:
        if self is Mehrheit.EINFACH:
            return "einfache Mehrheit (mehr Ja- als Nein-Stimmen)"
        return "Zwei-Drittel-Mehrheit der abgegebenen Stimmen (Ja, Nein, Enthaltung)"


class Patt(StrEnum):
    ABGELEHNT = "abgelehnt"
    ANGENOMMEN = "angenommen"

    @property
    def label(self) -> str:
        return f"bei Stimmengleichheit (genau auf der Schwelle) gilt der Antrag als {self.value}"


class Ergebnis(StrEnum):
    ANGENOMMEN = "angenommen"
    ABGELEHNT = "abgelehnt"
    NICHT_BESCHLUSSFAEHIG = "nicht_beschlussfaehig"

    @property
    def label(self) -> str:
        return {
            "angenommen": "angenommen",
            "abgelehnt": "abgelehnt",
            "nicht_beschlussfaehig": "nicht beschlussfähig (Quorum verfehlt) — nicht angenommen",
        }[self.value]


@dataclass(frozen=True)
class Abstimmungsregeln:
    quorum_anteil: Fraction = Fraction(1, 2)
    quorum_streng: bool = True
    """True: more than ``quorum_anteil`` of the eligible must take part; False: at least."""
    mehrheit: Mehrheit = Mehrheit.EINFACH
    patt: Patt = Patt.ABGELEHNT

    @property
    def quorum_label(self) -> str:
        art = "mehr als" if self.quorum_streng else "mindestens"
        return f"{art} {self.quorum_anteil} der stimmberechtigten Mitglieder nehmen teil"

    def to_json(self) -> dict[str, Any]:
        return {
            "quorum_anteil": str(self.quorum_anteil),
            "quorum_streng": self.quorum_streng,
            "mehrheit": self.mehrheit.value,
            "patt": self.patt.value,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Abstimmungsregeln:
        try:
            anteil = Fraction(str(raw["quorum_anteil"]))
            rules = cls(anteil, bool(raw["quorum_streng"]), Mehrheit(raw["mehrheit"]), Patt(raw["patt"]))
        except (KeyError, ValueError, ZeroDivisionError) as exc:
            raise ConfigurationError(f"Ungültige Abstimmungsregeln: {exc}") from exc
        if not 0 <= rules.quorum_anteil <= 1:
            raise ConfigurationError("Das Quorum muss ein Anteil zwischen 0 und 1 sein (z. B. 1/2).")
        return rules


def load_rules(processes_dir: Path) -> Abstimmungsregeln:
    """The configured defaults (``processes/abstimmung.json``); built-in defaults when absent."""
    path = processes_dir / RULES_FILE
    if not path.exists():
        return Abstimmungsregeln()
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return Abstimmungsregeln.from_json({k: v["wert"] for k, v in raw.items() if not k.startswith("_")})


@dataclass(frozen=True)
class Auszaehlung:
    """Counts of one ballot. ``outstanding`` = eligible electors who have not voted yet."""

    ja: int = 0
    nein: int = 0
    enthaltung: int = 0
    befangen: int = 0
    outstanding: int = 0
    excluded: int = 0

    @property
    def participation(self) -> int:
        return self.ja + self.nein + self.enthaltung

    @property
    def eligible(self) -> int:
        """Stimmberechtigt: not excluded, not befangen (those still outstanding count)."""
        return self.participation + self.outstanding


@dataclass(frozen=True)
class Beschluss:
    outcome: Ergebnis
    quorum_reached: bool
    tie_applied: bool


def quorum_reached(counts: Auszaehlung, rules: Abstimmungsregeln) -> bool:
    needed = rules.quorum_anteil * counts.eligible
    return counts.participation > needed if rules.quorum_streng else counts.participation >= needed


def decide(counts: Auszaehlung, rules: Abstimmungsregeln) -> Beschluss:
    """The result if the ballot closed with these counts (outstanding votes are simply missing)."""
    if not quorum_reached(counts, rules):
        return Beschluss(Ergebnis.NICHT_BESCHLUSSFAEHIG, False, False)
    if rules.mehrheit is Mehrheit.EINFACH:
        ja, threshold = Fraction(counts.ja), Fraction(counts.nein)
    else:
        ja, threshold = Fraction(counts.ja), Fraction(2, 3) * counts.participation
    if ja == threshold:
        return Beschluss(Ergebnis(rules.patt.value), True, True)
    return Beschluss(Ergebnis.ANGENOMMEN if ja > threshold else Ergebnis.ABGELEHNT, True, False)


def final_outcome_if_decided(counts: Auszaehlung, rules: Abstimmungsregeln) -> Beschluss | None:
    """The result when no way the outstanding electors vote (ja, nein, enthaltung, befangen, or
    not at all before the deadline) can change the outcome — else ``None`` (keep the ballot open).

    Checks every split of the outstanding votes; this includes "all remaining vote ja" and "all
    remaining vote nein / abstain", and also Befangenheit, which shrinks the quorum's base. The
    result recorded is the one of the votes cast so far (one of those splits: nobody else votes).
    """
    now = decide(counts, rules)
    for final in completions(counts):
        if decide(final, rules).outcome is not now.outcome:
            return None
    return now


def completions(counts: Auszaehlung) -> Iterator[Auszaehlung]:
    """Every way the outstanding electors may still vote; those who never vote stay outstanding."""
    remaining = counts.outstanding
    for ja in range(remaining + 1):
        for nein in range(remaining - ja + 1):
            for enthaltung in range(remaining - ja - nein + 1):
                for befangen in range(remaining - ja - nein - enthaltung + 1):
                    yield Auszaehlung(
                        counts.ja + ja,
                        counts.nein + nein,
                        counts.enthaltung + enthaltung,
                        counts.befangen + befangen,
                        remaining - ja - nein - enthaltung - befangen,
                        counts.excluded,
                    )
