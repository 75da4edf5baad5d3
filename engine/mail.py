"""E-mail over SMTP with the standard library. Messages carry no case data: a neutral subject and a link.

:class:`SmtpMailer` tells two failures apart, because the outbox must never send twice:
:class:`MailNotSent` — the server certainly did not take the message (connection refused, login
failed, recipient or data refused): safe to retry; :class:`MailUncertain` — the connection broke
while the message was being handed over: it may have arrived, so it is not sent again.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from engine.errors import HilfenetzError
from engine.settings import Settings

TIMEOUT_SECONDS = 30.0
#: Header carrying the e-mail's ``email_delivery`` id (a number, no case data).
DELIVERY_HEADER = "X-Hilfenetz-Zustellung"
TASK_SUBJECT = "Neue Aufgabe in Hilfenetz"
REMINDER_SUBJECT = "Erinnerung: Aufgabe in Hilfenetz fällig"
ESCALATION_SUBJECT = "Überfällige Aufgabe in Hilfenetz"
#: Subject and first sentence per outbox kind; neither names the task nor the case.
TASK_TEXTS = {
    "task_created": (TASK_SUBJECT, "in Hilfenetz wartet eine neue Aufgabe auf Sie:"),
    "task_reminder": (REMINDER_SUBJECT, "in Hilfenetz wird eine Ihrer Aufgaben bald fällig:"),
    "task_escalated": (
        ESCALATION_SUBJECT,
        "in Hilfenetz ist eine Aufgabe in Ihrem Verantwortungsbereich überfällig:",
    ),
}
DIGEST_SUBJECT = "Neue Aufgaben in Hilfenetz"
BALLOT_DIGEST_SUBJECT = "Neue Abstimmungen in Hilfenetz"
#: Subject and first sentence per ballot outbox kind; neither names the ballot nor the application.
BALLOT_TEXTS = {
    "ballot_opened": (
        "Abstimmung der Steuerungsgruppe in Hilfenetz",
        "in Hilfenetz ist eine Abstimmung der Steuerungsgruppe eröffnet, in der Sie stimmberechtigt sind:",
    ),
    "ballot_reminder": (
        "Erinnerung: Abstimmung in Hilfenetz endet bald",
        "in Hilfenetz endet bald eine Abstimmung der Steuerungsgruppe, in der Ihre Stimme noch fehlt:",
    ),
}
MEETING_KINDS = {"netzwerktreffen": "Netzwerktreffen", "fachtag": "Fachtag"}
WARNING_SUBJECT = "Zweites Netzwerktreffen des Jahres noch nicht terminiert"


class MailNotSent(HilfenetzError):
    """The SMTP server did not accept the message; sending it again is safe."""


class MailUncertain(HilfenetzError):
    """It is unknown whether the SMTP server accepted the message; it must not be sent again."""


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail; ``method`` is the iTIP method of a ``text/calendar`` part."""

    filename: str
    content_type: str
    data: bytes
    method: str | None = None


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    #: The ``email_delivery`` id, sent as :data:`DELIVERY_HEADER`: a bounce or a support question
    #: (and the crash test's SMTP sink) ties a received message to its log row.
    reference: str = ""


class Mailer(Protocol):
    def send(self, mail: Mail) -> None:
        """Hand the message to the server; raise MailNotSent or MailUncertain."""
        ...


def task_mail(to: str, base_url: str, task_id: str, kind: str = "task_created") -> Mail:
    """A new, soon due or overdue task: only a neutral text and the link (no task name, no data)."""
    subject, opening = TASK_TEXTS[kind]
    link = f"{base_url.rstrip('/')}/aufgaben/{task_id}"
    body = (
        "Guten Tag,\n\n"
        f"{opening}\n"
        f"{link}\n\n"
        "Aus Datenschutzgründen enthält diese E-Mail keine Angaben zum Fall. "
        "Bitte melden Sie sich an, um die Aufgabe zu sehen.\n\n"
        "Sie können Ihre Benachrichtigungen unter "
        f"{base_url.rstrip('/')}/benachrichtigungen einstellen.\n"
    )
    return Mail(to, subject, body)


def ballot_mail(to: str, base_url: str, ballot_id: int, kind: str) -> Mail:
    """A ballot opened or about to close: a neutral text and the link to the ballot page only."""
    subject, opening = BALLOT_TEXTS[kind]
    body = (
        "Guten Tag,\n\n"
        f"{opening}\n"
        f"{base_url.rstrip('/')}/abstimmungen/{ballot_id}\n\n"
        "Bitte melden Sie sich an, um den Antrag zu sehen und abzustimmen.\n\n"
        "Sie können Ihre Benachrichtigungen unter "
        f"{base_url.rstrip('/')}/benachrichtigungen einstellen.\n"
    )
    return Mail(to, subject, body)


def vacancy_mail(to: str, base_url: str) -> Mail:
    """The Steuerungsgruppe fell below its minimum size (P7): a neutral text and the link to start P7."""
    body = (
        "Guten Tag,\n\n"
        "in Hilfenetz hat die Steuerungsgruppe weniger Mitglieder als vorgesehen. "
        "Bitte leiten Sie die Nachbesetzung ein (Prozess „Steuerungsgruppe und Koordination“):\n"
        f"{base_url.rstrip('/')}/prozesse\n\n"
        "Sie können Ihre Benachrichtigungen unter "
        f"{base_url.rstrip('/')}/benachrichtigungen einstellen.\n"
    )
    return Mail(to, "Steuerungsgruppe: Nachbesetzung nötig", body)


