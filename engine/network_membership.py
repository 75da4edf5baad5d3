"""Steuerungsgruppe and Koordination (P7); partner organisations join and leave (P12).

Functions here change directory data (roles, accounts, organisations) and the worklist
projection (``user_task``, ``task_candidate``) inside the caller's transaction; they never commit.

* :func:`constitute_steering_group` — 5 to 10 members and exactly two coordinators chosen from
  them (limits in ``processes/gremien.json``); roles follow; who loses a role hands over tasks.
* :func:`hand_over_tasks` — open tasks of a person who leaves a role or the network go to a
  named successor or back to the group, and to the Koordination when nobody else could do them.
* :func:`remove_member` — resignation or end of term of one member.
* :func:`vacancy_alert` — fewer members than the minimum: an in-app notification to each
  coordinator and an audit entry.
* :func:`create_organisation` / :func:`organisation_leaves` — P12.

Nothing is deleted: a leaving organisation and its accounts are set inactive, their tasks move.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.accounts import hash_password
from engine.assignment import user_keys
from engine.directory import set_user_roles, users_with_keys
from engine.errors import ConfigurationError, InvalidSubmissionError, NotFoundError
from engine.persistence.models import (
    Notification,
    Organisation,
    TaskCandidate,
    User,
    UserRole,
    UserTask,
)
from engine.projection import candidate_dicts, drop_candidates
from engine.read_models import Actor, PartnerView
from engine.runtime import audit

STEERING = "Steuerungsgruppe"
COORDINATION = "Koordination"
LEITUNG = "Leitung"
#: Candidate key of the coordinators: where tasks go that nobody else can do any more.
COORDINATION_KEY = "Koordination@*"
RULES_FILE = "gremien.json"
#: Processes whose steps add or remove organisations (the service refreshes its caches after them).
PARTNER_PROCESSES = frozenset({"partnerschaft"})
#: An account created for a joining partner cannot log in until a start password is issued.
NO_PASSWORD = "!kein-passwort"  # noqa: S105 (not a password: no argon2 hash matches it)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,78}[a-z0-9]$")


@dataclass(frozen=True)
class Gremienregeln:
    """Size of the Steuerungsgruppe and number of coordinators (Kooperationsvereinbarung § 3)."""

    min_members: int
    max_members: int
    coordinators: int


def load_limits(processes_dir: Path) -> Gremienregeln:
    path = processes_dir / RULES_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        limits = Gremienregeln(
            int(raw["steuerungsgruppe_min"]["wert"]),
            int(raw["steuerungsgruppe_max"]["wert"]),
            int(raw["koordination_anzahl"]["wert"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{path.name} ist unvollständig oder ungültig ({exc}).") from None
    if not 1 <= limits.coordinators <= limits.min_members <= limits.max_members:
        raise ConfigurationError(
            f"{path.name}: es muss gelten 1 ≤ Koordination ≤ Mindestgröße ≤ Höchstgröße "
            f"(jetzt {limits.coordinators}, {limits.min_members}, {limits.max_members})."
        )
    return limits


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


# --- reading the steering group ----------------------------------------------------------------
def _active_users_with_role(session: Session, role: str) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .join(Organisation, Organisation.id == User.organisation_id)
            .where(UserRole.role == role, User.active.is_(True), Organisation.active.is_(True))
            .order_by(User.username)
        ).all()
    )


def steering_group(session: Session) -> list[str]:
    """Usernames of the active members of the Steuerungsgruppe."""
    return [u.username for u in _active_users_with_role(session, STEERING)]


def coordinators(session: Session) -> list[str]:
    return [u.username for u in _active_users_with_role(session, COORDINATION)]


def _users(session: Session, names: Iterable[str]) -> dict[str, User]:
    wanted = sorted({n.strip() for n in names if n and n.strip()})
    rows = session.scalars(select(User).where(User.username.in_(wanted))).all()
    return {u.username: u for u in rows}


def _roles(user: User) -> list[str]:
    return [r.role for r in user.roles]


def _set_role(user: User, role: str, present: bool) -> bool:
    roles = set(_roles(user))
    if (role in roles) == present:
        return False
    set_user_roles(user, sorted(roles | {role}) if present else sorted(roles - {role}))
    return True


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
    steering = {u.id for u in _active_users_with_role(session, STEERING)}
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


# --- P7: constitution --------------------------------------------------------------------------
def check_constitution(
    session: Session, members: Sequence[str], chosen: Sequence[str], limits: Gremienregeln
) -> dict[str, User]:
    """The members as users; InvalidSubmissionError (German, by field) when the choice is invalid."""
    names = [m.strip() for m in members if isinstance(m, str) and m.strip()]
    unique = sorted(set(names))
    errors: dict[str, str] = {}
    if len(unique) != len(names):
        errors["mitglieder"] = "Ein Mitglied ist mehrfach genannt."
    found = _users(session, unique)
    unknown = [n for n in unique if n not in found]
    inactive = [n for n, u in found.items() if not u.active or not u.organisation.active]
    if unknown:
        errors["mitglieder"] = f"Unbekannte Benutzer: {', '.join(unknown)}."
    elif inactive:
        errors["mitglieder"] = f"Deaktivierte Konten können nicht Mitglied sein: {', '.join(inactive)}."
    elif not limits.min_members <= len(unique) <= limits.max_members:
        errors["mitglieder"] = (
            f"Die Steuerungsgruppe muss {limits.min_members} bis {limits.max_members} Mitglieder haben; "
            f"gewählt sind {len(unique)}."
        )
    picked = sorted({c.strip() for c in chosen if isinstance(c, str) and c.strip()})
    if len(picked) != limits.coordinators or len(picked) != len([c for c in chosen if c]):
        errors["koordination"] = (
            f"Die Steuerungsgruppe wählt genau {limits.coordinators} verschiedene Koordinator:innen; "
            f"gewählt sind {len(picked)}."
        )
    elif not set(picked) <= set(unique):
        outside = ", ".join(sorted(set(picked) - set(unique)))
        errors["koordination"] = (
            f"Die Koordination wird aus den Mitgliedern gewählt; nicht Mitglied: {outside}."
        )
    if errors:
        raise InvalidSubmissionError(
            "Die Steuerungsgruppe kann so nicht konstituiert werden: " + " ".join(errors.values()), errors
        )
    return {n: found[n] for n in unique}


def constitute_steering_group(
    session: Session,
    now: datetime,
    actor: Actor | None,
    members: Sequence[str],
    chosen: Sequence[str],
    limits: Gremienregeln,
    *,
    instance_id: int | None = None,
) -> dict[str, Any]:
    """Give exactly ``members`` the role Steuerungsgruppe and ``chosen`` the role Koordination.

    Whoever loses a role hands over the open tasks they can no longer do (to the Koordination).
    """
    users = check_constitution(session, members, chosen, limits)
    picked = set(chosen)
    previous = {u.username: u for u in _active_users_with_role(session, STEERING)}
    previous_coord = {u.username: u for u in _active_users_with_role(session, COORDINATION)}
    for name, user in users.items():
        _set_role(user, STEERING, True)
        _set_role(user, COORDINATION, name in picked)
    left = sorted(set(previous) - set(users))
    for name in left:
        _set_role(previous[name], STEERING, False)
    for name, user in previous_coord.items():
        if name not in picked:
            _set_role(user, COORDINATION, False)
    session.flush()
    moved = 0
    for name in sorted((set(previous) - set(users)) | (set(previous_coord) - picked)):
        user = previous.get(name) or previous_coord[name]
        moved += len(hand_over_tasks(session, now, actor, user, None, instance_id=instance_id))
    audit(
        session,
        now,
        actor,
        "steuerungsgruppe_konstituiert",
        instance_id,
        detail={
            "mitglieder": sorted(users),
            "koordination": sorted(picked),
            "ausgeschieden": left,
            "uebergebene_aufgaben": moved,
        },
    )
    return {
        "steuerungsgruppe": sorted(users),
        "koordination": sorted(picked),
        "ausgeschieden": left,
        "uebergebene_aufgaben": moved,
    }


def remove_member(
    session: Session,
    now: datetime,
    actor: Actor | None,
    username: str,
    reason: str,
    limits: Gremienregeln,
    *,
    successor: str | None = None,
    instance_id: int | None = None,
) -> dict[str, Any]:
    """A member resigns or their term ends: roles go, open tasks are handed over; vacancy checked."""
    user = _users(session, [username]).get(username)
    if user is None or STEERING not in _roles(user):
        raise InvalidSubmissionError(
            f"„{username}“ ist kein Mitglied der Steuerungsgruppe.",
            {"ausscheidend": "Bitte ein Mitglied der Steuerungsgruppe wählen."},
        )
    heir = _successor(session, successor) if successor else None
    _set_role(user, STEERING, False)
    _set_role(user, COORDINATION, False)
    session.flush()
    moved = hand_over_tasks(session, now, actor, user, heir, instance_id=instance_id)
    audit(
        session,
        now,
        actor,
        "steuerungsgruppe_ausgeschieden",
        instance_id,
        detail={"mitglied": username, "grund": reason, "uebergebene_aufgaben": len(moved)},
    )
    remaining = steering_group(session)
    vacancy = len(remaining) < limits.min_members
    if vacancy:
        vacancy_alert(session, now, actor, len(remaining), limits, instance_id=instance_id)
    return {"mitglieder_verbleibend": len(remaining), "vakanz": vacancy, "uebergebene_aufgaben": len(moved)}


def _successor(session: Session, username: str) -> User:
    user = _users(session, [username]).get(username)
    if user is None or not user.active or not user.organisation.active:
        raise InvalidSubmissionError(
            f"Die Nachfolge „{username}“ ist kein aktives Konto.",
            {"nachfolge": "Bitte ein aktives Konto als Nachfolge wählen."},
        )
    return user


VACANCY_TITLE = "Steuerungsgruppe: Vakanz – bitte Nachbesetzung einleiten"


def vacancy_alert(
    session: Session,
    now: datetime,
    actor: Actor | None,
    size: int,
    limits: Gremienregeln,
    *,
    instance_id: int | None = None,
) -> int:
    """Tell every active coordinator (in-app) that the group fell below its minimum; audited."""
    recipients = _active_users_with_role(session, COORDINATION)
    for user in recipients:
        session.add(
            Notification(
                user_id=user.id,
                created_at=now,
                kind="steuerungsgruppe_vakanz",
                instance_id=instance_id,
                title=VACANCY_TITLE,
            )
        )
    audit(
        session,
        now,
        actor,
        "steuerungsgruppe_vakanz",
        instance_id,
        detail={"mitglieder": size, "mindestens": limits.min_members, "benachrichtigt": len(recipients)},
    )
    session.flush()
    return len(recipients)


# --- hand-over of open tasks -------------------------------------------------------------------
def _open_tasks_of(session: Session, user_ids: set[int], keys: set[str]) -> list[UserTask]:
    """Open tasks assigned to these users, or (unassigned) with one of these candidate keys."""
    assigned = session.scalars(
        select(UserTask).where(UserTask.status == "open", UserTask.assignee_id.in_(user_ids))
    ).all()
    by_key = session.scalars(
        select(UserTask)
        .join(TaskCandidate, TaskCandidate.task_id == UserTask.id)
        .where(UserTask.status == "open", TaskCandidate.key.in_(sorted(keys)))
    ).all()
    found = {t.id: t for t in [*assigned, *by_key]}
    return [found[k] for k in sorted(found)]


def _someone_else_can(session: Session, keys: set[str], excluded: set[int]) -> bool:
    return any(u.id not in excluded for u in users_with_keys(session, keys))


def _reset_candidates(session: Session, task: UserTask, keys: Iterable[str]) -> None:
    task.candidates = ",".join(sorted(set(keys)))
    drop_candidates(session, task.id)
    session.flush()
    if task.assignee_id is None:
        values = {c.key: getattr(task, c.key) for c in UserTask.__table__.columns}
        rows = candidate_dicts(values)
        if rows:
            session.execute(insert(TaskCandidate), rows)


def hand_over_tasks(
    session: Session,
    now: datetime,
    actor: Actor | None,
    leaving: User,
    successor: User | None,
    *,
    instance_id: int | None = None,
) -> list[str]:
    """Open tasks that ``leaving`` holds or only ``leaving`` could take go on (call after the roles
    or the account changed): to ``successor`` when named, else back to the group — and to the
    Koordination when no other active person matches the candidates. Returns the task ids."""
    own = f"user:{leaving.username}"
    tasks = _open_tasks_of(session, {leaving.id}, {f"user:{leaving.username}"})
    still = set(user_keys(leaving.username, leaving.organisation.slug, _roles(leaving)))
    moved = []
    for task in tasks:
        keys = {k for k in task.candidates.split(",") if k}
        if task.assignee_id == leaving.id and leaving.active and keys & still:
            continue  # still allowed to do it through a role they keep
        keys.discard(own)  # this key names only the leaving person
        if successor is not None:
            task.assignee_id = successor.id
            keys.add(f"user:{successor.username}")
        else:
            task.assignee_id = None
            if not keys or not _someone_else_can(session, keys, {leaving.id}):
                keys.add(COORDINATION_KEY)
        _reset_candidates(session, task, keys)
        moved.append(task.id)
        audit(
            session,
            now,
            actor,
            "task_handed_over",
            task.instance_id,
            task_id=task.id,
            element_id=task.element_id,
            detail={
                "von": leaving.display_name,
                "an": successor.display_name if successor else "Gruppe bzw. Koordination",
                "anlass_vorgang": instance_id,
            },
        )
    return moved


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
    elif taken := sorted(_users(session, names)):
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
    """A fresh random start password for an account (returned once, stored as a hash only)."""
    user = _users(session, [username]).get(username)
    if user is None or not user.active:
        raise NotFoundError("Konto nicht gefunden oder deaktiviert.")
    password = secrets.token_urlsafe(12)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
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
    target, target_roles = COORDINATION_KEY, set()
    if successor:
        heir = session.scalars(select(Organisation).where(Organisation.slug == successor)).first()
        if heir is None or not heir.active or heir.id == org.id:
            raise InvalidSubmissionError(
                "Die Nachfolge muss ein anderer, aktiver Partner sein.",
                {"nachfolge_organisation": "Bitte einen anderen, aktiven Partner wählen."},
            )
        target = heir.slug
        target_roles = {
            r
            for (r,) in session.execute(
                select(UserRole.role)
                .join(User, User.id == UserRole.user_id)
                .where(User.organisation_id == heir.id, User.active.is_(True))
            )
        }
    members = list(session.scalars(select(User).where(User.organisation_id == org.id)).all())
    names = {u.username for u in members}
    keys = {f"user:{n}" for n in names} | {
        k for (k,) in session.execute(select(TaskCandidate.key).where(TaskCandidate.key.like(f"%@{slug}")))
    }
    tasks = _open_tasks_of(session, {u.id for u in members}, keys)
    moved = []
    for task in tasks:
        old = [k for k in task.candidates.split(",") if k]
        new = {_rewrite_key(k, slug, names, target, target_roles) for k in old}
        if task.assignee_id in {u.id for u in members} or not new:
            task.assignee_id = None  # work in progress goes on with the successor
            new.add(COORDINATION_KEY if target == COORDINATION_KEY else f"*@{target}")
        if new == set(old) and task.assignee_id is not None:
            continue  # assigned to someone else and naming the organisation nowhere
        _reset_candidates(session, task, new)
        moved.append(task.id)
        audit(
            session,
            now,
            actor,
            "task_handed_over",
            task.instance_id,
            task_id=task.id,
            element_id=task.element_id,
            detail={"von": org.name, "an": target, "anlass_vorgang": instance_id},
        )
    was_member = [u.username for u in members if u.active and STEERING in _roles(u)]
    for user in members:
        user.active = False
    org.active = False
    directory = _call_hook(DIRECTORY_HOOKS.on_leave, session, now, slug)
    session.flush()
    remaining = steering_group(session)
    vacancy = bool(was_member) and len(remaining) < limits.min_members
    audit(
        session,
        now,
        actor,
        "organisation_ausgetreten",
        instance_id,
        detail={
            "organisation": slug,
            "nachfolge": target,
            "uebergebene_aufgaben": len(moved),
            "deaktivierte_konten": sorted(names),
            "verzeichnis": directory,
        },
    )
    if vacancy:
        vacancy_alert(session, now, actor, len(remaining), limits, instance_id=instance_id)
    return {
        "uebergebene_aufgaben": len(moved),
        "deaktivierte_konten": len(names),
        "steuerungsgruppe_vakanz": vacancy,
        "verzeichnis": directory,
    }


def disable_account(
    session: Session,
    now: datetime,
    actor: Actor | None,
    username: str,
    limits: Gremienregeln,
    *,
    successor: str | None = None,
) -> dict[str, Any]:
    """An account is disabled (can no longer log in): its tasks are handed over, vacancy checked."""
    user = _users(session, [username]).get(username)
    if user is None or not user.active:
        raise NotFoundError("Konto nicht gefunden oder bereits deaktiviert.")
    heir = _successor(session, successor) if successor else None
    was_member = STEERING in _roles(user)
    user.active = False
    session.flush()
    moved = hand_over_tasks(session, now, actor, user, heir)
    audit(session, now, actor, "konto_deaktiviert", None, detail={"konto": username, "aufgaben": len(moved)})
    remaining = steering_group(session)
    vacancy = was_member and len(remaining) < limits.min_members
    if vacancy:
        vacancy_alert(session, now, actor, len(remaining), limits)
    return {"uebergebene_aufgaben": len(moved), "vakanz": vacancy}
