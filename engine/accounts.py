"""Local accounts: argon2id password hashes, login with per-account lock-out."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.errors import LoginRefusedError, NotPermittedError
from engine.persistence.models import AccountSecurity, UnknownLoginName, User

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
LOCKED = (
    "Das Konto ist nach mehreren Fehlversuchen vorübergehend gesperrt. "
    "Bitte versuchen Sie es nach der genannten Uhrzeit erneut."
)


def name_digest(username: str, pepper: str) -> str:
    """Keyed digest of a typed login name (never stored in clear: it may be a mistyped password)."""
    key = pepper.encode()
    return hmac.new(key, username.strip().lower()[:200].encode(), hashlib.sha256).hexdigest()


def authenticate(
    session: Session, username: str, password: str, now: datetime, max_attempts: int, pepper: str = ""
) -> User:
    """Check the password; lock the account for 15 minutes after ``max_attempts`` failures.

    The caller commits (failed attempts must be stored too). Unknown (or deactivated) names cost the
    same time and are locked the same way, so neither the answer nor its timing tells which exist:
    the password is hashed before any refusal, also while the account is locked. The account's row
    (or the unknown name's) is locked until the commit, so parallel attempts are counted one after
    the other and cannot slip past the lock-out.
    """
    query = select(User).where(func.lower(User.username) == username.strip().lower())
    user = session.scalars(query.with_for_update(of=User)).first()
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        _fail_unknown(session, name_digest(username, pepper), now, max_attempts)
    assert user is not None  # _fail_unknown always raises
    password_ok = _verify(user.password_hash, password)
    if user.locked_until is not None and user.locked_until > now:
        raise LoginRefusedError(LOCKED, reason="gesperrt", user_id=user.id, locked_until=user.locked_until)
    if not password_ok:
        user.failed_logins += 1
        reason = "passwort"
        if user.failed_logins >= max_attempts:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            reason = "sperre"
        raise LoginRefusedError(LOGIN_FAILED, reason=reason, user_id=user.id, locked_until=user.locked_until)
    user.failed_logins = 0
    user.locked_until = None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return user


def _unknown_name_row(session: Session, digest: str, now: datetime) -> UnknownLoginName:
    """The name's counter row, created if missing and locked until the commit. Two first attempts
    at once both insert: ``ON CONFLICT DO NOTHING`` lets the second wait for the first and then
    use its row instead of failing on the primary key."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    values = {"digest": digest, "failed_logins": 0, "last_attempt_at": now}
    session.execute(insert(UnknownLoginName).values(**values).on_conflict_do_nothing())
    query = select(UnknownLoginName).where(UnknownLoginName.digest == digest)
    return session.scalars(query.with_for_update().execution_options(populate_existing=True)).one()


def _fail_unknown(session: Session, digest: str, now: datetime, max_attempts: int) -> NoReturn:
    """Count a failure for a name without an active account, exactly like one with an account."""
    row = _unknown_name_row(session, digest, now)
    row.last_attempt_at = now
    if row.locked_until is not None and row.locked_until > now:
        raise LoginRefusedError(LOCKED, reason="gesperrt", user_id=None, locked_until=row.locked_until)
    row.failed_logins += 1
    if row.failed_logins >= max_attempts:
        row.locked_until, row.failed_logins = now + LOCKOUT, 0
    raise LoginRefusedError(LOGIN_FAILED, reason="unbekannt", user_id=None)


def security_of(session: Session, user_id: int) -> AccountSecurity:
    """The account's security row (created on first use)."""
    row = session.get(AccountSecurity, user_id)
    if row is None:
        row = AccountSecurity(user_id=user_id, must_change_password=False, session_generation=0)
        session.add(row)
    return row


def require_password_change(session: Session, user_id: int) -> None:
    """A start password was issued: the owner must replace it at the first login."""
    security_of(session, user_id).must_change_password = True


def end_sessions(session: Session, user_id: int) -> None:
    """End every web session of the account at its next request: the session keeps the generation
    it started with, and ``webapp/session_guard.py`` refuses it once the stored one has moved on.
    Called at logout, password change, password reset (start password) and deactivation."""
    row = security_of(session, user_id)
    row.session_generation = (row.session_generation or 0) + 1
