"""The own account: change the password (local accounts only; the current password is required)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from engine.errors import InvalidSubmissionError
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _
from webapp.session_guard import MUST_CHANGE, remember_generation

bp = Blueprint("account", __name__)
REPEAT_ERROR = "Die beiden neuen Passwörter stimmen nicht überein."
REQUIRED = "Bitte geben Sie Ihr bisheriges Passwort ein."


def _page(errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    html = render_template(
        "account/password.html",
        errors=errors,
        must_change=bool(session.get(MUST_CHANGE)),
        min_length=hilfenetz().password_min_length(),
    )
    return html, status


@bp.route("/passwort-aendern", methods=["GET", "POST"])
def change_password() -> Response | tuple[str, int]:
    """GET: the form. POST: check all rules, say every problem in German, keep nothing on failure."""
    if request.method == "GET":
        return _page({})
    actor = current_actor()
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = _(REQUIRED)
    rules = hilfenetz().password_problems(new, actor.username)
    if rules:
        errors["new_password"] = " ".join(_(rule) for rule in rules)
    if new != request.form.get("new_password_repeat", ""):
        errors["new_password_repeat"] = _(REPEAT_ERROR)
    if errors:
        return _page(errors, 422)
    try:
        hilfenetz().change_password(actor, current, new)
    except InvalidSubmissionError as exc:
        return _page({k: _(v) for k, v in exc.field_errors.items()}, 422)
    session.pop(MUST_CHANGE, None)
    remember_generation(actor.id)  # the change ended every other session of the account
    flash(_("Ihr Passwort wurde geändert."), "success")
    return redirect(url_for("worklist.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
