"""Steering-group ballots (Abstimmungen der Steuerungsgruppe, domain.md §5) — queries and steps.

* The electorate is fixed when the ballot opens: every active user with the role
  ``Steuerungsgruppe``; a member absent at that moment with a named substitute is represented by
  the substitute (both are recorded); members of the applying organisation are excluded, with the
  reason stored. The rows never change afterwards.
* Every vote is stored as it is cast (``ballot_vote``, unique per member) and counted in
  ``ballot_tally`` in the same transaction. A secret ballot keeps ja/nein/enthaltung only in the
  tally, which holds neither voter nor time.
* Each vote locks the ballot row (``FOR UPDATE``; SQLite writers queue with ``BEGIN IMMEDIATE``), so
  early close sees every vote; the unique constraint still refuses a second row if anything slips.

Helpers here never commit; the use cases in :mod:`engine.service` do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import ConflictError, InvalidSubmissionError, NotFoundError, NotPermittedError
from engine.persistence.models import (
    Absence,
    Ballot,
    BallotElector,
    BallotTally,
    BallotVote,
    Organisation,
    Outbox,
    User,
    UserRole,
)
from engine.read_models import Actor, BallotSummary
from engine.runtime import audit
from engine.voting_rules import (
    Abstimmungsregeln,
    Auszaehlung,
    Beschluss,
    Ergebnis,
    Stimme,
    decide,
    final_outcome_if_decided,
)

STEUERUNGSGRUPPE = "Steuerungsgruppe"
#: Roles that may open ballots and read every ballot's minutes.
OPENERS = ("Koordination",)
READERS = ("Koordination", "Steuerungsgruppe", "Administration")
EXCLUDED_APPLICANT = "Mitglied der antragstellenden Organisation"
OFFEN, GESCHLOSSEN = "offen", "geschlossen"
#: Outbox kinds: the electors are told when a ballot opens and reminded before its deadline.
BALLOT_OPENED, BALLOT_REMINDER = "ballot_opened", "ballot_reminder"
VORZEITIG, FRIST = "vorzeitig", "frist"
CLOSED = "Die Abstimmung ist bereits geschlossen; es kann nicht mehr abgestimmt werden."
EXPIRED = "Die Frist dieser Abstimmung ist abgelaufen; es kann nicht mehr abgestimmt werden."
MAX_DOCUMENTS, MAX_LABEL, MAX_VALUE = 50, 200, 20_000
ALREADY_VOTED = "Für {member} wurde bereits abgestimmt. Eine abgegebene Stimme kann nicht geändert werden."


def open_ballot(
    session: Session,
    now: datetime,
    *,
    subject: str,
    applying_org: str | None,
    rules: Abstimmungsregeln,
    deadline: datetime,
    secret: bool,
    opened_by: Actor | None,
    instance_id: int | None = None,
    documents: Sequence[Mapping[str, Any]] | None = None,
) -> Ballot:
    """Open a ballot and fix its electorate now (``opened_by`` None: a process step opened it).

    ``documents`` is the application as the electors see it (``[{"label": …, "value": …}]``); it is
    copied, so later changes to the process data do not change what was voted on.
    """
    if opened_by is not None and not any(opened_by.has_role(r) for r in OPENERS):
        raise NotPermittedError("Nur die Koordination kann eine Abstimmung der Steuerungsgruppe eröffnen.")
    _check_opening(session, now, subject, applying_org, deadline)
    ballot = Ballot(
        subject=subject.strip(),
        applying_org=applying_org,
        instance_id=instance_id,
        secret=secret,
        rules=rules.to_json(),
        status=OFFEN,
        opened_at=now,
        opened_by_id=opened_by.id if opened_by else None,
        deadline=deadline,
        documents=checked_documents(documents) if documents else None,
    )
    session.add(ballot)
    session.flush()
    electorate = fix_electorate(session, now, ballot)
    session.add_all(BallotTally(ballot_id=ballot.id, choice=s.value, count=0) for s in Stimme)
    session.flush()
    audit(
        session,
        now,
        opened_by,
        "abstimmung_eroeffnet",
        instance_id,
        detail={
            "abstimmung": ballot.id,
            "gegenstand": ballot.subject,
            "geheim": secret,
            "frist": deadline.isoformat(),
            "stimmberechtigt": sum(1 for e in electorate if e.voter_id is not None),
            "ausgeschlossen": sum(1 for e in electorate if e.voter_id is None),
        },
    )
    if not close_if_decided(session, now, ballot, opened_by):
        tell_electors(session, now, ballot, BALLOT_OPENED)
    return ballot


def tell_electors(session: Session, now: datetime, ballot: Ballot, kind: str) -> None:
    """Queue the in-app notification and e-mail to the electors (delivered from the outbox)."""
    session.add(
        Outbox(created_at=now, kind=kind, status="pending", attempts=0, payload={"ballot_id": ballot.id})
    )


def _check_opening(
    session: Session, now: datetime, subject: str, applying_org: str | None, deadline: datetime
) -> None:
    errors = {}
    if not subject.strip():
        errors["subject"] = "Bitte geben Sie den Gegenstand der Abstimmung an."
    if deadline <= now:
        errors["deadline"] = "Die Frist muss in der Zukunft liegen."
    if (
        applying_org is not None
        and session.scalar(select(Organisation.id).where(Organisation.slug == applying_org)) is None
    ):
        errors["applying_org"] = f"Unbekannte Organisation „{applying_org}“."
    if errors:
        raise InvalidSubmissionError("Die Abstimmung kann so nicht eröffnet werden.", errors)


def checked_documents(documents: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The documents as plain ``{"label", "value"}`` strings; numbers become text, other types are refused."""
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidSubmissionError(
            f"Eine Abstimmung kann höchstens {MAX_DOCUMENTS} Unterlagen zeigen.", {"documents": "Zu viele."}
        )
    checked = []
    for number, item in enumerate(documents, start=1):
        label = item.get("label") if isinstance(item, Mapping) else None
        value = item.get("value") if isinstance(item, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(label, str) or not label.strip() or not isinstance(value, str):
            raise InvalidSubmissionError(
                f"Unterlage Nr. {number} braucht eine Bezeichnung und einen Text als Inhalt.",
                {"documents": f"Unterlage Nr. {number} ist unvollständig."},
            )
        if len(label) > MAX_LABEL or len(value) > MAX_VALUE:
            raise InvalidSubmissionError(
                f"Unterlage Nr. {number} ist zu lang (Bezeichnung höchstens {MAX_LABEL}, "
                f"Inhalt höchstens {MAX_VALUE} Zeichen).",
                {"documents": f"Unterlage Nr. {number} ist zu lang."},
            )
        checked.append({"label": label.strip(), "value": value})
    return checked


def fix_electorate(session: Session, now: datetime, ballot: Ballot) -> list[BallotElector]:
    """Store one row per steering-group member; substitutes and exclusions as of ``now``."""
    members = session.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(UserRole.role == STEUERUNGSGRUPPE, User.active.is_(True), Organisation.active.is_(True))
        .order_by(User.id)
    ).all()
    rows = []
    for member in members:
        org = member.organisation.slug
        if org == ballot.applying_org:
            row = BallotElector(member_id=member.id, voter_id=None, exclusion_reason=EXCLUDED_APPLICANT)
        else:
            substitute = substitute_of(session, member.id, now)
            row = BallotElector(member_id=member.id, voter_id=(substitute or member).id)
        row.ballot_id, row.organisation = ballot.id, org
        rows.append(row)
    session.add_all(rows)
    return rows


