"""Modellierung (issue 5) on SQLite and PostgreSQL: drafts, check, four-eyes approval (also a second
click), deployment as a new version, instance migration after a dry run, and the audit trail."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.errors import ConflictError, InvalidDefinitionError, InvalidSubmissionError, NotPermittedError
from engine.persistence.models import (
    AuditEvent,
    ModelDraft,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    UserTask,
)
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import _flow, chain_bpmn, timer_bpmn, user_task, write_definitions

GROUP = "Fachkraft@frauenberatung-soest"
NEW_FORM = json.dumps(
    {
        "type": "default",
        "id": "rueckfrage",
        "components": [{"type": "textfield", "key": "antwort", "label": "Antwort"}],
    }
)


@pytest.fixture
def engine(tmp_path, any_db_url, clock):
    hn = build_engine(
        tmp_path, any_db_url, clock, write_definitions(tmp_path / "defs", {"kette": chain_bpmn(tasks=2)})
    )
    yield hn
    hn.db.dispose()


def versions(hn) -> list[int]:
    with hn.db.read() as session:
        return list(
            session.scalars(
                select(ProcessDefinition.id)
                .where(ProcessDefinition.process_key == "kette")
                .order_by(ProcessDefinition.version)
            )
        )


def actions(hn) -> list[tuple[str, str, dict]]:
    with hn.db.read() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor_name, AuditEvent.detail, AuditEvent.instance_id)
            .where(
                AuditEvent.action.like("modell%")
                | AuditEvent.action.in_(("prozessversion_bereitgestellt", "vorgang_migriert"))
            )
            .order_by(AuditEvent.id)
        ).all()
    return [(r.action, r.actor_name, r.detail or {}) for r in rows]


def open_task(hn, instance_id: int) -> tuple[str, str] | None:
    with hn.db.read() as session:
        row = session.execute(
            select(UserTask.id, UserTask.name).where(
                UserTask.instance_id == instance_id, UserTask.status == "open"
            )
        ).first()
    return (row.id, row.name) if row else None


def definition_of(hn, instance_id: int) -> int:
    with hn.db.read() as session:
        return session.scalars(
            select(ProcessInstance.definition_id).where(ProcessInstance.id == instance_id)
        ).one()


def with_new_step(xml: str, candidates: str = GROUP) -> str:
    """Insert user task „Rückfrage“ with the new form between aufgabe_1 and aufgabe_2."""
    old = '<bpmn:sequenceFlow id="f2" sourceRef="aufgabe_1" targetRef="aufgabe_2"/>'
    assert old in xml
    step = user_task("rueckfrage", "Rückfrage", candidates, "rueckfrage")
    return xml.replace(
        old, step + _flow("f2", "aufgabe_1", "rueckfrage") + _flow("f2b", "rueckfrage", "aufgabe_2")
    )


def test_draft_check_four_eyes_deploy_and_migrate(engine):
    hn = engine
    actor = actor_lookup(hn)
    author, reviewer, lena = (
        actor("koordination.jugendamt"),
        actor("koordination.frauenberatung"),
        actor("fachkraft.frauenberatung"),
    )
    stays, moves = hn.start(lena, "kette", {}), hn.start(lena, "kette", {})
    v1 = versions(hn)[0]

    draft = hn.draft_from_version(author, v1)
    view = hn.model_draft(author, draft)
    assert (view.kind, view.filename, view.state, view.based_on_version) == (
        "bpmn",
        "kette.bpmn",
        "entwurf",
        1,
    )
    # a new step without candidates and a form that does not exist yet: saved, with the problems
    problems = hn.save_model_draft(author, draft, with_new_step(view.content, candidates=""))
    assert {(p.file, p.element) for p in problems} >= {("kette.bpmn", "rueckfrage")}
    assert any("rueckfrage" in p.reason and "fehlt" in p.reason for p in problems)
    with pytest.raises(InvalidDefinitionError) as refused:
        hn.submit_model_draft(author, draft)
    assert refused.value.problems
    form = hn.add_file_to_draft(author, draft, "rueckfrage")
    with pytest.raises(ConflictError):
        hn.upload_model_draft(author, "rueckfrage.form", NEW_FORM.encode(), change_id=draft)
    assert hn.save_model_draft(author, form, NEW_FORM) != []  # the head still lacks candidates
    assert hn.check_model_content(author, draft, with_new_step(view.content)) == []  # not saved …
    assert hn.model_draft(author, draft).content == with_new_step(view.content, candidates="")
    assert hn.save_model_draft(author, draft, with_new_step(view.content)) == []
    hn.submit_model_draft(author, draft)
    with pytest.raises(ConflictError):
        hn.save_model_draft(author, form, NEW_FORM)  # frozen while waiting for approval

    with pytest.raises(NotPermittedError):
        hn.approve_model_draft(author, draft)  # four eyes
    with pytest.raises(NotPermittedError):
        hn.approve_model_draft(lena, draft)  # not Koordination
    assert hn.model_review(author, draft).may_approve is False
    review = hn.model_review(reviewer, draft)
    assert review.may_approve and review.problems == ()
    changes = {(d.filename, c.element_id, c.change) for d in review.diffs for c in d.changes}
    assert {("kette.bpmn", "rueckfrage", "hinzugefuegt"), ("kette.bpmn", "f2b", "hinzugefuegt")} <= changes
    assert ("rueckfrage.form", "antwort", "hinzugefuegt") in changes
    deployed = hn.approve_model_draft(reviewer, draft, "passt")
    with pytest.raises(ConflictError):
        hn.approve_model_draft(reviewer, draft)  # the second click deploys nothing
    assert versions(hn) == [v1, *deployed] and len(deployed) == 1
    assert hn.model_draft(author, form).state == "freigegeben"
    hn.deploy_all()  # a restart (``hilfenetz demo``) keeps what the Koordination approved
    assert versions(hn) == [v1, *deployed]

    fresh = hn.start(lena, "kette", {})
    assert definition_of(hn, fresh) == deployed[0]
    assert definition_of(hn, stays) == definition_of(hn, moves) == v1

    page = hn.migration_page(reviewer, "kette")
    assert [i.instance_id for i in page.instances] == [stays, moves]
    dry = hn.migration_dry_run(reviewer, [moves], deployed[0])
    assert [(o.instance_id, o.ok, o.unmapped, o.migrated) for o in dry] == [(moves, True, (), False)]
    assert definition_of(hn, moves) == v1  # the dry run changes nothing
    [done] = hn.migrate_instances(reviewer, [moves], deployed[0])
    assert done.migrated and (done.from_version, done.to_version) == (1, 2)
    assert definition_of(hn, moves) == deployed[0] and definition_of(hn, stays) == v1
    assert [i.instance_id for i in hn.migration_page(reviewer, "kette").instances] == [stays]
    [again] = hn.migrate_instances(reviewer, [moves], deployed[0])
    assert not again.migrated and again.error

    walked = []
    while (task := open_task(hn, moves)) is not None:
        walked.append(task[1])
        hn.complete(lena, task[0], {"notiz": "erledigt"} if task[1] != "Rückfrage" else {"antwort": "ja"})
    assert walked == ["Aufgabe 1", "Rückfrage", "Aufgabe 2"]
    walked = []
    while (task := open_task(hn, stays)) is not None:
        walked.append(task[1])
        hn.complete(lena, task[0], {"notiz": "erledigt"})
    assert walked == ["Aufgabe 1", "Aufgabe 2"]

    trail = actions(hn)
    names = [a for a, _, _ in trail]
    assert names[0] == "modell_entwurf_angelegt"
    for name in (
        "modell_entwurf_gespeichert",
        "modell_zur_freigabe",
        "modell_freigegeben",
        "prozessversion_bereitgestellt",
        "vorgang_migriert",
    ):
        assert name in names
    approved = next(d for a, _, d in trail if a == "modell_freigegeben")
    assert approved["freigegeben_von"] == "koordination.frauenberatung" and approved["dateien"] == [
        "kette.bpmn",
        "rueckfrage.form",
    ]
    migrated = next((who, d) for a, who, d in trail if a == "vorgang_migriert")
    assert migrated[1] == {"von_version": 1, "nach_version": 2, "prozess": "kette"}


def test_reject_and_unmappable_migration(engine):
    hn = engine
    actor = actor_lookup(hn)
    author, reviewer, lena = (
        actor("koordination.jugendamt"),
        actor("koordination.frauenberatung"),
        actor("fachkraft.frauenberatung"),
    )
    running = hn.start(lena, "kette", {})
    draft = hn.draft_from_version(author, versions(hn)[0])
    xml = hn.model_draft(author, draft).content
    # aufgabe_1, where the instance waits, is removed (a renamed id would still map by its place)
    first = re.search(r'<bpmn:userTask id="aufgabe_1".*?</bpmn:userTask>', xml, re.S)
    assert first is not None
    renamed = xml.replace(first.group(0), "").replace('targetRef="aufgabe_1"', 'targetRef="aufgabe_2"')
    renamed = renamed.replace('<bpmn:sequenceFlow id="f2" sourceRef="aufgabe_1" targetRef="aufgabe_2"/>', "")
    assert hn.save_model_draft(author, draft, renamed) == []
    hn.submit_model_draft(author, draft)
    with pytest.raises(InvalidDefinitionError):
        hn.reject_model_draft(reviewer, draft, "  ")
    assert hn.model_review(reviewer, draft).newer_version is None
    hn.reject_model_draft(reviewer, draft, "Bitte die id nicht ändern.")
    view = hn.model_draft(author, draft)
    assert (view.state, view.review_comment) == ("entwurf", "Bitte die id nicht ändern.")
    hn.submit_model_draft(author, draft)
    [target] = hn.approve_model_draft(reviewer, draft)

    [dry] = hn.migration_dry_run(reviewer, [running], target)
    assert not dry.ok and any("aufgabe_1" in line for line in dry.unmapped)
    [result] = hn.migrate_instances(reviewer, [running], target)
    assert not result.migrated and result.unmapped == dry.unmapped
    assert definition_of(hn, running) == versions(hn)[0]
    assert open_task(hn, running) is not None
    with pytest.raises(InvalidSubmissionError):
        hn.migrate_instances(reviewer, [], target)
    with pytest.raises(NotPermittedError):
        hn.migrate_instances(lena, [running], target)
    assert "modell_abgelehnt" in [a for a, _, _ in actions(hn)]
    stale = hn.draft_from_version(author, versions(hn)[0])  # started from version 1, 2 is live
    hn.save_model_draft(author, stale, xml.replace('name="Aufgabe 2"', 'name="Aufgabe zwei"'))
    hn.submit_model_draft(author, stale)
    review = hn.model_review(reviewer, stale)
    assert review.newer_version == 2 and review.draft.based_on_version == 1
    assert "aufgabe_1" in {c.element_id for d in review.diffs for c in d.changes}  # shown coming back


def test_approval_of_a_stale_review_page_deploys_nothing(engine):
    """B opens the review; the draft goes back to A (rejected by C), A changes it and resubmits;
    B's click on the old page must not deploy what B never saw."""
    hn = engine
    actor = actor_lookup(hn)
    a, b = actor("koordination.jugendamt"), actor("koordination.frauenberatung")
    c = b
    draft = hn.draft_from_version(a, versions(hn)[0])
    xml = hn.model_draft(a, draft).content
    assert hn.save_model_draft(a, draft, xml.replace('name="Aufgabe 2"', 'name="Harmlos"')) == []
    hn.submit_model_draft(a, draft)
    seen = hn.model_review(b, draft)
    assert seen.may_approve and len(seen.revision) == 64
    hn.reject_model_draft(c, draft, "Bitte anders benennen.")  # e.g. from a second tab
    assert hn.save_model_draft(a, draft, xml.replace('name="Aufgabe 2"', 'name="Anders"')) == []
    hn.submit_model_draft(a, draft)
    with pytest.raises(ConflictError) as stale:
        hn.approve_model_draft(b, draft, revision=seen.revision)
    assert "seit dem Öffnen" in stale.value.message
    assert len(versions(hn)) == 1 and hn.model_draft(a, draft).state == "zur_freigabe"
    fresh = hn.model_review(b, draft)
    assert fresh.revision != seen.revision
    [deployed] = hn.approve_model_draft(b, draft, revision=fresh.revision)
    with hn.db.read() as session:
        assert 'name="Anders"' in session.get(ProcessDefinition, deployed).bpmn_xml


