"""Delivering the outbox: in-app notifications and e-mail (immediately or as a daily digest).

Exactly once, by construction:

1. *Claim* (one transaction): pending or due rows are locked (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL; SQLite's write transaction is exclusive) and set to ``processing`` with a lease.
   In the same transaction the in-app notifications are written (unique per outbox row and user)
   and every e-mail is recorded in ``email_delivery`` as ``queued`` (unique per outbox row and
   user). Only after this commit does anything go to the SMTP server.
2. *Send*: each e-mail is marked ``sending`` (committed) right before its hand-over, then becomes
   ``sent`` (accepted), ``failed`` (certainly not accepted: sent again on the next attempt) or
   ``unsicher`` (the connection broke during the hand-over: never sent again).
3. *Finish*: the outbox row becomes ``sent``, or ``failed`` with a back-off, ``dead`` after
   :data:`MAX_ATTEMPTS`.

A second runner never sees a ``processing`` row before its lease ends. A row whose lease ended
(the process died between 1 and 3) is claimed again: its notifications exist already, its
``queued`` e-mails (never handed over) are sent now (or become ``entfallen`` when their task was
done meanwhile), its ``sending`` e-mail (the one being handed
over when the process died) becomes ``unsicher`` and is not repeated. The remaining window: a
crash during one hand-over (between ``sending`` and ``sent``) — that one e-mail is sent at most
once (possibly not at all); the in-app notification is always there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.consent import WITHDRAWN_KIND, WITHDRAWN_TITLE
from engine.directory import substitutes_of, users_with_keys
from engine.errors import InvalidSubmissionError, NotFoundError
from engine.forms import EMAIL_MAX, EMAIL_RE
from engine.lock_notice import LOCKED_KIND, LOCKED_TITLE, lock_mail
from engine.mail import (
    MEETING_KINDS,
    Mail,
    Mailer,
    MailNotSent,
    MailUncertain,
    ballot_mail,
    consent_withdrawn_mail,
    digest_mail,
    meeting_mail,
    task_mail,
    vacancy_mail,
    warning_mail,
)
from engine.meeting_calendar import Termin, calendar_attachment
from engine.network_membership import VACANCY_KIND, VACANCY_TITLE, vacancy_recipients
from engine.netzwerktreffen import INVITATION_KIND, WARNING_KIND
from engine.persistence.database import Database
from engine.persistence.models import (
    Ballot,
    EmailDelivery,
    Notification,
    Outbox,
    TaskCandidate,
    User,
    UserTask,
)
from engine.projection import BERLIN
from engine.read_models import Actor, NotificationSettings, NotificationView
from engine.runtime import audit
from engine.voting import BALLOT_OPENED
from engine.voting_reminders import BALLOT_KINDS, ballot_recipients, notification_title

log = logging.getLogger(__name__)

PREFERENCES = ("sofort", "taeglich", "aus")
#: Outbox kinds of the network meetings (P6): a calendar invitation, the coordinators' warning.
MEETING_EVENT_KINDS = (INVITATION_KIND, WARNING_KIND)
HANDLED_KINDS = (
    "task_created",
    "task_reminder",
    "task_escalated",
    *BALLOT_KINDS,
    *MEETING_EVENT_KINDS,
    VACANCY_KIND,
    WITHDRAWN_KIND,
    LOCKED_KIND,
)
#: The e-mail log's kind per outbox kind.
MAIL_KINDS = {
    "task_created": "aufgabe",
    "task_reminder": "erinnerung",
    "task_escalated": "eskalation",
    "ballot_opened": "abstimmung",
    "ballot_reminder": "stimmerinnerung",
    INVITATION_KIND: "einladung",
    WARNING_KIND: "warnung",
    VACANCY_KIND: "vakanz",
    WITHDRAWN_KIND: "widerruf",
    LOCKED_KIND: "kontosperre",
}
LEITUNG = "Leitung"
COORDINATION = "Koordination@*"
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
PREFERENCE_ERROR = "Bitte wählen Sie eine der angebotenen Arten der Benachrichtigung."
EMAIL_ERROR = (
    "Bitte geben Sie genau eine gültige E-Mail-Adresse mit höchstens 254 Zeichen ein "
    "(z. B. name@beispiel.de) oder lassen Sie das Feld leer."
)


@dataclass(frozen=True)
class Sending:
    """One e-mail recorded as ``sending`` (committed) and not yet handed to the server."""

    delivery_id: int
    mail: Mail


@dataclass(frozen=True)
class Claim:
    outbox_id: int
    mails: tuple[Sending, ...]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, … minutes after the 1st, 2nd, 3rd … failed attempt, at most an hour."""
    return min(FIRST_RETRY * (1 << max(attempts - 1, 0)), LONGEST_RETRY)


