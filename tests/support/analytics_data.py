"""Generated rows with known answers for the Auswertung (engine/dashboard.py).

Rows are written straight into the tables the processes fill (instances, worklist, audit,
meetings, directory), so each figure can be checked against numbers chosen by the test.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from engine.persistence.models import (
    AuditEvent,
    DirectoryEntry,
    NetworkMeeting,
    Organisation,
    ProcessDefinition,
    ProcessInstance,
    User,
    UserTask,
)
from engine.service import Hilfenetz


class AnalyticsData:
    def __init__(self, hn: Hilfenetz, *, keep_directory: bool = False) -> None:
        self.hn = hn
        with hn.db.write() as session:
            self.definition_id = session.scalars(select(ProcessDefinition.id)).first()
            self.orgs = dict(session.execute(select(Organisation.slug, Organisation.id)).all())
            self.users = dict(session.execute(select(User.username, User.id)).all())
            if not keep_directory:
                session.execute(delete(DirectoryEntry))
            session.commit()

    def instance(
        self,
        key: str,
        started_at: datetime,
        *,
        end_event: str | None = None,
        org: str | None = None,
    ) -> int:
        with self.hn.db.write() as session:
            row = ProcessInstance(
                definition_id=self.definition_id,
                process_key=key,
                title="",
                status="completed" if end_event else "running",
                end_event=end_event,
                state=b"{}",
                state_format=1,
                started_at=started_at,
                ended_at=started_at + timedelta(days=1) if end_event else None,
                initiator_org_id=self.orgs[org] if org else None,
            )
            session.add(row)
            session.commit()
            return row.id

    def task(
        self,
        instance_id: int,
        key: str,
        element_id: str,
        created_at: datetime,
        *,
        due_at: datetime | None = None,
        completed_at: datetime | None = None,
        candidates: str = "",
        assignee: str | None = None,
    ) -> str:
        task_id = str(uuid.uuid4())
        with self.hn.db.write() as session:
            session.add(
                UserTask(
                    id=task_id,
                    instance_id=instance_id,
                    process_key=key,
                    element_id=element_id,
                    name=element_id,
                    candidates=candidates,
                    assignee_id=self.users[assignee] if assignee else None,
                    status="completed" if completed_at else "open",
                    due_at=due_at,
                    created_at=created_at,
                    completed_at=completed_at,
                )
            )
            session.commit()
        return task_id

    def end(self, instance_id: int, element_id: str, at: datetime) -> None:
        """The element trail's row when a strand reaches its end event (engine/element_trail.py)."""
        with self.hn.db.write() as session:
            session.add(
                AuditEvent(
                    at=at,
                    actor_name="System",
                    action="element_left",
                    instance_id=instance_id,
                    element_id=element_id,
                    detail={},
                )
            )
            session.commit()

    def meeting(self, kind: str, status: str, starts_at: datetime) -> None:
        instance_id = self.instance("netzwerktreffen", starts_at - timedelta(days=40))
        with self.hn.db.write() as session:
            session.add(
                NetworkMeeting(
                    instance_id=instance_id,
                    kind=kind,
                    title=kind,
                    location="Kreishaus",
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=3),
                    status=status,
                    uid=f"{uuid.uuid4()}@hilfenetz",
                    organisations=[],
                    updated_at=starts_at,
                )
            )
            session.commit()

    def directory(self, org: str, status: str, confirmed_at: datetime | None) -> None:
        with self.hn.db.write() as session:
            session.add(
                DirectoryEntry(
                    organisation_id=self.orgs[org],
                    status=status,
                    confirmed_at=confirmed_at,
                    updated_at=confirmed_at or datetime(2020, 1, 1).astimezone(),
                )
            )
            session.commit()
