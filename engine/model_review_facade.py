"""Four eyes and deployment (issue 5): submit a change set, review its diff, approve (deploying new
versions, never by anyone who wrote it) or reject with a comment; and the start-up deployment that
lays the approved files over the shipped ones."""

from __future__ import annotations

from dataclasses import dataclass

from engine.checks import unknown_actions
from engine.definitions import build_bundle
from engine.deployment import deploy_bundle
from engine.errors import ConflictError, InvalidDefinitionError, Problem
from engine.model_check import build_change, check_change, layered, redeployed_files
from engine.model_diff import FileDiff, diff_change
from engine.model_drafts import ENTWURF, FREIGEGEBEN, VERWORFEN, ZUR_FREIGABE, DraftView
from engine.model_store import (
    change_files,
    change_revision,
    current_files,
    draft_row,
    draft_view,
    may_review,
    members_of,
    newer_version,
)
from engine.modeling_facade import NOT_EDITABLE, ModelingFacade, require_modeler
from engine.read_models import Actor, ProcessView
from engine.runtime import audit

STALE_REVIEW = (
    "Der Entwurf wurde seit dem Öffnen der Freigabeseite geändert. Bitte laden Sie die Seite neu und "
    "prüfen Sie die Änderungen erneut; es wurde nichts bereitgestellt."
)


@dataclass(frozen=True)
class ReviewView:
    draft: DraftView
    diffs: tuple[FileDiff, ...]
    problems: tuple[Problem, ...]
    may_approve: bool
    """False for the author (four-eyes rule) and when the draft is not waiting for approval."""
    newer_version: int | None = None
    """The live version, when it is newer than the one the draft started from: approving would
    undo what that version changed (the diff shows it as changes of the draft)."""
    revision: str = ""
    """Fingerprint of the files shown; the approval sends it back (see :func:`change_revision`)."""
    redeployed: tuple[FileDiff, ...] = ()
    """Processes outside the change set that use one of its forms or tables: approving deploys a
    new version of each, diffed here against its latest deployed version."""


class ModelReviewFacade(ModelingFacade):
    """Mixin of :class:`engine.service.Hilfenetz` (with the draft use cases it builds on)."""

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
            head = draft_row(session, head_id, lock=True)
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
            head = draft_row(session, head_id)
            view = draft_view(session, head)
            change = change_files(session, head)
            current = current_files(session, change, approved, self.source)
            newer = newer_version(session, head)
            try:
                users = redeployed_files(change, approved, self.source)
            except InvalidDefinitionError:  # unreadable table: the check below says so
                users = {}
            deployed = current_files(session, users, approved, self.source)
        problems = check_change(change, approved, self.source)
        may = view.state == ZUR_FREIGABE and actor.id not in view.writer_ids and not problems
        diffs = tuple(diff_change(current, change))
        return ReviewView(
            view,
            diffs,
            tuple(problems),
            may,
            newer,
            change_revision(change),
            tuple(diff_change(deployed, users)),
        )

    def approve_model_draft(
        self, actor: Actor, draft_id: int, comment: str = "", revision: str | None = None
    ) -> list[int]:
        """Deploy the change set as new versions (four-eyes: never by its author). Returns the
        ids of the deployed versions. A second approval finds the state changed and deploys nothing.

        ``revision`` is the fingerprint the review page showed: when the files changed since (say
        the draft went back to its author, was edited and resubmitted), nothing is deployed. The
        bundles are built from the content read under the row lock, so what is deployed is what
        was compared."""
        require_modeler(actor)
        head_id = self._head_id(draft_id)
        approved = self._approved_files()
        now = self.clock.now()
        with self.db.write() as session:
            head = draft_row(session, head_id, lock=True)
            may_review(session, head, actor)
            change = change_files(session, head)
            if revision is not None and revision != change_revision(change):
                raise ConflictError(STALE_REVIEW)
            bundles = build_change(change, approved, self.source)
            deployed = [deploy_bundle(session, b, actor.username, now) for b in bundles]
            head.state, head.reviewed_by_id, head.reviewed_at = FREIGEGEBEN, actor.id, now
            head.review_comment = comment.strip()[:2000] or None
            head.deployed_ids = [d.id for d in deployed]
            for member in members_of(session, head):
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
            head = draft_row(session, head_id, lock=True)
            may_review(session, head, actor)
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
            head = draft_row(session, head_id, lock=True)
            if head.state != ENTWURF:
                raise ConflictError(NOT_EDITABLE)
            head.state, head.updated_at = VERWORFEN, now
            for member in members_of(session, head):
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
