"""The Auswertung reads what the real processes write: every end event a P1 scenario reaches is in
the element trail once (``element_left``), and the referral figure finds each referral with the
outcome of its strand (engine/dashboard.py, before suppression)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.clock import ManualClock
from engine.dashboard import REFERRAL, REFERRAL_OUTCOMES, Zeitraum
from engine.dashboard_cases import referrals
from engine.persistence.models import AuditEvent, ProcessInstance, UserTask
from engine.service import Hilfenetz
from tests.conftest import actor_lookup
from tests.processes.test_scenarios import engine as engine  # the scenario engine fixture
from tests.processes.test_scenarios import run_step, scenarios

P1_SCENARIOS = [case for case in scenarios() if case.values[0] == "polizeieinsatz"]


def top_level_end_events(hn: Hilfenetz, instance_id: int) -> list[str]:
    """The end events of the process's own strands (one inside a sub-process ends only that)."""
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        workflow = hn.runtime.peek(session, row)
    return [
        str(t.task_spec.bpmn_id)
        for t in workflow.tasks.values()
        if type(t.task_spec).__name__ == "EndEvent" and t.state == TaskState.COMPLETED
    ]


@pytest.mark.parametrize(("process", "scenario"), P1_SCENARIOS)
def test_referral_outcome_matches_the_end_event_left(
    engine: Hilfenetz, clock: ManualClock, process: str, scenario: dict[str, Any]
) -> None:
    instance_id = engine.start(
        actor_lookup(engine)(scenario["start"]["as"]), process, scenario["start"].get("data", {})
    )
    for step in scenario["steps"]:
        run_step(engine, clock, instance_id, step)
    reached = top_level_end_events(engine, instance_id)
    with engine.db.read() as session:
        audited = session.scalars(
            select(AuditEvent.element_id).where(
                AuditEvent.instance_id == instance_id,
                AuditEvent.action == "element_left",
                AuditEvent.element_id.in_(reached),
            )
        ).all()
        referred = session.scalar(
            select(UserTask.id)
            .where(UserTask.instance_id == instance_id, UserTask.element_id == REFERRAL[1])
            .limit(1)
        )
        found = referrals(session, Zeitraum(date(2025, 1, 1), date(2027, 12, 31)), None)
    assert sorted(audited) == sorted(reached)  # each once
    outcome = next((label for end, label in REFERRAL_OUTCOMES.items() if end in reached), "offen")
    if referred is None:
        assert found == []
    else:
        assert [(r.instance_id, r.outcome) for r in found] == [(instance_id, outcome)]
        assert found[0].first_contact is not None or outcome == "offen"
