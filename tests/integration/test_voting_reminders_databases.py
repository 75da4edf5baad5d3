"""Two runners reminding ballot electors at the same time, on SQLite and PostgreSQL: each ballot once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from engine.persistence.models import AuditEvent, Ballot, Notification, Outbox
from tests.conftest import actor_lookup, build_engine


def run_together(engines, rounds: int = 3) -> list[int]:
    """Every engine calls ``send_ballot_reminders`` ``rounds`` times, all starting at once."""
    barrier = threading.Barrier(len(engines))
    counts: list[int] = []
    errors: list[BaseException] = []

    def work(engine) -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                counts.append(engine.send_ballot_reminders())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return counts


def test_concurrent_runners_remind_each_ballot_once(tmp_path, any_db_url, clock, definitions):
    hn = build_engine(tmp_path, any_db_url, clock, definitions)
    other = build_engine(tmp_path, any_db_url, clock, definitions)
    try:
        coordinator = actor_lookup(hn)("koordination.jugendamt")
        deadline = clock.now() + timedelta(days=3)
        ballots = [
            hn.open_ballot(f"Förderantrag {n}", None, None, deadline, n % 2 == 0, coordinator)
            for n in range(6)
        ]
        hn.deliver_outbox()
        clock.advance(timedelta(days=2))  # default erinnerung.vorlauf: one day before the deadline
        assert sum(run_together([hn, other])) == 6
        with hn.db.read() as session:
            kinds = Counter(session.scalars(select(Outbox.kind)))
            reminded = session.scalars(select(Ballot.reminded_at).where(Ballot.id.in_(ballots))).all()
            audits = Counter(session.scalars(select(AuditEvent.action)))
        assert kinds == Counter({"ballot_opened": 6, "ballot_reminder": 6})
        assert audits["abstimmung_erinnerung"] == 6 and all(r == clock.now() for r in reminded)
        assert hn.deliver_outbox() == 6 and other.deliver_outbox() == 0
        with hn.db.read() as session:
            per_user = Counter(
                session.scalars(select(Notification.user_id).where(Notification.kind == "ballot_reminder"))
            )
        assert sorted(per_user.values()) == [6] * 6  # six members, one reminder per ballot each
        assert hn.send_ballot_reminders() == 0 and other.send_ballot_reminders() == 0
    finally:
        hn.db.dispose()
        other.db.dispose()
