"""Steering-group ballots (domain.md §5): electorate, votes, quorum, tie, early close, deadline, minutes."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select

from engine.errors import ConflictError, InvalidSubmissionError, NotFoundError, NotPermittedError
from engine.persistence.models import AuditEvent, BallotElector, BallotTally, BallotVote
from engine.voting_rules import (
    Abstimmungsregeln,
    Auszaehlung,
    Ergebnis,
    Mehrheit,
    Patt,
    decide,
    final_outcome_if_decided,
    load_rules,
)

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
#: The six steering-group members of the demo directory, one per organisation.
MEMBERS = [
    "koordination.jugendamt",
    "koordination.frauenberatung",
    "leitung.polizei",
    "fachkraft.gesundheitsamt",
    "fachkraft.gleichstellung",
    "fachkraft.beratungsstelle",
]


def open_ballot(hn, actor, *, applying_org=None, rules=None, secret=False, days=7):
    return hn.open_ballot(
        "Förderantrag Präventionsprojekt",
        applying_org,
        rules,
        hn.clock.now() + timedelta(days=days),
        secret,
        actor("koordination.jugendamt"),
    )


def vote(hn, actor, ballot_id, *pairs):
    for username, choice in pairs:
        hn.cast_vote(actor(username), ballot_id, choice)


def minutes(hn, actor, ballot_id):
    return hn.ballot_minutes(actor("koordination.jugendamt"), ballot_id)


def test_configured_defaults_are_the_documented_rules():
    rules = load_rules(PROCESSES)
    assert rules == Abstimmungsregeln(Fraction(1, 2), True, Mehrheit.EINFACH, Patt.ABGELEHNT)
    assert "mehr als 1/2" in rules.quorum_label and "einfache Mehrheit" in rules.mehrheit.label


def test_applying_organisation_is_excluded_with_reason_and_outsiders_may_not_vote(hn, actor):
    ballot = open_ballot(hn, actor, applying_org="frauenberatung-soest")
    m = minutes(hn, actor, ballot)
    assert [e.member for e in m.electorate] == MEMBERS
    assert [(e.member, e.exclusion_reason) for e in m.excluded] == [
        ("koordination.frauenberatung", "Mitglied der antragstellenden Organisation")
    ]
    assert m.eligible == 5 and m.status == "offen"
    with pytest.raises(NotPermittedError, match="ausgeschlossen"):
        hn.cast_vote(actor("koordination.frauenberatung"), ballot, "ja")
    with pytest.raises(NotPermittedError, match="nicht zu den Stimmberechtigten"):
        hn.cast_vote(actor("fachkraft.polizei"), ballot, "ja")


def test_only_coordinators_open_and_bad_input_is_refused(hn, actor):
    with pytest.raises(NotPermittedError):
        hn.open_ballot("X", None, None, hn.clock.now() + timedelta(days=1), False, actor("leitung.polizei"))
    with pytest.raises(InvalidSubmissionError) as err:
        hn.open_ballot(" ", "gibt-es-nicht", None, hn.clock.now(), False, actor("koordination.jugendamt"))
    assert set(err.value.field_errors) == {"subject", "deadline", "applying_org"}
    ballot = open_ballot(hn, actor)
    with pytest.raises(InvalidSubmissionError):
        hn.cast_vote(actor("leitung.polizei"), ballot, "vielleicht")
    with pytest.raises(NotFoundError):
        hn.ballot_minutes(actor("fachkraft.jobcenter"), ballot)


def test_a_user_who_gains_the_role_later_is_not_eligible(hn, actor):
    ballot = open_ballot(hn, actor)
    with hn.db.write() as s:
        from engine.persistence.models import User, UserRole

        user = s.scalars(select(User).where(User.username == "fachkraft.jobcenter")).one()
        s.add(UserRole(user_id=user.id, role="Steuerungsgruppe"))
        s.commit()
    with pytest.raises(NotPermittedError):
        hn.cast_vote(actor("fachkraft.jobcenter"), ballot, "ja")
    assert len(minutes(hn, actor, ballot).electorate) == 6


def test_double_vote_is_refused_and_nothing_changes(hn, actor):
    ballot = open_ballot(hn, actor)
    vote(hn, actor, ballot, ("leitung.polizei", "ja"))
    with pytest.raises(ConflictError, match="bereits abgestimmt"):
        hn.cast_vote(actor("leitung.polizei"), ballot, "nein")
    m = minutes(hn, actor, ballot)
    assert m.tally == {"ja": 1, "nein": 0, "enthaltung": 0, "befangen": 0}
    assert [e.choice for e in m.electorate if e.voted] == ["ja"]


def test_early_close_once_accepted_cannot_change(hn, actor):
    ballot = open_ballot(hn, actor)
    vote(hn, actor, ballot, *((u, "ja") for u in MEMBERS[:3]))
    assert minutes(hn, actor, ballot).status == "offen"  # three nein would make it a tie
    vote(hn, actor, ballot, (MEMBERS[3], "ja"))
    m = minutes(hn, actor, ballot)
    assert (m.status, m.closed_how, m.outcome, m.quorum_reached) == (
        "geschlossen",
        "vorzeitig",
        "angenommen",
        True,
    )
    assert m.closed_at == hn.clock.now()
    with pytest.raises(ConflictError, match="bereits geschlossen"):
        hn.cast_vote(actor(MEMBERS[4]), ballot, "nein")


def test_early_close_once_rejected_cannot_change(hn, actor):
    ballot = open_ballot(hn, actor)
    vote(hn, actor, ballot, *((u, "nein") for u in MEMBERS[:3]))
    # still open: if nobody else votes, the quorum is missed (not beschlussfähig) instead of rejected
    assert minutes(hn, actor, ballot).status == "offen"
    vote(hn, actor, ballot, (MEMBERS[3], "nein"))
    m = minutes(hn, actor, ballot)
    assert (m.status, m.closed_how, m.outcome) == ("geschlossen", "vorzeitig", "abgelehnt")
    assert m.outstanding == 2 and m.participation == 4


def test_tie_is_decided_by_the_tie_rule(hn, actor):
    choices = ["ja", "ja", "nein", "nein", "enthaltung", "enthaltung"]
    rejected = open_ballot(hn, actor)
    vote(hn, actor, rejected, *zip(MEMBERS, choices, strict=True))
    m = minutes(hn, actor, rejected)
    assert (m.outcome, m.tie_applied, m.closed_how) == ("abgelehnt", True, "vorzeitig")
    accepted = open_ballot(hn, actor, rules=Abstimmungsregeln(patt=Patt.ANGENOMMEN))
    vote(hn, actor, accepted, *zip(MEMBERS, choices, strict=True))
    assert (minutes(hn, actor, accepted).outcome, minutes(hn, actor, accepted).tie_applied) == (
        "angenommen",
        True,
    )


def test_quorum_missed_at_the_deadline(hn, actor):
    ballot = open_ballot(hn, actor, days=3)
    vote(hn, actor, ballot, (MEMBERS[0], "ja"), (MEMBERS[1], "ja"), (MEMBERS[2], "enthaltung"))
    assert hn.close_due_ballots() == 0
    hn.clock.advance(timedelta(days=3))
    with pytest.raises(ConflictError, match="Frist"):
        hn.cast_vote(actor(MEMBERS[3]), ballot, "ja")
    assert hn.close_due_ballots() == 1 and hn.close_due_ballots() == 0
    m = minutes(hn, actor, ballot)
    assert (m.closed_how, m.outcome, m.quorum_reached, m.tie_applied) == (
        "frist",
        "nicht_beschlussfaehig",
        False,
        False,
    )
    assert m.participation == 3 and m.eligible == 6  # 3 is not more than half of 6


def test_deadline_close_with_quorum(hn, actor):
    ballot = open_ballot(hn, actor, days=3)
    vote(hn, actor, ballot, *zip(MEMBERS, ["ja", "ja", "ja", "nein"], strict=False))
    assert minutes(hn, actor, ballot).status == "offen"  # two more nein would make 3:3
    hn.clock.advance(timedelta(days=4))
    hn.close_due_ballots()
    m = minutes(hn, actor, ballot)
    assert (m.closed_how, m.outcome, m.quorum_reached, m.outstanding) == ("frist", "angenommen", True, 2)


def test_job_runner_closes_due_ballots(hn, actor):
    from engine.jobs import EmbeddedJobRunner

    ballot = open_ballot(hn, actor, days=1)
    hn.clock.advance(timedelta(days=2))
    EmbeddedJobRunner(hn, 1.0).run_once()
    assert minutes(hn, actor, ballot).closed_how == "frist"


def test_conflict_of_interest_leaves_the_count_of_eligible_votes(hn, actor):
    ballot = open_ballot(hn, actor, days=3)
    vote(hn, actor, ballot, (MEMBERS[0], "befangen"), (MEMBERS[1], "ja"), (MEMBERS[2], "ja"))
    m = minutes(hn, actor, ballot)
    assert m.eligible == 5 and [e.member for e in m.befangen] == [MEMBERS[0]]
    hn.clock.advance(timedelta(days=3))
    hn.close_due_ballots()
    m = minutes(hn, actor, ballot)
    assert (m.outcome, m.quorum_reached) == ("nicht_beschlussfaehig", False)  # 2 of 5 is not more than half
    other = open_ballot(hn, actor)
    vote(hn, actor, other, (MEMBERS[0], "befangen"), *((u, "ja") for u in MEMBERS[1:4]))
    m = minutes(hn, actor, other)
    assert (m.status, m.outcome, m.eligible) == ("geschlossen", "angenommen", 5)


def test_substitute_named_before_opening_votes_for_the_member(hn, actor):
    now = hn.clock.now()
    hn.add_absence(
        actor("leitung.polizei"), "fachkraft.polizei", now - timedelta(days=1), now + timedelta(days=9)
    )
    ballot = open_ballot(hn, actor)
    with pytest.raises(NotPermittedError, match="Vertretung"):
        hn.cast_vote(actor("leitung.polizei"), ballot, "ja")
    hn.cast_vote(actor("fachkraft.polizei"), ballot, "nein")
    seat = next(e for e in minutes(hn, actor, ballot).electorate if e.member == "leitung.polizei")
    assert seat.substituted and seat.voter == "fachkraft.polizei" and seat.choice == "nein"
    with hn.db.read() as s:
        row = s.scalars(select(BallotVote).where(BallotVote.ballot_id == ballot)).one()
        assert (row.member_id, row.cast_by_id) == (actor("leitung.polizei").id, actor("fachkraft.polizei").id)
    text = hn.ballot_minutes_text(actor("leitung.polizei"), ballot)  # the represented member may read
    assert "vertreten durch" in text


def test_substitute_named_after_opening_does_not_change_the_electorate(hn, actor):
    ballot = open_ballot(hn, actor)
    now = hn.clock.now()
    hn.add_absence(actor("koordination.jugendamt"), "fachkraft.jugendamt", now, now + timedelta(days=9))
    with pytest.raises(NotPermittedError):
        hn.cast_vote(actor("fachkraft.jugendamt"), ballot, "ja")
    hn.cast_vote(actor("koordination.jugendamt"), ballot, "ja")
    seat = minutes(hn, actor, ballot).electorate[0]
    assert seat.voter == "koordination.jugendamt" and not seat.substituted


def test_secret_ballot_stores_no_link_between_voter_and_choice(hn, actor):
    ballot = open_ballot(hn, actor, secret=True)
    vote(hn, actor, ballot, (MEMBERS[0], "ja"), (MEMBERS[1], "nein"), (MEMBERS[2], "befangen"))
    running = minutes(hn, actor, ballot)
    assert running.tally is None  # no running tally while a secret ballot is open
    assert [e.choice for e in running.electorate if e.voted] == [None, None, "befangen"]
    with hn.db.read() as s:
        assert s.scalars(select(BallotVote.choice).where(BallotVote.ballot_id == ballot)).all() == [
            None,
            None,
            "befangen",
        ]
        assert {c.name for c in inspect(BallotTally).columns} == {"ballot_id", "choice", "count"}
        details = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "stimme_abgegeben")).all()
        assert [d.get("stimme") for d in details] == [None, None, "befangen"]
    vote(hn, actor, ballot, *((u, "ja") for u in MEMBERS[3:5]))  # then nothing can change the result
    m = minutes(hn, actor, ballot)
    assert m.tally == {"ja": 3, "nein": 1, "enthaltung": 0, "befangen": 1} and m.outcome == "angenommen"
    assert "hat abgestimmt (geheim)" in hn.ballot_minutes_text(actor("koordination.jugendamt"), ballot)


def test_open_ballot_records_each_choice_and_every_step_is_audited(hn, actor):
    ballot = open_ballot(hn, actor)
    vote(hn, actor, ballot, *((u, "ja") for u in MEMBERS[:4]))
    with hn.db.read() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("%stimm%"))).all()
        electors = s.scalars(select(BallotElector).where(BallotElector.ballot_id == ballot)).all()
    assert actions == ["abstimmung_eroeffnet", *["stimme_abgegeben"] * 4, "abstimmung_geschlossen"]
    assert len(electors) == 6


def test_minutes_text_is_german_and_complete(hn, actor):
    ballot = open_ballot(hn, actor, applying_org="kreispolizei")
    vote(hn, actor, ballot, *((u, "ja") for u in MEMBERS[:2]), (MEMBERS[3], "nein"), (MEMBERS[4], "ja"))
    text = hn.ballot_minutes_text(actor("koordination.jugendamt"), ballot)
    for expected in (
        "# Protokoll der Abstimmung Nr.",
        "Antragstellende Organisation: Kreispolizeibehörde Soest",
        "ausgeschlossen — Mitglied der antragstellenden Organisation",
        "Beteiligung: 4 von 5",
        "Stimmen: Ja: 3, Nein: 1, Enthaltung: 0, Befangen: 0",
        "Beschlussfähig: ja",
        "vorzeitig",
        "**Beschluss: angenommen**",
    ):
        assert expected in text, expected


# --- rules as pure functions ---------------------------------------------------------------------


def test_two_thirds_rule_and_its_threshold():
    rules = Abstimmungsregeln(mehrheit=Mehrheit.ZWEI_DRITTEL, patt=Patt.ANGENOMMEN)
    assert decide(Auszaehlung(ja=4, nein=1, enthaltung=1), rules).tie_applied  # exactly 2/3
    assert decide(Auszaehlung(ja=4, nein=1, enthaltung=1), rules).outcome is Ergebnis.ANGENOMMEN
    assert decide(Auszaehlung(ja=3, nein=1, enthaltung=1), rules).outcome is Ergebnis.ABGELEHNT
    assert decide(Auszaehlung(ja=5, nein=1), rules).outcome is Ergebnis.ANGENOMMEN


def test_at_least_quorum_and_nobody_eligible():
    at_least = Abstimmungsregeln(quorum_streng=False)
    assert decide(Auszaehlung(ja=3, outstanding=3), at_least).quorum_reached
    assert not decide(Auszaehlung(ja=3, outstanding=3), Abstimmungsregeln()).quorum_reached
    assert final_outcome_if_decided(Auszaehlung(excluded=2), Abstimmungsregeln()) is not None


RULES = st.builds(
    Abstimmungsregeln,
    st.sampled_from([Fraction(0), Fraction(1, 3), Fraction(1, 2), Fraction(2, 3), Fraction(1)]),
    st.booleans(),
    st.sampled_from(list(Mehrheit)),
    st.sampled_from(list(Patt)),
)
CHOICES = st.sampled_from(["ja", "nein", "enthaltung", "befangen", None])  # None: never votes


@settings(max_examples=400, deadline=None)
@given(rules=RULES, ballots=st.lists(CHOICES, min_size=0, max_size=9), excluded=st.integers(0, 2))
def test_early_close_never_changes_the_outcome(rules, ballots, excluded):
    """Votes arrive one by one; wherever the ballot closes early, waiting for every vote (and for
    the deadline, with the non-voters missing) gives the same outcome."""
    counts = {"ja": 0, "nein": 0, "enthaltung": 0, "befangen": 0}
    final_counts = Auszaehlung(
        **{c: ballots.count(c) for c in counts}, outstanding=ballots.count(None), excluded=excluded
    )
    final = decide(final_counts, rules)
    outstanding = len(ballots)
    early = final_outcome_if_decided(Auszaehlung(outstanding=outstanding, excluded=excluded), rules)
    for choice in [c for c in ballots if c is not None]:
        if early is not None:
            break
        counts[choice] += 1
        outstanding -= 1
        early = final_outcome_if_decided(
            Auszaehlung(**counts, outstanding=outstanding, excluded=excluded), rules
        )
    if early is not None:
        assert early.outcome is final.outcome
    if None not in ballots:  # once every vote is in, the ballot is always decided
        assert early is not None


def test_ballot_list_follows_the_minutes_visibility_rule_open_first(hn, actor):
    first = open_ballot(hn, actor, days=3)
    vote(hn, actor, first, *[(m, "ja") for m in MEMBERS[:4]])  # closes early: angenommen
    second = open_ballot(hn, actor, secret=True, days=5)
    hn.cast_vote(actor("leitung.polizei"), second, "nein")
    listed = hn.ballots(actor("leitung.polizei"))
    assert [(b.id, b.status, b.must_vote) for b in listed] == [
        (second, "offen", False),
        (first, "geschlossen", False),
    ]
    assert listed[1].outcome_label == "angenommen"
    assert [b.must_vote for b in hn.ballots(actor("fachkraft.gleichstellung"))] == [True, False]
    assert [b.id for b in hn.ballots(actor("admin"))] == [second, first]
    assert hn.ballots(actor("fachkraft.polizei")) == []
