"""Small-number suppression for the analytics (Auswertung, Jahresbericht): no figure may single out
a person.

The rules, applied in the engine so that no page, PDF or CSV ever holds a value it must not show:

* **Primary**: a count of cases from 1 to 4 is shown as „< 5“. Zero is shown as 0 — it describes
  nobody — except in a group whose total is suppressed (see below).
* **Totals**: a table declares which cells add up to which total (rows, and the sum row of a
  column). When the total of a group that splits cases by an attribute (outcome, state) is
  „< 5“, every part of it from 0 to 4 is shown as „< 5“ as well — zeros included: „0“ (or any
  other mark) beside a single „< 5“ would say that every case of that small total had the same
  outcome. Such a zero counts as withheld for the rules below, like any „< 5“.
* **Complementary**: when the withheld parts of a group with a visible total could be worked out
  from the total minus the visible parts — one withheld part, or several whose sum fixes each of
  them (two „< 5“ adding up to 2 or 8, withheld zeros adding up to 0) — the smallest other
  non-zero part is withheld as well (or, when there is none, the total).
  Likewise a total withheld for another group keeps at least one of its parts withheld.
  This repeats until no group gives a part away, because a cell can belong to a row
  group and a column group at once. Such a cell is shown as „x“
  (its value is at least 1 and may be 5 or more; it is withheld only to protect another cell).
* **Derived** figures (shares, medians) of a suppressed cell are withheld („x“); a median needs at
  least five values.

:class:`Zelle` is what leaves the engine: a withheld cell carries only its text, never the value.
Suppression protects each table on its own; comparing two different filters (e.g. the whole
network against one organisation) can still narrow a cell down — the page says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import median

#: Counts from 1 up to this value are shown as „< 5“.
SCHWELLE = 4
KLEIN = "< 5"
GESPERRT = "x"
LEER = "–"


@dataclass(frozen=True)
class Zelle:
    """One value as it may be shown: ``wert`` is None when it is withheld or not applicable."""

    text: str
    wert: int | float | None = None
    unterdrueckt: bool = False

    def __str__(self) -> str:
        return self.text


def zahl(value: int) -> Zelle:
    """A figure that is not about cases (meetings, directory entries): shown as it is."""
    return Zelle(str(value), value)


def text(value: str) -> Zelle:
    return Zelle(value)


def leer() -> Zelle:
    return Zelle(LEER)


def gesperrt() -> Zelle:
    return Zelle(GESPERRT, None, True)


Pos = tuple[int, int]


@dataclass
class Fallzahlen:
    """A grid of case counts (rows × columns) and the groups that add up, before suppression.

    ``gruppen`` holds ``(total, parts)`` by position. Call :meth:`zellen` for the shown grid.
    """

    werte: list[list[int]]
    gruppen: list[tuple[Pos, list[Pos]]] = field(default_factory=list)
    merkmale: list[int] = field(default_factory=list)
    """Indexes into ``gruppen`` of the groups that split cases by an attribute."""

    def zeilensumme(
        self, row: int, total_col: int, part_cols: Sequence[int], *, merkmal: bool = True
    ) -> None:
        self._gruppe((row, total_col), [(row, c) for c in part_cols], merkmal)

    def spaltensumme(
        self, col: int, total_row: int, part_rows: Sequence[int], *, merkmal: bool = True
    ) -> None:
        self._gruppe((total_row, col), [(r, col) for r in part_rows], merkmal)

    def _gruppe(self, total: Pos, parts: list[Pos], merkmal: bool) -> None:
        if merkmal:
            self.merkmale.append(len(self.gruppen))
        self.gruppen.append((total, parts))

    def gesperrte(self) -> tuple[set[Pos], set[Pos]]:
        """Positions shown as „< 5“ (primary, and the zeros of a small total's parts) and as „x“
        (to protect another cell)."""
        primary = {
            (r, c)
            for r, row in enumerate(self.werte)
            for c, value in enumerate(row)
            if 1 <= value <= SCHWELLE
        }
        vielleicht_null = {
            p for i in self.merkmale if self.gruppen[i][0] in primary for p in self.gruppen[i][1]
        }
        klein = primary | {p for p in vielleicht_null if self._wert(p) == 0}
        hidden = set(klein)
        changed = True
        while changed:
            changed = False
            for total, parts in self.gruppen:
                changed |= self._schuetze(total, parts, hidden, klein, vielleicht_null)
        return klein, hidden - klein

    def _schuetze(
        self, total: Pos, parts: list[Pos], hidden: set[Pos], klein: set[Pos], null: set[Pos]
    ) -> bool:
        withheld = [p for p in parts if p in hidden]
        candidates = [p for p in parts if p not in hidden and self._wert(p) > 0]
        if total in hidden:  # withheld for another group: its visible parts must not add up to it
            if withheld or not candidates:
                return False
            hidden.add(min(candidates, key=self._wert))
            return True
        if not withheld or self._wert(total) == 0 or not self._eindeutig(withheld, klein, null):
            return False
        hidden.add(min(candidates, key=self._wert) if candidates else total)
        return True

    def _eindeutig(self, cells: list[Pos], klein: set[Pos], null: set[Pos]) -> bool:
        """Whether the known sum of the withheld ``cells`` fixes one of them, given what their marks
        tell: „< 5“ is 1–4 (0–4 among the parts of a small total), „x“ is at least 1."""
        total = sum(self._wert(p) for p in cells)
        bounds = [(0 if p in null else 1, SCHWELLE if p in klein else total) for p in cells]
        low_sum = sum(low for low, _ in bounds)
        high_sum = sum(high for _, high in bounds)
        for low, high in bounds:
            least = max(low, total - (high_sum - high))
            most = min(high, total - (low_sum - low))
            if least >= most:
                return True
        return False

    def _wert(self, pos: Pos) -> int:
        return self.werte[pos[0]][pos[1]]

    def zellen(self) -> list[list[Zelle]]:
        primary, secondary = self.gesperrte()
        return [
            [_shown(value, (r, c), primary, secondary) for c, value in enumerate(row)]
            for r, row in enumerate(self.werte)
        ]


def _shown(value: int, pos: Pos, primary: set[Pos], secondary: set[Pos]) -> Zelle:
    if pos in primary:
        return Zelle(KLEIN, None, True)
    if pos in secondary:
        return gesperrt()
    return Zelle(str(value), value)


def einzeln(value: int) -> Zelle:
    """A case count that belongs to no group: „< 5“ for 1–4."""
    return Fallzahlen([[value]]).zellen()[0][0]


def anteil(teil: Zelle, ganzes: Zelle) -> Zelle:
    """``teil`` as a percentage of ``ganzes`` (whole percent); withheld if either is withheld."""
    if teil.unterdrueckt or ganzes.unterdrueckt:
        return gesperrt()
    if not ganzes.wert:
        return leer()
    share = round(100 * float(teil.wert or 0) / float(ganzes.wert))
    return Zelle(f"{share} %", share)


def median_von(values: Iterable[float], anzahl: Zelle, einheit: str) -> Zelle:
    """The median of ``values`` (one decimal) — withheld when their count is, or is below five."""
    data = sorted(values)
    if anzahl.unterdrueckt or 0 < len(data) <= SCHWELLE:
        return gesperrt()
    if not data:
        return leer()
    result = round(median(data), 1)
    return Zelle(f"{result:.1f} {einheit}".replace(".", ","), result)
