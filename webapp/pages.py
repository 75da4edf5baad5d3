"""Pages outside the case work: start page, health check, accessibility statement, imprint."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, url_for
from werkzeug.wrappers import Response

from webapp.accessibility import statement

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> Response:
    """The start page is the worklist."""
    return redirect(url_for("worklist.index"))


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """Liveness check for the reverse proxy (no login)."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/barrierefreiheit")
def accessibility() -> tuple[str, int]:
    """Erklärung zur Barrierefreiheit (BITV 2.0) with the feedback form (``?seite=`` prefills the page)."""
    return statement()


@bp.get("/impressum")
def imprint() -> str:
    """Minimal imprint."""
    return render_template("pages/impressum.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
