"""Erklärung zur Barrierefreiheit (BITV 2.0) with its feedback form, and the Koordination's list
of the reports received."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.accessibility_feedback import PAGE_MAX, ROLE, FeedbackInput
from engine.errors import InvalidSubmissionError, TooManyRequestsError
from webapp.auth import LoginRateLimit
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("accessibility", __name__, url_prefix="/barrierefreiheit")

FIELDS = ("message", "page", "name", "email", "reply")
SENT = (
    "Vielen Dank! Ihre Rückmeldung ist bei der Netzwerkkoordination eingegangen. "
    "Wenn Sie eine Antwort möchten, erhalten Sie sie innerhalb von sechs Wochen."
)
#: Reports per address and hour. The engine's hourly cap for all senders together
#: (HILFENETZ_BARRIEREFREIHEIT_RUECKMELDUNGEN_PRO_STUNDE) is much higher: one sender alone must not
#: be able to close the feedback channel for everyone (BITV 2.0 § 7).
PER_ADDRESS_PER_HOUR = 5
TOO_MANY_FROM_HERE = (
    "Von Ihrem Anschluss sind in der letzten Stunde schon mehrere Rückmeldungen eingegangen. "
    "Bitte versuchen Sie es später erneut oder nutzen Sie die Kontaktangaben auf dieser Seite. "
    "Ihre Eingaben sind noch im Formular."
)


def statement(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    """The statement page; after a refused report with the sender's input and the errors."""
    settings = hilfenetz().settings
    form = {name: request.form.get(name, "") for name in FIELDS} if errors else {}
    if not errors:
        form["page"] = request.args.get("seite", "")[:PAGE_MAX]
    html = render_template(
        "pages/barrierefreiheit.html",
        errors=errors or {},
        form=form,
        contact=settings.accessibility_contact,
        ombudsstelle=settings.ombudsstelle_contact,
        statement_date=settings.accessibility_statement_date,
        is_coordination=current_user.is_authenticated and current_actor().has_role(ROLE),
    )
    return html, status


@bp.post("/rueckmeldung")
def send() -> Response | tuple[str, int]:
    """Store a report (no login needed); errors keep every input."""
    limit: LoginRateLimit = current_app.extensions["accessibility_feedback_rate_limit"]
    address = request.remote_addr or "-"
    if not limit.allow(address):
        return statement({"": _(TOO_MANY_FROM_HERE)}, 429)
    given = FeedbackInput(**{name: request.form.get(name, "") for name in FIELDS})
    try:
        hilfenetz().send_accessibility_feedback(given)
    except InvalidSubmissionError as exc:
        return statement({k: _(v) for k, v in exc.field_errors.items()}, 422)
    except TooManyRequestsError as exc:
        return statement({"": _(exc.message)}, 429)
    limit.failed(address)  # the window counts every stored report (refused input does not count)
    flash(_(SENT), "success")
    return redirect(url_for("pages.accessibility") + "#feedback")


@bp.get("/rueckmeldungen")
def inbox() -> str:
    """The reports received, open ones first (Koordination only; the read is audited)."""
    return render_template(
        "pages/rueckmeldungen.html", reports=hilfenetz().accessibility_feedback(current_actor())
    )


@bp.post("/rueckmeldungen/<int:feedback_id>/beantwortet")
def answered(feedback_id: int) -> Response:
    """Mark a report as answered (Koordination only)."""
    hilfenetz().mark_accessibility_feedback_answered(current_actor(), feedback_id)
    flash(_("Die Rückmeldung ist als beantwortet markiert."), "success")
    return redirect(url_for("accessibility.inbox"))


def init_app(app: Flask) -> None:
    app.extensions["accessibility_feedback_rate_limit"] = LoginRateLimit(PER_ADDRESS_PER_HOUR, 3600.0)
    app.register_blueprint(bp)