def substitute_of(session: Session, member_id: int, now: datetime) -> User | None:
    """The active substitute named in an absence of the member that is running ``now``."""
    return session.scalars(
        select(User)
        .join(Absence, Absence.substitute_id == User.id)
        .where(
            Absence.user_id == member_id,
            Absence.starts_at <= now,
            Absence.ends_at > now,
            User.active.is_(True),
        )
        .order_by(Absence.starts_at.desc(), Absence.id.desc())
    ).first()


def lock_ballot(session: Session, ballot_id: int) -> Ballot:
    ballot = session.scalars(select(Ballot).where(Ballot.id == ballot_id).with_for_update()).first()
    if ballot is None:
        raise NotFoundError("Abstimmung nicht gefunden.")
    return ballot


def cast_vote(
    session: Session, now: datetime, actor: Actor, ballot_id: int, choice: str, member: str | None
) -> Ballot:
    """Record one vote (and close early if the outcome can no longer change)."""
    ballot = lock_ballot(session, ballot_id)
    if ballot.status != OFFEN:
        raise ConflictError(CLOSED)
    if now >= ballot.deadline:
        raise ConflictError(EXPIRED)
    stimme = _parse_choice(choice)
    elector = _elector_for(session, actor, ballot.id, member)
    member_user = session.get(User, elector.member_id)
    assert member_user is not None
    same_member = (BallotVote.ballot_id == ballot.id) & (BallotVote.member_id == elector.member_id)
    if session.scalar(select(BallotVote.id).where(same_member)):
        raise ConflictError(ALREADY_VOTED.format(member=member_user.display_name))
    stored = stimme.value if (not ballot.secret or stimme is Stimme.BEFANGEN) else None
    vote = BallotVote(ballot_id=ballot.id, member_id=elector.member_id, cast_by_id=actor.id, cast_at=now)
    vote.choice = stored
    session.add(vote)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent submit won the race
        raise ConflictError(ALREADY_VOTED.format(member=member_user.display_name)) from exc
    session.execute(
        update(BallotTally)
        .where(BallotTally.ballot_id == ballot.id, BallotTally.choice == stimme.value)
        .values(count=BallotTally.count + 1)
    )
    detail: dict[str, object] = {"abstimmung": ballot.id, "mitglied": member_user.display_name}
    if elector.member_id != actor.id:
        detail["vertreten_durch"] = actor.display_name
    if stored is not None:
        detail["stimme"] = stored
    audit(session, now, actor, "stimme_abgegeben", ballot.instance_id, detail=detail)
    close_if_decided(session, now, ballot, actor)
    return ballot


