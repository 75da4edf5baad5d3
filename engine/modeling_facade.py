"""Use cases of issue 5 for the webapp: model drafts, their check, four-eyes approval and deployment.

Only the Koordination models. A draft is edited by anyone of the Koordination while it is an
``entwurf``; submitting freezes it; a *different* coordinator approves (deploying new versions) or
rejects it with a comment (back to ``entwurf``). Every step is in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from engine.clock import Clock
from engine.definitions import DefinitionSource
from engine.errors import ConflictError, InvalidDefinitionError, NotFoundError, NotPermittedError, Problem
from engine.model_check import check_change
from engine.model_drafts import (
    ENTWURF,
    FREIGEGEBEN,
    KEY_PATTERN,
    MODELING_ROLE,
    ZUR_FREIGABE,
    DraftView,
    decode_upload,
    kind_of,
    new_form_json,
    new_process_xml,
    split_filename,
    upload_key,
    validate_content,
)
from engine.model_store import (
    change_files,
    current_files,
    draft_row,
    draft_view,
    head_state,
    user_names,
)
from engine.persistence.database import Database
from engine.persistence.models import ModelDraft, ProcessDefinition
from engine.read_models import Actor
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
            names = user_names(session, {d.author_id for d in rows})
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
            return draft_view(session, draft_row(session, draft_id))

    def model_current_file(self, actor: Actor, draft_id: int) -> str | None:
        """What is live now for the draft's file (None: the file is new) — the left side of a
        side-by-side view."""
        require_modeler(actor)
        approved = self._approved_files()
        with self.db.read() as session:
            draft = draft_row(session, draft_id)
            return current_files(session, {draft.filename: draft.content}, approved, self.source)[
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
            head = draft_view(session, draft_row(session, draft_id))
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
            draft = draft_row(session, draft_id, lock=True)
            if head_state(session, draft) != ENTWURF:
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
            draft = draft_row(session, draft_id)
            change = change_files(session, draft)
            change[draft.filename] = content
        return check_change(change, self._approved_files(), self.source)

    def check_model_draft(self, actor: Actor, draft_id: int) -> list[Problem]:
        require_modeler(actor)
        with self.db.read() as session:
            change = change_files(session, draft_row(session, draft_id))
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

    def _head_id(self, draft_id: int) -> int:
        with self.db.read() as session:
            draft = draft_row(session, draft_id)
            return draft.change_id or draft.id
