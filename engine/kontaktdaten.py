"""Referral contact data (Kontaktdaten): kept out of process data, only with consent.

Form fields marked ``properties.datenart = "kontaktdaten"`` (name, address, safe phone, safe times)
never reach the workflow. On submission they are split off and stored in their own table together
with the consent recorded in the same form (fields ``einwilligung``, ``einwilligung_empfaenger``,
``einwilligung_datum``, optional ``einwilligung_umfang``). Without consent nothing is stored and the
submission is refused, so a careless click cannot store them. Only the recording organisation and
the organisations the consent names can read them, every read is audited, and they are emptied
after the configured retention period (the deletion is audited too).

Each record gets a consent record (:mod:`engine.consent`) in the same transaction; a recipient's
read goes through :func:`engine.consent.require_transfer`, so a withdrawn consent hides the data
from every recipient at once (also down the chain P1 → P1a).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.audit_chain import note_unsealed
from engine.consent import chain, consent_from_referral, require_transfer
from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.forms import FieldSpec, FormDefinition
from engine.persistence.models import AuditEvent, ConsentRecord, Kontaktdaten, Organisation
from engine.read_models import Actor, ContactRecordView
from engine.runtime import audit, audit_values

NO_CONSENT = (
    "Kontaktdaten dürfen nur mit Einwilligung der Betroffenen gespeichert werden. Bitte die "
    "Einwilligung erfassen oder die Kontaktdaten leeren."
)


@dataclass(frozen=True)
class ContactSubmission:
    """Contact fields split off a submission, with the consent that allows storing them."""

    fields: dict[str, Any]
    labels: dict[str, str]
    recipients: tuple[str, ...]
    consent_date: str
    scope: str


def _field(form: FormDefinition, kind: str) -> FieldSpec | None:
    return next((f for f in form.fields if f.data_kind == kind), None)


def contact_field_keys(form: FormDefinition | None) -> set[str]:
    return {f.key for f in form.fields if f.data_kind == "kontaktdaten"} if form is not None else set()


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def split_contact_data(
    form: FormDefinition | None, cleaned: dict[str, Any]
) -> tuple[dict[str, Any], ContactSubmission | None]:
    """Remove contact fields from validated data; refuse them without a complete consent."""
    if form is None:
        return cleaned, None
    contact = [f for f in form.fields if f.data_kind == "kontaktdaten"]
    if not contact:
        return cleaned, None
    rest = {k: v for k, v in cleaned.items() if k not in {f.key for f in contact}}
    given = {f.key: cleaned[f.key] for f in contact if not _blank(cleaned.get(f.key))}
    if not given:
        return rest, None
    consent, recipients, date = (
        _field(form, "einwilligung"),
        _field(form, "einwilligung_empfaenger"),
        _field(form, "einwilligung_datum"),
    )
    assert consent and recipients and date  # the form loader insists on them
    errors = _consent_errors(cleaned, consent, recipients, date)
    scope_field = _field(form, "einwilligung_umfang")
    scope = cleaned.get(scope_field.key) if scope_field else ""
    if scope_field is not None:
        errors.update(_scope_errors(contact, given, scope_field, scope))
    if errors:
        raise InvalidSubmissionError(NO_CONSENT, errors)
    to = cleaned[recipients.key]
    return rest, ContactSubmission(
        fields=given,
        labels={f.key: f.label or f.key for f in contact if f.key in given},
        recipients=tuple(sorted({str(r) for r in (to if isinstance(to, list) else [to])})),
        consent_date=str(cleaned[date.key]),
        scope=", ".join(scope) if isinstance(scope, list) else str(scope or ""),
    )


def _consent_errors(
    cleaned: Mapping[str, Any], consent: FieldSpec, recipients: FieldSpec, date: FieldSpec
) -> dict[str, str]:
    errors = {}
    if cleaned.get(consent.key) not in (True, "ja"):
        errors[consent.key] = NO_CONSENT
    if _blank(cleaned.get(recipients.key)):
        errors[recipients.key] = "Bitte angeben, an welche Organisationen die Kontaktdaten gehen dürfen."
    if _blank(cleaned.get(date.key)):
        errors[date.key] = "Bitte das Datum der Einwilligung angeben."
    return errors


def _scope_errors(
    contact: Sequence[FieldSpec], given: Mapping[str, Any], scope_field: FieldSpec, scope: Any
) -> dict[str, str]:
    """Only the data the consent covers: a filled field whose scope is not ticked is refused."""
    ticked = set(scope) if isinstance(scope, list) else {scope}
    errors = {
        f.key: f"„{f.label or f.key}“ ist von der Einwilligung nicht umfasst. Bitte leeren oder den "
        "Umfang der Einwilligung ergänzen."
        for f in contact
        if f.key in given and f.consent_scope and f.consent_scope not in ticked
    }
    if _blank(scope):
        errors[scope_field.key] = "Bitte angeben, welche Daten die Einwilligung umfasst."
    return errors


def store_contact_data(
    session: Session,
    submission: ContactSubmission,
    *,
    instance_id: int,
    task_id: str | None,
    actor: Actor,
    now: datetime,
    retention_until: datetime,
) -> int:
    """Insert one record; the audit entry names the recipients, never the values."""
    known = set(
        session.scalars(select(Organisation.slug).where(Organisation.slug.in_(submission.recipients)))
    )
    unknown = sorted(set(submission.recipients) - known)
    if unknown:
        raise InvalidSubmissionError(f"Unbekannte Empfänger der Einwilligung: {', '.join(unknown)}.", {})
    record_id = (
        session.connection()
        .execute(
            insert(Kontaktdaten)
            .values(
                instance_id=instance_id,
                task_id=task_id,
                recorded_at=now,
                recorded_by_id=actor.id,
                recorded_by_org=actor.organisation,
                consent_date=submission.consent_date,
                consent_scope=submission.scope,
                recipients=list(submission.recipients),
                fields={"values": submission.fields, "labels": submission.labels},
                retention_until=retention_until,
            )
            .returning(Kontaktdaten.id)
        )
        .scalar_one()
    )
    audit(
        session,
        now,
        actor,
        "kontaktdaten_erfasst",
        instance_id,
        task_id=task_id,
        detail={"datensatz": record_id, "empfaenger": list(submission.recipients)},
    )
    consent_from_referral(
        session,
        instance_id=instance_id,
        kontaktdaten_id=int(record_id),
        recipients=submission.recipients,
        scope=submission.scope,
        consent_date=submission.consent_date,
        actor=actor,
        now=now,
    )
    return int(record_id)


def read_contact_data(
    session: Session, actor: Actor, instance_id: int, now: datetime, *, task_id: str | None = None
) -> tuple[ContactRecordView, ...]:
    """Records of the case the actor's organisation may read; each read is audited."""
    rows = session.scalars(
        select(Kontaktdaten)
        .where(Kontaktdaten.instance_id.in_(chain(session, instance_id)), Kontaktdaten.deleted_at.is_(None))
        .order_by(Kontaktdaten.id)
    ).all()
    allowed = [r for r in rows if _may_read(session, actor, r, now)]
    if not allowed:
        return ()
    names = {slug: name for slug, name in session.execute(select(Organisation.slug, Organisation.name))}
    session.connection().execute(
        insert(AuditEvent),
        [
            audit_values(now, actor, "kontaktdaten_gelesen", instance_id, task_id, None, {"datensatz": r.id})
            for r in allowed
        ],
    )
    note_unsealed(session)
    return tuple(_view(r, names) for r in allowed)


