"""Organisations, roles, users and absences (Vertretung) — queries and use cases.

Helpers here never commit; the use-case functions in :mod:`engine.service` do.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.assignment import user_keys
from engine.persistence.models import Absence, Organisation, Role, User, UserRole
from engine.read_models import Actor, OrganisationView, UserView

SEED_DIR = Path(__file__).resolve().parent / "seed"


def actor_of(user: User) -> Actor:
    return Actor(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        organisation=user.organisation.slug,
        organisation_name=user.organisation.name,
        roles=tuple(sorted(r.role for r in user.roles)),
        locale=user.locale,
    )


def user_view(user: User) -> UserView:
    return UserView(
        user.id,
        user.username,
        user.display_name,
        user.organisation.slug,
        tuple(sorted(r.role for r in user.roles)),
    )


def substituted_users(session: Session, actor_id: int, now: datetime) -> list[User]:
    """Users who are absent now and named this actor as their substitute."""
    rows = session.scalars(
        select(User)
        .join(Absence, Absence.user_id == User.id)
        .where(
            Absence.substitute_id == actor_id,
            Absence.starts_at <= now,
            Absence.ends_at > now,
            User.active.is_(True),
        )
    ).all()
    return list(rows)


def effective_identity(session: Session, actor: Actor, now: datetime) -> tuple[set[int], set[str]]:
    """User ids and candidate keys whose tasks this actor may see and do (own + Vertretung)."""
    ids = {actor.id}
    keys = set(user_keys(actor.username, actor.organisation, actor.roles))
    for user in substituted_users(session, actor.id, now):
        ids.add(user.id)
        keys.update(user_keys(user.username, user.organisation.slug, [r.role for r in user.roles]))
    return ids, keys


def organisation_views(session: Session) -> list[OrganisationView]:
    rows = session.scalars(
        select(Organisation).where(Organisation.active.is_(True)).order_by(Organisation.name)
    )
    return [OrganisationView(o.slug, o.name, o.volunteer) for o in rows]


def load_seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEED_DIR / name).read_text(encoding="utf-8"))
    return data


def ensure_organisations(session: Session) -> int:
    """Insert or update the network's organisations and roles from the seed file."""
    seed = load_seed("organisations.json")
    existing = {o.slug: o for o in session.scalars(select(Organisation))}
    for item in seed["organisations"]:
        org = existing.get(item["slug"]) or Organisation(slug=item["slug"], active=True)
        org.name, org.volunteer = item["name"], bool(item["volunteer"])  # a partner that left stays left
        session.add(org)
    roles = {r.name: r for r in session.scalars(select(Role))}
    for item in seed["roles"]:
        role = roles.get(item["name"]) or Role(name=item["name"])
        role.label = item["label"]
        session.add(role)
    session.flush()
    return len(seed["organisations"])


def set_user_roles(user: User, roles: list[str]) -> None:
    user.roles = [UserRole(role=r) for r in sorted(set(roles))]


def users_with_keys(session: Session, keys: set[str]) -> list[User]:
    """Active users matching any candidate key (``Rolle@org``, ``Rolle@*``, ``*@org``, ``user:name``)."""
    names = {k[5:] for k in keys if k.startswith("user:")}
    pairs = [k.split("@", 1) for k in keys if "@" in k and not k.startswith("user:")]
    orgs = {org for _role, org in pairs if org != "*"}
    roles = {role for role, _org in pairs if role != "*"}
    if not (names or orgs or roles):
        return []
    rows = session.scalars(
        select(User)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(
            User.active.is_(True),
            or_(
                User.username.in_(names),
                Organisation.slug.in_(orgs),
                User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(roles))),
            ),
        )
    ).all()
    return [
        u for u in rows if keys & set(user_keys(u.username, u.organisation.slug, [r.role for r in u.roles]))
    ]


def substitutes_of(session: Session, user_ids: set[int], now: datetime) -> list[User]:
    """Active substitutes (Vertretung) of those among these users who are absent now."""
    if not user_ids:
        return []
    rows = session.scalars(
        select(User)
        .join(Absence, Absence.substitute_id == User.id)
        .where(
            Absence.user_id.in_(user_ids),
            Absence.starts_at <= now,
            Absence.ends_at > now,
            User.active.is_(True),
        )
    ).unique()
    return list(rows)
