"""Facade methods the REST API (``/api/v1``) needs beyond the web app's: personal access tokens,
the instances a user may see (paged), and all versions of a process.

Mixed into :class:`engine.service.Hilfenetz`; permission rules stay those of the engine
(``Instances.check_may_view`` is mirrored by :func:`_visible` in SQL and checked by a test).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, false, func, literal, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from engine import access_tokens
from engine.access_tokens import AccessTokenView, CreatedToken, TokenGrant
from engine.assignment import may_start
from engine.clock import Clock
from engine.directory import effective_identity
from engine.errors import NotFoundError
from engine.persistence.database import Database
from engine.persistence.models import ProcessDefinition, ProcessInstance, UserTask
from engine.read_models import Actor, InstanceSummary, ProcessView

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class InstancePage:
    items: tuple[InstanceSummary, ...]
    total: int
    page: int
    per_page: int


class ApiFacade:
    db: Database
    clock: Clock

    # --- personal access tokens --------------------------------------------------------
    def access_tokens(self, actor: Actor) -> list[AccessTokenView]:
        with self.db.read() as session:
            return access_tokens.tokens_of(session, actor, self.clock.now())

    def create_access_token(
        self, actor: Actor, name: object, scopes: object, expires_on: date | None
    ) -> CreatedToken:
        """A new token; its secret is in the result and nowhere else (audited)."""
        with self.db.write() as session:
            created = access_tokens.create(session, actor, self.clock.now(), name, scopes, expires_on)
            session.commit()
            return created

    def revoke_access_token(self, actor: Actor, token_id: int) -> None:
        with self.db.write() as session:
            access_tokens.revoke(session, actor, self.clock.now(), token_id)
            session.commit()

    def token_grant(self, secret: str) -> TokenGrant | None:
        """Whom a bearer token speaks for (None: unknown, revoked, expired or inactive account).
        A read; the "last used" time is written in a short transaction at most once a minute."""
        now = self.clock.now()
        with self.db.read() as session:
            grant = access_tokens.resolve(session, secret, now)
        if grant is not None and grant.last_use_stale:
            with self.db.write() as session:
                access_tokens.note_use(session, grant.token_id, now)
                session.commit()
        return grant

    # --- reads for the API -------------------------------------------------------------
    def process_versions(self, actor: Actor, process_key: str) -> list[ProcessView]:
        """Every deployed version of a process, newest first."""
        with self.db.read() as session:
            rows = list(
                session.scalars(
                    select(ProcessDefinition)
                    .where(ProcessDefinition.process_key == process_key)
                    .order_by(ProcessDefinition.version.desc())
                )
            )
            if not rows:
                raise NotFoundError("Prozess nicht gefunden.")
            allowed = may_start(rows[0].starter_groups, actor)
            return [
                ProcessView(d.process_key, d.name, d.version, d.id, d.start_form, allowed, d.deployed_at)
                for d in rows
            ]

    def visible_instances(self, actor: Actor, page: int, per_page: int) -> InstancePage:
        """Instances the actor may open (the rule of ``check_may_view``), newest first, paged."""
        page, per_page = max(1, page), min(MAX_PER_PAGE, max(1, per_page))
        with self.db.read() as session:
            ids, keys = effective_identity(session, actor, self.clock.now())
            visible = _visible(actor, ids, keys)
            base = select(ProcessInstance.id).join(
                ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id
            )
            total = session.scalar(select(func.count()).select_from(base.where(visible).subquery())) or 0
            open_count = (
                select(func.count())
                .where(UserTask.instance_id == ProcessInstance.id, UserTask.status == "open")
                .scalar_subquery()
            )
            rows = session.execute(
                select(ProcessInstance, ProcessDefinition.name, open_count)
                .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                .where(visible)
                .order_by(ProcessInstance.id.desc())
                .offset((page - 1) * per_page)
                .limit(per_page)
            ).all()
            items = tuple(
                InstanceSummary(i.id, i.title, name, i.status, i.started_at, i.ended_at, int(count or 0))
                for i, name, count in rows
            )
            return InstancePage(items, int(total), page, per_page)


def _visible(actor: Actor, ids: set[int], keys: set[str]) -> ColumnElement[bool]:
    """SQL for ``Instances.check_may_view``: in a process that is not confidential the starter and
    the coordinators; in every process whoever is or was assignee, completer or candidate of a task."""
    overseer = actor.has_role("Koordination") or actor.has_role("Administration")
    open_case = and_(
        ProcessDefinition.confidential.is_(False),
        true() if overseer else ProcessInstance.started_by_id == actor.id,
    )
    padded = literal(",") + UserTask.candidates + literal(",")
    candidate: list[ColumnElement[bool]] = [padded.contains(f",{key},", autoescape=True) for key in keys]
    involved = exists().where(
        UserTask.instance_id == ProcessInstance.id,
        or_(
            UserTask.assignee_id.in_(ids),
            UserTask.completed_by_id.in_(ids),
            *candidate,
            false(),
        ),
    )
    return or_(open_case, involved)


__all__ = ["ApiFacade", "InstancePage"]