def test_new_process_from_scratch_and_hostile_content(engine):
    hn = engine
    actor = actor_lookup(hn)
    author, reviewer = actor("koordination.jugendamt"), actor("koordination.frauenberatung")
    draft = hn.create_model_draft(author, "bpmn", "nachsorge", "Nachsorge")
    assert hn.check_model_draft(author, draft) == []  # the minimal process passes the check
    before = hn.model_draft(author, draft).content
    hostile = {
        "": "leer",
        "kein xml": "wohlgeformt",
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>': "DOCTYPE",
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>': "kein BPMN",
        "<x>" + "a" * 2_100_000 + "</x>": "zu groß",
    }
    for content, hint in hostile.items():
        with pytest.raises(InvalidDefinitionError) as refused:
            hn.save_model_draft(author, draft, content)
        assert refused.value.message, hint
    assert hn.model_draft(author, draft).content == before
    for filename, data in {
        "x.bpmn": b"",
        "x.exe": b"MZ",
        "x.bpmn.exe": b"<x/>",
        "../x.bpmn": b"<x/>",
        "x.form": b"[1, 2]",
        "x.dmn": b"\xff\xfe<\x00",
        "grosse.bpmn": b"<x>" + b"a" * 2_100_000 + b"</x>",
    }.items():
        with pytest.raises(InvalidDefinitionError):
            hn.upload_model_draft(author, filename, data)
    with hn.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ModelDraft)) == 1
    with pytest.raises(InvalidDefinitionError):
        hn.create_model_draft(author, "bpmn", "Böse Kennung")
    with pytest.raises(InvalidDefinitionError, match="gibt es schon"):
        hn.create_model_draft(author, "bpmn", "kette")  # would replace the running process
    notiz = hn.create_model_draft(author, "form", "notiz")  # an existing form: its current content
    assert json.loads(hn.model_draft(author, notiz).content)["id"] == "notiz"
    assert json.loads(hn.model_draft(author, notiz).content)["components"]
    hn.discard_model_draft(author, notiz)
    lone = hn.create_model_draft(author, "form", "niemand_nutzt_mich")  # no process uses it
    [unused] = hn.check_model_draft(author, lone)
    assert unused.file == "niemand_nutzt_mich.form" and "Kein Prozess verwendet" in unused.reason
    with pytest.raises(InvalidDefinitionError):
        hn.submit_model_draft(author, lone)  # refused here, so it never waits for approval forever
    assert hn.model_draft(author, lone).state == "entwurf"
    hn.discard_model_draft(author, lone)
    # modelling tools name files freely: a BPMN upload takes its process id as key
    camunda = chain_bpmn(pid="Process_0x1abc", tasks=1)
    with pytest.raises(InvalidDefinitionError) as refused:
        hn.upload_model_draft(author, "diagram_1.bpmn", camunda.encode())
    assert "Process_0x1abc" in refused.value.message
    uploaded = hn.upload_model_draft(author, "Diagram 1.bpmn", chain_bpmn(pid="beratung", tasks=1).encode())
    assert hn.model_draft(author, uploaded).filename == "beratung.bpmn"
    hn.discard_model_draft(author, uploaded)
    hn.submit_model_draft(author, draft)
    [deployed] = hn.approve_model_draft(reviewer, draft)
    assert [p.key for p in hn.processes(author) if p.definition_id == deployed] == ["nachsorge"]
    assert [p.version for p in hn.deploy_all() if p.key == "nachsorge"] == [1]


