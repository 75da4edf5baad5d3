"""Einwilligungen of a case: list (involved organisations only), record (signed form or verbal with a
witness), withdraw (with confirmation), download the signed form (audited)."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.wrappers import Response

from engine.consent import ConsentInput, Upload
from engine.errors import InvalidSubmissionError
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("consents", __name__)

#: Read at most this much of an upload; anything larger is refused by the engine with a German message.
READ_LIMIT = 2 * 1024 * 1024
FIELD_LABELS = {
    "subject": "Pseudonym oder Fallbezug",
    "categories": "Datenarten",
    "recipients": "Empfänger",
    "purpose": "Zweck",
    "given_on": "Erteilt am",
    "form": "Form der Einwilligung",
    "witness": "Zeugin oder Zeuge",
    "document": "Unterschriebenes Formular",
    "withdrawn_by": "Widerrufen durch",
}


@bp.get("/vorgaenge/<int:instance_id>/einwilligungen")
def index(instance_id: int) -> str:
    """The consents of a case that name my organisation."""
    consents = hilfenetz().consents_of_case(current_actor(), instance_id)
    return render_template("consents/index.html", instance_id=instance_id, consents=consents)


def _new_page(instance_id: int, errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    categories, organisations = hilfenetz().consent_choices()
    html = render_template(
        "consents/new.html",
        instance_id=instance_id,
        categories=categories,
        organisations=organisations,
        errors=errors or {},
        labels={k: _(v) for k, v in FIELD_LABELS.items()},
        form=request.form if errors else MultiDict(),
    )
    return html, status


@bp.get("/vorgaenge/<int:instance_id>/einwilligungen/neu")
def new(instance_id: int) -> tuple[str, int]:
    """The form to record a consent (the case must be visible to me)."""
    if not hilfenetz().may_view_instance(current_actor(), instance_id):
        abort(404)
    return _new_page(instance_id)


def _upload(file: FileStorage | None) -> Upload | None:
    if file is None or not file.filename:
        return None
    try:
        return Upload(file.filename, file.stream.read(READ_LIMIT + 1))
    finally:
        file.close()  # a large upload sits in a temporary file; do not leave it to the garbage collector


@bp.post("/vorgaenge/<int:instance_id>/einwilligungen/neu")
def create(instance_id: int) -> Response | tuple[str, int]:
    """Store the consent; field errors come back on the same page (422), nothing is lost."""
    form = request.form
    given = ConsentInput(
        subject=form.get("subject", ""),
        categories=form.getlist("categories"),
        recipients=form.getlist("recipients"),
        purpose=form.get("purpose", ""),
        given_on=form.get("given_on", ""),
        form=form.get("form", ""),
        witness=form.get("witness", "") if form.get("form") == "muendlich" else "",
        document=_upload(request.files.get("document")) if form.get("form") == "schriftlich" else None,
    )
    try:
        consent_id = hilfenetz().record_consent(current_actor(), instance_id, given)
    except InvalidSubmissionError as error:
        return _new_page(instance_id, {k: _(v) for k, v in error.field_errors.items()}, 422)
    flash(_("Einwilligung Nr. {id} gespeichert.", id=consent_id), "success")
    return redirect(url_for("consents.index", instance_id=instance_id))


@bp.get("/einwilligungen/<int:consent_id>/widerrufen")
def confirm_withdrawal(consent_id: int) -> str:
    """Ask before recording a withdrawal (it cannot be undone)."""
    record = hilfenetz().consent_detail(current_actor(), consent_id)
    return render_template("consents/withdraw.html", consent=record, errors={}, form={})


@bp.post("/einwilligungen/<int:consent_id>/widerrufen")
def withdraw(consent_id: int) -> Response | tuple[str, int]:
    """Record the withdrawal: no further transfer, the recipient organisations are told."""
    actor = current_actor()
    record = hilfenetz().consent_detail(actor, consent_id)
    try:
        hilfenetz().withdraw_consent(actor, consent_id, request.form.get("withdrawn_by", ""))
    except InvalidSubmissionError as error:
        errors = {k: _(v) for k, v in error.field_errors.items()}
        html = render_template("consents/withdraw.html", consent=record, errors=errors, form=request.form)
        return html, 422
    flash(_("Die Einwilligung ist widerrufen. Die Empfänger wurden benachrichtigt."), "success")
    if record.instance_id is None:
        return redirect(url_for("instances.index"))
    return redirect(url_for("consents.index", instance_id=record.instance_id))


@bp.get("/einwilligungen/<int:consent_id>/dokument")
def document(consent_id: int) -> Response:
    """The signed form as a download (the read is audited by the engine)."""
    file = hilfenetz().consent_document(current_actor(), consent_id)
    response = Response(file.content, mimetype=file.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
