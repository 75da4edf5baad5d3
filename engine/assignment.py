"""Who may work on a task: candidates as ``Rolle``, ``Rolle@organisation`` or ``@organisation``.

``camunda:candidateGroups`` is a comma list of these; any ``${…}`` part is a Python expression
evaluated in the task's data (routing by responsibility, e.g. ``Fachkraft@${jugendamt}``).
``camunda:candidateUsers`` names users. Each candidate becomes a *key* and each user has keys;
a user is a candidate when the two sets meet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.errors import HilfenetzError
from engine.read_models import Actor

_INTERPOLATION = re.compile(r"\$\{(.*?)\}")
_NAME = re.compile(r"^[A-Za-zÄÖÜäöüß][\wÄÖÜäöüß-]*$")


@dataclass(frozen=True)
class Candidate:
    role: str | None
    organisation: str | None

    @property
    def key(self) -> str:
        return f"{self.role or '*'}@{self.organisation or '*'}"


def interpolate(text: str, evaluate: Callable[[str], object]) -> str:
    """Replace each ``${expr}`` by ``str(evaluate(expr))``."""
    return _INTERPOLATION.sub(lambda m: str(evaluate(m.group(1))), text)


def parse_candidate(item: str) -> Candidate:
    item = item.strip()
    role, _, org = item.partition("@")
    role, org = role.strip(), org.strip()
    if (role and not _NAME.match(role)) or (org and not _NAME.match(org)) or not (role or org):
        raise HilfenetzError(
            f"Ungültige Kandidatengruppe „{item}“ (erwartet Rolle, Rolle@organisation oder @organisation)."
        )
    return Candidate(role or None, org or None)


def parse_candidate_groups(text: str) -> list[Candidate]:
    return [parse_candidate(part) for part in text.split(",") if part.strip()]


def candidate_keys(groups: Iterable[Candidate], usernames: Iterable[str] = ()) -> list[str]:
    keys = [g.key for g in groups] + [f"user:{u.strip()}" for u in usernames if u.strip()]
    return sorted(set(keys))


def user_keys(username: str, organisation: str, roles: Iterable[str]) -> list[str]:
    """Every candidate key that matches this user."""
    keys = {f"user:{username}", f"*@{organisation}"}
    for role in roles:
        keys.add(f"{role}@{organisation}")
        keys.add(f"{role}@*")
    return sorted(keys)


def may_start(starter_groups: str | None, actor: Actor) -> bool:
    """``camunda:candidateStarterGroups`` on a process limits who may start it; none = everyone."""
    if not starter_groups:
        return True
    keys = set(candidate_keys(parse_candidate_groups(starter_groups)))
    return bool(keys & set(user_keys(actor.username, actor.organisation, actor.roles)))