def task_recipients(
    session: Session, task: UserTask, now: datetime, kind: str = "task_created"
) -> list[User]:
    """Who is told (plus the substitutes of those who are absent now): for an escalation the Leitung
    of the task's candidate organisations, else the coordinators; otherwise the assignee or every
    candidate."""
    if kind == "task_escalated":
        users = escalation_recipients(session, task)
    elif task.assignee_id is not None:
        assignee = session.get(User, task.assignee_id)
        users = [assignee] if assignee is not None and assignee.active else []
    else:
        keys = set(session.scalars(select(TaskCandidate.key).where(TaskCandidate.task_id == task.id)))
        users = users_with_keys(session, keys)
    found = {u.id: u for u in users}
    for substitute in substitutes_of(session, set(found), now):
        found.setdefault(substitute.id, substitute)
    return sorted(found.values(), key=lambda u: u.id)


def candidate_organisations(task: UserTask) -> set[str]:
    """The organisations named in the task's candidate keys (``Rolle@org``, ``*@org``)."""
    keys = [k for k in task.candidates.split(",") if "@" in k and not k.startswith("user:")]
    return {k.split("@", 1)[1] for k in keys} - {"*"}


def escalation_recipients(session: Session, task: UserTask) -> list[User]:
    """The Leitung of the candidate organisations; the coordinators when there is none."""
    orgs = candidate_organisations(task)
    leads = users_with_keys(session, {f"{LEITUNG}@{org}" for org in orgs}) if orgs else []
    return leads or users_with_keys(session, {COORDINATION})


