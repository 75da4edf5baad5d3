"""Process analytics (engine/process_analytics.py) from the element trail (engine/element_trail.py).

Instances are generated with the injected clock moved between steps, so every count, median and
90th percentile below is known in advance. Percentiles interpolate linearly: for 1 … 7 days the
median is 4 days and the 90th percentile 1 + 0.9 · 6 = 6.4 days.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, or_, select

from engine.clock import ManualClock
from engine.errors import InvalidSubmissionError, NotFoundError, NotPermittedError, ScriptError
from engine.persistence.models import AuditEvent, ProcessInstance, UserTask
from engine.process_analytics import (
    ElementFigures,
    Period,
    ProcessAnalytics,
    _Visit,
    element_figures,
    load_visits,
    open_figure,
    quantile,
)
from engine.read_models import Actor
from engine.service import Hilfenetz
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import (
    FOOTER,
    HEADER,
    _flow,
    chain_bpmn,
    parallel_bpmn,
    script_bpmn,
    timer_bpmn,
    user_task,
)

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def contact_loop_bpmn() -> str:
    """A user task that loops back to itself while the note says „nochmal“ (like P1's contact
    attempts): the next pass begins in the same instant the last one ended."""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        + user_task("kontakt", "Kontaktversuch", "Fachkraft@frauenberatung-soest", "notiz")
        + '<bpmn:exclusiveGateway id="erreicht" name="Erreicht?" default="ja"/>\n'
        + '<bpmn:endEvent id="ende"/>\n'
        + _flow("f1", "start", "kontakt")
        + _flow("f2", "kontakt", "erreicht")
        + _flow("nein", "erreicht", "kontakt", 'notiz == "nochmal"')
        + _flow("ja", "erreicht", "ende")
    )
    return HEADER.format(pid="schleife", name='"Schleife"') + body + FOOTER


@pytest.fixture
def engine(engine_for: Callable[..., Hilfenetz]) -> Hilfenetz:
    return engine_for(
        {
            "kette": chain_bpmn(tasks=2),
            "erinnerung": timer_bpmn(),
            "parallel": parallel_bpmn(),
            "kaputt": script_bpmn("kaputt", "x = 1 / 0"),
            "schleife": contact_loop_bpmn(),
        }
    )


@pytest.fixture
def who(engine: Hilfenetz) -> Callable[[str], Actor]:
    return actor_lookup(engine)


def open_task(engine: Hilfenetz, instance_id: int, element_id: str) -> str:
    with engine.db.read() as session:
        return str(
            session.scalars(
                select(UserTask.id).where(
                    UserTask.instance_id == instance_id,
                    UserTask.element_id == element_id,
                    UserTask.status == "open",
                )
            ).one()
        )


def complete(engine: Hilfenetz, actor: Actor, instance_id: int, element_id: str) -> None:
    engine.complete(actor, open_task(engine, instance_id, element_id), {"notiz": "erledigt"})


def nearest_five(count: int) -> int:
    """The published count, computed independently of the engine."""
    return int(5 * round(count / 5))


def figures(result: ProcessAnalytics) -> dict[str, ElementFigures]:
    return {f.element_id: f for f in result.elements}


def analytics(engine: Hilfenetz, who: Callable[[str], Actor], key: str, **kwargs: str) -> ProcessAnalytics:
    period = {"von": "2026-01-01", "bis": "2026-03-31", **kwargs}
    return engine.process_analytics(
        who("koordination.jugendamt"), key, period["von"], period["bis"], kwargs.get("version")
    )


def seven_chains(engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]) -> list[int]:
    """Seven cases: the i-th finishes task 1 after i days; the first three finish task 2 at once."""
    clock.set(START)
    fachkraft = who("fachkraft.frauenberatung")
    instances = [engine.start(fachkraft, "kette", {}) for _ in range(7)]
    for instance in instances:
        clock.advance(DAY)
        complete(engine, fachkraft, instance, "aufgabe_1")
    clock.advance(HOUR)
    for instance in instances[:3]:
        complete(engine, fachkraft, instance, "aufgabe_2")
    return instances


def test_counts_medians_and_90th_percentiles_per_element(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    seven_chains(engine, clock, who)
    result = figures(analytics(engine, who, "kette"))
    first = result["aufgabe_1"]
    assert (first.runs, first.open_runs, first.suppressed) == (5, 0, False)  # 7, rounded to 5
    assert first.median_seconds == (4 * DAY).total_seconds()
    assert first.p90_seconds == pytest.approx((6.4 * DAY).total_seconds())
    start = result["start"]
    assert (start.runs, start.median_seconds, start.p90_seconds) == (5, 0.0, 0.0)
    # Seven cases reached task 2, four still work on it: counted, but only three finished → no times.
    # Four open runs show "< 5" (no number: 7 − 4 would give the three finished).
    second = result["aufgabe_2"]
    assert (second.runs, second.open_runs, second.open_small, second.suppressed) == (5, None, True, False)
    assert second.median_seconds is None and second.p90_seconds is None


def test_an_element_reached_by_fewer_than_five_cases_shows_no_figures(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    seven_chains(engine, clock, who)
    end = figures(analytics(engine, who, "kette"))["ende"]  # three cases finished
    assert end.suppressed is True
    assert (end.runs, end.open_runs, end.median_seconds, end.p90_seconds, end.heat) == (None,) * 5


def test_an_element_nobody_reached_shows_zero(engine: Hilfenetz, who: Callable[[str], Actor]) -> None:
    untouched = figures(analytics(engine, who, "kette"))["aufgabe_1"]
    assert (untouched.runs, untouched.suppressed, untouched.median_seconds) == (0, False, None)


def test_the_period_counts_runs_that_began_in_it(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    seven_chains(engine, clock, who)
    # Started on 5 January (Berlin): task 1 began then; task 2 began on 6–12 January.
    later = figures(analytics(engine, who, "kette", von="2026-01-06", bis="2026-01-31"))
    assert later["aufgabe_1"].runs == 0
    assert later["aufgabe_2"].runs == 5  # 7, rounded
    before = figures(analytics(engine, who, "kette", von="2025-12-01", bis="2026-01-04"))
    assert before["aufgabe_1"].runs == 0 and before["start"].runs == 0


def test_the_heat_class_follows_the_median(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    seven_chains(engine, clock, who)
    result = analytics(engine, who, "kette")
    by_id = figures(result)
    assert by_id["aufgabe_1"].heat == 4  # the longest median
    assert by_id["start"].heat == 0
    assert result.heat_bounds == pytest.approx([(4 * DAY).total_seconds() * i / 5 for i in (1, 2, 3, 4)])


def test_a_boundary_timer_counts_only_when_it_fired_and_the_task_it_interrupted_keeps_its_time(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    clock.set(START)
    fachkraft = who("fachkraft.frauenberatung")
    late = [engine.start(fachkraft, "erinnerung", {}) for _ in range(5)]
    on_time = engine.start(fachkraft, "erinnerung", {})
    clock.advance(HOUR)
    complete(engine, fachkraft, on_time, "bearbeiten")
    clock.advance(3 * DAY)  # P2D is due; the runner comes by three days after the start
    assert engine.fire_due_timers() == 5
    result = figures(analytics(engine, who, "erinnerung"))
    assert result["zeit_um"].runs == 5
    assert result["zeit_um"].median_seconds == 0.0
    assert result["bearbeiten"].runs == 5  # 6, rounded
    assert result["bearbeiten"].median_seconds == (3 * DAY + HOUR).total_seconds()
    assert (result["eskalation"].runs, result["eskalation"].open_runs) == (5, 5)
    assert len(late) == 5


def test_a_parallel_join_is_one_run_from_the_first_branch_to_the_last(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    clock.set(START)
    police, counselling = who("fachkraft.polizei"), who("fachkraft.frauenberatung")
    for waited in (1, 2, 3, 4, 5):
        instance = engine.start(counselling, "parallel", {})
        clock.advance(HOUR)
        complete(engine, police, instance, "polizei")
        clock.advance(waited * HOUR)
        complete(engine, counselling, instance, "beratung")
    join = figures(analytics(engine, who, "parallel"))["zusammen"]
    assert (join.runs, join.open_runs) == (5, 0)
    assert join.median_seconds == (3 * HOUR).total_seconds()
    assert join.p90_seconds == pytest.approx((4.6 * HOUR).total_seconds())


def test_the_figures_match_the_audit_trail(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    """Recompute every element's figures straight from the audit rows, independently."""
    clock.set(START)
    fachkraft = who("fachkraft.frauenberatung")
    dice = random.Random(9)
    for _ in range(12):
        instance = engine.start(fachkraft, "kette", {})
        for element in ("aufgabe_1", "aufgabe_2"):
            clock.advance(timedelta(minutes=dice.randint(5, 5000)))
            if dice.random() > 0.8:
                break  # the case stays at this task
            complete(engine, fachkraft, instance, element)
    result = figures(analytics(engine, who, "kette"))

    with engine.db.read() as session:
        rows = session.execute(
            select(AuditEvent.task_id, AuditEvent.element_id, AuditEvent.action, AuditEvent.at)
            .add_columns(AuditEvent.instance_id)
            .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
            .where(ProcessInstance.process_key == "kette")
        ).all()
    entered = {r.task_id: r for r in rows if r.action == "element_entered"}
    left = {r.task_id: r.at for r in rows if r.action == "element_left"}
    durations: dict[str, list[float]] = defaultdict(list)
    cases: dict[str, set[int]] = defaultdict(set)
    runs: dict[str, int] = defaultdict(int)
    for task_id, row in entered.items():
        runs[row.element_id] += 1
        cases[row.element_id].add(row.instance_id)
        if task_id in left:
            durations[row.element_id].append((left[task_id] - row.at).total_seconds())
    assert set(result) == {"start", "aufgabe_1", "aufgabe_2", "ende"}
    checked = 0
    for element, shown in result.items():
        if len(cases[element]) < 5:
            assert shown.suppressed and shown.runs is None
            continue
        finished = len(durations[element])
        still_open = runs[element] - finished
        assert shown.runs == nearest_five(runs[element])
        assert shown.open_small == (0 < still_open < 5)
        withheld = 0 < still_open < 5 or 0 < finished < 5
        assert shown.open_runs == (None if withheld else nearest_five(still_open))
        if len(durations[element]) >= 5:
            assert shown.median_seconds == pytest.approx(statistics.median(durations[element]))
            p90 = statistics.quantiles(durations[element], n=10, method="inclusive")[8]
            assert shown.p90_seconds == pytest.approx(p90)
            checked += 1
    assert checked >= 2  # the test looked at real figures, not only at suppressed cells


