"""The Kooperationsvereinbarung (P11): its versions, when the next review is due, and the
partners' signatures under a revised version.

The newest ``agreement_version.valid_from`` is the "last version"; the first one comes from the
configuration (Frist ``vereinbarung.ausgangsfassung``, the agreement of November 2024). A review is
due ``vereinbarung.ueberpruefung_nach`` after it. Functions here never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import InvalidSubmissionError, ScriptError
from engine.persistence.models import AgreementProposal, AgreementSignature, AgreementVersion, Organisation
from engine.read_models import Actor
from engine.runtime import audit

ORIGINAL = "ausgangsfassung"
REVISED = "ueberarbeitet"
CONFIRMED = "bestaetigt"
SIGNED = "unterschrieben"
EXCEPTION = "ausnahme"


@dataclass(frozen=True)
class AgreementStatus:
    last_version: date
    last_kind: str
    review_due: date
    review_started: bool


def parse_day(value: object, what: str) -> date:
    """An ISO day (``2024-11-01``; a datetime string is cut to its day) or a German error."""
    text = str(value or "").strip()[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidSubmissionError(
            f"{what}: „{value}“ ist kein Datum (JJJJ-MM-TT).", {"datum": f"{what} fehlt oder ist ungültig."}
        ) from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def current_version(session: Session, original: str, now: datetime) -> AgreementVersion:
    """The newest version row, locked for the caller's transaction; the configured original
    version is stored on first use (two runners at once: the unique key lets one insert win)."""
    query = select(AgreementVersion).order_by(AgreementVersion.valid_from.desc(), AgreementVersion.id.desc())
    row = session.scalars(query.limit(1).with_for_update()).first()
    if row is None:
        day = _configured(original)
        try:
            with session.begin_nested():
                session.add(
                    AgreementVersion(valid_from=_midnight(day), kind=ORIGINAL, summary="", recorded_at=now)
                )
        except IntegrityError:
            pass  # the other runner stored it; read it below
        row = session.scalars(query.limit(1).with_for_update()).one()
    return row


def status(session: Session, original: str, period: relativedelta) -> AgreementStatus:
    """Read-only: the newest version row, else the configured original version."""
    query = select(AgreementVersion).order_by(AgreementVersion.valid_from.desc(), AgreementVersion.id.desc())
    row = session.scalars(query.limit(1)).first()
    if row is None:
        last = _configured(original)
        return AgreementStatus(last, ORIGINAL, last + period, False)
    last = row.valid_from.date()
    return AgreementStatus(last, row.kind, last + period, row.review_started_at is not None)


def _configured(original: str) -> date:
    try:
        return date.fromisoformat(original.strip())
    except ValueError:
        raise ScriptError(
            f"Die Frist „vereinbarung.ausgangsfassung“ = „{original}“ ist kein Datum (JJJJ-MM-TT)."
        ) from None


def claim_due_review(session: Session, original: str, period: relativedelta, now: datetime) -> bool:
    """True once per version when its review is due (the caller starts it in this transaction)."""
    row = current_version(session, original, now)
    if row.review_started_at is not None or now.date() < row.valid_from.date() + period:
        return False
    row.review_started_at = now
    return True


def record_version(
    session: Session,
    now: datetime,
    actor: Actor | None,
    kind: str,
    valid_from: date,
    summary: str,
    instance_id: int | None,
) -> AgreementVersion:
    """A revised version in force, or the decision to keep it unchanged, from ``valid_from`` on.

    A second review that reaches the same decision for the same day is refused: the first one
    already holds that version."""
    same = select(AgreementVersion.instance_id).where(
        AgreementVersion.valid_from == _midnight(valid_from), AgreementVersion.kind == kind
    )
    if session.execute(same).first() is not None:
        raise InvalidSubmissionError(
            f"Für den {valid_from:%d.%m.%Y} ist bereits eine solche Fassung festgehalten; "
            "bitte das Datum prüfen.",
            {"datum": "Diese Fassung ist bereits festgehalten."},
        )
    row = AgreementVersion(
        valid_from=_midnight(valid_from), kind=kind, summary=summary, instance_id=instance_id, recorded_at=now
    )
    session.add(row)
    session.flush()
    audit(
        session,
        now,
        actor,
        f"vereinbarung_{kind}",
        instance_id,
        detail={"gueltig_ab": valid_from.isoformat()},
    )
    return row


def record_signatures(
    session: Session,
    now: datetime,
    actor: Actor | None,
    instance_id: int,
    signed: Iterable[str],
    exceptions: Iterable[str],
    reason: str,
) -> list[str]:
    """Store new signatures and exceptions; returns the active partners still missing (sorted)."""
    signed, exceptions = set(signed), set(exceptions)
    errors: dict[str, str] = {}
    if signed & exceptions:
        errors["ausnahmen"] = (
            "Eine Organisation kann nicht zugleich unterschrieben haben und Ausnahme sein: "
            + (", ".join(sorted(signed & exceptions)))
        )
    if exceptions and not reason.strip():
        errors["ausnahme_begruendung"] = "Bitte begründen Sie die Ausnahmen."
    orgs = {o.slug: o for o in session.scalars(select(Organisation))}
    unknown = sorted((signed | exceptions) - set(orgs))
    if unknown:
        errors["unterschrieben"] = f"Unbekannte Organisationen: {', '.join(unknown)}."
    if errors:
        raise InvalidSubmissionError("Die Unterschriften konnten nicht erfasst werden.", errors)
    existing = {
        s.organisation_id: s
        for s in session.scalars(
            select(AgreementSignature).where(AgreementSignature.instance_id == instance_id)
        )
    }
    name = actor.display_name if actor else "System"
    for slug, kind in [*((s, SIGNED) for s in sorted(signed)), *((e, EXCEPTION) for e in sorted(exceptions))]:
        org = orgs[slug]
        row = existing.get(org.id)
        if row is not None and row.kind == SIGNED:
            continue  # a signature stays; it is not turned into an exception
        if row is None:
            row = AgreementSignature(instance_id=instance_id, organisation_id=org.id)
            session.add(row)
        row.kind, row.reason = kind, (reason.strip() if kind == EXCEPTION else None)
        row.recorded_at, row.recorded_by = now, name
    session.flush()
    audit(
        session,
        now,
        actor,
        "vereinbarung_unterschriften",
        instance_id,
        detail={"unterschrieben": sorted(signed), "ausnahmen": sorted(exceptions)},
    )
    return missing_signatures(session, instance_id)


def missing_signatures(session: Session, instance_id: int) -> list[str]:
    covered = select(AgreementSignature.organisation_id).where(AgreementSignature.instance_id == instance_id)
    rows = session.scalars(
        select(Organisation.slug)
        .where(Organisation.active.is_(True), Organisation.id.not_in(covered))
        .order_by(Organisation.slug)
    )
    return list(rows)


def signatures(session: Session, instance_id: int) -> dict[str, str]:
    """Organisation slug -> ``unterschrieben`` | ``ausnahme`` for the review ``instance_id``."""
    rows = session.execute(
        select(Organisation.slug, AgreementSignature.kind)
        .join(AgreementSignature, AgreementSignature.organisation_id == Organisation.id)
        .where(AgreementSignature.instance_id == instance_id)
    ).all()
    return {slug: kind for slug, kind in rows}


def active_partners(session: Session) -> list[str]:
    """Slugs of every active partner organisation (asked for proposals and signatures)."""
    return list(
        session.scalars(
            select(Organisation.slug).where(Organisation.active.is_(True)).order_by(Organisation.slug)
        )
    )


def record_proposal(
    session: Session, now: datetime, actor: Actor | None, instance_id: int, organisation: str, text: str
) -> None:
    """Store a partner's proposal at once (audited); an empty text is refused."""
    if not text.strip():
        raise InvalidSubmissionError(
            "Bitte beschreiben Sie Ihre Änderungsvorschläge.", {"vorschlag": "Vorschlag fehlt."}
        )
    org = session.scalar(select(Organisation).where(Organisation.slug == organisation))
    if org is None:
        raise InvalidSubmissionError(
            f"Unbekannte Organisation „{organisation}“.", {"organisation": organisation}
        )
    session.add(
        AgreementProposal(
            instance_id=instance_id,
            organisation_id=org.id,
            text=text.strip(),
            submitted_at=now,
            submitted_by=actor.display_name if actor else "System",
        )
    )
    session.flush()
    audit(session, now, actor, "vereinbarung_vorschlag", instance_id, detail={"organisation": organisation})


def proposals(session: Session, instance_id: int) -> list[dict[str, str]]:
    """The review's proposals in the order they came in: organisation name and text."""
    rows = session.execute(
        select(Organisation.name, AgreementProposal.text)
        .join(AgreementProposal, AgreementProposal.organisation_id == Organisation.id)
        .where(AgreementProposal.instance_id == instance_id)
        .order_by(AgreementProposal.id)
    ).all()
    return [{"organisation": name, "vorschlag": text} for name, text in rows]
