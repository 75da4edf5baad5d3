"""Minutes (Protokoll) of a steering-group ballot: the structured read model and its German text.

The text is Markdown, readable as plain text; :mod:`engine.voting_pdf` lays the same content out as PDF.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.persistence.models import Ballot, BallotElector, BallotVote, Organisation, User
from engine.projection import BERLIN
from engine.read_models import BallotDocument, BallotMinutes, ElectorView
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
        instance_id=ballot.instance_id,
        documents=tuple(BallotDocument(d["label"], d["value"]) for d in ballot.documents or ()),
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


def fact_rows(m: BallotMinutes) -> list[tuple[str, str]]:
    """The ballot's facts as (label, text) pairs, shared by the Markdown and the PDF minutes."""
    rows = [
        ("Antragstellende Organisation", m.applying_org or "—"),
        ("Art", f"{'geheime' if m.secret else 'offene'} Abstimmung"),
        ("Eröffnet", f"{_when(m.opened_at)} durch {m.opened_by}"),
        ("Frist", _when(m.deadline)),
        ("Beschlussfähigkeit", m.quorum_rule),
        ("Entscheidungsregel", m.decision_rule),
        ("Stimmengleichheit", m.tie_rule),
    ]
    return rows + ([("Vorgang", f"Nr. {m.instance_id}")] if m.instance_id else [])


def elector_state(e: ElectorView) -> str:
    """How a seat took part: excluded, befangen, not voted, its choice, or only that it voted (secret)."""
    if e.exclusion_reason:
        return f"ausgeschlossen — {e.exclusion_reason}"
    if e.choice == Stimme.BEFANGEN:
        return "befangen erklärt, nicht stimmberechtigt"
    if not e.voted:
        return "keine Stimme abgegeben"
    return f"Stimme: {Stimme(e.choice).label}" if e.choice else "hat abgestimmt (geheim)"


def running_line(m: BallotMinutes) -> str:
    return f"Die Abstimmung läuft noch ({m.participation} von {m.eligible} Stimmen abgegeben)."


def result_rows(m: BallotMinutes) -> list[tuple[str, str]]:
    """The outcome of a closed ballot as (label, text) pairs; the last one is the decision."""
    assert m.tally is not None
    how = "vorzeitig, das Ergebnis stand fest" if m.closed_how == "vorzeitig" else "mit Ablauf der Frist"
    return [
        ("Geschlossen", f"{_when(m.closed_at)} ({how})"),
        ("Stimmberechtigt", f"{m.eligible}, ausgeschlossen: {len(m.excluded)}, befangen: {len(m.befangen)}"),
        ("Beteiligung", f"{m.participation} von {m.eligible}"),
        ("Stimmen", ", ".join(f"{Stimme(k).label}: {v}" for k, v in m.tally.items())),
        ("Beschlussfähig", "ja" if m.quorum_reached else "nein"),
        ("Stimmengleichheit angewandt", "ja" if m.tie_applied else "nein"),
        ("Beschluss", m.outcome_label or "—"),
    ]


def render_minutes(m: BallotMinutes) -> str:
    """German Markdown minutes of a ballot (also readable as plain text)."""
    lines = [
        f"# Protokoll der Abstimmung Nr. {m.id}: {m.subject}",
        "",
        *(f"- {label}: {text}" for label, text in fact_rows(m)),
        "",
        *_document_lines(m),
        "## Stimmberechtigte (festgelegt bei Eröffnung)",
        "",
        *_elector_lines(m),
        "",
        "## Ergebnis",
        "",
        *_result_lines(m),
    ]
    return "\n".join(lines) + "\n"


def _document_lines(m: BallotMinutes) -> list[str]:
    """The application as the electors saw it; each value keeps its lines, indented under its label."""
    if not m.documents:
        return []
    lines = ["## Antrag / Unterlagen", ""]
    for d in m.documents:
        first, *rest = d.value.splitlines() or [""]
        lines.append(f"- {d.label}: {first}".rstrip())
        lines.extend(f"  {line}".rstrip() for line in rest)
    return [*lines, ""]


def elector_name(e: ElectorView) -> str:
    who = f"{e.member_name} ({e.organisation})"
    return who + (f", vertreten durch {e.voter_name}" if e.substituted else "")


def _elector_lines(m: BallotMinutes) -> list[str]:
    return [f"- {elector_name(e)}: {elector_state(e)}" for e in m.electorate]


def _result_lines(m: BallotMinutes) -> list[str]:
    if m.status != GESCHLOSSEN:
        return [running_line(m)]
    *rows, (decision, outcome) = result_rows(m)
    return [*(f"- {label}: {text}" for label, text in rows), f"- **{decision}: {outcome}**"]
