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
* **Reader check**: the rules above look at one group at a time, but rows and columns together
  can still pin a cell down. So the shown grid is then read as a reader would (visible values,
  what each mark allows, every group's equation) and searched for withheld cells that only one
  value fits; for each, another cell of its groups is withheld, until none is left.
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
        while True:
            changed = True
            while changed:
                changed = False
                for total, parts in self.gruppen:
                    changed |= self._schuetze(total, parts, hidden, klein, vielleicht_null)
            # the groups one by one miss what several equations tell together: ask a reader
            leaks = _Leser(self, hidden, klein, vielleicht_null).aufgedeckt()
            if not leaks or not self._verdecke(leaks, hidden):
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

    def _verdecke(self, leaks: set[Pos], hidden: set[Pos]) -> bool:
        """Withhold one more cell in each group of a cell that can be worked out (else anywhere)."""
        before = len(hidden)
        for cell in sorted(leaks):
            for total, parts in self.gruppen:
                if cell == total or cell in parts:
                    shown = [p for p in (*parts, total) if p not in hidden and self._wert(p) > 0]
                    if shown:
                        hidden.add(min(shown, key=lambda p: (self._wert(p), p)))
        if len(hidden) == before:
            shown = [
                (r, c)
                for r, row in enumerate(self.werte)
                for c, value in enumerate(row)
                if value > 0 and (r, c) not in hidden
            ]
            hidden.update(sorted(shown, key=lambda p: (self._wert(p), p))[:1])
        return len(hidden) > before

    def _wert(self, pos: Pos) -> int:
        return self.werte[pos[0]][pos[1]]

    def zellen(self) -> list[list[Zelle]]:
        primary, secondary = self.gesperrte()
        return [
            [_shown(value, (r, c), primary, secondary) for c, value in enumerate(row)]
            for r, row in enumerate(self.werte)
        ]


class _Zuviel(Exception):
    """The search took too long: the cell counts as one that can be worked out."""


class _Leser:
    """What a reader of the shown grid knows — the visible values, the range each mark allows
    („< 5“: 1–4, or 0–4 among the parts of a small total; „x“: at least 1) and the groups'
    equations — and which withheld cells that fixes (every assignment gives them one value).

    Found by search: ranges are narrowed through the equations, then it branches on the
    narrowest open range. A cell in a group whose visible total is 0 is not counted: that zero
    says only that nothing of the kind happened. Searches that run too long count as a leak."""

    BUDGET = 2_000
    """Search steps per cell."""

    def __init__(self, counts: Fallzahlen, hidden: set[Pos], klein: set[Pos], null: set[Pos]) -> None:
        most = max([1, *(v for row in counts.werte for v in row)])
        self.werte = counts.werte
        self.gruppen = counts.gruppen
        # each withheld cell may move by at most one from its value: a search that finds another
        # assignment proves the cell open; the tables' equations (rows, columns, sums) have
        # alternatives in steps of one whenever they have any, and fewer alternatives only means
        # more is withheld
        self.bounds: dict[Pos, tuple[int, int]] = {}
        for p in hidden:
            value = self._wert(p)
            low, high = 0 if p in null else 1, SCHWELLE if p in klein else most
            self.bounds[p] = (max(low, value - 1), min(high, value + 1))
        self.nodes = 0
        self.exempt = {
            p
            for total, parts in self.gruppen
            if total not in hidden and self._wert(total) == 0
            for p in parts
        }

    def _wert(self, pos: Pos) -> int:
        return self.werte[pos[0]][pos[1]]

    def aufgedeckt(self) -> set[Pos]:
        found = set()
        for cell, (low, high) in self.bounds.items():
            if cell in self.exempt:
                continue
            value = self._wert(cell)
            self.nodes = 0
            try:
                other = [r for r in ((low, value - 1), (value + 1, high)) if r[0] <= r[1]]
                if not any(self._loesbar({**self.bounds, cell: r}) for r in other):
                    found.add(cell)
            except _Zuviel:
                found.add(cell)
        return found

    def _range(self, bounds: dict[Pos, tuple[int, int]], pos: Pos) -> tuple[int, int]:
        return bounds.get(pos) or (self._wert(pos), self._wert(pos))

    def _eng(self, bounds: dict[Pos, tuple[int, int]]) -> dict[Pos, tuple[int, int]] | None:
        """Narrow the ranges through ``total = sum(parts)``; None when nothing fits."""
        changed = True
        while changed:
            changed = False
            for total, parts in self.gruppen:
                narrowed = self._eng_gruppe(bounds, total, parts)
                if narrowed is None:
                    return None
                changed |= narrowed
        return bounds

    def _eng_gruppe(self, bounds: dict[Pos, tuple[int, int]], total: Pos, parts: list[Pos]) -> bool | None:
        t_low, t_high = self._range(bounds, total)
        p_low = sum(self._range(bounds, p)[0] for p in parts)
        p_high = sum(self._range(bounds, p)[1] for p in parts)
        if p_low > t_high or p_high < t_low:
            return None
        changed = False
        if total in bounds and (max(t_low, p_low), min(t_high, p_high)) != (t_low, t_high):
            t_low, t_high = bounds[total] = (max(t_low, p_low), min(t_high, p_high))
            changed = True
        for p in parts:
            if p not in bounds:
                continue
            low, high = bounds[p]
            new = (max(low, t_low - (p_high - high)), min(high, t_high - (p_low - low)))
            if new[0] > new[1]:
                return None
            if new != (low, high):
                bounds[p] = new
                p_low, p_high = p_low - low + new[0], p_high - high + new[1]
                changed = True
        return changed

    def _loesbar(self, bounds: dict[Pos, tuple[int, int]]) -> bool:
        self.nodes += 1
        if self.nodes > self.BUDGET:
            raise _Zuviel
        narrowed = self._eng(dict(bounds))
        if narrowed is None:
            return False
        open_cells = [p for p, (low, high) in narrowed.items() if low < high]
        if not open_cells:
            return True
        cell = min(open_cells, key=lambda p: (narrowed[p][1] - narrowed[p][0], p))
        low, high = narrowed[cell]
        return any(self._loesbar({**narrowed, cell: (v, v)}) for v in range(low, high + 1))


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
