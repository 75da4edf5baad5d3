"""One task: its page, the form-js schema and data as JSON, complete, draft, claim, release, reassign."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _
from webapp.navigation import safe_next
from webapp.responses import submitted_data

bp = Blueprint("tasks", __name__, url_prefix="/aufgaben")

EMPTY_SCHEMA: dict[str, Any] = {"type": "default", "schemaVersion": 16, "components": []}


@bp.get("/<task_id>")
def show(task_id: str) -> str:
    """Task page: details, actions, form container, diagram and history."""
    actor = current_actor()
    detail = hilfenetz().task_detail(actor, task_id)
    colleagues = hilfenetz().colleagues(actor) if detail.may_reassign else []
    return render_template(
        "tasks/show.html",
        detail=detail,
        task=detail.summary,
        colleagues=colleagues,
        meeting=hilfenetz().meeting_of(actor, detail.summary.instance_id),
        page_assets=("form", "diagram"),
    )


@bp.get("/<task_id>/formular.json")
def form_json(task_id: str) -> Response:
    """The form-js schema and the prefilled data (task data, draft, option lists)."""
    detail = hilfenetz().task_detail(
        current_actor(), task_id, audit_action="task_data_read", with_contacts=False
    )
    return jsonify(schema=detail.form_schema or EMPTY_SCHEMA, data=detail.form_data)


@bp.post("/<task_id>/abschliessen")
def complete(task_id: str) -> Response:
    """Validate and complete the task (JSON in, JSON out)."""
    hilfenetz().complete_task(current_actor(), task_id, submitted_data())
    message = _("Aufgabe erledigt.")
    flash(message, "success")
    return jsonify(redirect=url_for("worklist.index"), message=message)


@bp.post("/<task_id>/entwurf")
def save_draft(task_id: str) -> Response:
    """Keep unfinished input on the server (JSON)."""
    hilfenetz().save_draft(current_actor(), task_id, submitted_data())
    return jsonify(message=_("Entwurf gespeichert."))


@bp.post("/<task_id>/uebernehmen")
def claim(task_id: str) -> Response:
    """Take over a task offered to my group."""
    hilfenetz().claim(current_actor(), task_id)
    flash(_("Sie haben die Aufgabe übernommen."), "success")
    return redirect(safe_next(request.form.get("next"), url_for("tasks.show", task_id=task_id)))


@bp.post("/<task_id>/zurueckgeben")
def release(task_id: str) -> Response:
    """Give a task back to the group."""
    hilfenetz().release(current_actor(), task_id)
    flash(_("Die Aufgabe ist wieder für die Gruppe offen."), "success")
    return redirect(safe_next(request.form.get("next"), url_for("worklist.index")))


@bp.post("/<task_id>/zuweisen")
def reassign(task_id: str) -> Response:
    """A team lead hands the task to a colleague."""
    username = request.form.get("username", "")
    hilfenetz().reassign(current_actor(), task_id, username)
    flash(_("Die Aufgabe wurde neu zugewiesen."), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
