"""Partner (P12): the Koordination's list of partner organisations, active and left, and the
start password of a new partner's first accounts (shown once, never stored in clear)."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.errors import InvalidSubmissionError, NotFoundError
from engine.read_models import Actor
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("partners", __name__, url_prefix="/partner")

ROLES = ("Koordination", "Administration")


def shows_navigation(actor: Actor) -> bool:
    return any(actor.has_role(r) for r in ROLES)


def _page(
    errors: dict[str, str] | None = None, issued: tuple[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    actor = current_actor()
    if not shows_navigation(actor):
        abort(403)
    html = render_template(
        "partners/index.html",
        partners=hilfenetz().partners(actor),
        steering=hilfenetz().steering_group_members(),
        errors=errors or {},
        issued=issued,
        form=request.form if errors else {},
    )
    return html, status


@bp.get("")
def index() -> tuple[str, int]:
    """Partner organisations (active first, then those that left) with accounts and members."""
    return _page()


@bp.post("/startpasswort")
def start_password() -> tuple[str, int]:
    """Issue a start password for an account and show it exactly once."""
    username = request.form.get("username", "").strip()
    if not username:
        return _page({"username": _("Bitte geben Sie den Benutzernamen an.")}, status=422)
    try:
        password = hilfenetz().issue_start_password(current_actor(), username)
    except NotFoundError as exc:
        return _page({"username": _(exc.message)}, status=422)
    return _page(issued=(username, password))


@bp.post("/konto-deaktivieren")
def disable_account() -> Response | tuple[str, int]:
    """Disable an account (it can no longer sign in); its open tasks are handed over."""
    username = request.form.get("disable_username", "").strip()
    successor = request.form.get("successor", "").strip() or None
    if not username:
        return _page({"disable_username": _("Bitte geben Sie den Benutzernamen an.")}, status=422)
    try:
        hilfenetz().disable_account(current_actor(), username, successor)
    except NotFoundError as exc:
        return _page({"disable_username": _(exc.message)}, status=422)
    except InvalidSubmissionError as exc:
        return _page({"successor": _(exc.field_errors.get("nachfolge", exc.message))}, status=422)
    flash(
        _("Das Konto {username} ist deaktiviert; seine offenen Aufgaben sind übergeben.", username=username),
        "success",
    )
    return redirect(url_for("partners.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(shows_partners=shows_navigation)
