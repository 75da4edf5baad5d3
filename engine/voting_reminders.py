"""Telling the electors of a steering-group ballot: when it opens, and once before its deadline.

Both go through the outbox (:mod:`engine.notifications`): an in-app notification for every
recipient and, for those who chose ``sofort``, an e-mail with a neutral subject and only the link.
The recipients are the *voters* (the member, or the substitute fixed at opening); the reminder goes
only to those whose seat has no vote yet when it is delivered.

The reminder runs at most once per ballot, also with several runners: a conditional ``UPDATE …
WHERE reminded_at IS NULL`` claims the ballot, and only the runner whose update changed exactly
one row writes the outbox row and the audit entry — in the same transaction. How long before the
deadline is ``abstimmung.erinnerung_vorlauf`` in ``processes/fristen.json`` (else the network-wide
``erinnerung.vorlauf``; ``aus`` switches it off). A ballot whose reminder moment lies before its
opening gets none: its electors were just told that it opened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from engine.parameters import Fristen
from engine.persistence.models import Ballot, BallotElector, BallotVote, Outbox, User
from engine.runtime import audit
from engine.voting import BALLOT_OPENED, BALLOT_REMINDER, OFFEN

REMINDER_LEAD = "abstimmung.erinnerung_vorlauf"
DEFAULT_LEAD = "erinnerung.vorlauf"
BALLOT_KINDS = (BALLOT_OPENED, BALLOT_REMINDER)
TITLE_LENGTH = 200


def reminder_moment(fristen: Fristen, ballot: Ballot) -> datetime | None:
    """When the electors who have not voted are reminded; None when off or not after the opening."""
    lead = fristen.optional_duration(REMINDER_LEAD, DEFAULT_LEAD)
    if lead is None:
        return None
    moment = ballot.deadline - lead
    return moment if moment > ballot.opened_at else None


def send_ballot_reminders(session: Session, fristen: Fristen, now: datetime) -> int:
    """Queue the reminders that are due now, each ballot at most once; returns how many. No commit."""
    lead = fristen.optional_duration(REMINDER_LEAD, DEFAULT_LEAD)
    if lead is None:
        return 0
    due = session.scalars(
        select(Ballot)
        .where(
            Ballot.status == OFFEN,
            Ballot.reminded_at.is_(None),
            Ballot.deadline > now,
            Ballot.deadline <= now + lead,
        )
        .order_by(Ballot.id)
    ).all()
    sent = 0
    for ballot in due:
        moment = reminder_moment(fristen, ballot)
        if moment is not None and moment <= now:
            sent += _claim(session, ballot, now)
    return sent


def _claim(session: Session, ballot: Ballot, now: datetime) -> int:
    """Mark the ballot as reminded; only the runner that changed the row writes outbox and audit."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Ballot)
            .where(Ballot.id == ballot.id, Ballot.status == OFFEN, Ballot.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return 0
    session.add(
        Outbox(
            created_at=now,
            kind=BALLOT_REMINDER,
            status="pending",
            attempts=0,
            payload={"ballot_id": ballot.id},
        )
    )
    outstanding = len(voters(session, ballot.id, only_outstanding=True))
    audit(
        session,
        now,
        None,
        "abstimmung_erinnerung",
        ballot.instance_id,
        detail={"abstimmung": ballot.id, "frist": ballot.deadline.isoformat(), "ausstehend": outstanding},
    )
    return 1


def voters(session: Session, ballot_id: int, *, only_outstanding: bool) -> list[User]:
    """The active users who vote in this ballot (members or substitutes), each once, by id.

    ``only_outstanding``: only those with a seat that has no vote yet.
    """
    seats = select(BallotElector.voter_id).where(BallotElector.ballot_id == ballot_id)
    if only_outstanding:
        voted = select(BallotVote.id).where(
            BallotVote.ballot_id == BallotElector.ballot_id, BallotVote.member_id == BallotElector.member_id
        )
        seats = seats.where(~voted.exists())
    query = select(User).where(User.id.in_(seats), User.active.is_(True)).order_by(User.id)
    return list(session.scalars(query))


def ballot_recipients(session: Session, ballot: Ballot, kind: str) -> list[User]:
    """Who is told now: nobody once the ballot closed; every voter when it opened; for the
    reminder the voters whose seat still has no vote."""
    if ballot.status != OFFEN:
        return []
    return voters(session, ballot.id, only_outstanding=kind == BALLOT_REMINDER)


def notification_title(ballot: Ballot) -> str:
    """The in-app title: the ballot's number and subject (never case data: shown only to electors)."""
    title = f"Abstimmung Nr. {ballot.id}: {ballot.subject}"
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1] + "…"
