"""The ballot step on PostgreSQL: the vote that closes the ballot resumes the process in its
own transaction (savepoint), and a failing follow-up keeps the vote."""

from __future__ import annotations

from pathlib import Path

from tests.support.bpmn_factory import ballot_bpmn
from tests.unit.test_system_steps import (
    ballot_of,
    instance_row,
    make_engine,
    open_tasks,
    submit_application,
    vote,
)


def test_ballot_step_on_postgres(tmp_path: Path, clock, postgres_url: str) -> None:
    hn = make_engine(tmp_path, clock, ballot_bpmn(), url=postgres_url, cache=8)
    instance = submit_application(hn)
    ballot = ballot_of(hn, instance)
    vote(hn, ballot.id, *[(u, "ja") for u in ("koordination.jugendamt", "leitung.polizei")])
    vote(hn, ballot.id, ("fachkraft.gesundheitsamt", "ja"))
    assert [t.element_id for t in open_tasks(hn, instance)] == ["umsetzen"]
    hn.db.dispose()


def test_failing_follow_up_keeps_the_vote_on_postgres(tmp_path: Path, clock, postgres_url: str) -> None:
    hn = make_engine(tmp_path, clock, ballot_bpmn(after="kaputt = 1 / 0"), url=postgres_url)
    instance = submit_application(hn)
    ballot = ballot_of(hn, instance)
    vote(hn, ballot.id, *[(u, "ja") for u in ("koordination.jugendamt", "leitung.polizei")])
    vote(hn, ballot.id, ("fachkraft.gesundheitsamt", "ja"))
    assert ballot_of(hn, instance).outcome == "angenommen"
    assert instance_row(hn, instance).status == "error"
    hn.db.dispose()
