"""Two runners delivering the outbox at the same time, on SQLite and PostgreSQL: each e-mail once."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from engine.persistence.models import EmailDelivery, Notification, Outbox
from tests.conftest import actor_lookup, build_engine


def test_concurrent_delivery_sends_each_mail_once(tmp_path, any_db_url, clock, definitions, smtp):
    hn = build_engine(tmp_path, any_db_url, clock, definitions, smtp_host="127.0.0.1", smtp_port=smtp.port)
    other = build_engine(tmp_path, any_db_url, clock, definitions, smtp_host="127.0.0.1", smtp_port=smtp.port)
    try:
        user = actor_lookup(hn)("fachkraft.frauenberatung")
        for _ in range(6):
            hn.start(user, "kette", {})
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def deliver(engine) -> None:
            try:
                barrier.wait()
                while engine.deliver_outbox(limit=2):
                    pass
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=deliver, args=(e,)) for e in (hn, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(smtp.sink.messages) == 6 * 4
        assert sorted(Counter(smtp.sink.recipients()).values()) == [6, 6, 6, 6]  # 4 recipients × 6 tasks
        with hn.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Notification)) == 24
            assert set(session.scalars(select(EmailDelivery.status))) == {"sent"}
            assert set(session.scalars(select(Outbox.status))) == {"sent"}
        assert hn.deliver_outbox() == 0 and other.deliver_outbox() == 0
    finally:
        hn.db.dispose()
        other.db.dispose()
