"""Use cases of issue 5 for the webapp: model drafts, their check, four-eyes approval and deployment.

Only the Koordination models. A draft is edited by anyone of the Koordination while it is an
``entwurf``; submitting freezes it; a *different* coordinator approves (deploying new versions) or
rejects it with a comment (back to ``entwurf``). Every step is in the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.definitions import DefinitionSource, build_bundle
from engine.deployment import deploy_bundle
from engine.errors import ConflictError, InvalidDefinitionError, NotFoundError, NotPermittedError, Problem
from engine.model_check import build_change, check_change, layered, unknown_actions
from engine.model_diff import FileDiff, diff_change
from engine.model_drafts import (
    ENTWURF,
    FREIGEGEBEN,
    KEY_PATTERN,
    MODELING_ROLE,
    VERWORFEN,
    ZUR_FREIGABE,
    DraftFile,
    DraftView,
    decode_upload,
    kind_of,
    new_form_json,
    new_process_xml,
    split_filename,
    upload_key,
    validate_content,
)
from engine.persistence.database import Database
from engine.persistence.models import ModelDraft, ProcessDefinition, User
from engine.read_models import Actor, ProcessView
from engine.runtime import audit

NOT_EDITABLE = (
    "Dieser Entwurf kann nicht mehr bearbeitet werden (er ist zur Freigabe vorgelegt oder abgeschlossen)."
)

SAVED_MEANWHILE = (
    "Der Entwurf wurde inzwischen von jemand anderem gespeichert. Ihre Fassung ist nicht gespeichert, "
    "aber im Editor noch da: bitte herunterladen, die Seite neu laden und die Änderungen übernehmen."
)


@dataclass(frozen=True)
class VersionInfo:
    definition_id: int
    version: int
    deployed_at: datetime
    deployed_by: str


@dataclass(frozen=True)
class DraftSummary:
    id: int
    filename: str
    state: str
    author: str
    updated_at: datetime


@dataclass(frozen=True)
class ProcessModels:
    """One process on the modelling overview: its deployed versions and its open drafts."""

    key: str
    name: str
    versions: tuple[VersionInfo, ...]
    drafts: tuple[DraftSummary, ...]


@dataclass(frozen=True)
class ReviewView:
    draft: DraftView
    diffs: tuple[FileDiff, ...]
    problems: tuple[Problem, ...]
    may_approve: bool
    """False for the author (four-eyes rule) and when the draft is not waiting for approval."""


def require_modeler(actor: Actor) -> None:
    if not actor.has_role(MODELING_ROLE):
        raise NotPermittedError("Prozesse bearbeiten darf nur die Koordination.")


class ModelingFacade:
    """Mixin of :class:`engine.service.Hilfenetz`."""

    db: Database
    clock: Clock
    source: DefinitionSource

    # --- reading --------------------------------------------------------------------------
    def model_overview(self, actor: Actor) -> list[ProcessModels]:
        require_modeler(actor)
        with self.db.read() as session:
            definitions = session.execute(
                select(
                    ProcessDefinition.process_key,
                    ProcessDefinition.name,
                    ProcessDefinition.id,
                    ProcessDefinition.version,
                    ProcessDefinition.deployed_at,
                    ProcessDefinition.deployed_by,
                ).order_by(ProcessDefinition.process_key, ProcessDefinition.version.desc())
            ).all()
            rows = session.scalars(
                select(ModelDraft)
                .where(ModelDraft.change_id.is_(None), ModelDraft.state.in_((ENTWURF, ZUR_FREIGABE)))
                .order_by(ModelDraft.updated_at.desc())
            ).all()
            names = _user_names(session, {d.author_id for d in rows})
            drafts = [
                (
                    split_filename(d.filename)[1],
                    DraftSummary(d.id, d.filename, d.state, names.get(d.author_id, "?"), d.updated_at),
                )
                for d in rows
            ]
        titles: dict[str, str] = {}
        versions: dict[str, list[VersionInfo]] = {}
        for row in definitions:
            titles.setdefault(row.process_key, row.name)
            info = VersionInfo(row.id, row.version, row.deployed_at, row.deployed_by)
            versions.setdefault(row.process_key, []).append(info)
        keys = sorted({*versions, *(key for key, _ in drafts)})
        return [
            ProcessModels(
                key,
                titles.get(key, key),
                tuple(versions.get(key, [])),
                tuple(summary for draft_key, summary in drafts if draft_key == key),
            )
            for key in keys
        ]

    def model_draft(self, actor: Actor, draft_id: int) -> DraftView:
        require_modeler(actor)
        with self.db.read() as session:
            return _draft_view(session, _draft(session, draft_id))

    def model_current_file(self, actor: Actor, draft_id: int) -> str | None:
        """What is live now for the draft's file (None: the file is new) — the left side of a
        side-by-side view."""
        require_modeler(actor)
        approved = self._approved_files()
        with self.db.read() as session:
            draft = _draft(session, draft_id)
            return _current_files(session, {draft.filename: draft.content}, approved, self.source)[
                draft.filename
            ]

    def model_version_file(self, actor: Actor, definition_id: int) -> tuple[str, str]:
        """``(file name, BPMN XML)`` of a deployed version, for download."""
        require_modeler(actor)
        with self.db.read() as session:
            definition = session.get(ProcessDefinition, definition_id)
            if definition is None:
                raise NotFoundError("Prozessversion nicht gefunden.")
            return f"{definition.process_key}-v{definition.version}.bpmn", definition.bpmn_xml

    # --- creating -------------------------------------------------------------------------
    def create_model_draft(self, actor: Actor, kind: str, key: str, name: str = "") -> int:
        """A new process (minimal, already passing the check), form or DMN file (DMN: upload only)."""
        require_modeler(actor)
        key = (key or "").strip()
        if kind not in ("bpmn", "form"):
            raise InvalidDefinitionError(
                "Neu anlegen lassen sich Prozesse und Formulare; DMN-Tabellen bitte hochladen."
            )
        if not KEY_PATTERN.match(key):
            raise InvalidDefinitionError(
                "Die Kennung ist nicht zulässig: Kleinbuchstaben, Ziffern und Unterstrich, am Anfang ein "
                "Buchstabe (2 bis 61 Zeichen), z. B. „beratung_nachsorge“."
            )
        if kind == "bpmn":
            self._refuse_existing_process(key)
            content = new_process_xml(key, name.strip())
        else:  # an existing form is edited from its current content
            approved = self._approved_files().get(f"{key}.form")
            content = approved or self.source.read_form(key) or new_form_json(key)
        return self._insert_draft(actor, f"{key}.{kind}", content, None, None, "modell_entwurf_angelegt")

    def _refuse_existing_process(self, key: str) -> None:
        with self.db.read() as session:
            deployed = session.scalar(
                select(ProcessDefinition.id).where(ProcessDefinition.process_key == key)
            )
        if deployed is not None or self.source.find_process_file(key) is not None:
            raise InvalidDefinitionError(
                f"Einen Prozess „{key}“ gibt es schon. Bitte seine bereitgestellte Version als Entwurf "
                "bearbeiten oder eine andere Kennung wählen."
            )

    def draft_from_version(self, actor: Actor, definition_id: int) -> int:
        require_modeler(actor)
        with self.db.read() as session:
            definition = session.get(ProcessDefinition, definition_id)
            if definition is None:
                raise NotFoundError("Prozessversion nicht gefunden.")
            filename, content = f"{definition.process_key}.bpmn", definition.bpmn_xml
        return self._insert_draft(actor, filename, content, definition_id, None, "modell_entwurf_angelegt")

    def upload_model_draft(
        self, actor: Actor, filename: str, data: bytes, change_id: int | None = None
    ) -> int:
        """A draft from a file made elsewhere (Camunda Modeler …); refused with a German reason if
        the name, size, encoding or content is wrong. ``change_id`` adds it to a process's change set."""
        require_modeler(actor)
        kind, name = kind_of(filename)
        text = decode_upload(name, data)
        validate_content(kind, name, text)
        key = upload_key(kind, name, text)
        if change_id is not None:
            head = self._require_change_head(change_id)
            if f"{key}.{kind}" in {f.filename for f in head.files}:
                raise ConflictError(
                    f"Die Datei „{key}.{kind}“ gehört schon zu diesem Entwurf; bitte dort bearbeiten."
                )
        return self._insert_draft(actor, f"{key}.{kind}", text, None, change_id, "modell_hochgeladen")

    def add_file_to_draft(self, actor: Actor, draft_id: int, form_key: str) -> int:
        """A form draft in this process draft's change set: the current form if it exists, else empty."""
        require_modeler(actor)
        form_key = (form_key or "").strip()
        if not KEY_PATTERN.match(form_key):
            raise InvalidDefinitionError(
                "Die Formular-Kennung ist nicht zulässig: Kleinbuchstaben, Ziffern und Unterstrich, "
                "z. B. „fallkonferenz_rueckmeldung“."
            )
        head = self._require_change_head(draft_id)
        if head.filename == f"{form_key}.form" or f"{form_key}.form" in {f.filename for f in head.files}:
            raise ConflictError(f"Das Formular „{form_key}“ gehört schon zu diesem Entwurf.")
        approved = self._approved_files()
        content = (
            approved.get(f"{form_key}.form") or self.source.read_form(form_key) or new_form_json(form_key)
        )
        return self._insert_draft(
            actor, f"{form_key}.form", content, None, draft_id, "modell_entwurf_angelegt"
        )

    def _require_change_head(self, draft_id: int) -> DraftView:
        with self.db.read() as session:
            head = _draft_view(session, _draft(session, draft_id))
        if head.kind != "bpmn" or head.change_id is not None:
            raise InvalidDefinitionError(
                "Formulare und Tabellen lassen sich nur einem Prozess-Entwurf hinzufügen."
            )
        if not head.editable:
            raise ConflictError(NOT_EDITABLE)
        return head

    def _insert_draft(
        self,
        actor: Actor,
        filename: str,
        content: str,
        based_on: int | None,
        change_id: int | None,
        action: str,
    ) -> int:
        now = self.clock.now()
        with self.db.write() as session:
            draft = ModelDraft(
                change_id=change_id,
                kind=split_filename(filename)[0],
                filename=filename,
                content=content,
                based_on_id=based_on,
                state=ENTWURF,
                author_id=actor.id,
                editor_ids=[actor.id],
                created_at=now,
                updated_at=now,
            )
            session.add(draft)
            session.flush()
            detail = {"entwurf": draft.id, "datei": filename, "grundlage": based_on, "aenderung": change_id}
            audit(session, now, actor, action, None, detail=detail)
            session.commit()
            return draft.id

    # --- editing and checking -------------------------------------------------------------
    def save_model_draft(
        self, actor: Actor, draft_id: int, content: str, revision: int | None = None
    ) -> list[Problem]:
        """Save (if readable and harmless) and return the check's problems. With ``revision`` (the
        one the editor loaded) a save over someone else's newer one is refused instead of lost."""
        require_modeler(actor)
        now = self.clock.now()
        with self.db.write() as session:
            draft = _draft(session, draft_id, lock=True)
            if _head_state(session, draft) != ENTWURF:
                raise ConflictError(NOT_EDITABLE)
            if revision is not None and revision != draft.lock_version:
                raise ConflictError(SAVED_MEANWHILE)
            validate_content(draft.kind, draft.filename, content)
            changed = draft.content != content
            draft.content = content
            if changed and actor.id not in (draft.editor_ids or []):
                draft.editor_ids = [*(draft.editor_ids or []), actor.id]
            draft.updated_at = now
            audit(
                session,
                now,
                actor,
                "modell_entwurf_gespeichert",
                None,
                detail={"entwurf": draft.id, "datei": draft.filename, "geaendert": changed},
            )
            session.commit()
        return self.check_model_draft(actor, draft_id)

    def check_model_content(self, actor: Actor, draft_id: int, content: str) -> list[Problem]:
        """The problems ``content`` would have in place of the draft's file (nothing is saved)."""
        require_modeler(actor)
        with self.db.read() as session:
            draft = _draft(session, draft_id)
            change = _change_files(session, draft)
            change[draft.filename] = content
        return check_change(change, self._approved_files(), self.source)

    def check_model_draft(self, actor: Actor, draft_id: int) -> list[Problem]:
        require_modeler(actor)
        with self.db.read() as session:
            change = _change_files(session, _draft(session, draft_id))
        return check_change(change, self._approved_files(), self.source)

    def _approved_files(self) -> dict[str, str]:
        """The newest approved content of every file approved in the browser (file name → text)."""
        with self.db.read() as session:
            newest = {
                filename: draft_id
                for draft_id, filename in session.execute(
                    select(ModelDraft.id, ModelDraft.filename)
                    .where(ModelDraft.state == FREIGEGEBEN)
                    .order_by(ModelDraft.reviewed_at, ModelDraft.id)
                )
            }
            if not newest:
                return {}
            rows = session.execute(
                select(ModelDraft.filename, ModelDraft.content).where(ModelDraft.id.in_(newest.values()))
            ).all()
        return {filename: content for filename, content in rows}

    # --- four eyes ------------------------------------------------------------------------
    def submit_model_draft(self, actor: Actor, draft_id: int) -> None:
        """Put a change set up for approval; only when the check finds nothing."""
        require_modeler(actor)
        head_id = self._head_id(draft_id)
        problems = self.check_model_draft(actor, head_id)
        if problems:
            raise InvalidDefinitionError("Der Entwurf hat noch Fehler; bitte erst beheben.", problems)
        now = self.clock.now()
        with self.db.write() as session:
            head = _draft(session, head_id, lock=True)
            if head.state != ENTWURF:
                raise ConflictError("Dieser Entwurf ist bereits zur Freigabe vorgelegt oder abgeschlossen.")
            head.state, head.submitted_by_id, head.submitted_at = ZUR_FREIGABE, actor.id, now
            head.reviewed_by_id = head.reviewed_at = head.review_comment = None
            audit(
                session,
                now,
                actor,
                "modell_zur_freigabe",
                None,
                detail={"entwurf": head.id, "datei": head.filename},
            )
            session.commit()

    def model_review(self, actor: Actor, draft_id: int) -> ReviewView:
        """The approval page: the draft, what changes against the deployed files, and the check."""
        require_modeler(actor)
        head_id = self._head_id(draft_id)
        approved = self._approved_files()
        with self.db.read() as session:
            head = _draft(session, head_id)
            view = _draft_view(session, head)
            change = _change_files(session, head)
            current = _current_files(session, change, approved, self.source)
        problems = check_change(change, approved, self.source)
        may = view.state == ZUR_FREIGABE and actor.id not in view.writer_ids and not problems
        return ReviewView(view, tuple(diff_change(current, change)), tuple(problems), may)

    def approve_model_draft(self, actor: Actor, draft_id: int, comment: str = "") -> list[int]:
        """Deploy the change set as new versions (four-eyes: never by its author). Returns the
        ids of the deployed versions. A second approval finds the state changed and deploys nothing."""
        require_modeler(actor)
        head_id = self._head_id(draft_id)
        bundles = None
        with self.db.read() as session:
            head = _draft(session, head_id)
            _may_review(session, head, actor)
            change = _change_files(session, head)
        bundles = build_change(change, self._approved_files(), self.source)
        now = self.clock.now()
        with self.db.write() as session:
            head = _draft(session, head_id, lock=True)
            _may_review(session, head, actor)
            deployed = [deploy_bundle(session, b, actor.username, now) for b in bundles]
            head.state, head.reviewed_by_id, head.reviewed_at = FREIGEGEBEN, actor.id, now
            head.review_comment = comment.strip()[:2000] or None
            head.deployed_ids = [d.id for d in deployed]
            for member in _members(session, head):
                member.state, member.reviewed_by_id, member.reviewed_at = FREIGEGEBEN, actor.id, now
            detail = {
                "entwurf": head.id,
                "dateien": sorted(change),
                "autor": head.author_id,
                "vorgelegt_von": head.submitted_by_id,
                "freigegeben_von": actor.username,
            }
            audit(session, now, actor, "modell_freigegeben", None, detail=detail)
            for d in deployed:
                audit(
                    session,
                    now,
                    actor,
                    "prozessversion_bereitgestellt",
                    None,
                    detail={
                        "prozess": d.process_key,
                        "version": d.version,
                        "entwurf": head.id,
                        "freigegeben_von": actor.username,
                    },
                )
            session.commit()
            return [d.id for d in deployed]

    def reject_model_draft(self, actor: Actor, draft_id: int, comment: str) -> None:
        """Back to the author as an ``entwurf``, with the reason."""
        require_modeler(actor)
        comment = (comment or "").strip()
        if not comment:
            raise InvalidDefinitionError("Bitte begründen Sie die Ablehnung in einem Kommentar.")
        head_id = self._head_id(draft_id)
        now = self.clock.now()
        with self.db.write() as session:
            head = _draft(session, head_id, lock=True)
            _may_review(session, head, actor)
            head.state, head.reviewed_by_id, head.reviewed_at = ENTWURF, actor.id, now
            head.review_comment = comment[:2000]
            audit(
                session,
                now,
                actor,
                "modell_abgelehnt",
                None,
                detail={"entwurf": head.id, "datei": head.filename, "kommentar": comment[:2000]},
            )
            session.commit()

    def discard_model_draft(self, actor: Actor, draft_id: int) -> None:
        """The author's or a coordinator's „verwerfen“ of an unsubmitted draft (kept, marked verworfen)."""
        require_modeler(actor)
        head_id = self._head_id(draft_id)
        now = self.clock.now()
        with self.db.write() as session:
            head = _draft(session, head_id, lock=True)
            if head.state != ENTWURF:
                raise ConflictError(NOT_EDITABLE)
            head.state, head.updated_at = VERWORFEN, now
            for member in _members(session, head):
                member.state = VERWORFEN
            audit(
                session,
                now,
                actor,
                "modell_verworfen",
                None,
                detail={"entwurf": head.id, "datei": head.filename},
            )
            session.commit()

    # --- start-up deployment ------------------------------------------------------------------
    def deploy_with_approved_files(self, deployed_by: str = "system") -> list[ProcessView]:
        """Deploy every process, the files approved in the browser lying over the shipped ones, so
        that a restart (``hilfenetz demo``) never reverts what the Koordination approved."""
        with layered({}, self._approved_files(), self.source) as (source, _):
            bundles = [build_bundle(path, source) for path in source.bpmn_files()]
        for bundle in bundles:
            unknown = unknown_actions(bundle)
            if unknown:
                raise InvalidDefinitionError(
                    "Die Prozessdefinition enthält Fehler.", unknown, process=bundle.process_key
                )
        views = []
        for bundle in bundles:
            with self.db.write() as session:
                d = deploy_bundle(session, bundle, deployed_by, self.clock.now())
                session.commit()
                views.append(
                    ProcessView(d.process_key, d.name, d.version, d.id, d.start_form, True, d.deployed_at)
                )
        return views

    def _head_id(self, draft_id: int) -> int:
        with self.db.read() as session:
            draft = _draft(session, draft_id)
            return draft.change_id or draft.id