def test_element_events_are_written_with_the_step_or_not_at_all(
    engine: Hilfenetz, who: Callable[[str], Actor]
) -> None:
    with pytest.raises(ScriptError):
        engine.start(who("fachkraft.frauenberatung"), "kaputt", {})
    with engine.db.read() as session:
        count = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("element_%"))
        )
    assert count == 0


def test_element_events_stay_out_of_the_case_history(engine: Hilfenetz, who: Callable[[str], Actor]) -> None:
    fachkraft = who("fachkraft.frauenberatung")
    instance = engine.start(fachkraft, "kette", {})
    history = engine.instance_detail(fachkraft, instance).history
    assert history and not [e for e in history if e.action.startswith("element_")]


def test_only_coordination_and_steering_group_see_the_analytics(
    engine: Hilfenetz, who: Callable[[str], Actor]
) -> None:
    with pytest.raises(NotPermittedError):
        engine.process_analytics(who("fachkraft.frauenberatung"), "kette", None, None, None)
    with pytest.raises(NotPermittedError):
        engine.analytics_processes(who("fachkraft.frauenberatung"))
    steering = engine.process_analytics(who("fachkraft.gesundheitsamt"), "kette", None, None, None)
    assert steering.process_key == "kette"
    assert "kette" in [c.process_key for c in engine.analytics_processes(who("koordination.jugendamt"))]


