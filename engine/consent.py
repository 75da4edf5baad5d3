"""Consent records (Einwilligungen) and the one check every transfer between organisations passes.

A consent record says whose data (a pseudonym or case reference, never the clear name), which data
categories (:data:`CATEGORIES`), which recipient organisations, for what purpose, to whom and when
it was given, and how: a signed form (PDF, PNG or JPEG, sniffed by its first bytes, size-limited),
verbally before a named witness, or inline in a referral form (P1, P2 — every stored
:mod:`engine.kontaktdaten` record gets its consent record in the same transaction).

:func:`require_transfer` is the single gate: reading referral contact data as a recipient (also
down the chain P1 → P1a) and identified case conferences (P4, :mod:`engine.consent_steps`) go
through it. It raises a German :class:`NotPermittedError` unless a consent that is not withdrawn
covers the recipient and every category. A withdrawal stops every later transfer at once and tells
the recipient organisations (a neutral notification, no case data); both are audited.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidSubmissionError, NotFoundError, NotPermittedError
from engine.persistence.models import ConsentDocument, ConsentRecord, Organisation, ProcessInstance, User
from engine.read_models import Actor, ConsentDocumentFile, ConsentView
from engine.runtime import audit, enqueue

BERLIN = ZoneInfo("Europe/Berlin")
#: The fixed list of data categories a consent (or a transfer) names.
CATEGORIES: dict[str, str] = {
    "kontaktdaten": "Kontaktdaten (Name, Anschrift, Telefon, Erreichbarkeit)",
    "falldaten": "Falldaten und Gefährdungseinschätzung",
    "gesundheitsdaten": "Gesundheitsdaten (Befunde, Dokumentation)",
    "jugendhilfe": "Kinder- und Jugendhilfe-Daten (Sozialdaten)",
    "strafverfahren": "Angaben zu Strafanzeige und Gerichtsverfahren",
    "aufenthalt": "Aufenthalt und Wohnsituation (z. B. Frauenhaus)",
}
#: How the consent was given.
FORMS: dict[str, str] = {
    "schriftlich": "schriftlich (unterschriebenes Formular)",
    "muendlich": "mündlich vor einer Zeugin oder einem Zeugen",
    "formular": "im Vermittlungsformular erfasst",
}
#: Largest signed form accepted (the web app refuses requests over 2 MiB before this).
MAX_DOCUMENT_BYTES = 1_500_000
#: Accepted files, recognised by their first bytes (the browser's content type is not trusted).
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
#: Referral consent scopes (``einwilligung_umfang`` values) that add a category to Kontaktdaten.
SCOPE_CATEGORIES = {"sachverhalt": "falldaten"}
#: Outbox kind of the notice to the recipients of a withdrawn consent.
WITHDRAWN_KIND = "einwilligung_widerrufen"
WITHDRAWN_TITLE = "Eine Einwilligung wurde widerrufen"
MAX_CHAIN = 10
SUBJECT_MAX, PURPOSE_MAX, NAME_MAX = 100, 1000, 200
NOT_COVERED = (
    "Keine Einwilligung und keine Rechtsgrundlage deckt die Weitergabe an {org} ab ({cats}). "
    "Bitte eine Einwilligung der betroffenen Person erfassen; ohne sie werden keine Daten weitergegeben."
)


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it (only name and bytes are used)."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class ConsentInput:
    """What a person records on the consent page (validated by :func:`record_consent`)."""

    subject: str
    categories: Sequence[str]
    recipients: Sequence[str]
    purpose: str
    given_on: str
    form: str
    witness: str = ""
    document: Upload | None = None


def case_reference(instance_id: int) -> str:
    """The pseudonym a consent gets when none is typed: the case reference, not a name."""
    return f"Vorgang {instance_id}"


def chain(session: Session, instance_id: int) -> list[int]:
    """The instance and the instances whose messages started it (P1a → P1)."""
    ids = [instance_id]
    for _ in range(MAX_CHAIN):
        parent = session.scalar(
            select(ProcessInstance.parent_instance_id).where(ProcessInstance.id == ids[-1])
        )
        if parent is None or parent in ids:
            break
        ids.append(parent)
    return ids


# --- the gate -------------------------------------------------------------------------------
def covers(record: ConsentRecord, recipient_org: str, categories: Iterable[str]) -> bool:
    """Whether this record (not withdrawn) allows handing these categories to the organisation."""
    if record.withdrawn_at is not None:
        return False
    holders = {record.given_to_org, record.recorded_by_org}
    return (recipient_org in holders or recipient_org in record.recipients) and set(categories) <= set(
        record.categories
    )


def require_transfer(
    session: Session,
    source: int | ConsentRecord,
    recipient_org: str,
    categories: Iterable[str],
    now: datetime,
    *,
    actor: Actor | None = None,
) -> ConsentRecord:
    """The consent that allows this transfer, or a German NotPermittedError (the refusal is audited).

    ``source`` is one consent record (e.g. the one of a contact record) or an instance: then every
    consent recorded in the instance or up its chain (P1a → P1) is considered.
    """
    wanted = sorted(set(categories))
    if isinstance(source, ConsentRecord):
        records: list[ConsentRecord] = [source]
        instance_id = source.instance_id
    else:
        records = list(
            session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.instance_id.in_(chain(session, source)))
                .order_by(ConsentRecord.id)
            )
        )
        instance_id = source
    found = next((r for r in records if covers(r, recipient_org, wanted)), None)
    if found is not None:
        return found
    audit(
        session,
        now,
        actor,
        "weitergabe_verweigert",
        instance_id,
        detail={"empfaenger": recipient_org, "kategorien": wanted},
    )
    raise NotPermittedError(
        NOT_COVERED.format(org=_org_name(session, recipient_org), cats=", ".join(_labels(wanted)))
    )


def _labels(categories: Iterable[str]) -> list[str]:
    return [CATEGORIES.get(c, c) for c in categories]


def org_names(session: Session) -> dict[str, str]:
    """Slug → display name of every organisation."""
    return {slug: name for slug, name in session.execute(select(Organisation.slug, Organisation.name))}


def _org_name(session: Session, slug: str) -> str:
    return session.scalar(select(Organisation.name).where(Organisation.slug == slug)) or slug


# --- recording ------------------------------------------------------------------------------
def consent_from_referral(
    session: Session,
    *,
    instance_id: int,
    kontaktdaten_id: int,
    recipients: Sequence[str],
    scope: str,
    consent_date: str,
    actor: Actor,
    now: datetime,
) -> int:
    """The consent record for a referral form's inline consent (same transaction as the data)."""
    ticked = {s.strip() for s in scope.split(",") if s.strip()}
    categories = ["kontaktdaten", *sorted({SCOPE_CATEGORIES[s] for s in ticked if s in SCOPE_CATEGORIES})]
    record = ConsentRecord(
        subject=case_reference(chain(session, instance_id)[-1]),
        instance_id=instance_id,
        kontaktdaten_id=kontaktdaten_id,
        categories=categories,
        recipients=sorted(set(recipients)),
        purpose="Vermittlung an die genannten Organisationen zur Kontaktaufnahme"
        + (f" (Umfang: {scope})" if scope else ""),
        given_to_org=actor.organisation,
        given_to_user_id=actor.id,
        given_on=consent_date[:10],
        form="formular",
        recorded_at=now,
        recorded_by_id=actor.id,
        recorded_by_org=actor.organisation,
    )
    return _store(session, record, actor, now)


