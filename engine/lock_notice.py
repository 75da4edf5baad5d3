"""The notice to an account's owner that the account was locked after failed logins (ASVS 2.2.3:
users learn of security-relevant events on their account). Queued in the outbox by the login that
locked it; :mod:`engine.notifications` delivers it in the app and by e-mail — by e-mail regardless of
the user's notification preference, because it is about the account, not about work."""

from __future__ import annotations

from datetime import datetime

from engine.mail import Mail
from engine.projection import BERLIN

LOCKED_KIND = "konto_gesperrt"
LOCKED_TITLE = "Ihr Konto wurde nach mehreren fehlgeschlagenen Anmeldeversuchen vorübergehend gesperrt"


def lock_mail(to: str, base_url: str, until: datetime, attempts: int) -> Mail:
    """Neutral text: when the lock ends and what to do if it was not the owner."""
    base = base_url.rstrip("/")
    time = until.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")
    body = (
        "Guten Tag,\n\n"
        f"Ihr Hilfenetz-Konto wurde nach {attempts} fehlgeschlagenen Anmeldeversuchen bis {time} Uhr "
        "gesperrt. Danach können Sie sich wieder anmelden.\n\n"
        "Waren das nicht Sie, versucht vielleicht jemand, Ihr Passwort zu erraten. Ändern Sie Ihr "
        f"Passwort nach der nächsten Anmeldung ({base}/passwort-aendern) und informieren Sie die "
        "Administration Ihrer Organisation.\n"
    )
    return Mail(to, "Hilfenetz: Konto vorübergehend gesperrt", body)