# --- helpers ---------------------------------------------------------------------------------
def _draft(session: Session, draft_id: int, *, lock: bool = False) -> ModelDraft:
    query = select(ModelDraft).where(ModelDraft.id == draft_id)
    draft = session.scalars(query.with_for_update() if lock else query).first()
    if draft is None:
        raise NotFoundError("Entwurf nicht gefunden.")
    return draft


def _members(session: Session, head: ModelDraft) -> Sequence[ModelDraft]:
    return session.scalars(
        select(ModelDraft).where(ModelDraft.change_id == head.id).order_by(ModelDraft.id)
    ).all()


def _head_state(session: Session, draft: ModelDraft) -> str:
    if draft.change_id is None:
        return draft.state
    head = session.get(ModelDraft, draft.change_id)
    return head.state if head is not None else draft.state


def _change_files(session: Session, draft: ModelDraft) -> dict[str, str]:
    """File name → content of the change set the draft belongs to."""
    head = session.get(ModelDraft, draft.change_id) if draft.change_id else draft
    assert head is not None
    return {d.filename: d.content for d in (head, *_members(session, head))}


def _current_files(
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


def _may_review(session: Session, head: ModelDraft, actor: Actor) -> None:
    """Four eyes: nobody who wrote any file of the change set, nor who submitted it, decides on it."""
    if actor.id in _writers(head, _members(session, head)):
        raise NotPermittedError(
            "Vier-Augen-Prinzip: Den eigenen Entwurf darf nicht dieselbe Person freigeben oder ablehnen; "
            "bitte eine andere Koordinatorin oder einen anderen Koordinator."
        )
    if head.state != ZUR_FREIGABE:
        raise ConflictError(
            "Dieser Entwurf wartet nicht (mehr) auf Freigabe; er wurde bereits freigegeben, abgelehnt oder "
            "zurückgezogen. Es wurde nichts geändert."
        )


def _user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def _draft_view(session: Session, draft: ModelDraft) -> DraftView:
    head = session.get(ModelDraft, draft.change_id) if draft.change_id else draft
    assert head is not None
    members = _members(session, head)
    names = _user_names(session, {draft.author_id, head.submitted_by_id, head.reviewed_by_id})
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
        writer_ids=tuple(sorted(_writers(head, members))),
        revision=draft.lock_version,
    )


def _writers(head: ModelDraft, members: Sequence[ModelDraft]) -> set[int]:
    writers = {head.author_id, *([head.submitted_by_id] if head.submitted_by_id else [])}
    for draft in (head, *members):
        writers.update({draft.author_id, *(draft.editor_ids or [])})
    return writers
