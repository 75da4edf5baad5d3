"""An attacker's view of a suppressed table: which withheld cells the visible figures pin down.

Each withheld cell is an unknown with the range its mark allows; each group (a total and its
parts) is a linear equation. A withheld cell is *disclosed* when every assignment that satisfies
all equations gives it the same value. Found by search: bounds are tightened through the
equations, then the search branches on the smallest open range. Small tables only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

Cell = Hashable
Bounds = dict[Cell, tuple[int, int]]
Group = tuple[Cell, Sequence[Cell]]


def _tighten(bounds: Bounds, known: Mapping[Cell, int], groups: Sequence[Group]) -> Bounds | None:
    """Narrow every range through ``total = sum(parts)``; None when no assignment fits."""
    bounds = dict(bounds)

    def rng(cell: Cell) -> tuple[int, int]:
        return (known[cell], known[cell]) if cell in known else bounds[cell]

    changed = True
    while changed:
        changed = False
        for total, parts in groups:
            # total - sum(parts) = 0, written as sum(sign * cell) = 0
            terms = [(1, total), *((-1, p) for p in parts)]
            low = sum(s * rng(c)[0] if s > 0 else s * rng(c)[1] for s, c in terms)
            high = sum(s * rng(c)[1] if s > 0 else s * rng(c)[0] for s, c in terms)
            if low > 0 or high < 0:
                return None
            for sign, cell in terms:
                if cell in known:
                    continue
                lo, hi = bounds[cell]
                own_low = sign * lo if sign > 0 else sign * hi
                own_high = sign * hi if sign > 0 else sign * lo
                rest_low, rest_high = low - own_low, high - own_high
                # sign * cell lies in [-rest_high, -rest_low]
                if sign > 0:
                    new = (max(lo, -rest_high), min(hi, -rest_low))
                else:
                    new = (max(lo, rest_low), min(hi, rest_high))
                if new[0] > new[1]:
                    return None
                if new != (lo, hi):
                    bounds[cell] = new
                    changed = True
                    low = sum(s * rng(c)[0] if s > 0 else s * rng(c)[1] for s, c in terms)
                    high = sum(s * rng(c)[1] if s > 0 else s * rng(c)[0] for s, c in terms)
    return bounds


def solution(bounds: Bounds, known: Mapping[Cell, int], groups: Sequence[Group]) -> dict[Cell, int] | None:
    """One assignment of the unknowns within ``bounds`` that satisfies every group, or None."""
    narrowed = _tighten(bounds, known, groups)
    if narrowed is None:
        return None
    open_cells = [c for c, (lo, hi) in narrowed.items() if lo < hi]
    if not open_cells:
        return {c: lo for c, (lo, _) in narrowed.items()}
    cell = min(open_cells, key=lambda c: narrowed[c][1] - narrowed[c][0])
    lo, hi = narrowed[cell]
    for value in range(lo, hi + 1):
        found = solution({**narrowed, cell: (value, value)}, known, groups)
        if found is not None:
            return found
    return None


def disclosed(bounds: Bounds, known: Mapping[Cell, int], groups: Sequence[Group]) -> dict[Cell, int]:
    """The withheld cells whose value the visible figures fix, with that value."""
    first = solution(bounds, known, groups)
    assert first is not None, "the shown table contradicts itself"
    fixed = {}
    for cell, value in first.items():
        lo, hi = bounds[cell]
        if all(
            solution({**bounds, cell: part}, known, groups) is None
            for part in ((lo, value - 1), (value + 1, hi))
            if part[0] <= part[1]
        ):
            fixed[cell] = value
    return fixed
