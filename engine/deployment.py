"""Store a bundle as a new process version — once per change (never commits)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions import Bundle
from engine.errors import InvalidDefinitionError, Problem
from engine.persistence.models import ProcessDefinition


def _rehash(digest: str, version: int) -> str:
    """Key of a version whose content equals an older one (files changed, then changed back)."""
    return hashlib.sha256(f"{digest}:{version}".encode()).hexdigest()


def _refuse_second_receiver(session: Session, bundle: Bundle) -> None:
    """One process per start message: notices such as ``kinderschutz.meldung`` carry case facts,
    and a second process listening to them would receive every one unnoticed."""
    if bundle.start_message is None:
        return
    others = session.scalars(
        select(ProcessDefinition.process_key)
        .where(
            ProcessDefinition.start_message == bundle.start_message,
            ProcessDefinition.process_key != bundle.process_key,
        )
        .distinct()
    ).all()
    if others:
        raise InvalidDefinitionError(
            "Die Prozessdefinition enthält Fehler.",
            [
                Problem(
                    f"{bundle.process_key}.bpmn",
                    None,
                    f"Mit der Nachricht „{bundle.start_message}“ startet bereits der Prozess "
                    f"„{others[0]}“; jede Nachricht darf nur einen Prozess starten.",
                )
            ],
            process=bundle.process_key,
        )


def deploy_bundle(session: Session, bundle: Bundle, deployed_by: str, now: datetime) -> ProcessDefinition:
    """Return the newest version when its content is the same, else store version newest + 1.

    Running instances keep the version they started on; new instances take the newest. Going
    back to earlier files (e.g. a DMN table changed and changed back) is a new version too, so
    the next case is routed by what was deployed last.
    """
    _refuse_second_receiver(session, bundle)
    digest = bundle.content_hash
    latest = session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_key == bundle.process_key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()
    version = (latest.version if latest else 0) + 1
    if latest is not None and latest.content_hash in (digest, _rehash(digest, latest.version)):
        return latest
    taken = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.content_hash == digest))
    definition = ProcessDefinition(
        process_key=bundle.process_key,
        version=version,
        name=bundle.name,
        content_hash=digest if taken is None else _rehash(digest, version),
        bpmn_xml=bundle.main_bpmn,
        spec_json=bundle.spec_json,
        forms_json=json.dumps(bundle.forms),
        start_form=bundle.start_form,
        starter_groups=bundle.starter_groups,
        start_message=bundle.start_message,
        confidential=bundle.confidential,
        deployed_at=now,
        deployed_by=deployed_by,
    )
    session.add(definition)
    session.flush()
    return definition
