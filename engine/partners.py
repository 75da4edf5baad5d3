"""P12: partner organisations join and leave the network; the Koordination's partner list.

* :func:`create_organisation` — the organisation and its first accounts (Leitung, Fachkraft),
  which cannot log in before :func:`issue_start_password` (shown once, stored as a hash).
* :func:`organisation_leaves` — every open task of the organisation (claimed by its people,
  unclaimed, shared with other organisations, personal) goes to the successor organisation or to
  the Koordination; its accounts and the organisation become inactive; nothing is deleted.
* :data:`DIRECTORY_HOOKS` — where joining and leaving meet the partner directory (P9).

Functions never commit; the caller's use case (or system step) does.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.accounts import end_sessions, hash_password, require_password_change
from engine.directory import set_user_roles
from engine.errors import InvalidSubmissionError, NotFoundError, NotPermittedError
from engine.network_membership import (
    COORDINATION_KEY,
    LEITUNG,
    STEERING,
    Gremienregeln,
    active_users_with_role,
    open_tasks_of,
    reset_candidates,
    roles_of,
    steering_group,
    users_by_name,
    vacancy_alert,
)
from engine.persistence.models import Organisation, TaskCandidate, User, UserRole
from engine.read_models import Actor, PartnerView
from engine.runtime import audit

#: Processes whose steps add or remove organisations (the service refreshes its caches after them).
PARTNER_PROCESSES = frozenset({"partnerschaft"})
#: An account created for a joining partner cannot log in until a start password is issued.
# B105 (S105): no argon2 hash matches it, not a secret
NO_PASSWORD = "!kein-passwort"  # noqa: S105  # nosec B105
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,78}[a-z0-9]$")


# --- directory hooks (P9 Netzwerkverzeichnis) --------------------------------------------------
DirectoryHook = Callable[[Session, datetime, str], None]


@dataclass
class DirectoryHooks:
    """Where P12 meets the partner directory (built on branch p9-p11).

    ``on_join(session, now, slug)`` creates the new partner's directory entry, ``on_leave``
    removes it. Until the lead connects them, joining and leaving record in the audit trail
    that no directory was connected.
    """

    on_join: DirectoryHook | None = None
    on_leave: DirectoryHook | None = None


DIRECTORY_HOOKS = DirectoryHooks()


# --- reading ----------------------------------------------------------------------------------
def user_options(session: Session) -> list[dict[str, str]]:
    """Active accounts of active partners for choice fields (``valuesKey: user_options``)."""
    rows = session.execute(
        select(User.username, User.display_name, Organisation.name)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(User.active.is_(True), Organisation.active.is_(True))
        .order_by(User.display_name)
    ).all()
    return [{"label": f"{d} ({o})", "value": u} for u, d, o in rows]


def partner_views(session: Session) -> list[PartnerView]:
    steering = {u.id for u in active_users_with_role(session, STEERING)}
    views = []
    for org in session.scalars(select(Organisation).order_by(Organisation.active.desc(), Organisation.name)):
        people = session.scalars(
            select(User).where(User.organisation_id == org.id, User.active.is_(True))
        ).all()
        views.append(
            PartnerView(
                org.slug,
                org.name,
                org.volunteer,
                org.active,
                len(people),
                len([u for u in people if u.id in steering]),
            )
        )
    return views


# --- P12: joining ------------------------------------------------------------------------------
def create_organisation(
    session: Session,
    now: datetime,
    actor: Actor | None,
    slug: str,
    name: str,
    volunteer: bool,
    accounts: Sequence[dict[str, str]],
    *,
    instance_id: int | None = None,
) -> dict[str, Any]:
    """A new partner: the organisation and its first accounts (role Leitung and Fachkraft).

    The accounts cannot log in until the Koordination issues a start password
    (:func:`issue_start_password`), which is shown once and stored only as a hash.
    """
    errors: dict[str, str] = {}
    slug = (slug or "").strip()
    name = (name or "").strip()
    if not _SLUG.match(slug):
        errors["kurzname"] = "Kurzname: 3–80 Zeichen, Kleinbuchstaben, Ziffern und Bindestriche."
    elif session.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
        errors["kurzname"] = f"Eine Organisation mit dem Kurznamen „{slug}“ gibt es bereits."
    if not name or len(name) > 200:
        errors["name"] = "Bitte den Namen der Organisation angeben (höchstens 200 Zeichen)."
    wanted = [a for a in accounts if isinstance(a, dict)]
    names = [str(a.get("benutzername", "")).strip() for a in wanted]
    if not wanted:
        errors["konten"] = "Bitte mindestens ein erstes Konto (Leitung) anlegen."
    elif any(not _USERNAME.match(n) for n in names) or len(set(names)) != len(names):
        errors["konten"] = "Benutzernamen: verschieden, 3–80 Zeichen, Kleinbuchstaben, Ziffern, . _ -."
    elif taken := sorted(users_by_name(session, names)):
        errors["konten"] = f"Diese Benutzernamen sind vergeben: {', '.join(taken)}."
    if errors:
        raise InvalidSubmissionError("Die Aufnahme kann so nicht vollzogen werden.", errors)
    org = Organisation(slug=slug, name=name, volunteer=bool(volunteer), active=True)
    session.add(org)
    session.flush()
    for item, username in zip(wanted, names, strict=True):
        user = User(
            username=username,
            display_name=str(item.get("anzeigename") or username).strip()[:200],
            email=(str(item.get("email") or "").strip() or None),
            password_hash=NO_PASSWORD,
            organisation_id=org.id,
            created_at=now,
        )
        set_user_roles(user, [LEITUNG, "Fachkraft"])
        session.add(user)
    session.flush()
    directory = _call_hook(DIRECTORY_HOOKS.on_join, session, now, slug)
    audit(
        session,
        now,
        actor,
        "organisation_aufgenommen",
        instance_id,
        detail={"organisation": slug, "name": name, "konten": names, "verzeichnis": directory},
    )
    return {"organisation": slug, "konten": names, "verzeichnis": directory}


def _call_hook(hook: DirectoryHook | None, session: Session, now: datetime, slug: str) -> str:
    if hook is None:
        return "nicht angebunden"
    hook(session, now, slug)
    return "aktualisiert"


def issue_start_password(session: Session, now: datetime, actor: Actor, username: str) -> str:
    """A random start password for a new partner's account (returned once, stored as a hash only).

    Only accounts that were created without a password (P12 joining) get one: anything else would
    let the Koordination take over a colleague's account.
    """
    user = users_by_name(session, [username]).get(username)
    if user is None or not user.active:
        raise NotFoundError("Konto nicht gefunden oder deaktiviert.")
    if user.password_hash != NO_PASSWORD:
        raise NotPermittedError(
            "Ein Startpasswort gibt es nur für neue Konten, die noch kein Passwort haben. "
            "Wer sein Passwort vergessen hat, wendet sich an die Administration."
        )
    password = secrets.token_urlsafe(12)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    require_password_change(session, user.id)  # the owner replaces it at the first login
    end_sessions(session, user.id)
    audit(session, now, actor, "startpasswort_erteilt", None, detail={"konto": username})
    return password


# --- P12: leaving ------------------------------------------------------------------------------
def _rewrite_key(key: str, slug: str, names: set[str], target: str, target_roles: set[str]) -> str:
    """A candidate key that names the leaving organisation (or one of its users) → its successor."""
    if key.startswith("user:"):
        if key[5:] not in names:
            return key
        role, org = "*", slug
    else:
        role, _, org = key.partition("@")
    if org != slug:
        return key
    if target == COORDINATION_KEY:
        return COORDINATION_KEY
    return f"{role}@{target}" if role != "*" and role in target_roles else f"*@{target}"


def _successor_organisation(
    session: Session, org: Organisation, successor: str | None
) -> tuple[str, set[str], str]:
    """(candidate target, roles its active people have, display name) for the leaving ``org``."""
    if not successor:
        return COORDINATION_KEY, set(), "Koordination"
    heir = session.scalars(select(Organisation).where(Organisation.slug == successor)).first()
    if heir is None or not heir.active or heir.id == org.id:
        raise InvalidSubmissionError(
            "Die Nachfolge muss ein anderer, aktiver Partner sein.",
            {"nachfolge_organisation": "Bitte einen anderen, aktiven Partner wählen."},
        )
    roles = session.scalars(
        select(UserRole.role)
        .join(User, User.id == UserRole.user_id)
        .where(User.organisation_id == heir.id, User.active.is_(True))
    )
    return heir.slug, set(roles), heir.name


def _move_open_tasks(
    session: Session,
    now: datetime,
    actor: Actor | None,
    org: Organisation,
    members: list[User],
    heir: tuple[str, set[str], str],
    instance_id: int | None,
) -> list[str]:
    """Rewrite every open task of ``org`` (claimed by its people, or naming it or them among the
    candidates) to the successor; claimed ones are released to it. Returns the task ids."""
    target, target_roles, heir_name = heir
    names = {u.username for u in members}
    ids = {u.id for u in members}
    keys = {f"user:{n}" for n in names} | set(
        session.scalars(select(TaskCandidate.key).where(TaskCandidate.key.like(f"%@{org.slug}")))
    )
    moved = []
    for task in open_tasks_of(session, ids, keys):
        old = [k for k in task.candidates.split(",") if k]
        new = {_rewrite_key(k, org.slug, names, target, target_roles) for k in old}
        if task.assignee_id in ids or not new:
            task.assignee_id = None  # work in progress goes on with the successor
            new.add(COORDINATION_KEY if target == COORDINATION_KEY else f"*@{target}")
        if new == set(old) and task.assignee_id is not None:
            continue  # claimed by someone else and naming the organisation nowhere
        reset_candidates(session, task, new)
        moved.append(task.id)
        audit(
            session,
            now,
            actor,
            "task_handed_over",
            task.instance_id,
            task_id=task.id,
            element_id=task.element_id,
            detail={"von": org.name, "an": heir_name, "anlass_vorgang": instance_id},
        )
    return moved


def organisation_leaves(
    session: Session,
    now: datetime,
    actor: Actor | None,
    slug: str,
    successor: str | None,
    limits: Gremienregeln,
    *,
    instance_id: int | None = None,
) -> dict[str, Any]:
    """Every open task of the organisation moves to ``successor`` (an active organisation) or to
    the Koordination; its accounts are disabled, the organisation set inactive; nothing deleted."""
    org = session.scalars(select(Organisation).where(Organisation.slug == slug)).first()
    if org is None or not org.active:
        raise InvalidSubmissionError(
            f"Die Organisation „{slug}“ ist kein aktiver Partner.",
            {"organisation": "Bitte einen aktiven Partner wählen."},
        )
    heir = _successor_organisation(session, org, successor)
    members = list(session.scalars(select(User).where(User.organisation_id == org.id)).all())
    moved = _move_open_tasks(session, now, actor, org, members, heir, instance_id)
    was_member = any(u.active and STEERING in roles_of(u) for u in members)
    for user in members:
        user.active = False
        end_sessions(session, user.id)
    org.active = False
    directory = _call_hook(DIRECTORY_HOOKS.on_leave, session, now, slug)
    session.flush()
    remaining = steering_group(session)
    vacancy = was_member and len(remaining) < limits.min_members
    audit(
        session,
        now,
        actor,
        "organisation_ausgetreten",
        instance_id,
        detail={
            "organisation": slug,
            "nachfolge": heir[2],
            "uebergebene_aufgaben": len(moved),
            "deaktivierte_konten": sorted(u.username for u in members),
            "verzeichnis": directory,
        },
    )
    if vacancy:
        vacancy_alert(session, now, actor, len(remaining), limits, instance_id=instance_id)
    return {
        "uebergebene_aufgaben": len(moved),
        "deaktivierte_konten": len(members),
        "steuerungsgruppe_vakanz": vacancy,
        "verzeichnis": directory,
    }
