"""Ballot races with real threads on SQLite and PostgreSQL: one vote per member, early close sees all."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.errors import ConflictError
from engine.persistence.models import BallotTally, BallotVote
from tests.conftest import actor_lookup
from tests.integration.test_concurrency import race
from tests.support.bpmn_factory import chain_bpmn

MEMBERS = [
    "koordination.jugendamt",
    "koordination.frauenberatung",
    "leitung.polizei",
    "fachkraft.gesundheitsamt",
    "fachkraft.gleichstellung",
    "fachkraft.beratungsstelle",
]


def _open(hn, actor):
    deadline = hn.clock.now() + timedelta(days=7)
    return hn.open_ballot("Förderantrag", None, None, deadline, False, actor("koordination.jugendamt"))


def _stored(hn, ballot):
    with hn.db.read() as s:
        votes = s.scalar(select(func.count()).where(BallotVote.ballot_id == ballot))
        tally = s.scalar(select(func.sum(BallotTally.count)).where(BallotTally.ballot_id == ballot))
    return votes, tally


def test_concurrent_double_vote_stores_one_vote(engine_for, any_db_url):
    hn = engine_for({"kette": chain_bpmn()}, url=any_db_url)
    actor = actor_lookup(hn)
    member = actor("leitung.polizei")
    for _ in range(5):
        ballot = _open(hn, actor)
        results = race(
            [lambda b=ballot: hn.cast_vote(member, b, "ja"), lambda b=ballot: hn.cast_vote(member, b, "nein")]
        )
        conflicts = [r for r in results if isinstance(r, ConflictError)]
        assert results.count(None) == 1 and len(conflicts) == 1, results
        assert "bereits abgestimmt" in conflicts[0].message
        assert _stored(hn, ballot) == (1, 1)


def test_all_members_at_once_early_close_counts_every_vote(engine_for, any_db_url):
    hn = engine_for({"kette": chain_bpmn()}, url=any_db_url)
    actor = actor_lookup(hn)
    members = [actor(u) for u in MEMBERS]
    ballot = _open(hn, actor)
    results = race([lambda m=m: hn.cast_vote(m, ballot, "ja") for m in members])
    # the fourth ja settles it (4 : at most 2); the ballot is closed for whoever comes later
    assert results.count(None) == 4, results
    assert all(isinstance(r, ConflictError) and "geschlossen" in r.message for r in results if r is not None)
    m = hn.ballot_minutes(members[0], ballot)
    assert (m.status, m.outcome, m.closed_how, m.tally["ja"]) == ("geschlossen", "angenommen", "vorzeitig", 4)
    assert _stored(hn, ballot) == (4, 4)