@pytest.fixture
def timer_engine(tmp_path, any_db_url, clock):
    defs = write_definitions(tmp_path / "defs", {"erinnerung": timer_bpmn()})
    hn = build_engine(tmp_path, any_db_url, clock, defs)
    yield hn
    hn.db.dispose()


def test_a_running_timer_keeps_its_due_time_when_migrated(timer_engine, clock):
    hn = timer_engine
    actor = actor_lookup(hn)
    author, reviewer = actor("koordination.jugendamt"), actor("koordination.frauenberatung")
    lena = actor("fachkraft.frauenberatung")
    instance = hn.start(lena, "erinnerung", {})
    due = clock.now() + timedelta(days=2)
    clock.advance(timedelta(days=1))
    draft = hn.draft_from_version(author, 1)
    xml = hn.model_draft(author, draft).content
    hn.save_model_draft(author, draft, xml.replace('name="Eskalation"', 'name="Eskalation an die Leitung"'))
    hn.submit_model_draft(author, draft)
    [target] = hn.approve_model_draft(reviewer, draft)
    [done] = hn.migrate_instances(reviewer, [instance], target)
    assert done.migrated
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance)
        assert row is not None and (row.definition_id, row.next_timer_at) == (target, due)
    clock.advance(timedelta(days=1, minutes=1))
    assert hn.fire_due_timers() == 1
    assert open_task(hn, instance) is not None and open_task(hn, instance)[1] == "Eskalation an die Leitung"


