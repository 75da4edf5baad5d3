"""Modellierung (issue 5): processes, forms and DMN tables as drafts, their check, four-eyes approval.

Only the Koordination (the engine refuses everyone else with 403). The editors themselves (bpmn-js,
form-js, dmn-js) live in static JS and talk to the JSON routes ``inhalt``, ``speichern``, ``pruefen``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage

from engine.errors import InvalidDefinitionError, NotFoundError, Problem
from engine.model_drafts import MAX_MODEL_BYTES, MODELING_ROLE, STATE_LABELS
from engine.read_models import Actor
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _, current_locale
from webapp.url_ids import parse_id

bp = Blueprint("modellierung", __name__, url_prefix="/modellierung")

CONTENT_MISSING = 'Der Inhalt fehlt: erwartet wird JSON der Form {"content": "…"}.'
DRAFT_NOT_FOUND = "Entwurf nicht gefunden."
KIND_LABELS = {"bpmn": "Prozess (BPMN)", "dmn": "Entscheidungstabelle (DMN)", "form": "Formular"}


def shows_navigation(actor: Actor) -> bool:
    return actor.has_role(MODELING_ROLE)


def problem_json(problem: Problem) -> dict[str, Any]:
    return {"file": problem.file, "element_id": problem.element, "message": _(problem.reason)}


def _content() -> str:
    payload = request.get_json(silent=True)
    content = payload.get("content") if isinstance(payload, dict) else None
    if not isinstance(content, str):
        raise InvalidDefinitionError(CONTENT_MISSING)
    return content


def _file(text: str, media_type: str, filename: str) -> Response:
    """Model content for the editors' fetch; opened directly it is downloaded, never rendered (an
    uploaded XML file could carry XHTML)."""
    return Response(
        text,
        mimetype=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _revision() -> int | None:
    """The optional ``revision`` the editor loaded (``data-revision``); anything else is ignored."""
    payload = request.get_json(silent=True)
    value = payload.get("revision") if isinstance(payload, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _refused(exc: InvalidDefinitionError) -> tuple[Response, int]:
    message = _(exc.message)
    return jsonify(error=message, message=message, problems=[problem_json(p) for p in exc.problems]), 422


# --- overview, new, upload, download ------------------------------------------------------------
@bp.get("/")
def index() -> str:
    """Every process with its deployed versions and open drafts."""
    processes = hilfenetz().model_overview(current_actor())
    return render_template("modellierung/index.html", processes=processes, state_labels=STATE_LABELS)


@bp.get("/neu")
def new() -> str:
    hilfenetz().model_overview(current_actor())  # the role check
    return render_template("modellierung/new.html", form={}, max_kb=MAX_MODEL_BYTES // 1000)


@bp.post("/neu")
def create() -> Response | tuple[str, int]:
    form = request.form
    try:
        draft_id = hilfenetz().create_model_draft(
            current_actor(), form.get("kind", ""), form.get("key", ""), form.get("name", "")
        )
    except InvalidDefinitionError as exc:
        flash(_(exc.message), "error")
        return render_template("modellierung/new.html", form=form, max_kb=MAX_MODEL_BYTES // 1000), 422
    flash(_("Entwurf angelegt."), "success")
    return redirect(url_for("modellierung.draft", draft_id=draft_id))


def _read_upload(file: FileStorage | None) -> tuple[str, bytes]:
    if file is None or not file.filename:
        raise InvalidDefinitionError("Bitte eine Datei (.bpmn, .dmn oder .form) auswählen.")
    try:
        return file.filename, file.stream.read(MAX_MODEL_BYTES + 1)
    finally:
        file.close()


@bp.post("/hochladen")
def upload() -> Response | tuple[str, int]:
    """A file from Camunda Modeler or another tool; with ``change_id`` into a process draft."""
    change = request.form.get("change_id", "").strip()
    change_id = parse_id(change)
    if change and change_id is None:  # not an id at all (e.g. 30 digits or "²"): like a missing draft
        raise NotFoundError(DRAFT_NOT_FOUND)
    try:
        filename, data = _read_upload(request.files.get("datei"))
        draft_id = hilfenetz().upload_model_draft(current_actor(), filename, data, change_id)
    except InvalidDefinitionError as exc:
        html = render_template(
            "modellierung/new.html",
            form=request.form,
            max_kb=MAX_MODEL_BYTES // 1000,
            upload_error=_(exc.message),
            upload_problems=exc.problems,
        )
        return html, 422
    flash(_("Datei hochgeladen; der Entwurf ist angelegt."), "success")
    return redirect(url_for("modellierung.draft", draft_id=draft_id))


@bp.post("/versionen/<int:definition_id>/entwurf")
def from_version(definition_id: int) -> Response:
    draft_id = hilfenetz().draft_from_version(current_actor(), definition_id)
    flash(_("Entwurf aus der bereitgestellten Version angelegt."), "success")
    return redirect(url_for("modellierung.draft", draft_id=draft_id))


@bp.get("/versionen/<int:definition_id>/datei")
def version_file(definition_id: int) -> Response:
    filename, content = hilfenetz().model_version_file(current_actor(), definition_id)
    return Response(
        content,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- the draft and its editor ---------------------------------------------------------------------
@bp.get("/entwurf/<int:draft_id>")
def draft(draft_id: int) -> str:
    """The editor page (the editor JS reads ``#modeler-root``'s data attributes)."""
    view = hilfenetz().model_draft(current_actor(), draft_id)
    return render_template(
        "modellierung/editor.html",
        draft=view,
        lang=current_locale(),
        kind_labels=KIND_LABELS,
        state_labels=STATE_LABELS,
    )


@bp.get("/entwurf/<int:draft_id>/inhalt")
def content(draft_id: int) -> Response:
    view = hilfenetz().model_draft(current_actor(), draft_id)
    return _file(view.content, view.media_type, view.filename)


@bp.get("/entwurf/<int:draft_id>/bisher")
def current(draft_id: int) -> Response:
    """The live content of the draft's file, for a side-by-side view (404: the file is new)."""
    view = hilfenetz().model_draft(current_actor(), draft_id)
    text = hilfenetz().model_current_file(current_actor(), draft_id)
    if text is None:
        raise NotFoundError("Diese Datei ist neu; es gibt keine bisherige Fassung.")
    return _file(text, view.media_type, view.filename)


@bp.get("/entwurf/<int:draft_id>/datei")
def download(draft_id: int) -> Response:
    view = hilfenetz().model_draft(current_actor(), draft_id)
    return _file(view.content, view.media_type, view.filename)


@bp.post("/entwurf/<int:draft_id>/speichern")
def save(draft_id: int) -> Response | tuple[Response, int]:
    """JSON ``{"content", "revision"?}`` → ``{"ok": true, "problems": [...], "revision"}``;
    unreadable content → 422; saved by someone else since ``revision`` → 409, nothing saved."""
    actor = current_actor()
    try:
        problems = hilfenetz().save_model_draft(actor, draft_id, _content(), _revision())
    except InvalidDefinitionError as exc:
        return _refused(exc)
    revision = hilfenetz().model_draft(actor, draft_id).revision
    return jsonify(ok=True, problems=[problem_json(p) for p in problems], revision=revision)


@bp.post("/entwurf/<int:draft_id>/pruefen")
def check(draft_id: int) -> Response | tuple[Response, int]:
    """JSON ``{"content"}`` → ``{"problems": [...]}`` (nothing saved)."""
    try:
        problems = hilfenetz().check_model_content(current_actor(), draft_id, _content())
    except InvalidDefinitionError as exc:
        return _refused(exc)
    return jsonify(problems=[problem_json(p) for p in problems])


@bp.post("/entwurf/<int:draft_id>/formular")
def add_form(draft_id: int) -> Response:
    try:
        form_id = hilfenetz().add_file_to_draft(current_actor(), draft_id, request.form.get("key", ""))
    except InvalidDefinitionError as exc:
        flash(_(exc.message), "error")
        return redirect(url_for("modellierung.draft", draft_id=draft_id))
    flash(_("Formular zum Entwurf hinzugefügt."), "success")
    return redirect(url_for("modellierung.draft", draft_id=form_id))


# --- four eyes ------------------------------------------------------------------------------------
@bp.post("/entwurf/<int:draft_id>/vorlegen")
def submit(draft_id: int) -> Response | tuple[str, int]:
    try:
        hilfenetz().submit_model_draft(current_actor(), draft_id)
    except InvalidDefinitionError as exc:
        flash(_(exc.message), "error")
        view = hilfenetz().model_draft(current_actor(), draft_id)
        html = render_template(
            "modellierung/editor.html",
            draft=view,
            lang=current_locale(),
            kind_labels=KIND_LABELS,
            state_labels=STATE_LABELS,
            problems=exc.problems,
        )
        return html, 422
    flash(
        _("Entwurf zur Freigabe vorgelegt. Eine andere Person der Koordination muss ihn freigeben."),
        "success",
    )
    return redirect(url_for("modellierung.review", draft_id=draft_id))


@bp.post("/entwurf/<int:draft_id>/verwerfen")
def discard(draft_id: int) -> Response:
    hilfenetz().discard_model_draft(current_actor(), draft_id)
    flash(_("Entwurf verworfen."), "success")
    return redirect(url_for("modellierung.index"))


@bp.get("/entwurf/<int:draft_id>/freigabe")
def review(draft_id: int) -> str:
    """The approval page: side-by-side table of what changes, the check, approve or reject."""
    view = hilfenetz().model_review(current_actor(), draft_id)
    return render_template("modellierung/review.html", review=view, state_labels=STATE_LABELS)


@bp.post("/entwurf/<int:draft_id>/freigeben")
def approve(draft_id: int) -> Response:
    deployed = hilfenetz().approve_model_draft(
        current_actor(),
        draft_id,
        request.form.get("kommentar", ""),
        revision=request.form.get("revision", ""),  # what the reviewer saw; missing → 409
    )
    flash(_("Freigegeben: {n} neue Prozessversion(en) bereitgestellt.", n=len(deployed)), "success")
    return redirect(url_for("modellierung.review", draft_id=draft_id))


@bp.post("/entwurf/<int:draft_id>/ablehnen")
def reject(draft_id: int) -> Response:
    try:
        hilfenetz().reject_model_draft(current_actor(), draft_id, request.form.get("kommentar", ""))
    except InvalidDefinitionError as exc:
        flash(_(exc.message), "error")
        return redirect(url_for("modellierung.review", draft_id=draft_id))
    flash(_("Entwurf abgelehnt und mit Kommentar zurückgegeben."), "success")
    return redirect(url_for("modellierung.review", draft_id=draft_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(shows_modellierung=shows_navigation)