class Notifications:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        mailer: Mailer | None,
        base_url: str,
        digest_hour: int,
        organizer: str = "",
    ) -> None:
        self.db = db
        self.clock = clock
        self.mailer = mailer
        self.base_url = base_url
        self.digest_hour = digest_hour
        self.organizer = organizer  # the ORGANIZER of calendar invitations (the sender address)

    # --- outbox ----------------------------------------------------------------------------
    def deliver_outbox(self, limit: int = 50, ids: Sequence[int] | None = None) -> int:
        """Deliver up to ``limit`` due outbox rows (only those in ``ids`` if given: a Celery task
        carries one id); returns how many were claimed. A row that is not due (delivered already,
        or claimed by another worker) is left alone, so a repeated id does nothing."""
        claims = self._claim(limit, ids)
        for claim in claims:
            errors = [e for e in (self._send(s) for s in claim.mails) if e]
            self._finish(claim.outbox_id, errors)
        return len(claims)

    def _claim(self, limit: int, ids: Sequence[int] | None = None) -> list[Claim]:
        with self.db.write() as session:
            now = self.clock.now()
            only = [] if ids is None else [Outbox.id.in_(ids)]
            rows = session.scalars(
                select(Outbox)
                .where(
                    Outbox.kind.in_(HANDLED_KINDS),
                    Outbox.status.in_(("pending", "failed", "processing")),
                    or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now),
                    *only,
                )
                .order_by(Outbox.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            claims = [self._prepare(session, row, now) for row in rows]
            for claim in claims:
                _drop_leftovers(session, claim)
            session.commit()
            return claims

    def _prepare(self, session: Session, row: Outbox, now: datetime) -> Claim:
        if row.status == "processing":  # the last claim ended without finishing (a crash)
            session.execute(
                update(EmailDelivery)
                .where(EmailDelivery.outbox_id == row.id, EmailDelivery.status == "sending")
                .values(status="unsicher", last_error="Abbruch während des Versands; nicht wiederholt.")
            )
        row.status, row.attempts, row.next_attempt_at = "processing", row.attempts + 1, now + LEASE
        row.dispatched_at = None  # distributed mode: a later retry is published afresh
        if row.kind in BALLOT_KINDS:
            return self._prepare_ballot(session, row, now)
        if row.kind in MEETING_EVENT_KINDS:
            return self._prepare_meeting_event(session, row, now)
        if row.kind == VACANCY_KIND:
            return self._prepare_vacancy(session, row, now)
        if row.kind == WITHDRAWN_KIND:
            return self._prepare_consent_withdrawn(session, row, now)
        if row.kind == LOCKED_KIND:
            return self._prepare_lock_notice(session, row, now)
        task = session.get(UserTask, str(row.payload.get("task_id", "")))
        if task is None or task.status != "open":
            return Claim(row.id, ())
        mails = []
        for user in task_recipients(session, task, now, row.kind):
            notice = Notification(task_id=task.id, instance_id=task.instance_id, title=task.name)
            self._notify(session, row, user, now, notice)
            mail = self._mail_if_wanted(session, row, user, now)
            if mail is not None:
                mails.append(Sending(mail[0], task_mail(mail[1], self.base_url, task.id, row.kind)))
        return Claim(row.id, tuple(mails))

    def _prepare_ballot(self, session: Session, row: Outbox, now: datetime) -> Claim:
        """A ballot opened or its deadline nears: its voters (see :mod:`engine.voting_reminders`)."""
        ballot = session.get(Ballot, int(row.payload.get("ballot_id", 0)))
        if ballot is None:
            return Claim(row.id, ())
        mails = []
        for user in ballot_recipients(session, ballot, row.kind):
            notice = Notification(
                task_id=None, instance_id=ballot.instance_id, title=notification_title(ballot)
            )
            self._notify(session, row, user, now, notice)
            mail = self._mail_if_wanted(session, row, user, now)
            if mail is not None:
                mails.append(Sending(mail[0], ballot_mail(mail[1], self.base_url, ballot.id, row.kind)))
        return Claim(row.id, tuple(mails))

    def _prepare_meeting_event(self, session: Session, row: Outbox, now: datetime) -> Claim:
        """A meeting invitation (with ``termin.ics`` rebuilt from the row) to every member of the
        invited organisations, or the yearly warning to the Koordination."""
        if row.kind == INVITATION_KIND:
            termin = Termin.from_payload(row.payload["termin"])
            instance_id: int | None = int(row.payload["instance_id"])
            users = users_with_keys(session, {f"*@{org}" for org in row.payload["organisationen"]})
            what = MEETING_KINDS.get(str(row.payload.get("art")), "Termin")
            day = termin.start.astimezone(BERLIN).strftime("%d.%m.%Y")
            title = f"{'Abgesagt' if termin.method == 'CANCEL' else 'Einladung'}: {what} am {day}"
        else:
            year, count = int(row.payload["jahr"]), int(row.payload["anzahl"])
            instance_id, users = None, users_with_keys(session, {COORDINATION})
            title = f"Zweites Netzwerktreffen {year} noch nicht terminiert"
        mails = []
        for user in sorted(users, key=lambda u: u.id):
            self._notify(
                session, row, user, now, Notification(task_id=None, instance_id=instance_id, title=title)
            )
            mail = self._mail_if_wanted(session, row, user, now)
            if mail is None:
                continue
            if row.kind == INVITATION_KIND:
                link = f"{self.base_url.rstrip('/')}/benachrichtigungen"
                attachment = calendar_attachment(termin, self.organizer, link)
                art = str(row.payload.get("art"))
                mails.append(Sending(mail[0], meeting_mail(mail[1], self.base_url, art, day, attachment)))
            else:
                mails.append(Sending(mail[0], warning_mail(mail[1], self.base_url, year, count)))
        return Claim(row.id, tuple(mails))

    def _prepare_vacancy(self, session: Session, row: Outbox, now: datetime) -> Claim:
        """The Steuerungsgruppe fell below its minimum or lost a coordinator (P7)."""
        instance_id = row.payload.get("instance_id")
        mails = []
        for user in vacancy_recipients(session):
            notice = Notification(task_id=None, instance_id=instance_id, title=VACANCY_TITLE)
            self._notify(session, row, user, now, notice)
            mail = self._mail_if_wanted(session, row, user, now)
            if mail is not None:
                mails.append(Sending(mail[0], vacancy_mail(mail[1], self.base_url)))
        return Claim(row.id, tuple(mails))

    def _prepare_consent_withdrawn(self, session: Session, row: Outbox, now: datetime) -> Claim:
        """A consent was withdrawn: every member of each recipient organisation is told, with a
        neutral title and the case link only (no case data)."""
        instance_id = row.payload.get("instance_id")
        users = users_with_keys(session, {f"*@{org}" for org in row.payload.get("organisationen", [])})
        mails = []
        for user in sorted(users, key=lambda u: u.id):
            notice = Notification(task_id=None, instance_id=instance_id, title=WITHDRAWN_TITLE)
            self._notify(session, row, user, now, notice)
            mail = self._mail_if_wanted(session, row, user, now)
            if mail is not None:
                mails.append(Sending(mail[0], consent_withdrawn_mail(mail[1], self.base_url)))
        return Claim(row.id, tuple(mails))

    def _prepare_lock_notice(self, session: Session, row: Outbox, now: datetime) -> Claim:
        """The account was locked: its owner is told in the app and, whatever the preference, by e-mail."""
        user = session.get(User, int(row.payload.get("user_id", 0)))
        if user is None or not user.active:
            return Claim(row.id, ())
        notice = Notification(task_id=None, instance_id=None, title=LOCKED_TITLE)
        self._notify(session, row, user, now, notice)
        if self.mailer is None or not user.email:
            return Claim(row.id, ())
        delivery_id = self._record_sending(session, row, user, now)
        if delivery_id is None:
            return Claim(row.id, ())
        until = datetime.fromisoformat(str(row.payload["until"]))
        mail = lock_mail(user.email, self.base_url, until, int(row.payload.get("versuche", 0)))
        return Claim(row.id, (Sending(delivery_id, mail),))

    def _mail_if_wanted(
        self, session: Session, row: Outbox, user: User, now: datetime
    ) -> tuple[int, str] | None:
        """For a user who wants e-mail at once: the log row recorded as ``sending`` and the address."""
        if self.mailer is None or not user.email or user.notification_preference != "sofort":
            return None
        delivery_id = self._record_sending(session, row, user, now)
        return (delivery_id, user.email) if delivery_id is not None else None

    @staticmethod
    def _notify(session: Session, row: Outbox, user: User, now: datetime, notice: Notification) -> None:
        """Add ``notice`` (task, instance and title filled in) for ``user`` unless it exists already."""
        exists = session.scalar(
            select(Notification.id).where(Notification.outbox_id == row.id, Notification.user_id == user.id)
        )
        if exists is None:
            notice.user_id, notice.outbox_id, notice.created_at, notice.kind = user.id, row.id, now, row.kind
            session.add(notice)

    @staticmethod
    def _record_sending(session: Session, row: Outbox, user: User, now: datetime) -> int | None:
        """The e-mail's log row as ``queued``: new, a failed one to retry, or one a dead claim never
        handed over; None when done already (or ``unsicher``)."""
        delivery = session.scalars(
            select(EmailDelivery).where(EmailDelivery.outbox_id == row.id, EmailDelivery.user_id == user.id)
        ).first()
        if delivery is None:
            delivery = EmailDelivery(
                user_id=user.id,
                outbox_id=row.id,
                kind=MAIL_KINDS[row.kind],
                status="queued",
                created_at=now,
                attempts=0,
            )
            session.add(delivery)
        elif delivery.status not in ("failed", "queued"):
            return None
        delivery.status, delivery.attempts = "queued", delivery.attempts + 1
        session.flush()
        return delivery.id

    def _send(self, sending: Sending) -> str | None:
        """Hand one e-mail to the server and record the outcome; returns the error when it failed."""
        assert self.mailer is not None
        if not self._mark_sending(sending.delivery_id):
            return None  # taken over by a later claim (this one outlived its lease)
        try:
            self.mailer.send(replace(sending.mail, reference=str(sending.delivery_id)))
        except MailNotSent as exc:
            self._record(sending.delivery_id, "failed", exc.message)
            return exc.message
        except MailUncertain as exc:
            log.warning("E-Mail %s: Zustellung unsicher, wird nicht wiederholt", sending.delivery_id)
            self._record(sending.delivery_id, "unsicher", exc.message)
            return None
        self._record(sending.delivery_id, "sent", None)
        return None

    def _mark_sending(self, delivery_id: int) -> bool:
        """Commit ``sending`` right before the hand-over: only this one e-mail becomes ``unsicher``
        if the process dies now; the others of the claim stay ``queued`` and are sent by the next
        claim. False when the row is neither ``queued`` nor ``sending`` (a digest is recorded as
        ``sending`` at once) any more."""
        with self.db.write() as session:
            changed = _changed(
                session,
                update(EmailDelivery)
                .where(EmailDelivery.id == delivery_id, EmailDelivery.status.in_(("queued", "sending")))
                .values(status="sending"),
            )
            session.commit()
            return changed > 0

    def _record(self, delivery_id: int, status: str, error: str | None) -> None:
        with self.db.write() as session:
            delivery = session.get(EmailDelivery, delivery_id)
            assert delivery is not None
            now = self.clock.now()
            delivery.status, delivery.last_error = status, error
            if status == "sent":
                delivery.sent_at = now
            if status == "failed":
                delivery.next_attempt_at = now + backoff(delivery.attempts)
            session.commit()

    def _finish(self, outbox_id: int, errors: list[str]) -> None:
        with self.db.write() as session:
            row = session.get(Outbox, outbox_id)
            assert row is not None
            now = self.clock.now()
            row.processed_at = now
            if not errors:
                row.status, row.last_error, row.next_attempt_at = "sent", None, None
            else:
                row.last_error = errors[0][:2000]
                row.status = "dead" if row.attempts >= MAX_ATTEMPTS else "failed"
                row.next_attempt_at = None if row.status == "dead" else now + backoff(row.attempts)
                log.warning("Benachrichtigung %s: %s (Versuch %s)", outbox_id, row.last_error, row.attempts)
            session.commit()

    # --- daily digest ------------------------------------------------------------------------
    def send_digests(self) -> int:
        """Once a day from the digest hour (Europe/Berlin): the number of new tasks, per user."""
        now = self.clock.now()
        local = now.astimezone(BERLIN)
        if self.mailer is None or local.hour < self.digest_hour:
            return 0
        sent = 0
        for sending in self._claim_digests(local.date().isoformat(), now):
            sent += self._send(sending) is None
        return sent

    def _claim_digests(self, day: str, now: datetime) -> list[Sending]:
        with self.db.write() as session:
            rows = session.execute(
                select(User, EmailDelivery)
                .outerjoin(
                    EmailDelivery, and_(EmailDelivery.user_id == User.id, EmailDelivery.digest_day == day)
                )
                .where(
                    User.active.is_(True),
                    User.notification_preference == "taeglich",
                    User.email.is_not(None),
                    or_(
                        EmailDelivery.id.is_(None),
                        and_(
                            EmailDelivery.status == "failed",
                            EmailDelivery.attempts < MAX_ATTEMPTS,
                            EmailDelivery.next_attempt_at <= now,
                        ),
                    ),
                )
            ).all()
            mails = [self._digest(session, user, delivery, day, now) for user, delivery in rows]
            session.commit()
            return [m for m in mails if m is not None]

    def _digest(
        self, session: Session, user: User, delivery: EmailDelivery | None, day: str, now: datetime
    ) -> Sending | None:
        assert user.email is not None
        if delivery is not None:  # a failed digest of today: take it over unless another runner did
            taken = _changed(
                session,
                update(EmailDelivery)
                .where(EmailDelivery.id == delivery.id, EmailDelivery.status == "failed")
                .values(status="sending", attempts=EmailDelivery.attempts + 1),
            )
            count, ballots = _new_since_last_digest(session, user.id, day)
            mail = digest_mail(user.email, self.base_url, count, ballots)
            return Sending(delivery.id, mail) if taken else None
        count, ballots = _new_since_last_digest(session, user.id, day)
        status = "sending" if count or ballots else "leer"  # "leer": nothing new, checked again tomorrow
        row = EmailDelivery(
            user_id=user.id, digest_day=day, kind="tagesuebersicht", status=status, created_at=now, attempts=1
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another runner recorded today's digest first
            return None
        if status == "leer":
            return None
        return Sending(row.id, digest_mail(user.email, self.base_url, count, ballots))

    # --- in-app ------------------------------------------------------------------------------
    def of_user(self, user_id: int, limit: int = 100) -> list[NotificationView]:
        with self.db.read() as session:
            rows = session.execute(
                select(Notification, Outbox.payload)
                .outerjoin(Outbox, Outbox.id == Notification.outbox_id)
                .where(Notification.user_id == user_id)
                .order_by(Notification.created_at.desc(), Notification.id.desc())
                .limit(limit)
            ).all()
            return [
                NotificationView(
                    n.id,
                    n.created_at,
                    n.kind,
                    n.task_id,
                    n.instance_id,
                    n.title,
                    n.read_at,
                    _ballot_of(n, payload),
                )
                for n, payload in rows
            ]

    def unread_count(self, user_id: int) -> int:
        with self.db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.user_id == user_id, Notification.read_at.is_(None))
                )
                or 0
            )

    def mark_read(self, user_id: int, notification_id: int) -> None:
        with self.db.write() as session:
            row = session.get(Notification, notification_id)
            if row is None or row.user_id != user_id:
                raise NotFoundError("Benachrichtigung nicht gefunden.")
            row.read_at = row.read_at or self.clock.now()
            session.commit()

    def mark_all_read(self, user_id: int) -> int:
        with self.db.write() as session:
            changed = _changed(
                session,
                update(Notification)
                .where(Notification.user_id == user_id, Notification.read_at.is_(None))
                .values(read_at=self.clock.now()),
            )
            session.commit()
            return changed

    def settings(self, user_id: int) -> NotificationSettings:
        with self.db.read() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFoundError("Benutzer nicht gefunden.")
            return NotificationSettings(user.notification_preference, user.email)

    def set_preference(self, user_id: int, preference: str) -> None:
        if preference not in PREFERENCES:
            raise InvalidSubmissionError(PREFERENCE_ERROR, {"preference": PREFERENCE_ERROR})
        with self.db.write() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFoundError("Benutzer nicht gefunden.")
            user.notification_preference = preference
            session.commit()

    def set_email(self, actor: Actor, email: str) -> None:
        """Set or (empty) clear the actor's own address: one address, at most 254 characters.
        Audited without the address itself (only whether one is set now)."""
        address = email.strip()
        if address and (len(address) > EMAIL_MAX or not EMAIL_RE.fullmatch(address)):
            raise InvalidSubmissionError(EMAIL_ERROR, {"email": EMAIL_ERROR})
        with self.db.write() as session:
            user = session.get(User, actor.id)
            if user is None:
                raise NotFoundError("Benutzer nicht gefunden.")
            if (user.email or "") == address:
                return
            detail = {"vorher": _set_or_empty(user.email), "jetzt": _set_or_empty(address)}
            user.email = address or None
            audit(session, self.clock.now(), actor, "email_changed", None, detail=detail)
            session.commit()