def test_two_approvals_at_the_same_moment_deploy_once(engine):
    from tests.integration.test_concurrency import race

    hn = engine
    actor = actor_lookup(hn)
    author = actor("koordination.jugendamt")
    reviewer = actor("koordination.frauenberatung")
    for round_ in range(3):
        draft = hn.draft_from_version(author, versions(hn)[-1])
        xml = hn.model_draft(author, draft).content
        renamed = re.sub(r'name="Aufgabe 2[^"]*"', f'name="Aufgabe 2 ({round_})"', xml)
        assert renamed != xml
        hn.save_model_draft(author, draft, renamed)
        hn.submit_model_draft(author, draft)
        before = len(versions(hn))
        results = race([lambda d=draft: hn.approve_model_draft(reviewer, d)] * 2)
        wins = [r for r in results if isinstance(r, list)]
        assert len(wins) == 1 and isinstance(next(r for r in results if r not in wins), ConflictError)
        assert len(versions(hn)) == before + 1


def _approved_version(hn, author, reviewer, change) -> int:
    """Draft from version 1, apply ``change`` to its XML, submit, approve; the new version's id."""
    draft = hn.draft_from_version(author, versions(hn)[0])
    assert hn.save_model_draft(author, draft, change(hn.model_draft(author, draft).content)) == []
    hn.submit_model_draft(author, draft)
    [target] = hn.approve_model_draft(reviewer, draft)
    return target


