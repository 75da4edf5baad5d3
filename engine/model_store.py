"""Reading and writing ``model_draft`` rows for the modelling use cases (within a session)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions import DefinitionSource
from engine.errors import ConflictError, NotFoundError, NotPermittedError
from engine.model_drafts import ZUR_FREIGABE, DraftFile, DraftView, split_filename
from engine.persistence.models import ModelDraft, ProcessDefinition, User
from engine.read_models import Actor


def draft_row(session: Session, draft_id: int, *, lock: bool = False) -> ModelDraft:
    query = select(ModelDraft).where(ModelDraft.id == draft_id)
    draft = session.scalars(query.with_for_update() if lock else query).first()
    if draft is None:
        raise NotFoundError("Entwurf nicht gefunden.")
    return draft


def members_of(session: Session, head: ModelDraft) -> Sequence[ModelDraft]:
    return session.scalars(
        select(ModelDraft).where(ModelDraft.change_id == head.id).order_by(ModelDraft.id)
    ).all()


def head_state(session: Session, draft: ModelDraft) -> str:
    if draft.change_id is None:
        return draft.state
    head = session.get(ModelDraft, draft.change_id)
    return head.state if head is not None else draft.state


def change_files(session: Session, draft: ModelDraft) -> dict[str, str]:
    """File name → content of the change set the draft belongs to."""
    head = session.get(ModelDraft, draft.change_id) if draft.change_id else draft
    assert head is not None
    return {d.filename: d.content for d in (head, *members_of(session, head))}


def change_revision(change: Mapping[str, str]) -> str:
    """A fingerprint of a change set's files (names and content): the review page carries it, and
    an approval deploys only the content the reviewer saw."""
    digest = hashlib.sha256()
    for filename in sorted(change):
        for part in (filename, change[filename]):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def current_files(
    session: Session, change: dict[str, str], approved: dict[str, str], shipped: DefinitionSource
) -> dict[str, str | None]:
    """What is live now for each file of a change set (None: the file is new)."""
    current: dict[str, str | None] = {}
    for filename in change:
        kind, key = split_filename(filename)
        text: str | None = None
        if kind == "bpmn":
            text = session.scalars(
                select(ProcessDefinition.bpmn_xml)
                .where(ProcessDefinition.process_key == key)
                .order_by(ProcessDefinition.version.desc())
                .limit(1)
            ).first()
        if text is None:
            text = approved.get(filename)
        if text is None:
            folder = shipped.forms_dir if kind == "form" else shipped.processes_dir
            path = folder / filename
            text = path.read_text(encoding="utf-8") if path.exists() else None
        current[filename] = text
    return current


def may_review(session: Session, head: ModelDraft, actor: Actor) -> None:
    """Four eyes: nobody who wrote any file of the change set, nor who submitted it, decides on it."""
    if actor.id in writers(head, members_of(session, head)):
        raise NotPermittedError(
            "Vier-Augen-Prinzip: Den eigenen Entwurf darf nicht dieselbe Person freigeben oder ablehnen; "
            "bitte eine andere Koordinatorin oder einen anderen Koordinator."
        )
    if head.state != ZUR_FREIGABE:
        raise ConflictError(
            "Dieser Entwurf wartet nicht (mehr) auf Freigabe; er wurde bereits freigegeben, abgelehnt oder "
            "zurückgezogen. Es wurde nichts geändert."
        )


def user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def draft_view(session: Session, draft: ModelDraft) -> DraftView:
    head = session.get(ModelDraft, draft.change_id) if draft.change_id else draft
    assert head is not None
    members = members_of(session, head)
    names = user_names(session, {draft.author_id, head.submitted_by_id, head.reviewed_by_id})
    based_on = session.get(ProcessDefinition, draft.based_on_id) if draft.based_on_id else None
    return DraftView(
        id=draft.id,
        kind=draft.kind,
        filename=draft.filename,
        key=split_filename(draft.filename)[1],
        content=draft.content,
        state=head.state,
        author_id=draft.author_id,
        author=names.get(draft.author_id, "?"),
        based_on_id=draft.based_on_id,
        based_on_version=based_on.version if based_on else None,
        change_id=draft.change_id,
        created_at=draft.created_at,
        updated_at=draft.updated_at,
        submitted_by=names.get(head.submitted_by_id) if head.submitted_by_id else None,
        reviewed_by=names.get(head.reviewed_by_id) if head.reviewed_by_id else None,
        reviewed_at=head.reviewed_at,
        review_comment=head.review_comment,
        deployed_ids=tuple(head.deployed_ids or ()),
        files=tuple(DraftFile(d.id, d.kind, d.filename) for d in (head, *members)),
        writer_ids=tuple(sorted(writers(head, members))),
        revision=draft.lock_version,
    )


def writers(head: ModelDraft, members: Sequence[ModelDraft]) -> set[int]:
    writers = {head.author_id, *([head.submitted_by_id] if head.submitted_by_id else [])}
    for draft in (head, *members):
        writers.update({draft.author_id, *(draft.editor_ids or [])})
    return writers


def newer_version(session: Session, head: ModelDraft) -> int | None:
    """The latest version number of the draft's process if it is newer than the draft's base."""
    if head.based_on_id is None:
        return None
    base = session.get(ProcessDefinition, head.based_on_id)
    if base is None:
        return None
    latest = session.scalar(
        select(ProcessDefinition.version)
        .where(ProcessDefinition.process_key == base.process_key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    return latest if latest is not None and latest > base.version else None
