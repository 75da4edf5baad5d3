"""Two job runners check the second network meeting at the same time, on SQLite and PostgreSQL:
the Koordination is warned once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from engine.netzwerktreffen import WARNING_KIND
from engine.persistence.models import NetworkMeetingWarning, Outbox
from engine.settings import REPO_ROOT
from tests.conftest import build_engine

DEFINITIONS = (REPO_ROOT / "processes", REPO_ROOT / "forms")


def test_two_runners_warn_once(tmp_path, any_db_url, clock):
    hn = build_engine(tmp_path, any_db_url, clock, DEFINITIONS)
    other = build_engine(tmp_path, any_db_url, clock, DEFINITIONS)
    try:
        clock.set(datetime(2026, 10, 1, 8, 0, tzinfo=UTC))
        barrier = threading.Barrier(2)
        results: list[int] = []
        errors: list[BaseException] = []

        def check(engine) -> None:
            try:
                barrier.wait()
                results.append(engine.warn_second_meeting())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=check, args=(e,)) for e in (hn, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert sorted(results) == [0, 1]
        with hn.db.read() as session:
            assert session.scalar(select(func.count()).select_from(NetworkMeetingWarning)) == 1
            kinds = session.scalars(select(Outbox.kind).where(Outbox.kind == WARNING_KIND)).all()
            assert kinds == [WARNING_KIND]
        assert hn.warn_second_meeting() == 0 and other.warn_second_meeting() == 0
    finally:
        hn.db.dispose()
        other.db.dispose()