def record_consent(
    session: Session, actor: Actor, instance_id: int, given: ConsentInput, now: datetime
) -> int:
    """Validate and store one consent (with its signed form); German field errors otherwise."""
    known = set(session.scalars(select(Organisation.slug).where(Organisation.active.is_(True))))
    errors = _input_errors(given, known, now)
    sniffed = None
    if given.form == "schriftlich" and "document" not in errors:
        sniffed = _sniff(given.document, errors)
    if errors:
        raise InvalidSubmissionError(
            "Die Einwilligung wurde nicht gespeichert. Bitte die Angaben prüfen.", errors
        )
    record = ConsentRecord(
        subject=given.subject.strip() or case_reference(chain(session, instance_id)[-1]),
        instance_id=instance_id,
        categories=sorted(set(given.categories)),
        recipients=sorted(set(given.recipients)),
        purpose=given.purpose.strip(),
        given_to_org=actor.organisation,
        given_to_user_id=actor.id,
        given_on=given.given_on,
        form=given.form,
        witness=given.witness.strip() or None,
        recorded_at=now,
        recorded_by_id=actor.id,
        recorded_by_org=actor.organisation,
    )
    consent_id = _store(session, record, actor, now)
    if sniffed is not None and given.document is not None:
        media_type, extension = sniffed
        session.add(
            ConsentDocument(
                consent_id=consent_id,
                filename=_safe_filename(given.document.filename, extension),
                media_type=media_type,
                size=len(given.document.content),
                sha256=hashlib.sha256(given.document.content).hexdigest(),
                content=given.document.content,
            )
        )
    return consent_id


def _store(session: Session, record: ConsentRecord, actor: Actor, now: datetime) -> int:
    """Insert the record and audit it (recipients and categories, never the subject)."""
    session.add(record)
    session.flush()
    detail = {"einwilligung": record.id, "empfaenger": record.recipients, "kategorien": record.categories}
    audit(session, now, actor, "einwilligung_erfasst", record.instance_id, detail=detail)
    return record.id


