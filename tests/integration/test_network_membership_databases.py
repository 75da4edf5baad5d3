"""P12 on PostgreSQL (and SQLite): a partner leaves through the real process while it holds open
tasks of several processes; every one of them ends up with the successor and can be completed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.clock import ManualClock
from engine.errors import ConflictError, NotPermittedError
from engine.network_membership import load_limits
from engine.partners import organisation_leaves
from engine.persistence.models import TaskCandidate, UserTask
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_concurrency import race
from tests.support.bpmn_factory import chain_bpmn, parallel_bpmn, write_definitions
from tests.unit.test_network_membership import multi_candidate_bpmn, open_tasks_of_frauenberatung


def test_partner_leaves_through_p12_and_nothing_open_is_lost(
    tmp_path: Path, clock: ManualClock, any_db_url: str
) -> None:
    processes, forms = write_definitions(
        tmp_path / "defs",
        {
            "kette": chain_bpmn(tasks=2),
            "parallel": parallel_bpmn(),
            "mehrere": multi_candidate_bpmn(),
            "leitung": chain_bpmn("leitung", tasks=1, groups="Leitung@frauenberatung-soest"),
        },
    )
    shutil.copy(REPO_ROOT / "processes" / "partnerschaft.bpmn", processes)
    shutil.copy(REPO_ROOT / "processes" / "fristen.json", processes)
    shutil.copy(REPO_ROOT / "processes" / "gremien.json", processes)
    for form in (REPO_ROOT / "forms").glob("partnerschaft_*.form"):
        shutil.copy(form, forms)
    hn = build_engine(tmp_path, any_db_url, clock, (processes, forms))
    look = actor_lookup(hn)
    tasks = open_tasks_of_frauenberatung(hn, look)
    notice = hn.start(
        look("leitung.frauenberatung"),
        "partnerschaft",
        {
            "art": "austritt",
            "austretende_organisation": "frauenberatung-soest",
            "kuendigung_datum": "2026-01-04",
        },
    )
    koord = look("koordination.jugendamt")
    step = next(
        t.id for t in hn.worklist(koord, WorklistQuery(per_page=100)).tasks if t.instance_id == notice
    )
    hn.complete(koord, step, {"kuendigung_liegt_vor": True, "nachfolge_organisation": "frauenhaus-soest"})
    assert hn.instance_detail(koord, notice).end_event == "EndEvent_Ausgetreten"
    assert "frauenberatung-soest" not in {o.slug for o in hn.ballot_organisations()}  # caches refreshed
    with pytest.raises(NotPermittedError):
        hn.login("leitung.frauenberatung", "Hilfenetz-Demo-2026")
    heir = look("fachkraft.frauenhaus")
    visible = {t.id for t in hn.worklist(heir, WorklistQuery(per_page=100)).tasks}
    moved = {k: v for k, v in tasks.items() if k != "polizei_unberuehrt"}
    assert set(moved.values()) <= visible
    for name, task_id in moved.items():
        hn.complete(heir, task_id, {"notiz": f"übernommen ({name})"})
    with hn.db.read() as session:
        rows = session.scalars(select(UserTask).where(UserTask.id.in_(moved.values()))).all()
        assert {(r.status, r.completed_by_id) for r in rows} == {("completed", heir.id)}
    hn.db.dispose()


def test_a_completion_racing_the_leaving_partner_loses_nothing(
    tmp_path: Path, clock: ManualClock, any_db_url: str
) -> None:
    """The leaving partner's people complete their tasks while the partner leaves: whichever comes
    first, every task ends either completed (no candidate rows left) or open with the successor."""
    processes, forms = write_definitions(tmp_path / "defs", {"kette": chain_bpmn(tasks=1)})
    hn = build_engine(tmp_path, any_db_url, clock, (processes, forms))
    look = actor_lookup(hn)
    fb = look("fachkraft.frauenberatung")
    tasks = []
    for _ in range(6):
        instance = hn.start(fb, "kette", {})
        task = next(
            t.id for t in hn.worklist(fb, WorklistQuery(per_page=100)).tasks if t.instance_id == instance
        )
        hn.claim(fb, task)
        tasks.append(task)
    limits = load_limits(REPO_ROOT / "processes")

    def leave() -> object:
        with hn.db.write() as session:
            result = organisation_leaves(
                session, hn.clock.now(), None, "frauenberatung-soest", "frauenhaus-soest", limits
            )
            session.commit()
            return result

    results = race([leave, *[lambda t=t: hn.complete(fb, t, {"notiz": "noch schnell"}) for t in tasks]])
    assert isinstance(results[0], dict), results[0]
    for outcome in results[1:]:  # a completion either won or was refused because the task moved
        assert isinstance(outcome, int | NotPermittedError | ConflictError), outcome
    heir = look("fachkraft.frauenhaus")
    reachable = {t.id for t in hn.worklist(heir, WorklistQuery(per_page=100)).tasks}
    with hn.db.read() as session:
        for row in session.scalars(select(UserTask).where(UserTask.id.in_(tasks))):
            candidates = set(
                session.scalars(select(TaskCandidate.key).where(TaskCandidate.task_id == row.id))
            )
            if row.status == "completed":
                assert row.completed_by_id == fb.id and not candidates
            else:
                assert row.status == "open" and row.id in reachable and row.assignee_id is None
    hn.db.dispose()
