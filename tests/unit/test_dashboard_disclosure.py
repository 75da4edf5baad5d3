"""No withheld case count of the Auswertung or the Jahresbericht can be worked out from what they show.

Generated data with many small cells; for every case table the test rebuilds what a reader knows —
the visible numbers, what each mark allows („< 5“: 1–4, or 0–4 among the parts of a „< 5“ total;
„x“: at least 1), which cells add up to which (rows, sum rows, the first-contact count in the
other table) — and searches every assignment of the withheld cells (tests/support/disclosure.py).
No withheld cell may come out the same in all of them. A cell in a group whose visible total is 0
is exempt: that zero says only that nothing of the kind happened.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from engine.dashboard import Auswertung
from engine.small_numbers import GESPERRT, KLEIN, Fallzahlen
from tests.support.analytics_data import AnalyticsData
from tests.support.disclosure import Bounds, Cell, Group, disclosed
from tests.unit.test_dashboard import BERATUNG, NOW, referral

CAP = 200
OUTCOMES = ["Ende_BeratungAngenommen", "Ende_BeratungAbgelehnt", "Ende_NichtErreichbar", None]
CONFERENCE_ENDS = ["Ende_Abgeschlossen", "Ende_Eskaliert", "Ende_Zurueckgezogen", None]


def _groups(report: Auswertung) -> tuple[list[Group], set[int]]:
    """The report's equations (total, parts) by cell, and the indexes of the attribute splits."""
    groups: list[Group] = []
    merkmal: set[int] = set()

    def add(total: Cell, parts: Sequence[Cell], split: bool) -> None:
        if split:
            merkmal.add(len(groups))
        groups.append((total, list(parts)))

    referrals = report.tabelle("vermittlungen")
    last = len(referrals.zeilen) - 1
    for r in range(last + 1):
        add(("vermittlungen", r, 0), [("vermittlungen", r, c) for c in range(1, 5)], True)
    for c in range(5):
        add(("vermittlungen", last, c), [("vermittlungen", r, c) for r in range(last)], False)
    add(("erstkontakt", 4, 0), [("erstkontakt", r, 0) for r in range(4)], True)
    add(("kontakt_dauer", 1, 0), [("erstkontakt", 0, 0), ("erstkontakt", 1, 0)], True)
    add(("fallkonferenzen", 0, 0), [("fallkonferenzen", r, 0) for r in (1, 2)], True)
    add(("fallkonferenzen", 0, 0), [("fallkonferenzen", r, 0) for r in range(3, 7)], True)
    overdue = report.tabelle("ueberfaellig")
    total = len(overdue.zeilen) - 1
    add(("ueberfaellig", total, 0), [("ueberfaellig", r, 0) for r in range(total)], False)
    return groups, merkmal


def what_a_reader_knows(report: Auswertung) -> tuple[Bounds, dict[Cell, int], list[Group], set[Cell]]:
    groups, merkmal = _groups(report)
    text = {
        (t.id, r, c): cell.text
        for t in report.tabellen
        for r, row in enumerate(t.zeilen)
        for c, cell in enumerate(row.zellen)
    }
    may_be_zero = {p for i in merkmal for p in groups[i][1] if text[groups[i][0]] == KLEIN}
    bounds: Bounds = {}
    known: dict[Cell, int] = {}
    for cell in {c for total, parts in groups for c in (total, *parts)}:
        shown = text[cell]
        if shown == KLEIN:
            bounds[cell] = (0 if cell in may_be_zero else 1, 4)
        elif shown == GESPERRT:
            bounds[cell] = (1, CAP)
        else:
            known[cell] = int(shown)
    exempt = {p for total, parts in groups if known.get(total) == 0 for p in parts}
    return bounds, known, groups, exempt


def assert_nothing_disclosed(report: Auswertung) -> None:
    bounds, known, groups, exempt = what_a_reader_knows(report)
    leaks = {cell: value for cell, value in disclosed(bounds, known, groups).items() if cell not in exempt}
    assert leaks == {}, f"withheld cells that can be worked out: {leaks}"


