"""Single sign-on by OpenID Connect: from the verified claims of an ID token to a Hilfenetz account.

The web app runs the protocol (Authlib: discovery, authorization code with PKCE, state, nonce,
signature by the provider's JWKS). This module only decides, from claims already verified, which
account signs in: the provider's organisation and group values are mapped to our organisation slugs
and role names by the mapping file (``HILFENETZ_OIDC_MAPPING``). Anything unmapped is refused with a
German message and no account is created; a deactivated account is refused.

Accounts are found by (issuer, subject); a first login creates a new account. It never links an
existing account by its user name: ``preferred_username`` is not unique (OIDC Core §5.1), so a name
collision (with a local account or one linked to another subject) is refused in German and audited;
the administration must resolve it. Roles and organisation follow the provider at every login. Such
accounts have no local password.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.accounts import security_of
from engine.directory import set_user_roles
from engine.errors import ConfigurationError, LoginRefusedError
from engine.persistence.models import AccountSecurity, Organisation, Role, User

#: Password "hash" of accounts that sign in only through the provider: no argon2 hash matches it,
#: and unlike P12's "no password yet" marker no start password can be issued for it.
SSO_PASSWORD = "!kreis-konto"  # noqa: S105  # nosec B105
NO_ORGANISATION = (
    "Ihr Kreis-Konto ist keiner Organisation in Hilfenetz zugeordnet. "
    "Bitte wenden Sie sich an die Administration."
)
NO_ROLE = (
    "Ihr Kreis-Konto hat keine Gruppe, die einer Rolle in Hilfenetz entspricht. "
    "Bitte wenden Sie sich an die Administration."
)
DEACTIVATED = "Ihr Konto in Hilfenetz ist deaktiviert. Bitte wenden Sie sich an die Administration."
NAME_TAKEN = (
    "Für Ihren Benutzernamen gibt es in Hilfenetz bereits ein anderes Konto. Es wird nicht automatisch "
    "mit Ihrem Kreis-Konto verknüpft. Bitte wenden Sie sich an die Administration."
)
BAD_CLAIMS = "Die Anmeldung über das Kreis-Konto hat keine gültigen Angaben geliefert."
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,78}[a-z0-9]$")


@dataclass(frozen=True)
class ClaimNames:
    organisation: str
    roles: str


@dataclass(frozen=True)
class IdpMapping:
    organisations: dict[str, str]
    roles: dict[str, str]


def load_mapping(path: str) -> IdpMapping:
    """The mapping file: ``{"organisationen": {value: slug}, "rollen": {group: role}}``."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        organisations, roles = raw["organisationen"], raw["rollen"]
        if not all(isinstance(v, str) for v in [*organisations.values(), *roles.values()]):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(
            f"HILFENETZ_OIDC_MAPPING ({path}) ist keine gültige Zuordnungsdatei: {exc}"
        ) from None
    return IdpMapping({str(k): v for k, v in organisations.items()}, {str(k): v for k, v in roles.items()})


def _values(claims: Mapping[str, Any], name: str) -> list[str]:
    value = claims.get(name)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def mapped(
    session: Session, claims: Mapping[str, Any], names: ClaimNames, mapping: IdpMapping
) -> tuple[Organisation, list[str]]:
    """Our organisation and roles for the claims; refuses (no account) when either is missing."""
    slugs = {
        mapping.organisations[v] for v in _values(claims, names.organisation) if v in mapping.organisations
    }
    organisation = (
        session.scalars(select(Organisation).where(Organisation.slug == slugs.pop())).first()
        if len(slugs) == 1
        else None
    )
    if organisation is None:
        raise LoginRefusedError(NO_ORGANISATION, reason="sso_organisation", user_id=None)
    known = set(session.scalars(select(Role.name)))
    roles = sorted({mapping.roles[g] for g in _values(claims, names.roles) if g in mapping.roles} & known)
    if not roles:
        raise LoginRefusedError(NO_ROLE, reason="sso_rolle", user_id=None)
    return organisation, roles


def account_for(
    session: Session,
    issuer: str,
    claims: Mapping[str, Any],
    names: ClaimNames,
    mapping: IdpMapping,
    now: datetime,
) -> User:
    """Find, link or create the account for verified claims; the caller audits and commits."""
    subject, username = str(claims.get("sub", "")), str(claims.get("preferred_username", "")).strip().lower()
    if not subject or len(subject) > 255 or not _USERNAME.match(username):
        raise LoginRefusedError(BAD_CLAIMS, reason="sso_angaben", user_id=None)
    organisation, roles = mapped(session, claims, names, mapping)
    linked = session.scalars(
        select(AccountSecurity).where(
            AccountSecurity.oidc_issuer == issuer, AccountSecurity.oidc_subject == subject
        )
    ).first()
    user = session.get(User, linked.user_id) if linked else None
    if user is None:
        _refuse_name_collision(session, username)
    if user is not None and not user.active:
        raise LoginRefusedError(DEACTIVATED, reason="deaktiviert", user_id=user.id)
    if user is None:
        user = User(username=username, password_hash=SSO_PASSWORD, created_at=now, display_name=username)
        session.add(user)
    user.display_name = str(claims.get("name") or user.display_name)[:200]
    user.email = str(claims.get("email") or user.email or "")[:254] or None
    user.organisation_id = organisation.id
    set_user_roles(user, roles)
    session.flush()
    security = security_of(session, user.id)
    security.oidc_issuer, security.oidc_subject = issuer, subject
    return user


def _refuse_name_collision(session: Session, username: str) -> None:
    """An unknown subject whose user name is taken: never link by name (a second subject would take
    over an account linked to another one, or a local account with its password), refuse instead."""
    taken = session.scalars(select(User).where(func.lower(User.username) == username)).first()
    if taken is None:
        return
    other = session.get(AccountSecurity, taken.id)
    reason = "sso_anderes_konto" if other is not None and other.oidc_subject else "sso_name_vergeben"
    raise LoginRefusedError(NAME_TAKEN, reason=reason, user_id=taken.id)