def _input_errors(given: ConsentInput, known: set[str], now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    if len(given.subject.strip()) > SUBJECT_MAX:
        errors["subject"] = f"Das Pseudonym darf höchstens {SUBJECT_MAX} Zeichen lang sein."
    if not given.categories or not set(given.categories) <= set(CATEGORIES):
        errors["categories"] = "Bitte mindestens eine der angebotenen Datenarten auswählen."
    if not given.recipients or not set(given.recipients) <= known:
        errors["recipients"] = "Bitte mindestens eine Partnerorganisation als Empfängerin auswählen."
    if not given.purpose.strip() or len(given.purpose) > PURPOSE_MAX:
        errors["purpose"] = f"Bitte den Zweck angeben (höchstens {PURPOSE_MAX} Zeichen)."
    if not _valid_date(given.given_on, now):
        errors["given_on"] = (
            "Bitte das Datum der Einwilligung angeben, z. B. 2026-11-24 (nicht in der Zukunft)."
        )
    if given.form not in ("schriftlich", "muendlich"):
        errors["form"] = "Bitte angeben, ob die Einwilligung schriftlich oder mündlich erteilt wurde."
    elif given.form == "muendlich" and not given.witness.strip():
        errors["witness"] = (
            "Bei einer mündlichen Einwilligung bitte den Namen der Zeugin oder des Zeugen angeben."
        )
    elif len(given.witness) > NAME_MAX:
        errors["witness"] = f"Der Name darf höchstens {NAME_MAX} Zeichen lang sein."
    elif given.form == "schriftlich" and (given.document is None or not given.document.content):
        errors["document"] = "Bitte das unterschriebene Formular als PDF, PNG oder JPEG hochladen."
    return errors


def _valid_date(text: str, now: datetime) -> bool:
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and day <= now.astimezone(BERLIN).date()


def _sniff(document: Upload | None, errors: dict[str, str]) -> tuple[str, str] | None:
    assert document is not None
    if len(document.content) > MAX_DOCUMENT_BYTES:
        errors["document"] = (
            f"Die Datei ist zu groß ({len(document.content) / 1_000_000:.1f} MB). Erlaubt sind höchstens "
            f"{MAX_DOCUMENT_BYTES / 1_000_000:.1f} MB; bitte mit geringerer Auflösung scannen."
        )
        return None
    for magic, media_type, extension in SIGNATURES:
        if document.content.startswith(magic):
            return media_type, extension
    errors["document"] = (
        "Diese Datei ist kein PDF, PNG oder JPEG. Bitte das unterschriebene Formular in einem dieser "
        "Formate hochladen."
    )
    return None


def _safe_filename(name: str, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    stem = stem.rsplit(".", 1)[0].strip("._")[:80] or "einwilligung"
    return f"{stem}.{extension}"


# --- withdrawal -----------------------------------------------------------------------------
def involved(record: ConsentRecord, organisation: str) -> bool:
    return organisation in {record.given_to_org, record.recorded_by_org, *record.recipients}


def withdraw(session: Session, actor: Actor, consent_id: int, withdrawn_by: str, now: datetime) -> None:
    """Record a withdrawal: no later transfer, the recipients are told (neutral text), audited."""
    record = session.scalars(
        select(ConsentRecord).where(ConsentRecord.id == consent_id).with_for_update()
    ).first()
    if record is None or not involved(record, actor.organisation):
        raise NotFoundError("Einwilligung nicht gefunden.")
    if record.withdrawn_at is not None:
        raise InvalidSubmissionError(
            "Diese Einwilligung ist bereits widerrufen.", {"withdrawn_by": "Bereits widerrufen."}
        )
    if not withdrawn_by.strip() or len(withdrawn_by) > NAME_MAX:
        raise InvalidSubmissionError(
            "Bitte angeben, wer den Widerruf erklärt hat.",
            {"withdrawn_by": f"Bitte angeben, wer widerrufen hat (höchstens {NAME_MAX} Zeichen)."},
        )
    record.withdrawn_at = now
    record.withdrawn_by = withdrawn_by.strip()
    record.withdrawal_recorded_by_id = actor.id
    record.withdrawal_recorded_by_org = actor.organisation
    involved_orgs = {record.given_to_org, record.recorded_by_org, *record.recipients}
    told = sorted(org for org in involved_orgs - {actor.organisation} if org)
    audit(
        session,
        now,
        actor,
        "einwilligung_widerrufen",
        record.instance_id,
        detail={"einwilligung": record.id, "benachrichtigt": told},
    )
    if told:
        enqueue(
            session,
            now,
            WITHDRAWN_KIND,
            {"consent_id": record.id, "instance_id": record.instance_id, "organisationen": told},
        )


# --- reading --------------------------------------------------------------------------------
def consents_of_case(session: Session, actor: Actor, instance_id: int) -> list[ConsentView]:
    """Consents of the case (and up its chain) that name the actor's organisation."""
    rows = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.instance_id.in_(chain(session, instance_id)))
        .order_by(ConsentRecord.id)
    ).all()
    visible = [r for r in rows if involved(r, actor.organisation)]
    names = org_names(session)
    return [_view(session, r, names, actor) for r in visible]


