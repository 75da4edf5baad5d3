"""Feedback on accessibility barriers (BITV 2.0 § 7): checking, storing, listing, answering, deleting.

Anyone may send it, without an account. It holds as little personal data as the sender chooses
(name and e-mail are optional; an e-mail is needed only when a reply is wanted), never an IP
address, and it is deleted after the retention period. The Koordination is told in the app (a
notification without the message text) and marks each report as answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.directory import users_with_keys
from engine.errors import InvalidSubmissionError, NotFoundError, NotPermittedError, TooManyRequestsError
from engine.forms import EMAIL_MAX, EMAIL_RE
from engine.persistence.models import AccessibilityFeedback, Notification, User
from engine.read_models import Actor
from engine.runtime import audit

ROLE = "Koordination"
NOTIFICATION_KIND = "barrierefreiheit_rueckmeldung"
NOTIFICATION_TITLE = "Neue Rückmeldung zur Barrierefreiheit"
MESSAGE_MAX = 5000
NAME_MAX = 200
PAGE_MAX = 300
#: Control characters other than tab and line breaks (PostgreSQL refuses NUL in text).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

SUMMARY = "Bitte prüfen Sie Ihre Angaben. Ihre Eingaben sind noch im Formular."
MESSAGE_MISSING = "Bitte beschreiben Sie, was Sie behindert hat."
MESSAGE_LONG = "Die Nachricht darf höchstens 5.000 Zeichen lang sein."
NAME_LONG = "Der Name darf höchstens 200 Zeichen lang sein."
PAGE_LONG = "Die Angabe der Seite darf höchstens 300 Zeichen lang sein."
EMAIL_INVALID = (
    "Bitte geben Sie eine gültige E-Mail-Adresse mit höchstens 254 Zeichen ein "
    "(z. B. name@beispiel.de) oder lassen Sie das Feld leer."
)
REPLY_MISSING = "Bitte wählen Sie, ob Sie eine Antwort möchten."
REPLY_NEEDS_EMAIL = (
    "Für eine Antwort brauchen wir Ihre E-Mail-Adresse. Bitte geben Sie sie an oder wählen Sie „Nein“."
)
TOO_MANY = (
    "Im Moment gehen sehr viele Rückmeldungen ein. Bitte versuchen Sie es in einer Stunde erneut "
    "oder nutzen Sie die Kontaktangaben auf dieser Seite. Ihre Eingaben sind noch im Formular."
)
NOT_COORDINATION = "Nur die Koordination darf die Rückmeldungen zur Barrierefreiheit sehen und bearbeiten."
NOT_FOUND = "Diese Rückmeldung gibt es nicht (mehr)."


@dataclass(frozen=True)
class FeedbackInput:
    """The form's raw fields (strings as sent); ``reply`` is "ja", "nein" or empty."""

    message: str
    page: str = ""
    name: str = ""
    email: str = ""
    reply: str = ""


@dataclass(frozen=True)
class FeedbackView:
    id: int
    received_at: datetime
    name: str | None
    email: str | None
    page: str
    message: str
    reply_wanted: bool
    answered_at: datetime | None
    answered_by: str | None


def _clean(text: str) -> str:
    return _CONTROL.sub("", text).strip()


def checked(given: FeedbackInput) -> tuple[dict[str, str | bool | None], dict[str, str]]:
    """The values to store and the German field errors (empty when everything is fine)."""
    message, page, name, email = (_clean(v) for v in (given.message, given.page, given.name, given.email))
    errors: dict[str, str] = {}
    if not message:
        errors["message"] = MESSAGE_MISSING
    elif len(message) > MESSAGE_MAX:
        errors["message"] = MESSAGE_LONG
    if len(page) > PAGE_MAX:
        errors["page"] = PAGE_LONG
    if len(name) > NAME_MAX:
        errors["name"] = NAME_LONG
    if email and (len(email) > EMAIL_MAX or not EMAIL_RE.fullmatch(email)):
        errors["email"] = EMAIL_INVALID
    if given.reply not in ("ja", "nein"):
        errors["reply"] = REPLY_MISSING
    elif given.reply == "ja" and not email and "email" not in errors:
        errors["email"] = REPLY_NEEDS_EMAIL
    values: dict[str, str | bool | None] = {
        "message": message,
        "page": page,
        "name": name or None,
        "email": email or None,
        "reply_wanted": given.reply == "ja",
    }
    return values, errors