def _set_or_empty(address: str | None) -> str:
    return "gesetzt" if address else "leer"


def _new_since_last_digest(session: Session, user_id: int, day: str) -> tuple[int, int]:
    """New tasks and newly opened ballots (not reminders or escalations) since the user's previous
    digest, or all unread such notifications before the first — the digest says "neue Aufgaben"."""
    previous = session.scalar(
        select(func.max(EmailDelivery.created_at)).where(
            EmailDelivery.user_id == user_id,
            EmailDelivery.kind == "tagesuebersicht",
            EmailDelivery.digest_day != day,
        )
    )
    query = (
        select(Notification.kind, func.count())
        .where(Notification.user_id == user_id, Notification.kind.in_(("task_created", BALLOT_OPENED)))
        .group_by(Notification.kind)
    )
    query = (
        query.where(Notification.created_at > previous)
        if previous
        else query.where(Notification.read_at.is_(None))
    )
    counts = {kind: int(n) for kind, n in session.execute(query).all()}
    return counts.get("task_created", 0), counts.get(BALLOT_OPENED, 0)


def _ballot_of(notification: Notification, payload: dict[str, Any] | None) -> int | None:
    """The ballot a ballot notification links to (kept in its outbox row's payload)."""
    if notification.kind not in BALLOT_KINDS or not payload or payload.get("ballot_id") is None:
        return None
    return int(payload["ballot_id"])


def _drop_leftovers(session: Session, claim: Claim) -> None:
    """A taken-over row whose e-mails a dead claim never handed over, but which this claim does
    not send (the task was done meanwhile, or the recipient is no longer one): ``entfallen``."""
    session.execute(
        update(EmailDelivery)
        .where(
            EmailDelivery.outbox_id == claim.outbox_id,
            EmailDelivery.status == "queued",
            EmailDelivery.id.not_in([sending.delivery_id for sending in claim.mails]),
        )
        .values(status="entfallen", last_error="Nicht mehr versandt: Anlass inzwischen erledigt.")
    )


def _changed(session: Session, statement: Update) -> int:
    """Run an UPDATE and return how many rows it changed."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)