def _parse_choice(choice: str) -> Stimme:
    try:
        return Stimme(choice)
    except ValueError:
        raise InvalidSubmissionError(
            "Bitte wählen Sie Ja, Nein, Enthaltung oder Befangen.", {"choice": "Ungültige Stimme."}
        ) from None


def _elector_for(session: Session, actor: Actor, ballot_id: int, member: str | None) -> BallotElector:
    """The electorate row this actor votes for (own seat or as substitute)."""
    rows = session.execute(
        select(BallotElector, User.username)
        .join(User, User.id == BallotElector.member_id)
        .where(BallotElector.ballot_id == ballot_id, BallotElector.voter_id == actor.id)
    ).all()
    if member is not None:
        rows = [r for r in rows if r[1] == member]
    elif len(rows) > 1:
        rows = [r for r in rows if r[0].member_id == actor.id] or rows
    if len(rows) == 1:
        return rows[0][0]
    if len(rows) > 1:
        raise InvalidSubmissionError(
            "Sie vertreten mehrere Mitglieder. Bitte wählen Sie, für wen Sie abstimmen.",
            {"member": "Bitte Mitglied wählen."},
        )
    raise NotPermittedError(_not_elector_reason(session, actor, ballot_id))


def _not_elector_reason(session: Session, actor: Actor, ballot_id: int) -> str:
    own = session.scalars(
        select(BallotElector).where(BallotElector.ballot_id == ballot_id, BallotElector.member_id == actor.id)
    ).first()
    if own is not None and own.exclusion_reason:
        return f"Sie sind von dieser Abstimmung ausgeschlossen ({own.exclusion_reason})."
    if own is not None and own.voter_id is not None:
        voter = session.get(User, own.voter_id)
        name = voter.display_name if voter else "Ihre Vertretung"
        return f"Für Sie stimmt in dieser Abstimmung Ihre Vertretung ({name}) ab."
    return "Sie gehören nicht zu den Stimmberechtigten dieser Abstimmung."


