"""The running core: start, worklist, complete, claim, release, reassign, Vertretung, timers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import ConflictError, InvalidSubmissionError, NotPermittedError
from engine.service import Hilfenetz
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn, loop_bpmn, timer_bpmn, with_retention


def first_task(hn: Hilfenetz, actor, view: str = "alle"):
    page = hn.worklist(actor, WorklistQuery(view=view))
    assert page.tasks, f"keine Aufgabe in {view} für {actor.username}"
    return page.tasks[0]


def test_start_puts_first_task_in_the_right_group_worklist(hn, actor):
    fachkraft = actor("fachkraft.frauenberatung")
    instance_id = hn.start(fachkraft, "kette", {})
    task = first_task(hn, fachkraft, "gruppe")
    assert task.instance_id == instance_id and task.element_id == "aufgabe_1"
    assert task.due_at == hn.clock.now() + timedelta(days=3)
    assert hn.worklist(actor("fachkraft.polizei"), WorklistQuery()).total == 0
    assert hn.worklist(fachkraft, WorklistQuery()).counts["gruppe"] == 1


def test_complete_validates_drops_unknown_fields_and_moves_on(hn, actor):
    user = actor("fachkraft.frauenberatung")
    hn.start(user, "kette", {})
    task = first_task(hn, user)
    with pytest.raises(InvalidSubmissionError) as err:
        hn.complete(user, task.id, {"anzahl": "-3"})
    assert set(err.value.field_errors) == {"notiz", "anzahl"}
    hn.complete(user, task.id, {"notiz": "erledigt", "approved": True, "_candidates": "x"})
    nxt = first_task(hn, user)
    assert nxt.element_id == "aufgabe_2"
    detail = hn.task_detail(user, nxt.id)
    assert detail.form_data["notiz"] == "erledigt"
    assert "approved" not in detail.form_data and "_candidates" not in detail.form_data


def test_second_submit_is_a_conflict_and_not_a_candidate_is_forbidden(hn, actor):
    user = actor("fachkraft.frauenberatung")
    hn.start(user, "kette", {})
    task = first_task(hn, user)
    with pytest.raises(NotPermittedError):
        hn.complete(actor("fachkraft.polizei"), task.id, {"notiz": "x"})
    hn.complete(user, task.id, {"notiz": "eins"})
    with pytest.raises(ConflictError):
        hn.complete(user, task.id, {"notiz": "zwei"})


def test_runs_to_the_end_event(hn, actor):
    user = actor("fachkraft.frauenberatung")
    instance_id = hn.start(user, "kette", {})
    for _ in range(5):
        hn.complete(user, first_task(hn, user).id, {"notiz": "ok"})
    detail = hn.instance_detail(user, instance_id)
    assert detail.status == "completed" and detail.end_event == "ende"
    assert not detail.open_tasks
    actions = [h.action for h in detail.history]
    assert actions.count("task_completed") == 5 and actions[-1] == "instance_completed"
    assert hn.worklist(user, WorklistQuery(view="erledigt")).total == 5


def test_claim_release_and_claim_conflict(hn, actor):
    lena, sara = actor("fachkraft.frauenberatung"), actor("fachkraft2.frauenberatung")
    hn.start(lena, "kette", {})
    task = first_task(hn, lena)
    hn.claim(lena, task.id)
    assert hn.worklist(lena, WorklistQuery(view="meine")).total == 1
    assert hn.worklist(sara, WorklistQuery()).total == 0
    with pytest.raises(ConflictError):
        hn.claim(sara, task.id)
    with pytest.raises(NotPermittedError):
        hn.complete(sara, task.id, {"notiz": "x"})
    hn.release(lena, task.id)
    assert hn.worklist(sara, WorklistQuery(view="gruppe")).total == 1


def test_leitung_reassigns_within_the_organisation_only(hn, actor):
    lead, lena, sara = (
        actor(n) for n in ("leitung.frauenberatung", "fachkraft.frauenberatung", "fachkraft2.frauenberatung")
    )
    hn.start(lena, "kette", {})
    task = first_task(hn, lena)
    hn.claim(lena, task.id)
    hn.reassign(lead, task.id, "fachkraft2.frauenberatung")
    assert hn.worklist(sara, WorklistQuery(view="meine")).tasks[0].id == task.id
    with pytest.raises(NotPermittedError):
        hn.reassign(lead, task.id, "fachkraft.polizei")
    with pytest.raises(NotPermittedError):
        hn.reassign(lena, task.id, "fachkraft.frauenberatung")


def test_substitute_sees_and_completes_tasks_of_absent_colleague(hn, actor):
    lena, sara = actor("fachkraft.frauenberatung"), actor("fachkraft2.frauenberatung")
    hn.start(lena, "kette", {})
    task = first_task(hn, lena)
    hn.claim(lena, task.id)
    assert hn.worklist(sara, WorklistQuery(view="meine")).total == 0
    now = hn.clock.now()
    hn.add_absence(lena, "fachkraft2.frauenberatung", now - timedelta(hours=1), now + timedelta(days=7))
    assert hn.worklist(sara, WorklistQuery(view="meine")).tasks[0].id == task.id
    hn.complete(sara, task.id, {"notiz": "in Vertretung"})
    with pytest.raises(InvalidSubmissionError):
        hn.add_absence(lena, "fachkraft.polizei", now, now + timedelta(days=1))


def test_worklist_filters_sorts_and_pages(hn, actor):
    user = actor("fachkraft.frauenberatung")
    for _ in range(25):
        hn.start(user, "kette", {})
        hn.clock.advance(timedelta(minutes=1))
    page1 = hn.worklist(user, WorklistQuery(view="gruppe", per_page=10))
    page3 = hn.worklist(user, WorklistQuery(view="gruppe", per_page=10, page=3))
    assert page1.total == 25 and page1.pages == 3 and len(page3.tasks) == 5
    dues = [t.due_at for t in page1.tasks]
    assert dues == sorted(dues)
    newest = hn.worklist(user, WorklistQuery(view="gruppe", sort="erstellt")).tasks[0]
    assert newest.created_at == max(t.created_at for t in page1.tasks + page3.tasks)
    assert hn.worklist(user, WorklistQuery(state="ueberfaellig")).total == 0
    hn.clock.advance(timedelta(days=4))
    overdue = hn.worklist(user, WorklistQuery(state="ueberfaellig"))
    assert overdue.total == 25 and all(t.overdue for t in overdue.tasks)
    assert hn.worklist(user, WorklistQuery(process_key="anderer")).total == 0


def test_timer_fires_only_when_the_clock_says_so(engine_for, clock):
    hn = engine_for({"erinnerung": timer_bpmn()})
    user, lead = actor_lookup(hn)("fachkraft.frauenberatung"), actor_lookup(hn)("leitung.frauenberatung")
    instance_id = hn.start(user, "erinnerung", {})
    assert hn.fire_due_timers() == 0
    clock.advance(timedelta(days=2, seconds=1))
    assert hn.fire_due_timers() == 1
    detail = hn.instance_detail(lead, instance_id)
    assert [t.element_id for t in detail.open_tasks] == ["eskalation"]
    assert "timer_fired" in [h.action for h in detail.history]


def test_loop_past_spiffworkflow_depth_limit_is_marked_stuck(engine_for):
    hn = engine_for({"schleife": loop_bpmn(iterations=1000)})
    coord = actor_lookup(hn)("koordination.jugendamt")
    instance_id = hn.start(coord, "schleife", {})
    detail = hn.instance_detail(coord, instance_id)
    assert detail.status == "stuck", detail.status
    assert "500" in (detail.status_reason or "")
    assert "instance_stuck" in [h.action for h in detail.history]


def test_short_loop_completes_normally(engine_for):
    hn = engine_for({"schleife": loop_bpmn(iterations=20)})
    coord = actor_lookup(hn)("koordination.jugendamt")
    instance_id = hn.start(coord, "schleife", {})
    assert hn.instance_detail(coord, instance_id).status == "running"
    assert first_task(hn, coord).element_id == "fertig"


def test_deploy_is_idempotent_and_versions_change_with_content(hn, tmp_path):
    again = hn.deploy_all()
    assert [p.version for p in again] == [1]
    processes = hn.settings.processes_dir
    (processes / "kette.bpmn").write_text(with_retention(chain_bpmn(tasks=2)), encoding="utf-8")
    assert hn.deploy_file(processes / "kette.bpmn").version == 2


def test_form_data_sent_to_the_browser_holds_only_what_the_form_references(hn, actor):
    user = actor("fachkraft.frauenberatung")
    hn.start(user, "kette", {})
    hn.complete(user, first_task(hn, user).id, {"notiz": "sichtbar", "anzahl": 2})
    data = hn.task_detail(user, first_task(hn, user).id).form_data
    assert data["notiz"] == "sichtbar" and data["anzahl"] == 2
    assert "initiator_user" not in data and "initiator_org" not in data  # not referenced by the form
    assert "organisation_options" in data  # form context stays


def test_a_stale_instance_version_is_a_conflict_and_writes_nothing(hn, actor, monkeypatch):
    """The lock makes this rare; the conditional UPDATE … WHERE lock_version still guards it."""
    user = actor("fachkraft.frauenberatung")
    instance_id = hn.start(user, "kette", {})
    task = first_task(hn, user)
    original = hn.runtime.lock_task

    def stale_lock(session, task_id):
        loaded, row = original(session, task_id)
        loaded.row.lock_version -= 1  # as if someone saved in between
        return loaded, row

    monkeypatch.setattr(hn.runtime, "lock_task", stale_lock)
    with pytest.raises(ConflictError) as err:
        hn.complete(user, task.id, {"notiz": "x"})
    assert "Ihre Eingaben sind nicht verloren" in err.value.message
    monkeypatch.undo()
    detail = hn.instance_detail(user, instance_id)
    assert [t.element_id for t in detail.open_tasks] == ["aufgabe_1"]
    assert [h.action for h in detail.history] == ["instance_started"]
    hn.complete(user, task.id, {"notiz": "jetzt"})


def test_involved_but_not_responsible_users_get_no_task_data(engine_for):
    from tests.support.bpmn_factory import handover_bpmn

    hn = engine_for({"uebergabe": handover_bpmn()})
    look = actor_lookup(hn)
    counsel, police = look("fachkraft.frauenberatung"), look("fachkraft.polizei")
    hn.start(counsel, "uebergabe", {})
    first = first_task(hn, counsel)
    hn.save_draft(counsel, first.id, {"notiz": "Entwurf der Beratung"})
    hn.complete(counsel, first.id, {"notiz": "an die Polizei"})
    police_task = first_task(hn, police)
    hn.save_draft(police, police_task.id, {"notiz": "interner Entwurf der Polizei"})
    # the counsellor is involved in the case and may open the police task, but sees no data
    seen = hn.task_detail(counsel, police_task.id)
    assert not seen.may_complete and "notiz" not in seen.form_data
    mine = hn.task_detail(police, police_task.id)
    assert mine.may_complete and mine.form_data["notiz"] == "interner Entwurf der Polizei"
