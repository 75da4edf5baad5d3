"""Personal access tokens for the REST API: create (shown once), list, revoke, resolve a bearer token.

A token is ``hn_`` followed by 43 characters of ``secrets.token_urlsafe(32)`` (256 random bits).
Only its SHA-256 is stored. A password hash such as argon2 is deliberately *not* used: argon2 exists
to slow down guessing of low-entropy passwords; a 256-bit random secret cannot be guessed, and a
fast, deterministic hash lets every API request find its token by an indexed lookup instead of
verifying against every stored hash.

A token works only while it is not revoked, not expired and its user's account is active (a
deactivated or anonymised account has ``active = False``, so its tokens stop working at once).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.directory import actor_of
from engine.errors import InvalidSubmissionError, NotFoundError
from engine.persistence.models import AccessToken, User
from engine.projection import BERLIN
from engine.read_models import Actor
from engine.runtime import audit

PREFIX = "hn_"
#: Reads (``lesen``), changes to tasks and cases (``schreiben``), votes in ballots (``abstimmen``).
SCOPES = ("lesen", "schreiben", "abstimmen")
MAX_LIFETIME = timedelta(days=366)
MAX_NAME = 100
MAX_TOKENS_PER_USER = 20
#: How often the "last used" time is written (not on every request: that would make each read a write).
LAST_USED_PRECISION = timedelta(minutes=1)
_TOKEN_RE = re.compile(r"hn_[A-Za-z0-9_-]{43}")

NAME_ERROR = "Bitte geben Sie dem Token einen Namen (höchstens 100 Zeichen)."
SCOPE_ERROR = "Bitte wählen Sie mindestens einen Bereich: lesen, schreiben oder abstimmen."
EXPIRY_ERROR = "Das Ablaufdatum muss in der Zukunft und höchstens ein Jahr entfernt liegen."
TOO_MANY = "Sie haben bereits 20 gültige Tokens. Bitte widerrufen Sie zuerst ein altes."
INVALID = "Die Angaben zum Token sind unvollständig."


@dataclass(frozen=True)
class AccessTokenView:
    """One token as its owner sees it (never the secret)."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool


@dataclass(frozen=True)
class CreatedToken:
    """The new token: its view and the secret, returned exactly once."""

    view: AccessTokenView
    secret: str


@dataclass(frozen=True)
class TokenGrant:
    """Whom a valid bearer token speaks for, and what it may do."""

    actor: Actor
    scopes: tuple[str, ...]
    token_id: int
    last_use_stale: bool = False
    """The stored "last used" time is older than :data:`LAST_USED_PRECISION`."""


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _is_active(row: AccessToken, now: datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


def _view(row: AccessToken, now: datetime) -> AccessTokenView:
    return AccessTokenView(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        active=_is_active(row, now),
    )


def tokens_of(session: Session, actor: Actor, now: datetime) -> list[AccessTokenView]:
    """The actor's own tokens, newest first."""
    rows = session.scalars(
        select(AccessToken).where(AccessToken.user_id == actor.id).order_by(AccessToken.id.desc())
    )
    return [_view(row, now) for row in rows]


def _checked(
    name: object, scopes: object, expires_on: object, now: datetime
) -> tuple[str, list[str], datetime | None]:
    """The name, scopes and expiry after the checks, or every problem as a German field error."""
    errors: dict[str, str] = {}
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name or len(clean_name) > MAX_NAME or not clean_name.isprintable():
        errors["name"] = NAME_ERROR
    chosen = [s for s in SCOPES if isinstance(scopes, Sequence) and s in scopes]
    if not chosen or not isinstance(scopes, Sequence) or any(s not in SCOPES for s in scopes):
        errors["scopes"] = SCOPE_ERROR
    expires_at = None
    if expires_on is not None:
        expires_at = _end_of(expires_on) if isinstance(expires_on, date) else None
        if expires_at is None or expires_at <= now or expires_at > now + MAX_LIFETIME:
            errors["expires_on"] = EXPIRY_ERROR
    if errors:
        raise InvalidSubmissionError(INVALID, errors)
    return clean_name, chosen, expires_at


def _end_of(day: date) -> datetime | None:
    """The end of a Berlin calendar day (the token works through the whole day it names)."""
    if isinstance(day, datetime) or not 2000 <= day.year <= 2100:
        return None
    return datetime.combine(day + timedelta(days=1), time.min, BERLIN)


def create(
    session: Session, actor: Actor, now: datetime, name: object, scopes: object, expires_on: object
) -> CreatedToken:
    """A new token for the actor (audited; the caller commits)."""
    clean_name, chosen, expires_at = _checked(name, scopes, expires_on, now)
    if sum(1 for t in tokens_of(session, actor, now) if t.active) >= MAX_TOKENS_PER_USER:
        raise InvalidSubmissionError(TOO_MANY, {"name": TOO_MANY})
    secret = PREFIX + secrets.token_urlsafe(32)
    row = AccessToken(
        user_id=actor.id,
        name=clean_name,
        token_hash=token_hash(secret),
        prefix=secret[:8],
        scopes=chosen,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    detail = {"token": row.id, "name": clean_name, "bereiche": chosen}
    audit(session, now, actor, "zugangstoken_erstellt", None, detail=detail)
    return CreatedToken(_view(row, now), secret)


def revoke(session: Session, actor: Actor, now: datetime, token_id: int) -> None:
    """Revoke one of the actor's own tokens (audited; revoking twice changes nothing)."""
    row = session.get(AccessToken, token_id)
    if row is None or row.user_id != actor.id:
        raise NotFoundError("Token nicht gefunden.")
    if row.revoked_at is None:
        row.revoked_at = now
        audit(
            session, now, actor, "zugangstoken_widerrufen", None, detail={"token": row.id, "name": row.name}
        )


def resolve(session: Session, secret: str, now: datetime) -> TokenGrant | None:
    """The grant of a bearer token, or None when it is malformed, unknown, revoked, expired or its
    account (or organisation) is inactive. Reads only: see :func:`note_use`."""
    if not _TOKEN_RE.fullmatch(secret):
        return None
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == token_hash(secret)))
    if row is None or not _is_active(row, now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or not user.organisation.active:
        return None
    stale = row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION
    return TokenGrant(actor_of(user), tuple(row.scopes), row.id, stale)


def note_use(session: Session, token_id: int, now: datetime) -> None:
    """Note the last use (at most once a minute, so that reads stay reads; the caller commits)."""
    row = session.get(AccessToken, token_id)
    if row is not None:
        row.last_used_at = now