@pytest.mark.parametrize(
    ("von", "bis", "field"),
    [
        ("gestern", None, "von"),
        (None, "2026-02-30", "bis"),
        ("2026-03-01", "2026-02-01", "von"),
        ("0001-01-01", None, "von"),  # Berlin → UTC overflowed (was a 500)
        (None, "9999-12-31", "bis"),  # the day after overflowed (was a 500)
    ],
)
def test_a_bad_period_is_refused_with_a_german_field_error(
    engine: Hilfenetz, who: Callable[[str], Actor], von: str | None, bis: str | None, field: str
) -> None:
    with pytest.raises(InvalidSubmissionError) as refused:
        engine.process_analytics(who("koordination.jugendamt"), "kette", von, bis, None)
    assert field in refused.value.field_errors
    assert "Zeitraum" in refused.value.message


def test_unknown_process_version_or_junk_version(engine: Hilfenetz, who: Callable[[str], Actor]) -> None:
    coordinator = who("koordination.jugendamt")
    with pytest.raises(NotFoundError):
        engine.process_analytics(coordinator, "gibt-es-nicht", None, None, None)
    with pytest.raises(NotFoundError):
        engine.process_analytics(coordinator, "kette", None, None, "7")
    with pytest.raises(InvalidSubmissionError):
        engine.process_analytics(coordinator, "kette", None, None, "1; DROP TABLE")
    with pytest.raises(InvalidSubmissionError):
        engine.process_analytics(coordinator, "kette", None, None, "²")  # isdigit() but not int()
    chosen = engine.process_analytics(coordinator, "kette", None, None, "1")
    assert chosen.version == 1 and [v.version for v in chosen.versions] == [1]