def consent_withdrawn_mail(to: str, base_url: str) -> Mail:
    """A consent naming the recipient's organisation was withdrawn: neutral text, only the link."""
    base = base_url.rstrip("/")
    body = (
        "Guten Tag,\n\n"
        "in Hilfenetz wurde eine Einwilligung widerrufen, die Ihre Organisation betrifft. "
        "Daten, die sie abdeckte, werden ab sofort nicht mehr an Sie weitergegeben. "
        f"Einzelheiten sehen Sie nach der Anmeldung unter:\n{base}/benachrichtigungen\n\n"
        f"Sie können Ihre Benachrichtigungen unter {base}/benachrichtigungen einstellen.\n"
    )
    return Mail(to, "Hilfenetz: Einwilligung widerrufen", body)


def digest_mail(to: str, base_url: str, count: int, ballots: int = 0) -> Mail:
    """The daily digest: only the number of new tasks (and of new ballots) and the links."""
    base = base_url.rstrip("/")
    news = []
    if count:
        what = "eine neue Aufgabe" if count == 1 else f"{count} neue Aufgaben"
        news.append(f"seit der letzten Übersicht gibt es in Hilfenetz {what} für Sie:\n{base}/aufgaben\n\n")
    if ballots:
        which = "eine neue Abstimmung" if ballots == 1 else f"{ballots} neue Abstimmungen"
        lead = "außerdem gibt es" if count else "seit der letzten Übersicht gibt es in Hilfenetz"
        news.append(
            f"{lead} {which} der Steuerungsgruppe, in der Sie stimmberechtigt sind:\n{base}/abstimmungen\n\n"
        )
    body = (
        "Guten Tag,\n\n"
        + "".join(news)
        + "Aus Datenschutzgründen enthält diese E-Mail keine Angaben zu Fällen.\n\n"
        "Sie können Ihre Benachrichtigungen unter "
        f"{base}/benachrichtigungen einstellen.\n"
    )
    return Mail(to, DIGEST_SUBJECT if count else BALLOT_DIGEST_SUBJECT, body)


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.tls = settings.smtp_tls
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.sender = settings.mail_sender

    def message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(domain="hilfenetz.invalid")
        if mail.reference:
            message[DELIVERY_HEADER] = mail.reference
        message.set_content(mail.body)
        for attachment in mail.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            params = {"method": attachment.method} if attachment.method else None
            message.add_attachment(
                attachment.data,
                maintype=maintype,
                subtype=subtype,
                filename=attachment.filename,
                params=params,
            )
        return message

    def send(self, mail: Mail) -> None:
        message = self.message(mail)
        connection = self._connect()
        try:
            self._hand_over(connection, message)
        finally:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def _connect(self) -> smtplib.SMTP:
        """Connect, TLS and login: any failure here means nothing was sent."""
        try:
            if self.tls == "ssl":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            if self.tls == "starttls":
                connection.starttls(context=ssl.create_default_context())
            if self.user:
                connection.login(self.user, self.password)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailNotSent(f"SMTP-Server {self.host}:{self.port} nicht erreichbar: {exc}") from None
        return connection

    @staticmethod
    def _hand_over(connection: smtplib.SMTP, message: EmailMessage) -> None:
        try:
            connection.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise MailNotSent(f"SMTP-Server hat die Nachricht abgelehnt: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUncertain(f"Verbindung während der Übergabe abgebrochen: {exc}") from None


def meeting_mail(to: str, base_url: str, kind: str, day: str, attachment: Attachment) -> Mail:
    """An invitation to (or the cancellation of) a network meeting with its ``.ics`` file: the kind
    of meeting, its day and the link; the title, time and place are in the calendar file."""
    what = MEETING_KINDS.get(kind, "Termin des Netzwerks")
    link = f"{base_url.rstrip('/')}/benachrichtigungen"
    cancelled = attachment.method == "CANCEL"
    subject = f"Abgesagt: {what} am {day}" if cancelled else f"Einladung: {what} am {day}"
    opening = (
        f"das {what} am {day} ist abgesagt; der Kalendereintrag im Anhang entfernt ihn."
        if cancelled
        else f"Sie sind zum {what} am {day} eingeladen. Den Termin können Sie mit der Datei im Anhang "
        "(termin.ics) in Ihren Kalender übernehmen."
    )
    body = (
        "Guten Tag,\n\n"
        f"{opening}\n\n"
        f"Ihre Benachrichtigungen in Hilfenetz (dort auch die Kalenderdatei): {link}\n"
    )
    return Mail(to, subject, body, (attachment,))


def warning_mail(to: str, base_url: str, year: int, count: int) -> Mail:
    """The coordinators' warning that the second network meeting of the year has no date."""
    body = (
        "Guten Tag,\n\n"
        f"für {year} ist erst {count} von mindestens zwei Netzwerktreffen terminiert "
        "(§ 2 Kooperationsvereinbarung: mindestens zweimal im Jahr). Bitte legen Sie das nächste "
        "Treffen in Hilfenetz an:\n"
        f"{base_url.rstrip('/')}/prozesse\n"
    )
    return Mail(to, WARNING_SUBJECT, body)