def generate(data: AnalyticsData, seed: int) -> None:
    rng = random.Random(seed)
    for month in (1, 2, 3, 4):
        for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 5, 6, 7, 9])):
            when = datetime(2026, month, rng.randint(2, 27), 9, tzinfo=UTC)
            contact = rng.choice([None, timedelta(hours=5), timedelta(hours=100)])
            referral(data, when, outcome=rng.choice(OUTCOMES), contact_after=contact)
    for _ in range(rng.randint(0, 3)):  # still running at NOW: only in the annual report
        referral(data, NOW - timedelta(days=1))
    for _ in range(rng.randint(0, 8)):
        end = rng.choice(CONFERENCE_ENDS)
        case = data.instance("fallkonferenz", datetime(2026, 2, 3, tzinfo=UTC), end_event=end)
        if rng.random() < 0.6:
            held = datetime(2026, 2, 5, tzinfo=UTC)
            data.task(case, "fallkonferenz", "Task_DurchfuehrenProtokollieren", held, completed_at=held)
    case = data.instance("fallkonferenz", datetime(2026, 11, 1, tzinfo=UTC))
    for candidates in (BERATUNG, "Koordination@*", "Fachkraft@kreispolizei"):
        for _ in range(rng.choice([0, 1, 2, 5, 7])):
            data.task(case, "fallkonferenz", "Task_Organisieren", datetime(2026, 11, 2, tzinfo=UTC),
                      due_at=datetime(2026, 12, 1, tzinfo=UTC), candidates=candidates)  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_no_withheld_cell_can_be_worked_out(hn, clock, actor, seed):
    clock.set(NOW)
    generate(AnalyticsData(hn), seed)
    coordinator = actor("koordination.jugendamt")
    assert_nothing_disclosed(hn.auswertung(coordinator, "2026-01-01", "2026-04-30"))
    assert_nothing_disclosed(hn.jahresbericht(coordinator, 2026))


def test_the_first_contact_count_cannot_give_a_small_state_away(hn, clock, actor):
    clock.set(NOW)
    data = AnalyticsData(hn)
    for _ in range(3):
        referral(data, datetime(2026, 3, 2, tzinfo=UTC), contact_after=timedelta(hours=5))  # in time
    for _ in range(10):
        referral(data, datetime(2026, 3, 2, tzinfo=UTC), contact_after=timedelta(hours=100))  # late
    for _ in range(5):
        referral(data, datetime(2026, 3, 2, tzinfo=UTC))  # no contact, overdue
    report = hn.auswertung(actor("koordination.jugendamt"), "2026-01-01", "2026-04-30")
    assert report.tabelle("erstkontakt").zeilen[0].zellen[0].text == KLEIN
    assert_nothing_disclosed(report)


def test_the_search_finds_a_disclosed_cell():
    # 13 = "< 5" + 10 fixes the "< 5"; without the equation it is open
    known = {"total": 13, "b": 10}
    assert disclosed({"a": (1, 4)}, known, [("total", ["a", "b"])]) == {"a": 3}
    assert disclosed({"a": (1, 4), "b": (1, CAP)}, {"total": 13}, [("total", ["a", "b"])]) == {}


# --- the suppression on its own, on many random grids -----------------------------------------
def monthly(rows: list[list[int]]) -> Fallzahlen:
    """A grid shaped like the referrals table: per month total + outcomes, then the sum row."""
    grid = [[sum(r), *r] for r in rows]
    grid.append([sum(col) for col in zip(*grid, strict=True)])
    counts = Fallzahlen(grid)
    for r in range(len(grid)):
        counts.zeilensumme(r, 0, range(1, len(rows[0]) + 1))
    for c in range(len(rows[0]) + 1):
        counts.spaltensumme(c, len(rows), range(len(rows)), merkmal=False)
    return counts


def assert_grid_safe(counts: Fallzahlen) -> None:
    shown = counts.zellen()
    groups: list[Group] = [(total, parts) for total, parts in counts.gruppen]
    text = {(r, c): cell.text for r, row in enumerate(shown) for c, cell in enumerate(row)}
    may_be_zero = {p for i in counts.merkmale for p in groups[i][1] if text[groups[i][0]] == KLEIN}
    bounds: Bounds = {}
    known: dict[Cell, int] = {}
    for cell, value in text.items():
        if value == KLEIN:
            bounds[cell] = (0 if cell in may_be_zero else 1, 4)
        elif value == GESPERRT:
            bounds[cell] = (1, CAP)
        else:
            known[cell] = int(value)
    exempt = {p for total, parts in groups if known.get(total) == 0 for p in parts}
    leaks = {c: v for c, v in disclosed(bounds, known, groups).items() if c not in exempt}
    assert leaks == {}, f"{counts.werte}: {[[c.text for c in row] for row in shown]} gives away {leaks}"


def test_several_equations_together_cannot_pin_a_cell():
    # the one-group rules alone let row and column sums pin all of „abgelehnt“ and „offen“ down
    assert_grid_safe(monthly([[0, 0, 0, 0], [3, 1, 4, 1], [1, 0, 0, 0], [1, 1, 3, 0]]))


@pytest.mark.parametrize("seed", range(20))
def test_random_small_grids_give_nothing_away(seed):
    rng = random.Random(seed)
    for _ in range(10):
        months, outcomes = rng.randint(1, 4), rng.randint(2, 4)
        rows = [[rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9]) for _ in range(outcomes)] for _ in range(months)]
        assert_grid_safe(monthly(rows))
