"""Store a bundle as a new process version — once per content hash (never commits)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.definitions import Bundle
from engine.persistence.models import ProcessDefinition


def deploy_bundle(session: Session, bundle: Bundle, deployed_by: str, now: datetime) -> ProcessDefinition:
    """Return the existing version with the same content, else store version max + 1.

    Running instances keep the version they started on; new instances take the newest.
    """
    digest = bundle.content_hash
    existing = session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.content_hash == digest)
    ).first()
    if existing is not None:
        return existing
    latest = (
        session.scalar(
            select(func.max(ProcessDefinition.version)).where(
                ProcessDefinition.process_key == bundle.process_key
            )
        )
        or 0
    )
    definition = ProcessDefinition(
        process_key=bundle.process_key,
        version=latest + 1,
        name=bundle.name,
        content_hash=digest,
        bpmn_xml=bundle.main_bpmn,
        spec_json=bundle.spec_json,
        forms_json=json.dumps(bundle.forms),
        start_form=bundle.start_form,
        starter_groups=bundle.starter_groups,
        deployed_at=now,
        deployed_by=deployed_by,
    )
    session.add(definition)
    session.flush()
    return definition
