"""Races with real threads on SQLite and PostgreSQL: one running review per organisation, one
agreement review per version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.errors import ConflictError, InvalidSubmissionError
from engine.persistence.models import DirectoryReview, ProcessInstance
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_concurrency import race


@pytest.fixture
def hn(tmp_path: Path, clock: ManualClock, any_db_url: str) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, any_db_url, clock, (REPO_ROOT / "processes", REPO_ROOT / "forms"))
    yield engine
    engine.db.dispose()


def count(hn: Hilfenetz, key: str) -> int:
    with hn.db.read() as session:
        return int(session.scalar(select(func.count()).where(ProcessInstance.process_key == key)) or 0)


def test_two_change_notices_at_once_start_one_review(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)
    data = {"organisation": "kreispolizei", "anlass": "aenderung"}
    results = race(
        [
            lambda: hn.start(actor("fachkraft.polizei"), "verzeichnispflege", data),
            lambda: hn.start(actor("leitung.polizei"), "verzeichnispflege", data),
        ]
    )
    started = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, InvalidSubmissionError | ConflictError)]
    assert len(started) == 1 and len(refused) == 1, results
    assert count(hn, "verzeichnispflege") == 1
    with hn.db.read() as session:
        assert session.scalar(select(DirectoryReview.instance_id)) == started[0]


def test_two_runners_start_the_due_agreement_review_once(hn: Hilfenetz, clock: ManualClock) -> None:
    # first use: both runners find no version row and store the configured original at once
    clock.advance(timedelta(days=301))
    results = race([hn.start_due_agreement_review, hn.start_due_agreement_review])
    assert sorted(r if isinstance(r, int) else -1 for r in results) in ([0, 1], [-1, 1]), results
    assert count(hn, "vereinbarungsueberpruefung") == 1
