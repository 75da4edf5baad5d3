"""Zugangstoken: the signed-in user creates personal access tokens for the REST API (the secret
is shown once, on the answer to the POST, and never stored in the session) and revokes them."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.access_tokens import SCOPES, CreatedToken
from engine.errors import InvalidSubmissionError
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _
from webapp.worklist import day_error, parse_day

bp = Blueprint("access_tokens", __name__, url_prefix="/konto/zugangstoken")

SCOPE_LABELS = {
    "lesen": "Lesen: Aufgaben, Vorgänge, Abstimmungen, Verzeichnis",
    "schreiben": "Schreiben: Vorgänge starten, Aufgaben übernehmen, zurückgeben, abschließen",
    "abstimmen": "Abstimmen: Stimmen in Abstimmungen abgeben",
}


def _page(
    errors: dict[str, str] | None = None, created: CreatedToken | None = None, status: int = 200
) -> tuple[str, int]:
    html = render_template(
        "access_tokens/index.html",
        tokens=hilfenetz().access_tokens(current_actor()),
        scopes=[(s, SCOPE_LABELS[s]) for s in SCOPES],
        errors=errors or {},
        form=request.form if errors else {},
        created=created,
    )
    return html, status


@bp.get("")
def index() -> tuple[str, int]:
    """My tokens (never their secrets) and the form to create one."""
    return _page()


@bp.post("")
def create() -> tuple[str, int]:
    """Create a token and show its secret this once."""
    errors: dict[str, str] = {}
    expires_on: date | None = None
    if request.form.get("expires_on", "").strip():
        try:
            expires_on = parse_day(request.form["expires_on"])
        except ValueError as error:
            errors["expires_on"] = day_error(error)
    try:
        created = hilfenetz().create_access_token(
            current_actor(), request.form.get("name", ""), request.form.getlist("scopes"), expires_on
        )
    except InvalidSubmissionError as exc:
        errors = {**{k: _(v) for k, v in exc.field_errors.items()}, **errors}
    if errors:
        return _page(errors, status=422)
    return _page(created=created, status=201)


@bp.post("/<int:token_id>/widerrufen")
def revoke(token_id: int) -> Response:
    """Revoke one of my tokens (it stops working at once)."""
    hilfenetz().revoke_access_token(current_actor(), token_id)
    flash(_("Das Zugangstoken wurde widerrufen."), "success")
    return redirect(url_for("access_tokens.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
