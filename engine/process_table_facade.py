"""The keyboard table view of a process draft (engine/process_table.py) as facade methods."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from engine.errors import ConflictError, InvalidDefinitionError, Problem
from engine.model_drafts import DraftView
from engine.modeling_facade import NOT_EDITABLE, SAVED_MEANWHILE, ModelingFacade
from engine.persistence.models import Organisation, Role
from engine.process_table import ProcessTable, TableChanges, apply_changes, read_table, validate
from engine.read_models import Actor

TABLE_SAVED_MEANWHILE = (
    "Der Entwurf wurde inzwischen von jemand anderem gespeichert. Ihre Eingaben sind nicht gespeichert, "
    "stehen aber noch im Formular: bitte die Seite in einem neuen Tab öffnen, vergleichen und die Eingaben "
    "dort erneut speichern."
)
NOT_A_PROCESS = "Die Tabellenansicht gibt es nur für Prozesse (BPMN), nicht für Formulare oder Tabellen."


@dataclass(frozen=True)
class CandidateGroup:
    """Options of one ``<optgroup>``: ``(value, label)``."""

    label: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ProcessTableView:
    draft: DraftView
    table: ProcessTable
    forms: tuple[str, ...]
    candidates: tuple[CandidateGroup, ...]

    @property
    def candidate_values(self) -> frozenset[str]:
        return frozenset(value for group in self.candidates for value, _ in group.options)


@dataclass(frozen=True)
class TableSaveResult:
    saved: bool
    errors: dict[str, str] = field(default_factory=dict)
    """German message per field name (``<element id>-<field>``); nothing was saved."""
    problems: list[Problem] = field(default_factory=list)
    """The check's problems after saving."""


class ProcessTableFacade(ModelingFacade):
    """Mixin of :class:`engine.service.Hilfenetz` (builds on the drafts of ModelingFacade)."""

    def model_draft_table(self, actor: Actor, draft_id: int) -> ProcessTableView:
        draft = self.model_draft(actor, draft_id)  # the role check
        if draft.kind != "bpmn":
            raise InvalidDefinitionError(NOT_A_PROCESS)
        return ProcessTableView(
            draft,
            read_table(draft.content, draft.filename),
            self._form_choices(draft),
            self._candidate_choices(),
        )

    def save_model_draft_table(
        self, actor: Actor, draft_id: int, changes: TableChanges, revision: int | None = None
    ) -> TableSaveResult:
        """Validate the table; if every field is usable, write it into the BPMN and save the draft.

        The page sends every row, so a save over a newer revision than the one the page showed
        would silently undo someone else's edit: with ``revision`` that is refused (ConflictError),
        here and again under the row lock in :meth:`save_model_draft`."""
        view = self.model_draft_table(actor, draft_id)
        if not view.draft.editable:
            raise ConflictError(NOT_EDITABLE)
        if revision is not None and revision != view.draft.revision:
            raise ConflictError(TABLE_SAVED_MEANWHILE)
        errors = validate(changes, view.table, view.forms)
        if errors:
            return TableSaveResult(False, errors)
        content = apply_changes(view.draft.content, changes, view.draft.filename)
        try:
            problems = self.save_model_draft(actor, draft_id, content, revision)
        except ConflictError as exc:  # saved by someone else between the two reads
            if exc.message != SAVED_MEANWHILE:
                raise
            raise ConflictError(TABLE_SAVED_MEANWHILE) from exc
        return TableSaveResult(True, {}, problems)

    def _form_choices(self, draft: DraftView) -> tuple[str, ...]:
        """Forms a task may name: shipped, approved in the browser, or part of this change."""
        shipped = {path.stem for path in self.source.forms_dir.glob("*.form")}
        approved = {name.removesuffix(".form") for name in self._approved_files() if name.endswith(".form")}
        changed = {f.filename.removesuffix(".form") for f in draft.files if f.kind == "form"}
        return tuple(sorted(shipped | approved | changed))

    def _candidate_choices(self) -> tuple[CandidateGroup, ...]:
        """Every role, and every role at every active organisation (design §3: organisation × role)."""
        with self.db.read() as session:
            roles = session.execute(select(Role.name, Role.label).order_by(Role.name)).all()
            organisations = session.execute(
                select(Organisation.slug, Organisation.name)
                .where(Organisation.active.is_(True))
                .order_by(Organisation.name)
            ).all()
        groups = [CandidateGroup("Rolle in allen Organisationen", tuple((r.name, r.label) for r in roles))]
        for org in organisations:
            options = [(f"@{org.slug}", f"{org.name}: alle")]
            options.extend((f"{r.name}@{org.slug}", f"{org.name}: {r.label}") for r in roles)
            groups.append(CandidateGroup(org.name, tuple(options)))
        return tuple(groups)
