"""Local accounts: argon2id password hashes, login with per-account lock-out."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import LoginRefusedError, NotPermittedError
from engine.persistence.models import User

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
_DUMMY_HASH = _HASHER.hash("timing-equaliser-not-a-password")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise NotPermittedError(f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein.")
    return _HASHER.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


LOGIN_FAILED = "Anmeldung fehlgeschlagen: Benutzername oder Passwort ist falsch."


def authenticate(session: Session, username: str, password: str, now: datetime, max_attempts: int) -> User:
    """Check the password; lock the account for 15 minutes after ``max_attempts`` failures.

    The caller commits (failed attempts must be stored too). Unknown users cost the same time.
    """
    user = session.scalars(select(User).where(func.lower(User.username) == username.strip().lower())).first()
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        raise LoginRefusedError(LOGIN_FAILED, reason="unbekannt", user_id=None)
    if user.locked_until is not None and user.locked_until > now:
        raise LoginRefusedError(
            "Das Konto ist nach mehreren Fehlversuchen vorübergehend gesperrt. "
            "Bitte versuchen Sie es in 15 Minuten erneut.",
            reason="gesperrt",
            user_id=user.id,
        )
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        reason = "passwort"
        if user.failed_logins >= max_attempts:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            reason = "sperre"
        raise LoginRefusedError(LOGIN_FAILED, reason=reason, user_id=user.id)
    user.failed_logins = 0
    user.locked_until = None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return user
