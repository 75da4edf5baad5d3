"""Versions deployed before the retention declarations take the periods of the newest version that
has them; versions still without periods are named on the Datenschutz page; zero periods are refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from engine.clock import ManualClock
from engine.persistence.models import ProcessDefinition, RetentionErasure
from engine.retention import effective_periods, erase_due, retention_gaps
from engine.retention_rules import CATEGORY_KEYS
from engine.service import Hilfenetz
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import TEST_RETENTION, chain_bpmn

UNDECLARED = re.compile(r'<camunda:property name="aufbewahrung\.[^"]+" value="[^"]+" />')


def _old_version_without_periods(hn: Hilfenetz) -> str:
    """Strip the declarations from the stored version 1 (as deployed before they existed)."""
    with hn.db.write() as session:
        v1 = session.scalars(select(ProcessDefinition).where(ProcessDefinition.process_key == "kette")).one()
        declared = v1.bpmn_xml
        v1.bpmn_xml = UNDECLARED.sub("", declared)
        assert v1.bpmn_xml != declared
        session.commit()
        return declared


def _add_version_2(hn: Hilfenetz, bpmn_xml: str) -> None:
    with hn.db.write() as session:
        v1 = session.scalars(select(ProcessDefinition).where(ProcessDefinition.process_key == "kette")).one()
        session.add(
            ProcessDefinition(
                process_key="kette",
                version=2,
                name=v1.name,
                content_hash="2" * 64,
                bpmn_xml=bpmn_xml,
                spec_json=v1.spec_json,
                forms_json=v1.forms_json,
                deployed_at=hn.clock.now(),
                deployed_by="test",
            )
        )
        session.commit()


def test_an_old_version_without_periods_falls_back_to_the_newest_declaring_version(
    engine_for: Callable[..., Hilfenetz], clock: ManualClock
) -> None:
    hn = engine_for({"kette": chain_bpmn(tasks=1)})
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    instance_id = hn.start(user, "kette", {})
    hn.complete(user, hn.worklist(user, WorklistQuery(view="alle")).tasks[0].id, {"notiz": "x"})
    declared = _old_version_without_periods(hn)
    with hn.db.read() as session:
        gaps = retention_gaps(session)
    assert [(g.process_key, g.version, g.missing) for g in gaps] == [("kette", 1, CATEGORY_KEYS)]
    coordinator = actor_lookup(hn)("koordination.jugendamt")
    assert [g.version for g in hn.retention_gaps(coordinator)] == [1]

    clock.advance(timedelta(days=800))  # longer than every test period
    with hn.db.write() as session:
        assert erase_due(session, clock.now(), 100) == (0, True)  # no period: nothing erased
        session.commit()

    _add_version_2(hn, declared)
    with hn.db.read() as session:
        assert retention_gaps(session) == []
        periods = {v.version: p for v, p in effective_periods(session)}
    assert periods[1] == periods[2] == TEST_RETENTION
    with hn.db.write() as session:
        count, finished = erase_due(session, clock.now(), 100)
        session.commit()
    assert finished and count == len(CATEGORY_KEYS)
    with hn.db.read() as session:
        erased = set(session.scalars(select(RetentionErasure.category)))
        ids = set(session.scalars(select(RetentionErasure.instance_id)))
    assert erased == set(CATEGORY_KEYS) and ids == {instance_id}
