"""Use cases of instance migration (issue 5): list, dry run, migrate — only the Koordination.

Each instance moves in its own transaction; one that does not map cleanly is left as it is and
the result names why. Every migration is in the audit trail (and so in the case's history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import HilfenetzError, InvalidSubmissionError, NotFoundError
from engine.instance_migration import apply, plan, refresh_open_rows
from engine.modeling_facade import require_modeler
from engine.persistence.database import Database
from engine.persistence.models import ProcessDefinition, ProcessInstance, UserTask
from engine.read_models import Actor
from engine.runtime import Runtime, audit

_PI = cast(Table, ProcessInstance.__table__)
#: Largest number of instances one request migrates or dry-runs.
MAX_INSTANCES = 200


@dataclass(frozen=True)
class RunningInstance:
    instance_id: int
    title: str
    definition_id: int
    version: int
    started_at: datetime
    open_steps: tuple[str, ...]
    confidential: bool = False
    """A confidential process: coordinators see no more than id, version and start (no open steps)."""


@dataclass(frozen=True)
class VersionChoice:
    definition_id: int
    version: int


@dataclass(frozen=True)
class MigrationPage:
    process_key: str
    name: str
    versions: tuple[VersionChoice, ...]
    """Newest first; the first one is the usual target."""
    instances: tuple[RunningInstance, ...]
    """Running instances of every version but the newest."""


@dataclass(frozen=True)
class MigrationOutcome:
    instance_id: int
    from_version: int | None
    to_version: int
    unmapped: tuple[str, ...]
    changed_open: tuple[str, ...]
    migrated: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.unmapped and self.error is None


class MigrationFacade:
    """Mixin of :class:`engine.service.Hilfenetz`."""

    db: Database
    clock: Clock
    runtime: Runtime

    def migration_page(self, actor: Actor, process_key: str) -> MigrationPage:
        require_modeler(actor)
        with self.db.read() as session:
            versions = session.execute(
                select(
                    ProcessDefinition.id,
                    ProcessDefinition.version,
                    ProcessDefinition.name,
                    ProcessDefinition.confidential,
                )
                .where(ProcessDefinition.process_key == process_key)
                .order_by(ProcessDefinition.version.desc())
            ).all()
            if not versions:
                raise NotFoundError("Prozess nicht gefunden.")
            rows = session.execute(
                select(_PI.c.id, _PI.c.title, _PI.c.definition_id, _PI.c.started_at)
                .where(
                    _PI.c.process_key == process_key,
                    _PI.c.status == "running",
                    _PI.c.definition_id != versions[0].id,
                )
                .order_by(_PI.c.id)
            ).all()
            steps = _open_steps(session, [r.id for r in rows])
        number = {v.id: v.version for v in versions}
        confidential = {v.id for v in versions if v.confidential}
        return MigrationPage(
            process_key,
            versions[0].name,
            tuple(VersionChoice(v.id, v.version) for v in versions),
            tuple(
                RunningInstance(
                    r.id,
                    r.title,
                    r.definition_id,
                    number[r.definition_id],
                    r.started_at,
                    () if r.definition_id in confidential else steps.get(r.id, ()),
                    r.definition_id in confidential,
                )
                for r in rows
            ),
        )

    def migration_dry_run(
        self, actor: Actor, instance_ids: Sequence[int], target_id: int
    ) -> list[MigrationOutcome]:
        """What migrating would do to each instance (nothing is changed)."""
        require_modeler(actor)
        ids = _chosen(instance_ids)
        outcomes = []
        with self.db.read() as session:
            target = self._target(session, target_id)
            for instance_id in ids:
                row = session.execute(select(_PI).where(_PI.c.id == instance_id)).one_or_none()
                refused = _refusal(row, target)
                if refused is not None:
                    outcomes.append(
                        MigrationOutcome(instance_id, None, target.version, (), (), error=refused)
                    )
                    continue
                assert row is not None
                version = self.runtime.version(session, target.id)
                planned = plan(self.runtime.peek(session, row), version)
                outcomes.append(
                    MigrationOutcome(
                        instance_id,
                        _version_of(session, row.definition_id),
                        target.version,
                        planned.unmapped,
                        planned.changed_open,
                    )
                )
        return outcomes

    def migrate_instances(
        self, actor: Actor, instance_ids: Sequence[int], target_id: int
    ) -> list[MigrationOutcome]:
        """Migrate every chosen instance whose dry run is clean, each in its own transaction."""
        require_modeler(actor)
        return [self._migrate_one(actor, instance_id, target_id) for instance_id in _chosen(instance_ids)]

    def _migrate_one(self, actor: Actor, instance_id: int, target_id: int) -> MigrationOutcome:
        now = self.clock.now()
        with self.db.write() as session:
            target = self._target(session, target_id)
            row = session.execute(select(_PI).where(_PI.c.id == instance_id)).one_or_none()
            refused = _refusal(row, target)
            if refused is not None:
                return MigrationOutcome(instance_id, None, target.version, (), (), error=refused)
            loaded = self.runtime.lock(session, instance_id)
            refused = _refusal(loaded.row, target)  # again under the lock: it may have ended or moved
            if refused is not None:
                return MigrationOutcome(instance_id, None, target.version, (), (), error=refused)
            from_version = _version_of(session, loaded.row.definition_id)
            version = self.runtime.version(session, target.id)
            planned = plan(loaded.workflow, version)
            if not planned.ok:
                return MigrationOutcome(instance_id, from_version, target.version, planned.unmapped, ())
            try:
                changed = apply(loaded.workflow, version, planned, self.clock)
                loaded.version = version
                loaded.row.definition_id = target.id
                conn = session.connection()
                conn.execute(update(_PI).where(_PI.c.id == instance_id).values(definition_id=target.id))
                refresh_open_rows(conn, self.runtime, loaded, changed, now)
                detail = {
                    "von_version": from_version,
                    "nach_version": target.version,
                    "prozess": target.process_key,
                }
                audit(session, now, actor, "vorgang_migriert", instance_id, detail=detail)
                self.runtime.save(session, loaded, actor)
            except HilfenetzError as exc:
                session.rollback()
                return MigrationOutcome(
                    instance_id, from_version, target.version, (), planned.changed_open, error=exc.message
                )
            session.commit()
        return MigrationOutcome(
            instance_id, from_version, target.version, (), planned.changed_open, migrated=True
        )

    @staticmethod
    def _target(session: Session, target_id: int) -> ProcessDefinition:
        target = session.get(ProcessDefinition, target_id)
        if target is None:
            raise NotFoundError("Zielversion nicht gefunden.")
        return target


def _chosen(instance_ids: Sequence[int]) -> list[int]:
    ids = sorted(set(instance_ids))
    if not ids:
        raise InvalidSubmissionError(
            "Bitte mindestens einen Vorgang auswählen.", {"vorgaenge": "Keine Auswahl."}
        )
    if len(ids) > MAX_INSTANCES:
        raise InvalidSubmissionError(
            f"Bitte höchstens {MAX_INSTANCES} Vorgänge auf einmal umstellen.", {"vorgaenge": "Zu viele."}
        )
    return ids


def _refusal(row: object, target: ProcessDefinition) -> str | None:
    if row is None:
        return "Vorgang nicht gefunden."
    if getattr(row, "process_key", None) != target.process_key:
        return "Der Vorgang gehört zu einem anderen Prozess als die Zielversion."
    if getattr(row, "status", None) != "running":
        return "Der Vorgang läuft nicht mehr; nur laufende Vorgänge werden umgestellt."
    if getattr(row, "definition_id", None) == target.id:
        return "Der Vorgang läuft bereits auf der Zielversion."
    return None


def _version_of(session: Session, definition_id: int) -> int | None:
    return session.scalar(select(ProcessDefinition.version).where(ProcessDefinition.id == definition_id))


def _open_steps(session: Session, instance_ids: list[int]) -> dict[int, tuple[str, ...]]:
    if not instance_ids:
        return {}
    found: dict[int, list[str]] = {}
    for instance_id, name in session.execute(
        select(UserTask.instance_id, UserTask.name)
        .where(UserTask.instance_id.in_(instance_ids), UserTask.status == "open")
        .order_by(UserTask.created_at)
    ):
        found.setdefault(instance_id, []).append(name)
    return {k: tuple(v) for k, v in found.items()}
