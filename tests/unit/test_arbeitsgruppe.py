"""P8 Arbeitsgruppe: an end date that is not in the future is refused with a German message on the
field and nothing is saved; a valid one takes effect at 9:00 Berlin time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidSubmissionError
from engine.persistence.models import ProcessInstance
from engine.settings import REPO_ROOT
from tests.conftest import actor_lookup, build_engine
from tests.unit.test_netzwerktreffen import task_of

DEFINITIONS = (REPO_ROOT / "processes", REPO_ROOT / "forms")


@pytest.fixture
def p8(tmp_path, sqlite_url, clock):
    engine = build_engine(tmp_path, sqlite_url, clock, DEFINITIONS)
    yield engine
    engine.db.dispose()


def mandate(end: str) -> dict[str, object]:
    return {
        "mandat_durch": "steuerungsgruppe",
        "thema": "Vertrauliche Spurensicherung",
        "ziel": "Merkblatt erstellen",
        "mitglieder": ["kreispolizei", "kreisgesundheitsamt"],
        "federfuehrung": "kreispolizei",
        "enddatum": end,
    }


def instances(hn) -> int:
    with hn.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessInstance)) or 0)


@pytest.mark.parametrize("end", ["2026-01-05", "2025-12-31"])  # the clock stands at 05.01.2026
def test_a_mandate_ending_today_or_earlier_is_refused_and_not_started(p8, end):
    with pytest.raises(InvalidSubmissionError) as refused:
        p8.start(actor_lookup(p8)("koordination.jugendamt"), "arbeitsgruppe", mandate(end))
    assert refused.value.field_errors == {
        "enddatum": "Das Enddatum muss nach dem heutigen Tag (05.01.2026) liegen."
    }
    assert instances(p8) == 0


def test_the_end_takes_effect_at_nine_in_berlin_and_a_past_extension_is_refused(p8, clock):
    look = actor_lookup(p8)
    instance_id = p8.start(look("koordination.jugendamt"), "arbeitsgruppe", mandate("2026-03-20"))
    with p8.db.read() as session:  # 20.03.2026 is winter time: 9:00 in Berlin is 8:00 UTC
        assert session.get(ProcessInstance, instance_id).next_timer_at == datetime(
            2026, 3, 20, 8, 0, tzinfo=UTC
        )
    clock.advance(timedelta(days=90))
    p8.fire_due_timers()
    task = task_of(p8, "fachkraft.polizei", instance_id, "Task_ErgebnisVorlegen")
    p8.complete(
        look("fachkraft.polizei"), task, {"ergebnis": "Entwurf liegt vor", "empfehlung": "verlaengern"}
    )
    decision = task_of(p8, "fachkraft.gesundheitsamt", instance_id, "Task_Entscheidung")
    extend = {"entscheidung": "verlaengert", "neues_enddatum": "2026-03-01", "entscheidung_begruendung": "x"}
    with pytest.raises(InvalidSubmissionError) as refused:
        p8.complete(look("fachkraft.gesundheitsamt"), decision, extend)
    assert refused.value.field_errors == {
        "neues_enddatum": "Das Enddatum muss nach dem heutigen Tag (05.04.2026) liegen."
    }
    assert task_of(p8, "fachkraft.gesundheitsamt", instance_id, "Task_Entscheidung") == decision
    p8.complete(look("fachkraft.gesundheitsamt"), decision, {**extend, "neues_enddatum": "2026-09-15"})
    with p8.db.read() as session:  # 15.09.2026 is summer time: 7:00 UTC
        assert session.get(ProcessInstance, instance_id).next_timer_at == datetime(
            2026, 9, 15, 7, 0, tzinfo=UTC
        )
