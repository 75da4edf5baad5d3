"""Two runners writing due-date reminders at the same time, on SQLite and PostgreSQL: each once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from engine.persistence.models import AuditEvent, Outbox, UserTask
from tests.conftest import actor_lookup, build_engine


def run_together(engines, rounds: int = 3) -> list[int]:
    """Every engine calls ``send_due_reminders`` ``rounds`` times, all starting at once."""
    barrier = threading.Barrier(len(engines))
    counts: list[int] = []
    errors: list[BaseException] = []

    def work(engine) -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                counts.append(engine.send_due_reminders())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return counts


def test_concurrent_runners_remind_and_escalate_each_task_once(tmp_path, any_db_url, clock, definitions):
    hn = build_engine(tmp_path, any_db_url, clock, definitions)
    other = build_engine(tmp_path, any_db_url, clock, definitions)
    try:
        user = actor_lookup(hn)("fachkraft.frauenberatung")
        for _ in range(8):
            hn.start(user, "kette", {})
        clock.advance(timedelta(days=2))
        assert sum(run_together([hn, other])) == 8
        clock.advance(timedelta(days=1))
        assert sum(run_together([hn, other])) == 8
        with hn.db.read() as session:
            kinds = Counter(session.scalars(select(Outbox.kind)))
            tasks = session.execute(select(UserTask.reminded_at, UserTask.escalated_at)).all()
            audits = Counter(session.scalars(select(AuditEvent.action)))
        assert kinds == Counter({"task_created": 8, "task_reminder": 8, "task_escalated": 8})
        assert audits["task_reminder_sent"] == 8 and audits["task_escalated"] == 8
        assert all(t.reminded_at is not None and t.escalated_at is not None for t in tasks)
        assert hn.send_due_reminders() == 0 and other.send_due_reminders() == 0
    finally:
        hn.db.dispose()
        other.db.dispose()