def counts_of(session: Session, ballot_id: int) -> Auszaehlung:
    rows = session.execute(
        select(BallotTally.choice, BallotTally.count).where(BallotTally.ballot_id == ballot_id)
    ).all()
    tally = {choice: count for choice, count in rows}
    seats = session.scalar(
        select(func.count()).where(BallotElector.ballot_id == ballot_id, BallotElector.voter_id.is_not(None))
    )
    excluded = session.scalar(
        select(func.count()).where(BallotElector.ballot_id == ballot_id, BallotElector.voter_id.is_(None))
    )
    cast = session.scalar(select(func.count()).where(BallotVote.ballot_id == ballot_id))
    return Auszaehlung(
        ja=tally.get(Stimme.JA, 0),
        nein=tally.get(Stimme.NEIN, 0),
        enthaltung=tally.get(Stimme.ENTHALTUNG, 0),
        befangen=tally.get(Stimme.BEFANGEN, 0),
        outstanding=int(seats or 0) - int(cast or 0),
        excluded=int(excluded or 0),
    )


def rules_of(ballot: Ballot) -> Abstimmungsregeln:
    return Abstimmungsregeln.from_json(ballot.rules)


def close_if_decided(session: Session, now: datetime, ballot: Ballot, actor: Actor | None) -> bool:
    """Close now when no outstanding vote can change the outcome (vorzeitig)."""
    session.flush()
    result = final_outcome_if_decided(counts_of(session, ballot.id), rules_of(ballot))
    if result is None:
        return False
    close(session, now, ballot, result, VORZEITIG, actor)
    return True


def close_at_deadline(session: Session, now: datetime, ballot: Ballot) -> None:
    close(session, now, ballot, decide(counts_of(session, ballot.id), rules_of(ballot)), FRIST, None)


def close(
    session: Session, now: datetime, ballot: Ballot, result: Beschluss, how: str, actor: Actor | None
) -> None:
    ballot.status, ballot.closed_at, ballot.closed_how = GESCHLOSSEN, now, how
    ballot.outcome = result.outcome.value
    ballot.quorum_reached, ballot.tie_applied = result.quorum_reached, result.tie_applied
    audit(
        session,
        now,
        actor,
        "abstimmung_geschlossen",
        ballot.instance_id,
        detail={
            "abstimmung": ballot.id,
            "ergebnis": ballot.outcome,
            "quorum_erreicht": result.quorum_reached,
            "patt": result.tie_applied,
            "geschlossen": how,
        },
    )


def due_ballot_ids(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Ballot.id).where(Ballot.status == OFFEN, Ballot.deadline <= now).order_by(Ballot.id)
        )
    )


def may_read(session: Session, actor: Actor, ballot_id: int) -> bool:
    if any(actor.has_role(r) for r in READERS):
        return True
    involved = select(BallotElector.id).where(
        BallotElector.ballot_id == ballot_id,
        (BallotElector.member_id == actor.id) | (BallotElector.voter_id == actor.id),
    )
    return session.scalar(involved.limit(1)) is not None


def ballots_for(session: Session, actor: Actor) -> list[BallotSummary]:
    """Ballots the actor may read (same rule as :func:`may_read`), open ones first, newest first."""
    query = select(Ballot)
    if not any(actor.has_role(r) for r in READERS):
        involved = select(BallotElector.ballot_id).where(
            (BallotElector.member_id == actor.id) | (BallotElector.voter_id == actor.id)
        )
        query = query.where(Ballot.id.in_(involved))
    ballots = session.scalars(query.order_by(Ballot.status.desc(), Ballot.deadline, Ballot.id.desc())).all()
    pending = _pending_ballot_ids(session, actor)
    return [
        BallotSummary(
            id=b.id,
            subject=b.subject,
            secret=b.secret,
            status=b.status,
            deadline=b.deadline,
            outcome=b.outcome,
            outcome_label=Ergebnis(b.outcome).label if b.outcome else None,
            must_vote=b.status == OFFEN and b.id in pending,
        )
        for b in ballots
    ]


def _pending_ballot_ids(session: Session, actor: Actor) -> set[int]:
    """Ballots with a seat this actor votes for and no vote recorded for it yet."""
    voted = select(BallotVote.id).where(
        BallotVote.ballot_id == BallotElector.ballot_id, BallotVote.member_id == BallotElector.member_id
    )
    rows = session.scalars(
        select(BallotElector.ballot_id).where(BallotElector.voter_id == actor.id, ~voted.exists())
    )
    return set(rows)
