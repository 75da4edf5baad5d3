"""Races with real threads on SQLite and PostgreSQL: exactly one wins, nothing is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.errors import ConflictError
from engine.persistence.models import AuditEvent, UserTask
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn, parallel_bpmn


def task_of(hn, actor, instance_id: int):
    return next(
        t
        for t in hn.worklist(actor, WorklistQuery(view="gruppe", per_page=100)).tasks
        if t.instance_id == instance_id
    )


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment in threads; return each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("rounds", [5])
def test_two_submits_of_one_task_exactly_one_wins(engine_for, any_db_url, rounds):
    hn = engine_for({"kette": chain_bpmn()}, url=any_db_url)
    lena, sara = actor_lookup(hn)("fachkraft.frauenberatung"), actor_lookup(hn)("fachkraft2.frauenberatung")
    for _ in range(rounds):
        instance_id = hn.start(lena, "kette", {})
        task = task_of(hn, lena, instance_id)
        results = race(
            [
                lambda t=task.id: hn.complete(lena, t, {"notiz": "Lena"}),
                lambda t=task.id: hn.complete(sara, t, {"notiz": "Sara"}),
            ]
        )
        wins = [r for r in results if r == instance_id]
        conflicts = [r for r in results if isinstance(r, ConflictError)]
        assert len(wins) == 1 and len(conflicts) == 1, (instance_id, results)
        assert "bereits erledigt" in conflicts[0].message
        with hn.db.read() as s:
            completed = s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.instance_id == instance_id, AuditEvent.action == "task_completed")
            )
            open_tasks = s.scalars(
                select(UserTask.element_id).where(
                    UserTask.instance_id == instance_id, UserTask.status == "open"
                )
            ).all()
        assert completed == 1 and open_tasks == ["aufgabe_2"]
        hn.complete(lena, task_of(hn, lena, instance_id).id, {"notiz": "x"})


def test_two_users_change_one_instance_at_once_nothing_lost(engine_for, any_db_url):
    hn = engine_for({"parallel": parallel_bpmn()}, url=any_db_url)
    look = actor_lookup(hn)
    police, counsel = look("fachkraft.polizei"), look("fachkraft.frauenberatung")
    for _ in range(5):
        instance_id = hn.start(counsel, "parallel", {})
        p_task, c_task = task_of(hn, police, instance_id), task_of(hn, counsel, instance_id)
        results = race(
            [
                lambda t=p_task.id: hn.complete(police, t, {"notiz": "Polizei"}),
                lambda t=c_task.id: hn.complete(counsel, t, {"notiz": "Beratung"}),
            ]
        )
        # Serialised by the instance lock: both changes land, in some order, none overwritten.
        assert all(r == instance_id or isinstance(r, ConflictError) for r in results), results
        detail = hn.instance_detail(counsel, instance_id)
        done = [h for h in detail.history if h.action == "task_completed"]
        if all(r == instance_id for r in results):
            assert detail.status == "completed" and len(done) == 2
        else:  # a loser got 409 and can simply submit again
            assert len(done) == 1 and detail.status == "running"


def test_two_claims_of_one_task_exactly_one_wins(engine_for, any_db_url):
    hn = engine_for({"kette": chain_bpmn()}, url=any_db_url)
    lena, sara = actor_lookup(hn)("fachkraft.frauenberatung"), actor_lookup(hn)("fachkraft2.frauenberatung")
    for _ in range(5):
        instance_id = hn.start(lena, "kette", {})
        task = task_of(hn, lena, instance_id)
        results = race([lambda t=task.id: hn.claim(lena, t), lambda t=task.id: hn.claim(sara, t)])
        assert sorted(type(r).__name__ for r in results) == ["ConflictError", "NoneType"], results
        assert "übernommen" in next(r for r in results if isinstance(r, ConflictError)).message
        mine = [t.id for who in (lena, sara) for t in hn.worklist(who, WorklistQuery(view="meine")).tasks]
        assert mine.count(task.id) == 1
