"""Facade methods for sign-in security: local login with lock-out notice, password change under the
BSI policy, start passwords that must be replaced, and the audit entry of an expired session.

A mixin of :class:`engine.service.Hilfenetz` (see the common rule: new facade methods live beside
``service.py``, not in it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import password_policy
from engine import single_sign_on as sso
from engine.accounts import LOCKOUT, _verify, authenticate, end_sessions, hash_password, security_of
from engine.audit_trail import AuditTrail, login_refused
from engine.clock import Clock
from engine.directory import actor_of
from engine.errors import InvalidSubmissionError, LoginRefusedError, NotPermittedError
from engine.lock_notice import LOCKED_KIND
from engine.persistence.database import Database
from engine.persistence.models import AccountSecurity, Outbox, User
from engine.read_models import Actor
from engine.runtime import audit
from engine.settings import Settings

WRONG_CURRENT = "Das bisherige Passwort ist falsch."
SSO_ONLY = "Ihr Konto meldet sich über das Kreis-Konto an; Ihr Passwort ändern Sie dort, nicht in Hilfenetz."
SIGN_IN_WITH_PROVIDER = "Bitte mit dem Kreis-Konto anmelden: Dieses Konto hat kein Passwort in Hilfenetz."
SESSION_ENDS = {"inaktiv", "hoechstdauer"}


def queue_lock_notice(session: Session, now: datetime, user: User, attempts: int) -> None:
    """Tell the owner (in the app and by e-mail) that the account was locked after failed logins."""
    until = now + LOCKOUT
    payload = {"user_id": user.id, "until": until.isoformat(), "versuche": attempts}
    session.add(Outbox(created_at=now, kind=LOCKED_KIND, payload=payload, status="pending", attempts=0))


class SecurityFacade:
    db: Database
    clock: Clock
    settings: Settings
    audit_trail: AuditTrail

    def login(self, username: str, password: str) -> Actor:
        """Local login; a failure that locks the account also queues the notice to its owner."""
        now = self.clock.now()
        with self.db.write() as session:
            try:
                attempts, pepper = self.settings.login_max_attempts, self.settings.secret_key
                user = authenticate(session, username, password, now, attempts, pepper)
                self._refuse_single_sign_on_account(session, user)
            except LoginRefusedError as exc:
                refused = session.get(User, exc.user_id) if exc.user_id is not None else None
                login_refused(session, now, actor_of(refused) if refused else None, exc.reason)
                if refused is not None and exc.reason == "sperre":
                    queue_lock_notice(session, now, refused, self.settings.login_max_attempts)
                session.commit()  # keep the failed-attempt counter, the notice and the audit entry
                raise
            audit(session, now, actor_of(user), "login", None)
            session.commit()
            return actor_of(user)

    def single_sign_on_enabled(self) -> bool:
        return bool(self.settings.oidc_issuer)

    def oidc_login(self, claims: Mapping[str, Any]) -> Actor:
        """Sign in with the claims of an ID token the web app has verified (signature, issuer,
        audience, expiry, nonce). Creates or updates the account; refusals are audited."""
        now, settings = self.clock.now(), self.settings
        names = sso.ClaimNames(settings.oidc_organisation_claim, settings.oidc_roles_claim)
        mapping = sso.load_mapping(settings.oidc_mapping)
        with self.db.write() as session:
            try:
                user = sso.account_for(session, settings.oidc_issuer, claims, names, mapping, now)
            except LoginRefusedError as exc:
                session.rollback()
                refused = session.get(User, exc.user_id) if exc.user_id is not None else None
                detail = {"grund": exc.reason, "verfahren": "oidc"}
                actor = actor_of(refused) if refused else None
                audit(session, now, actor, "login_fehlgeschlagen", None, detail=detail)
                session.commit()
                raise
            session.flush()
            session.refresh(user)
            audit(session, now, actor_of(user), "login", None, detail={"verfahren": "oidc"})
            session.commit()
            return actor_of(user)

    def oidc_refused(self, reason: str) -> None:
        """Record a single sign-on the web app refused before any account was known (bad state,
        nonce, signature, expiry ...); ``reason`` is a short code, never a token."""
        with self.db.write() as session:
            detail = {"grund": reason[:60], "verfahren": "oidc"}
            audit(session, self.clock.now(), None, "login_fehlgeschlagen", None, detail=detail)
            session.commit()

    def must_change_password(self, actor: Actor) -> bool:
        with self.db.read() as session:
            row = session.get(AccountSecurity, actor.id)
            return bool(row and row.must_change_password)

    def password_min_length(self) -> int:
        return password_policy.MIN_LENGTH

    def password_problems(self, password: str, username: str) -> list[str]:
        """The policy's German sentences for a candidate password (empty = acceptable)."""
        return password_policy.problems(password, username)

    def change_password(self, actor: Actor, current: str, new: str) -> None:
        """Replace the own password: the current one is required, the new one must meet the policy."""
        now = self.clock.now()
        with self.db.write() as session:
            user = session.scalars(select(User).where(User.id == actor.id, User.active.is_(True))).first()
            if user is None:
                raise NotPermittedError("Konto nicht gefunden oder deaktiviert.")
            if self._is_single_sign_on(session, user):
                raise NotPermittedError(SSO_ONLY)
            if not _verify(user.password_hash, current):
                audit(session, now, actor, "passwort_aenderung_abgelehnt", None)
                session.commit()
                raise InvalidSubmissionError(WRONG_CURRENT, {"current_password": WRONG_CURRENT})
            password_policy.check_password(new, user.username)
            if _verify(user.password_hash, new):
                message = password_policy.SAME_AS_BEFORE
                raise InvalidSubmissionError(message, {"new_password": message})
            user.password_hash = hash_password(new)
            row = security_of(session, user.id)
            row.must_change_password, row.password_changed_at = False, now
            end_sessions(session, user.id)  # other browsers signed in with the old password
            audit(session, now, actor, "passwort_geaendert", None)
            session.commit()

    def logout(self, actor: Actor) -> None:
        """Record the sign-out and end every session of the account (a replayed cookie is refused)."""
        with self.db.write() as session:
            audit(session, self.clock.now(), actor, "logout", None)
            end_sessions(session, actor.id)
            session.commit()

    def session_generation(self, user_id: int) -> int:
        """The account's current session generation; a web session started with another one is over."""
        with self.db.read() as session:
            row = session.get(AccountSecurity, user_id)
            return row.session_generation if row is not None else 0

    def session_expired(self, actor: Actor, reason: str) -> None:
        """Record a sign-out by the server: ``inaktiv`` (idle timeout) or ``hoechstdauer`` (maximum age)."""
        if reason not in SESSION_ENDS:
            raise ValueError(reason)
        with self.db.write() as session:
            detail = {"grund": reason}
            audit(session, self.clock.now(), actor, "logout_zeitueberschreitung", None, detail=detail)
            session.commit()

    @classmethod
    def _refuse_single_sign_on_account(cls, session: Session, user: User) -> None:
        """An account linked to the provider never signs in with a password (not even a local one
        left from before the link): the provider's MFA and deactivation must not be bypassed. Only
        reached with the right password, so the answer tells nobody else which names are linked."""
        if cls._is_single_sign_on(session, user):
            raise LoginRefusedError(SIGN_IN_WITH_PROVIDER, reason="kreis_konto", user_id=user.id)

    @staticmethod
    def _is_single_sign_on(session: Session, user: User) -> bool:
        row = session.get(AccountSecurity, user.id)
        return bool(row and row.oidc_subject)
