"""Minutes (Protokoll) of a steering-group ballot: the structured read model and its German text.

The text is Markdown, readable as plain text; a printable PDF is a later step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.persistence.models import Ballot, BallotElector, BallotVote, Organisation, User
from engine.projection import BERLIN
from engine.read_models import BallotMinutes, ElectorView
from engine.voting import GESCHLOSSEN, counts_of, rules_of
from engine.voting_rules import Ergebnis, Stimme


def minutes_of(session: Session, ballot: Ballot) -> BallotMinutes:
    rules, counts = rules_of(ballot), counts_of(session, ballot.id)
    closed = ballot.status == GESCHLOSSEN
    opener = session.get(User, ballot.opened_by_id) if ballot.opened_by_id else None
    return BallotMinutes(
        id=ballot.id,
        subject=ballot.subject,
        applying_org=_org_name(session, ballot.applying_org),
        secret=ballot.secret,
        status=ballot.status,
        quorum_rule=rules.quorum_label,
        decision_rule=rules.mehrheit.label,
        tie_rule=rules.patt.label,
        opened_at=ballot.opened_at,
        opened_by=opener.display_name if opener else "Prozess",
        deadline=ballot.deadline,
        closed_at=ballot.closed_at,
        closed_how=ballot.closed_how,
        electorate=tuple(_electorate(session, ballot)),
        eligible=counts.eligible,
        participation=counts.participation,
        outstanding=counts.outstanding,
        tally=None if ballot.secret and not closed else {s.value: getattr(counts, s.value) for s in Stimme},
        quorum_reached=ballot.quorum_reached,
        outcome=ballot.outcome,
        outcome_label=Ergebnis(ballot.outcome).label if ballot.outcome else None,
        tie_applied=ballot.tie_applied,
    )


def _org_name(session: Session, slug: str | None) -> str | None:
    if slug is None:
        return None
    return session.scalar(select(Organisation.name).where(Organisation.slug == slug)) or slug


def _electorate(session: Session, ballot: Ballot) -> list[ElectorView]:
    involved = (BallotElector.member_id == User.id) | (BallotElector.voter_id == User.id)
    users = {
        u.id: u
        for u in session.scalars(
            select(User).join(BallotElector, involved).where(BallotElector.ballot_id == ballot.id).distinct()
        )
    }
    votes = {
        v.member_id: v for v in session.scalars(select(BallotVote).where(BallotVote.ballot_id == ballot.id))
    }
    rows = session.scalars(
        select(BallotElector).where(BallotElector.ballot_id == ballot.id).order_by(BallotElector.id)
    )
    views = []
    for row in rows:
        member, voter = users[row.member_id], users.get(row.voter_id or 0)
        vote = votes.get(row.member_id)
        views.append(
            ElectorView(
                member=member.username,
                member_name=member.display_name,
                organisation=member.organisation.name,
                voter=voter.username if voter else None,
                voter_name=voter.display_name if voter else None,
                exclusion_reason=row.exclusion_reason,
                voted=vote is not None,
                choice=vote.choice if vote else None,
            )
        )
    return views


def _when(at: datetime | None) -> str:
    return at.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M") if at else "—"


def render_minutes(m: BallotMinutes) -> str:
    """German Markdown minutes of a ballot (also readable as plain text)."""
    lines = [
        f"# Protokoll der Abstimmung Nr. {m.id}: {m.subject}",
        "",
        f"- Antragstellende Organisation: {m.applying_org or '—'}",
        f"- Art: {'geheime' if m.secret else 'offene'} Abstimmung",
        f"- Eröffnet: {_when(m.opened_at)} durch {m.opened_by}",
        f"- Frist: {_when(m.deadline)}",
        f"- Beschlussfähigkeit: {m.quorum_rule}",
        f"- Entscheidungsregel: {m.decision_rule}",
        f"- Stimmengleichheit: {m.tie_rule}",
        "",
        "## Stimmberechtigte (festgelegt bei Eröffnung)",
        "",
        *_elector_lines(m),
        "",
        "## Ergebnis",
        "",
        *_result_lines(m),
    ]
    return "\n".join(lines) + "\n"


def _elector_lines(m: BallotMinutes) -> list[str]:
    lines = []
    for e in m.electorate:
        who = f"{e.member_name} ({e.organisation})"
        if e.exclusion_reason:
            lines.append(f"- {who}: ausgeschlossen — {e.exclusion_reason}")
            continue
        if e.substituted:
            who += f", vertreten durch {e.voter_name}"
        if e.choice == Stimme.BEFANGEN:
            state = "befangen erklärt, nicht stimmberechtigt"
        elif not e.voted:
            state = "keine Stimme abgegeben"
        elif e.choice:
            state = f"Stimme: {Stimme(e.choice).label}"
        else:
            state = "hat abgestimmt (geheim)"
        lines.append(f"- {who}: {state}")
    return lines


def _result_lines(m: BallotMinutes) -> list[str]:
    if m.status != GESCHLOSSEN:
        return [f"Die Abstimmung läuft noch ({m.participation} von {m.eligible} Stimmen abgegeben)."]
    assert m.tally is not None
    how = "vorzeitig, das Ergebnis stand fest" if m.closed_how == "vorzeitig" else "mit Ablauf der Frist"
    tally = ", ".join(f"{Stimme(k).label}: {v}" for k, v in m.tally.items())
    return [
        f"- Geschlossen: {_when(m.closed_at)} ({how})",
        f"- Stimmberechtigt: {m.eligible}, ausgeschlossen: {len(m.excluded)}, befangen: {len(m.befangen)}",
        f"- Beteiligung: {m.participation} von {m.eligible}",
        f"- Stimmen: {tally}",
        f"- Beschlussfähig: {'ja' if m.quorum_reached else 'nein'}",
        f"- Stimmengleichheit angewandt: {'ja' if m.tie_applied else 'nein'}",
        f"- **Beschluss: {m.outcome_label}**",
    ]