def test_quantile_interpolates_between_ranks() -> None:
    assert quantile([1.0], 0.9) == 1.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([float(i) for i in range(1, 11)], 0.9) == pytest.approx(9.1)


def test_each_pass_of_a_looping_user_task_is_a_run_of_its_own(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    """Five cases, three contact attempts of five hours each: 15 runs, median 5 h (not one run of
    15 h per case: the next pass begins in the instant the last one ended)."""
    clock.set(START)
    fachkraft = who("fachkraft.frauenberatung")
    for _ in range(5):
        instance = engine.start(fachkraft, "schleife", {})
        for note in ("nochmal", "nochmal", "erreicht"):
            clock.advance(5 * HOUR)
            engine.complete(fachkraft, open_task(engine, instance, "kontakt"), {"notiz": note})
    result = figures(analytics(engine, who, "schleife"))
    contact = result["kontakt"]
    assert (contact.runs, contact.open_runs) == (15, 0)
    assert contact.median_seconds == contact.p90_seconds == (5 * HOUR).total_seconds()
    assert result["erreicht"].runs == 15 and result["ende"].runs == 5


def test_open_runs_of_one_to_four_show_less_than_five_and_never_give_away_the_finished() -> None:
    assert open_figure(10, 10) == (0, False)
    assert open_figure(10, 6) == (None, True)  # four open: "< 5"
    assert open_figure(10, 7) == (None, True)
    assert open_figure(10, 3) == (None, False)  # seven open, three finished: withheld
    assert open_figure(10, 0) == (10, False)
    for runs in range(5, 40):
        for finished in range(runs + 1):
            shown, small = open_figure(runs, finished)
            if 0 < runs - finished < 5:
                assert small and shown is None
            if 0 < finished < 5:
                assert shown is None  # runs − open would be the small finished count


def _runs(element: str, cases: int) -> list[_Visit]:
    began = START
    return [_Visit(case, element, began, began + HOUR) for case in range(cases)]


def test_no_suppressed_count_can_be_recovered_by_subtracting_neighbours() -> None:
    """A gateway passed by 10 cases, one branch taken by 7, the other by 3 (suppressed): the
    published gateway minus the published branch must not give 3 — for every such split."""
    catalogue = [("weiche", "", "Verzweigung"), ("a", "A", "Aufgabe"), ("b", "B", "Aufgabe")]
    shown = {
        f.element_id: f
        for f in element_figures(
            catalogue, {"weiche": _runs("weiche", 10), "a": _runs("a", 7), "b": _runs("b", 3)}
        )
    }
    assert shown["b"].suppressed and shown["b"].runs is None
    assert shown["weiche"].runs is not None and shown["a"].runs is not None
    assert shown["weiche"].runs - shown["a"].runs != 3
    for total in range(5, 60):
        for hidden in range(1, 5):
            if total - hidden < 5:
                continue
            split = {
                f.element_id: f.runs
                for f in element_figures(
                    catalogue,
                    {
                        "weiche": _runs("weiche", total),
                        "a": _runs("a", total - hidden),
                        "b": _runs("b", hidden),
                    },
                )
            }
            assert split["b"] is None
            assert split["weiche"] is not None and split["a"] is not None
            assert not 1 <= split["weiche"] - split["a"] <= 4, (total, hidden)
            assert abs(split["weiche"] - total) <= 2  # rounded to the nearest multiple of five


@pytest.mark.parametrize(
    ("von", "bis", "field"),
    [
        (None, "9999-12-31", "bis"),
        ("0001-01-01", None, "von"),
        ("1999-12-31", "2000-06-30", "von"),
        ("2026-01-01", "2101-01-01", "bis"),
        ("2020-01-01", "2026-01-01", "von"),  # six years
    ],
)
def test_dates_out_of_range_or_a_period_over_three_years_are_refused(
    engine: Hilfenetz, who: Callable[[str], Actor], von: str | None, bis: str | None, field: str
) -> None:
    with pytest.raises(InvalidSubmissionError) as refused:
        engine.process_analytics(who("koordination.jugendamt"), "kette", von, bis, None)
    assert field in refused.value.field_errors
    assert "Bitte" in refused.value.field_errors[field]


def test_three_years_are_allowed(engine: Hilfenetz, who: Callable[[str], Actor]) -> None:
    result = engine.process_analytics(
        who("koordination.jugendamt"), "kette", "2024-01-01", "2026-12-31", None
    )
    assert (result.period.von.year, result.period.bis.year) == (2024, 2026)


class CountingSession:
    """Wraps a session and counts the rows its queries return."""

    def __init__(self, session: Any) -> None:
        self.session, self.rows = session, 0

    def execute(self, statement: Any) -> list[Any]:
        rows = list(self.session.execute(statement).all())
        self.rows += len(rows)
        return rows


def test_no_entries_after_the_period_are_read(
    engine: Hilfenetz, clock: ManualClock, who: Callable[[str], Actor]
) -> None:
    seven_chains(engine, clock, who)  # January
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    fachkraft = who("fachkraft.frauenberatung")
    for _ in range(5):  # March: must not be read for January
        instance = engine.start(fachkraft, "kette", {})
        complete(engine, fachkraft, instance, "aufgabe_1")
    january = Period(datetime(2026, 1, 1).date(), datetime(2026, 1, 31).date())
    with engine.db.read() as session:
        definition_ids = [i for (i,) in session.execute(select(ProcessInstance.definition_id).distinct())]
        expected = session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
            .where(
                ProcessInstance.process_key == "kette",
                # entries of the period; exits since its start (filtered by task in Python)
                or_(
                    (AuditEvent.action == "element_entered")
                    & (AuditEvent.at < datetime(2026, 2, 1, tzinfo=UTC)),
                    AuditEvent.action == "element_left",
                ),
            )
        ).scalar_one()
        counting = CountingSession(session)
        visits = load_visits(counting, definition_ids, january)  # type: ignore[arg-type]
    assert len(visits) == 7 * 3 + 3  # start, task 1, task 2 per case; the end for three
    assert counting.rows == expected