def consent_of(session: Session, actor: Actor, consent_id: int) -> ConsentView:
    record = session.get(ConsentRecord, consent_id)
    if record is None or not involved(record, actor.organisation):
        raise NotFoundError("Einwilligung nicht gefunden.")
    names = org_names(session)
    return _view(session, record, names, actor)


def _view(session: Session, r: ConsentRecord, names: Mapping[str, str], actor: Actor) -> ConsentView:
    doc = session.execute(
        select(ConsentDocument.filename, ConsentDocument.size).where(ConsentDocument.consent_id == r.id)
    ).first()
    return ConsentView(
        id=r.id,
        subject=r.subject,
        instance_id=r.instance_id,
        categories=tuple(_labels(r.categories)),
        recipients=tuple(names.get(o, o) for o in r.recipients),
        purpose=r.purpose,
        given_to=names.get(r.given_to_org, r.given_to_org),
        given_to_person=_user_name(session, r.given_to_user_id),
        given_on=r.given_on,
        form=FORMS.get(r.form, r.form),
        witness=r.witness,
        recorded_at=r.recorded_at,
        recorded_by=names.get(r.recorded_by_org, r.recorded_by_org),
        withdrawn_at=r.withdrawn_at,
        withdrawn_by=r.withdrawn_by,
        withdrawal_recorded_by=_user_name(session, r.withdrawal_recorded_by_id),
        document_name=doc[0] if doc else None,
        document_size=doc[1] if doc else None,
        may_withdraw=r.withdrawn_at is None and involved(r, actor.organisation),
    )


def _user_name(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(User.display_name).where(User.id == user_id))


def document_of(session: Session, actor: Actor, consent_id: int, now: datetime) -> ConsentDocumentFile:
    """The signed form, for the organisations the consent names; every download is audited."""
    record = session.get(ConsentRecord, consent_id)
    doc = session.scalars(select(ConsentDocument).where(ConsentDocument.consent_id == consent_id)).first()
    if record is None or doc is None or not involved(record, actor.organisation):
        raise NotFoundError("Dokument nicht gefunden.")
    audit(
        session,
        now,
        actor,
        "einwilligung_dokument_gelesen",
        record.instance_id,
        detail={"einwilligung": record.id},
    )
    return ConsentDocumentFile(doc.filename, doc.media_type, doc.content)


def consents_of_subject(
    session: Session, pseudonym: str, kontaktdaten_ids: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """Every consent recorded for this pseudonym or given with one of these referral contact records
    (whose values name the person), as plain JSON-able dicts (DSGVO Art. 15 export)."""
    match = ConsentRecord.subject == pseudonym
    if kontaktdaten_ids:
        match = or_(match, ConsentRecord.kontaktdaten_id.in_(list(kontaktdaten_ids)))
    rows = session.scalars(select(ConsentRecord).where(match).order_by(ConsentRecord.id)).all()
    result = []
    for r in rows:
        doc = session.execute(
            select(ConsentDocument.filename, ConsentDocument.media_type, ConsentDocument.size).where(
                ConsentDocument.consent_id == r.id
            )
        ).first()
        result.append(
            {
                "id": r.id,
                "pseudonym": r.subject,
                "vorgang": r.instance_id,
                "datenarten": list(r.categories),
                "empfaenger": list(r.recipients),
                "zweck": r.purpose,
                "erteilt_gegenueber": r.given_to_org,
                "erteilt_am": r.given_on,
                "form": r.form,
                "zeugin_zeuge": r.witness,
                "erfasst_am": r.recorded_at.isoformat(),
                "erfasst_von_organisation": r.recorded_by_org,
                "widerrufen_am": r.withdrawn_at.isoformat() if r.withdrawn_at else None,
                "widerrufen_durch": r.withdrawn_by,
                "widerruf_erfasst_von_organisation": r.withdrawal_recorded_by_org,
                "dokument": {"dateiname": doc[0], "typ": doc[1], "groesse": doc[2]} if doc else None,
            }
        )
    return result
