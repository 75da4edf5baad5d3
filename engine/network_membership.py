"""Steuerungsgruppe and Koordination (P7): constitution, hand-over of open tasks, vacancy.

Functions here change directory data (roles, accounts, organisations) and the worklist
projection (``user_task``, ``task_candidate``) inside the caller's transaction; they never commit.

* :func:`constitute_steering_group` — 5 to 10 members and exactly two coordinators chosen from
  them (limits in ``processes/gremien.json``); roles follow; who loses a role hands over tasks.
* :func:`hand_over_tasks` — open tasks of a person who leaves a role or the network go to a
  named successor or back to the group, and to the Koordination when nobody else could do them.
* :func:`remove_member` — resignation or end of term of one member.
* :func:`vacancy_alert` — fewer members than the minimum: an in-app notification to each
  coordinator and an audit entry.
* :func:`disable_account` — an account is disabled; its tasks are handed over.

Partners joining and leaving (P12) are in :mod:`engine.partners`, which builds on these.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.accounts import end_sessions
from engine.assignment import user_keys
from engine.directory import set_user_roles, users_with_keys
from engine.errors import ConfigurationError, InvalidSubmissionError, NotFoundError
from engine.persistence.models import (
    Organisation,
    ProcessInstance,
    TaskCandidate,
    User,
    UserRole,
    UserTask,
)
from engine.projection import candidate_dicts, drop_candidates
from engine.read_models import Actor
from engine.runtime import audit, enqueue

STEERING = "Steuerungsgruppe"
COORDINATION = "Koordination"
LEITUNG = "Leitung"
#: Candidate key of the coordinators: where tasks go that nobody else can do any more.
COORDINATION_KEY = "Koordination@*"
RULES_FILE = "gremien.json"


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


# --- reading the steering group ----------------------------------------------------------------
def active_users_with_role(session: Session, role: str) -> list[User]:
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
    return [u.username for u in active_users_with_role(session, STEERING)]


def coordinators(session: Session) -> list[str]:
    return [u.username for u in active_users_with_role(session, COORDINATION)]


def users_by_name(session: Session, names: Iterable[str]) -> dict[str, User]:
    wanted = sorted({n.strip() for n in names if n and n.strip()})
    rows = session.scalars(select(User).where(User.username.in_(wanted))).all()
    return {u.username: u for u in rows}


def roles_of(user: User) -> list[str]:
    return [r.role for r in user.roles]


def _set_role(user: User, role: str, present: bool) -> bool:
    roles = set(roles_of(user))
    if (role in roles) == present:
        return False
    set_user_roles(user, sorted(roles | {role}) if present else sorted(roles - {role}))
    return True


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
    found = users_by_name(session, unique)
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
    picked = {c.strip() for c in chosen if isinstance(c, str) and c.strip()}  # as checked
    previous = {u.username: u for u in active_users_with_role(session, STEERING)}
    previous_coord = {u.username: u for u in active_users_with_role(session, COORDINATION)}
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
    user = users_by_name(session, [username]).get(username)
    if user is None or STEERING not in roles_of(user):
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
    vacancy = check_vacancy(session, now, actor, limits, instance_id=instance_id)
    return {"mitglieder_verbleibend": len(remaining), "vakanz": vacancy, "uebergebene_aufgaben": len(moved)}


def check_vacancy(
    session: Session,
    now: datetime,
    actor: Actor | None,
    limits: Gremienregeln,
    *,
    instance_id: int | None = None,
) -> bool:
    """Alert when the group fell below its minimum or lost a coordinator (§ 3: two coordinators)."""
    members = steering_group(session)
    coordinators = coordinator_users(session)
    if len(members) >= limits.min_members and len(coordinators) >= limits.coordinators:
        return False
    vacancy_alert(session, now, actor, len(members), limits, instance_id=instance_id)
    return True


def _successor(session: Session, username: str) -> User:
    user = users_by_name(session, [username]).get(username)
    if user is None or not user.active or not user.organisation.active:
        raise InvalidSubmissionError(
            f"Die Nachfolge „{username}“ ist kein aktives Konto.",
            {"nachfolge": "Bitte ein aktives Konto als Nachfolge wählen."},
        )
    return user


VACANCY_TITLE = "Steuerungsgruppe: Vakanz – bitte Nachbesetzung einleiten"
#: Outbox kind of the vacancy alert (delivered by engine/notifications.py, in-app and e-mail).
VACANCY_KIND = "steuerungsgruppe_vakanz"


def coordinator_users(session: Session) -> list[User]:
    return active_users_with_role(session, COORDINATION)


def vacancy_recipients(session: Session) -> list[User]:
    """Who hears of a vacancy: the coordinators; without any, the Steuerungsgruppe; else Administration."""
    return (
        coordinator_users(session)
        or active_users_with_role(session, STEERING)
        or active_users_with_role(session, "Administration")
    )


def vacancy_alert(
    session: Session,
    now: datetime,
    actor: Actor | None,
    size: int,
    limits: Gremienregeln,
    *,
    instance_id: int | None = None,
) -> int:
    """Tell every active coordinator (outbox: in-app and e-mail) that the group fell below its
    minimum; audited. Returns how many coordinators there are now."""
    recipients = vacancy_recipients(session)
    payload = {
        "instance_id": instance_id,
        "mitglieder": size,
        "koordination": len(coordinator_users(session)),
    }
    enqueue(session, now, VACANCY_KIND, payload)
    audit(
        session,
        now,
        actor,
        "steuerungsgruppe_vakanz",
        instance_id,
        detail={
            "mitglieder": size,
            "mindestens": limits.min_members,
            "koordination": len(coordinator_users(session)),
            "benachrichtigt": len(recipients),
        },
    )
    session.flush()
    return len(recipients)


# --- hand-over of open tasks -------------------------------------------------------------------
def open_tasks_of(session: Session, user_ids: set[int], keys: set[str]) -> list[UserTask]:
    """Open tasks assigned to these users, or (unassigned) with one of these candidate keys.

    The instances of these tasks are locked first (``FOR UPDATE`` on PostgreSQL; SQLite's write
    transaction is exclusive anyway), exactly as a completion locks its instance, and the tasks
    are read again afterwards: a completion that committed meanwhile is seen, one that comes
    later reads the handed-over task.
    """
    assigned = select(UserTask.id).where(UserTask.status == "open", UserTask.assignee_id.in_(user_ids))
    by_key = (
        select(UserTask.id)
        .join(TaskCandidate, TaskCandidate.task_id == UserTask.id)
        .where(UserTask.status == "open", TaskCandidate.key.in_(sorted(keys)))
    )
    ids = set(session.scalars(assigned)) | set(session.scalars(by_key))
    if not ids:
        return []
    instances = sorted(set(session.scalars(select(UserTask.instance_id).where(UserTask.id.in_(ids)))))
    session.execute(
        select(ProcessInstance.id)
        .where(ProcessInstance.id.in_(instances))
        .order_by(ProcessInstance.id)
        .with_for_update()
    )
    rows = session.scalars(
        select(UserTask)
        .where(UserTask.id.in_(ids), UserTask.status == "open")
        .order_by(UserTask.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


def _someone_else_can(session: Session, keys: set[str], excluded: set[int]) -> bool:
    return any(u.id not in excluded for u in users_with_keys(session, keys))


def reset_candidates(session: Session, task: UserTask, keys: Iterable[str]) -> None:
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
    tasks = open_tasks_of(session, {leaving.id}, {f"user:{leaving.username}"})
    still = set(user_keys(leaving.username, leaving.organisation.slug, roles_of(leaving)))
    moved = []
    for task in tasks:
        keys = {k for k in task.candidates.split(",") if k}
        if task.assignee_id == leaving.id and leaving.active and keys & still:
            continue  # still allowed to do it through a role they keep
        keys.discard(own)  # this key names only the leaving person
        receiver = "Gruppe bzw. Koordination"
        if successor is not None and _may_take_over(successor, leaving, keys):
            task.assignee_id = successor.id
            keys.add(f"user:{successor.username}")
            receiver = successor.display_name
        else:
            task.assignee_id = None
            if not keys or not _someone_else_can(session, keys, {leaving.id}):
                keys.add(COORDINATION_KEY)
        reset_candidates(session, task, keys)
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
                "an": receiver,
                "anlass_vorgang": instance_id,
            },
        )
    return moved


def _may_take_over(successor: User, leaving: User, keys: set[str]) -> bool:
    """A successor takes a task only where they could have been asked anyway (one of its candidate
    keys) or as a colleague of the same organisation — never across organisations' cases."""
    if successor.organisation_id == leaving.organisation_id:
        return True
    return bool(keys & set(user_keys(successor.username, successor.organisation.slug, roles_of(successor))))


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
    user = users_by_name(session, [username]).get(username)
    if user is None or not user.active:
        raise NotFoundError("Konto nicht gefunden oder bereits deaktiviert.")
    heir = _successor(session, successor) if successor else None
    was_member = STEERING in roles_of(user)
    user.active = False
    end_sessions(session, user.id)
    session.flush()
    moved = hand_over_tasks(session, now, actor, user, heir)
    audit(session, now, actor, "konto_deaktiviert", None, detail={"konto": username, "aufgaben": len(moved)})
    vacancy = was_member and check_vacancy(session, now, actor, limits)
    return {"uebergebene_aufgaben": len(moved), "vakanz": vacancy}
