"""The keyboard table view of a process draft: tasks, lanes, candidates, forms, due dates, timers.

The bpmn-js canvas cannot be used without a mouse; this page is plain HTML with one labelled field per
value, so keyboard and screen-reader users change the same things. Only the Koordination (the engine
refuses everyone else with 403). Saving goes through the drafts' save, so the check runs.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.errors import ConflictError
from engine.process_table import EVENT_LABELS, TIMER_KINDS, TIMER_LABELS, ProcessTable, TableChanges
from engine.process_table_facade import ProcessTableView, TableSaveResult
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("modellierung_tabelle", __name__, url_prefix="/modellierung")


def changes_from_form(table: ProcessTable) -> TableChanges:
    """The submitted values of the rows the draft has; fields a row did not submit stay unchanged."""
    form = request.form
    changes = TableChanges()
    for row in table.tasks:
        prefix = f"{row.element_id}-"
        if f"{prefix}formular" not in form:
            continue
        changes.tasks[row.element_id] = {
            "kandidaten": form.getlist(f"{prefix}kandidaten"),
            "benutzer": form.get(f"{prefix}benutzer", ""),
            "formular": form.get(f"{prefix}formular", ""),
            "frist": form.get(f"{prefix}frist", ""),
        }
    for timer in table.timers:
        prefix = f"{timer.element_id}-"
        if f"{prefix}art" in form:
            changes.timers[timer.element_id] = {
                "art": form.get(f"{prefix}art", ""),
                "wert": form.get(f"{prefix}wert", ""),
            }
    return changes


def _revision() -> int:
    """The revision the page showed; a form without one (or with garbage) matches none."""
    value = request.form.get("revision", "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


def _page(
    view: ProcessTableView,
    result: TableSaveResult | None = None,
    submitted: TableChanges | None = None,
    conflict: str | None = None,
    revision: int | None = None,
) -> str:
    """``revision``: after a conflict the one the user's page had, so that saving again is refused
    again instead of overwriting the newer version with the rows the page still shows."""
    return render_template(
        "modellierung/tabelle.html",
        conflict=conflict,
        revision=view.draft.revision if revision is None else revision,
        view=view,
        draft=view.draft,
        table=view.table,
        result=result,
        submitted=submitted,
        timer_kinds=TIMER_KINDS,
        timer_labels=TIMER_LABELS,
        event_labels=EVENT_LABELS,
    )


@bp.get("/entwurf/<int:draft_id>/tabelle")
def table(draft_id: int) -> str:
    return _page(hilfenetz().model_draft_table(current_actor(), draft_id))


@bp.post("/entwurf/<int:draft_id>/tabelle")
def save_table(draft_id: int) -> Response | tuple[str, int]:
    engine = hilfenetz()
    view = engine.model_draft_table(current_actor(), draft_id)
    changes = changes_from_form(view.table)
    try:
        result = engine.save_model_draft_table(current_actor(), draft_id, changes, _revision())
    except ConflictError as exc:  # the page stays with what was typed, and says why nothing was saved
        return _page(view, None, changes, conflict=_(exc.message), revision=_revision()), 409
    if not result.saved:
        return _page(view, result, changes), 422
    view = engine.model_draft_table(current_actor(), draft_id)
    if result.problems:
        return _page(view, result), 200
    flash(_("Gespeichert; die Prüfung hat keine Probleme gefunden."), "success")
    return redirect(url_for("modellierung_tabelle.table", draft_id=draft_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