def test_an_instance_that_ended_before_the_lock_is_not_migrated(engine, monkeypatch):
    """The first look (without lock) saw it running; under the lock it has ended: refused."""
    import engine.migration_facade as facade

    hn = engine
    actor = actor_lookup(hn)
    author, reviewer = actor("koordination.jugendamt"), actor("koordination.frauenberatung")
    lena = actor("fachkraft.frauenberatung")
    instance = hn.start(lena, "kette", {})
    target = _approved_version(hn, author, reviewer, lambda x: x.replace('name="Aufgabe 2"', 'name="Zwei"'))
    while (task := open_task(hn, instance)) is not None:
        hn.complete(lena, task[0], {"notiz": "erledigt"})
    looks = []
    real = facade._refusal

    def running_at_first_look(row, goal):
        looks.append(row)
        return None if len(looks) == 1 else real(row, goal)

    monkeypatch.setattr(facade, "_refusal", running_at_first_look)
    [result] = hn.migrate_instances(reviewer, [instance], target)
    assert not result.migrated and "läuft nicht mehr" in (result.error or "")
    assert len(looks) == 2 and definition_of(hn, instance) == versions(hn)[0]


def test_a_migrated_open_task_is_routed_like_a_normal_step(engine):
    """The new version names an organisation that does not exist for the waiting step: like a
    normal step it goes to the Koordination instead of to nobody; a named assignee takes it."""
    hn = engine
    actor = actor_lookup(hn)
    author, reviewer = actor("koordination.jugendamt"), actor("koordination.frauenberatung")
    lena = actor("fachkraft.frauenberatung")
    first, second = hn.start(lena, "kette", {}), hn.start(lena, "kette", {})
    unknown = _approved_version(
        hn, author, reviewer, lambda x: x.replace(GROUP, "Fachkraft@gibt-es-nicht", 1)
    )
    [done] = hn.migrate_instances(reviewer, [first], unknown)
    assert done.migrated
    task_id, _ = open_task(hn, first)
    with hn.db.read() as session:
        candidates = session.scalar(select(UserTask.candidates).where(UserTask.id == task_id))
        keys = set(session.scalars(select(TaskCandidate.key).where(TaskCandidate.task_id == task_id)))
    assert candidates == "Koordination@*" and keys == {"Koordination@*"}
    assert "routing_fallback" in [a for (a,) in _instance_actions(hn, first)]

    named = _approved_version(
        hn,
        author,
        reviewer,
        lambda x: x.replace('name="Aufgabe 1"', f'name="Aufgabe 1" camunda:assignee="{lena.username}"'),
    )
    [done] = hn.migrate_instances(reviewer, [second], named)
    assert done.migrated
    task_id, _ = open_task(hn, second)
    with hn.db.read() as session:
        assert session.scalar(select(UserTask.assignee_id).where(UserTask.id == task_id)) == lena.id