def contact_consent_withdrawn(session: Session, actor: Actor, instance_id: int) -> bool:
    """Whether a consent that named the actor's organisation for contact data of this case (or up
    its chain) was withdrawn — the task page then says so instead of silently showing nothing."""
    withdrawn = session.scalars(
        select(ConsentRecord.recipients).where(
            ConsentRecord.instance_id.in_(chain(session, instance_id)),
            ConsentRecord.kontaktdaten_id.is_not(None),
            ConsentRecord.withdrawn_at.is_not(None),
        )
    )
    return any(actor.organisation in recipients for recipients in withdrawn)


def _may_read(session: Session, actor: Actor, row: Kontaktdaten, now: datetime) -> bool:
    """The recording organisation reads its own record; anyone else only through a consent that
    is not withdrawn and names them (the refusal is audited by :func:`require_transfer`)."""
    if actor.organisation == row.recorded_by_org:
        return True
    if actor.organisation not in row.recipients:
        return False  # not a recipient at all: no transfer was ever meant, nothing to log
    consent = session.scalars(select(ConsentRecord).where(ConsentRecord.kontaktdaten_id == row.id)).first()
    if consent is None:
        return False
    try:
        require_transfer(session, consent, actor.organisation, ["kontaktdaten"], now, actor=actor)
    except NotPermittedError:
        return False
    return True


def _view(row: Kontaktdaten, names: Mapping[str, str]) -> ContactRecordView:
    values: Mapping[str, Any] = row.fields.get("values", {})
    labels: Mapping[str, str] = row.fields.get("labels", {})
    return ContactRecordView(
        id=row.id,
        entries=tuple((labels.get(k, k), _text(v)) for k, v in values.items()),
        recorded_by=names.get(row.recorded_by_org, row.recorded_by_org),
        recipients=tuple(names.get(r, r) for r in row.recipients),
        consent_date=row.consent_date,
        scope=row.consent_scope,
        retention_until=row.retention_until,
    )


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def purge_expired(session: Session, now: datetime, limit: int = 500) -> int:
    """Empty the records whose retention ended; log each deletion. Returns how many."""
    due: Sequence[tuple[int, int]] = [
        (record_id, instance_id)
        for record_id, instance_id in session.execute(
            select(Kontaktdaten.id, Kontaktdaten.instance_id)
            .where(Kontaktdaten.deleted_at.is_(None), Kontaktdaten.retention_until <= now)
            .order_by(Kontaktdaten.retention_until)
            .limit(limit)
        )
    ]
    for record_id, instance_id in due:
        session.execute(
            update(Kontaktdaten).where(Kontaktdaten.id == record_id).values(fields={}, deleted_at=now)
        )
        audit(
            session,
            now,
            None,
            "kontaktdaten_geloescht",
            instance_id,
            detail={"datensatz": record_id, "grund": "Aufbewahrungsfrist abgelaufen"},
        )
    return len(due)
