"""The retention job erases exactly what the process's periods make due, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.persistence.models import (
    AuditEvent,
    Kontaktdaten,
    Notification,
    ProcessInstance,
    RetentionErasure,
    UserTask,
)
from engine.read_models import Actor
from engine.retention import MARKER, erase_due
from engine.service import Hilfenetz
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn, retention_properties

PERIODS = {
    "falldaten": "P30D",
    "entwuerfe": "P10D",
    "kontaktdaten": "P60D",
    "benachrichtigungen": "P20D",
    "einwilligungen": "P90D",
}
SECRET = "Erika Mustermann, Hauptstraße 3"


def periodic_bpmn(periods: dict[str, str] = PERIODS) -> str:
    block = f"<bpmn:extensionElements><camunda:properties>{retention_properties(periods)}"
    return chain_bpmn(tasks=1).replace(
        'isExecutable="true">',
        f'isExecutable="true">{block}</camunda:properties></bpmn:extensionElements>',
        1,
    )


@pytest.fixture
def hn(engine_for: Callable[..., Hilfenetz], any_db_url: str) -> Hilfenetz:
    return engine_for({"kette": periodic_bpmn()}, url=any_db_url)


def _finished_case(hn: Hilfenetz, user: Actor) -> int:
    """One completed instance with a secret in its data, a draft, contact data and a notification."""
    instance_id = hn.start(user, "kette", {})
    task = hn.worklist(user, WorklistQuery(view="alle")).tasks[0]
    hn.complete(user, task.id, {"notiz": SECRET})
    now = hn.clock.now()
    with hn.db.write() as session:
        session.execute(
            UserTask.__table__.update()
            .where(UserTask.instance_id == instance_id)
            .values(draft={"notiz": SECRET}, context_label=SECRET)
        )
        session.add(
            Kontaktdaten(
                instance_id=instance_id,
                recorded_at=now,
                recorded_by_org=user.organisation,
                consent_date="2026-01-05",
                recipients=[user.organisation],
                fields={"values": {"name": SECRET}, "labels": {"name": "Name"}},
                retention_until=now + timedelta(days=365),
            )
        )
        session.add(
            Notification(
                user_id=user.id, created_at=now, kind="aufgabe", instance_id=instance_id, title="Aufgabe 1"
            )
        )
        session.commit()
    return instance_id


def _erase_now(hn: Hilfenetz) -> int:
    """The job's core without its once-a-day guard (the tight boundaries are hours apart)."""
    with hn.db.write() as session:
        count, finished = erase_due(session, hn.clock.now(), 100)
        session.commit()
    assert finished
    return count


def _erased(hn: Hilfenetz) -> set[tuple[int, str]]:
    with hn.db.read() as session:
        return {(r.instance_id, r.category) for r in session.scalars(select(RetentionErasure))}


def _row(hn: Hilfenetz, instance_id: int) -> dict[str, Any]:
    with hn.db.read() as session:
        row = session.get(ProcessInstance, instance_id)
        assert row is not None
        draft = session.scalars(select(UserTask.draft).where(UserTask.instance_id == instance_id)).first()
        contact = session.scalars(select(Kontaktdaten).where(Kontaktdaten.instance_id == instance_id)).one()
        notes = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.instance_id == instance_id)
        )
        return {
            "state": json.dumps(json.loads(row.state), ensure_ascii=False),
            "title": row.title,
            "draft": draft,
            "contact": contact.fields,
            "notifications": notes,
        }


def test_the_job_erases_exactly_what_is_due_and_logs_it_without_data(
    hn: Hilfenetz, clock: ManualClock
) -> None:
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    first = _finished_case(hn, user)
    clock.advance(timedelta(days=1))
    second = _finished_case(hn, user)  # ended one day later
    running = hn.start(user, "kette", {})

    clock.advance(timedelta(days=9, hours=-1))  # first ended 10 days minus 1 hour ago
    assert _erase_now(hn) == 0
    assert _erased(hn) == set()

    clock.advance(timedelta(hours=2))  # first: drafts due (10 days +1 h); second: 9 days +1 h
    assert _erase_now(hn) == 1
    assert _erased(hn) == {(first, "entwuerfe")}
    one, two = _row(hn, first), _row(hn, second)
    assert one["draft"] is None and two["draft"] == {"notiz": SECRET}
    assert SECRET in one["state"] and one["contact"]["values"]["name"] == SECRET  # other categories untouched
    assert one["notifications"] == 1

    assert _erase_now(hn) == 0  # nothing is erased twice
    assert hn.apply_retention() == 0

    with hn.db.read() as session:
        entries = [
            (e.instance_id, e.detail)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "aufbewahrung_geloescht"))
        ]
    assert entries == [(first, {"kategorie": "entwuerfe", "frist": "P10D", "anzahl": 1})]

    clock.advance(timedelta(days=21))  # first: 31 days (falldaten, notifications); second: 30 days +1 h
    assert hn.apply_retention() == 5
    assert hn.apply_retention() == 0  # once a day
    assert _erased(hn) == {
        (first, "entwuerfe"),
        (first, "falldaten"),
        (first, "benachrichtigungen"),
        (second, "entwuerfe"),
        (second, "falldaten"),
        (second, "benachrichtigungen"),
    }
    one = _row(hn, first)
    assert SECRET not in one["state"] and MARKER in one["state"]
    assert one["title"] == f"Vorgang #{first} (Daten gelöscht)"
    assert one["notifications"] == 0
    assert one["contact"]["values"]["name"] == SECRET  # kontaktdaten: 60 days
    assert all(r != running for r, _ in _erased(hn))  # a running case is never due
    detail = hn.instance_detail(user, first)  # the page still renders from the erased state
    assert detail.status == "completed"
    with hn.db.read() as session:
        task_id = session.scalars(select(UserTask.id).where(UserTask.instance_id == first)).first()
    assert task_id is not None
    form_data = hn.task_detail(user, task_id).form_data
    assert SECRET not in json.dumps(form_data, ensure_ascii=False)

    clock.advance(timedelta(days=30))
    assert hn.apply_retention() == 2  # kontaktdaten of both
    assert _row(hn, first)["contact"] == {} and _row(hn, second)["contact"] == {}


def test_the_preview_lists_what_falls_due_within_30_days(hn: Hilfenetz, clock: ManualClock) -> None:
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    first = _finished_case(hn, user)
    dsb = actor_lookup(hn)("datenschutz.kreis")
    soon = hn.retention_preview(dsb, days=25)
    assert [(d.instance_id, d.category) for d in soon] == [
        (first, "entwuerfe"),
        (first, "benachrichtigungen"),
    ]
    assert soon[0].due_at == clock.now() + timedelta(days=10)
    assert _erased(hn) == set()  # a preview changes nothing
    with pytest.raises(Exception, match="Löschvorschau"):
        hn.retention_preview(user)


def test_two_runners_at_once_erase_each_category_once(
    hn: Hilfenetz, engine_for: Callable[..., Hilfenetz], any_db_url: str, clock: ManualClock
) -> None:
    other = engine_for({"kette": periodic_bpmn()}, url=any_db_url)
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    cases = [_finished_case(hn, user) for _ in range(4)]
    clock.advance(timedelta(days=91))
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def work(engine: Hilfenetz) -> None:
        try:
            barrier.wait()
            counts.extend(engine.apply_retention() for _ in range(2))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in (hn, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(counts) == len(cases) * len(PERIODS)
    assert _erased(hn) == {(c, k) for c in cases for k in PERIODS}
    with hn.db.read() as session:
        logged = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "aufbewahrung_geloescht")
        )
    assert logged == len(cases) * len(PERIODS)