def _instance_actions(hn, instance_id: int) -> list[tuple[str]]:
    with hn.db.read() as session:
        return [
            tuple(r)
            for r in session.execute(select(AuditEvent.action).where(AuditEvent.instance_id == instance_id))
        ]


def test_the_review_shows_the_processes_a_form_change_deploys_anew(engine):
    """A lone form change deploys new versions of the processes using it: the review lists them,
    diffed against their latest deployed version (here the shipped file changed on disk since)."""
    hn = engine
    actor = actor_lookup(hn)
    author, reviewer = actor("koordination.jugendamt"), actor("koordination.frauenberatung")
    shipped = hn.source.processes_dir / "kette.bpmn"
    shipped.write_text(
        shipped.read_text(encoding="utf-8").replace('name="Aufgabe 2"', 'name="Auf der Platte"'),
        encoding="utf-8",
    )
    form = hn.create_model_draft(author, "form", "notiz")
    content = json.loads(hn.model_draft(author, form).content)
    content["components"][0]["label"] = "Notiz (neu)"
    assert hn.save_model_draft(author, form, json.dumps(content)) == []
    hn.submit_model_draft(author, form)
    review = hn.model_review(reviewer, form)
    assert [d.filename for d in review.diffs] == ["notiz.form"]
    [kette] = review.redeployed
    assert kette.filename == "kette.bpmn" and not kette.is_new
    assert ("aufgabe_2", "geaendert") in {(c.element_id, c.change) for c in kette.changes}
    [deployed] = hn.approve_model_draft(reviewer, form, revision=review.revision)
    with hn.db.read() as session:
        assert 'name="Auf der Platte"' in session.get(ProcessDefinition, deployed).bpmn_xml


def test_the_migration_page_shows_no_open_steps_of_confidential_cases(tmp_path, any_db_url, clock):
    """Confidential processes hide their cases even from coordinators: the migration page names
    only id, version and start of such an instance, not where the case stands."""
    confidential = re.sub(
        r'(<bpmn:process id="kette"[^>]*>)',
        r"\1<bpmn:extensionElements><camunda:properties>"
        r'<camunda:property name="vertraulich" value="ja"/></camunda:properties></bpmn:extensionElements>',
        chain_bpmn(tasks=2),
    )
    hn = build_engine(
        tmp_path, any_db_url, clock, write_definitions(tmp_path / "defs", {"kette": confidential})
    )
    try:
        actor = actor_lookup(hn)
        author, reviewer = actor("koordination.jugendamt"), actor("koordination.frauenberatung")
        instance = hn.start(actor("fachkraft.frauenberatung"), "kette", {})
        _approved_version(hn, author, reviewer, lambda x: x.replace('name="Aufgabe 2"', 'name="Zwei"'))
        [shown] = hn.migration_page(reviewer, "kette").instances
        assert shown.instance_id == instance and shown.confidential and shown.open_steps == ()
    finally:
        hn.db.dispose()