def record(session: Session, given: FeedbackInput, now: datetime, per_hour: int) -> int:
    """Store one report and tell every active coordinator; refuses above ``per_hour`` reports."""
    values, errors = checked(given)
    if errors:
        raise InvalidSubmissionError(SUMMARY, errors)
    recent = session.scalar(
        select(func.count(AccessibilityFeedback.id)).where(
            AccessibilityFeedback.received_at > now - timedelta(hours=1)
        )
    )
    if int(recent or 0) >= per_hour:
        raise TooManyRequestsError(TOO_MANY)
    row = AccessibilityFeedback(received_at=now, answered_at=None, answered_by_id=None, **values)
    session.add(row)
    session.flush()
    for user in coordinators(session):
        session.add(
            Notification(
                user_id=user.id,
                outbox_id=None,
                created_at=now,
                kind=NOTIFICATION_KIND,
                task_id=None,
                instance_id=None,
                title=NOTIFICATION_TITLE,
            )
        )
    audit(session, now, None, "barrierefreiheit_rueckmeldung", None, detail={"rueckmeldung": row.id})
    return row.id


def coordinators(session: Session) -> list[User]:
    return sorted(users_with_keys(session, {f"{ROLE}@*"}), key=lambda u: u.id)


def require_coordination(actor: Actor) -> None:
    if not actor.has_role(ROLE):
        raise NotPermittedError(NOT_COORDINATION)


def listed(session: Session) -> list[FeedbackView]:
    """All stored reports, open ones first, newest first within each group."""
    rows = session.execute(
        select(AccessibilityFeedback, User.display_name)
        .outerjoin(User, User.id == AccessibilityFeedback.answered_by_id)
        .order_by(
            AccessibilityFeedback.answered_at.is_not(None),
            AccessibilityFeedback.received_at.desc(),
            AccessibilityFeedback.id.desc(),
        )
    ).all()
    return [
        FeedbackView(
            r.id, r.received_at, r.name, r.email, r.page, r.message, r.reply_wanted, r.answered_at, who
        )
        for r, who in rows
    ]


def record_read(session: Session, actor: Actor, now: datetime, count: int) -> None:
    """Audit that the Koordination opened the list (the reports hold personal data)."""
    audit(session, now, actor, "barrierefreiheit_gelesen", None, detail={"anzahl": count})


def mark_answered(session: Session, feedback_id: int, actor: Actor, now: datetime) -> None:
    row = session.get(AccessibilityFeedback, feedback_id)
    if row is None:
        raise NotFoundError(NOT_FOUND)
    if row.answered_at is None:
        row.answered_at, row.answered_by_id = now, actor.id
        audit(session, now, actor, "barrierefreiheit_beantwortet", None, detail={"rueckmeldung": row.id})


def any_due(session: Session, now: datetime, keep_days: int) -> bool:
    cutoff = now - timedelta(days=keep_days)
    return (
        session.scalar(
            select(AccessibilityFeedback.id).where(AccessibilityFeedback.received_at < cutoff).limit(1)
        )
        is not None
    )


def purge(session: Session, now: datetime, keep_days: int) -> int:
    """Delete reports received more than ``keep_days`` ago (their notifications carry no content)."""
    result = session.execute(
        delete(AccessibilityFeedback).where(
            AccessibilityFeedback.received_at < now - timedelta(days=keep_days)
        )
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        audit(session, now, None, "barrierefreiheit_geloescht", None, detail={"anzahl": count})
    return count
