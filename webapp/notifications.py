"""Benachrichtigungen: my notifications (newest first, mark read), the e-mail preference, the unread badge."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.errors import InvalidSubmissionError
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("notifications", __name__, url_prefix="/benachrichtigungen")

PREFERENCES = (
    ("sofort", "Sofort per E-Mail (bei jeder neuen Aufgabe)"),
    ("taeglich", "Einmal täglich per E-Mail (Anzahl neuer Aufgaben)"),
    ("aus", "Keine E-Mail, nur hier in Hilfenetz"),
)


def _page(
    errors: dict[str, str] | None = None, status: int = 200, email: str | None = None
) -> tuple[str, int]:
    actor = current_actor()
    settings = hilfenetz().notification_settings(actor)
    html = render_template(
        "notifications/index.html",
        notifications=hilfenetz().notifications_of(actor),
        settings=settings,
        preferences=PREFERENCES,
        errors=errors or {},
        email=settings.email or "" if email is None else email,
    )
    return html, status


@bp.get("")
def index() -> tuple[str, int]:
    """My notifications, newest first, and how I want to be told by e-mail."""
    return _page()


@bp.post("/<int:notification_id>/gelesen")
def mark_read(notification_id: int) -> Response:
    """Mark one notification as read."""
    hilfenetz().mark_notification_read(current_actor(), notification_id)
    return redirect(url_for("notifications.index"))


@bp.post("/alle-gelesen")
def mark_all_read() -> Response:
    """Mark all my notifications as read."""
    hilfenetz().mark_all_notifications_read(current_actor())
    flash(_("Alle Benachrichtigungen sind als gelesen markiert."), "success")
    return redirect(url_for("notifications.index"))


@bp.post("/einstellung")
def preference() -> Response | tuple[str, int]:
    """Save how I am told about new tasks by e-mail (sofort, täglich, aus)."""
    try:
        hilfenetz().set_notification_preference(current_actor(), request.form.get("preference", ""))
    except InvalidSubmissionError as exc:
        return _page({k: _(v) for k, v in exc.field_errors.items()}, 422)
    flash(_("Ihre Einstellung wurde gespeichert."), "success")
    return redirect(url_for("notifications.index"))


@bp.post("/email")
def email() -> Response | tuple[str, int]:
    """Set or (empty field) clear my own e-mail address."""
    address = request.form.get("email", "")
    try:
        hilfenetz().set_email(current_actor(), address)
    except InvalidSubmissionError as exc:
        return _page({k: _(v) for k, v in exc.field_errors.items()}, 422, email=address)
    if address.strip():
        flash(_("Ihre E-Mail-Adresse wurde gespeichert."), "success")
    else:
        flash(_("Ihre E-Mail-Adresse wurde entfernt; Sie erhalten keine E-Mails mehr."), "success")
    return redirect(url_for("notifications.index"))


def unread_notification_count() -> int | None:
    """Unread notifications for the header badge, once per request (None on error pages)."""
    if "unread_notification_count" not in g:
        g.unread_notification_count = 0
        if current_user.is_authenticated:
            g.unread_notification_count = hilfenetz().unread_notification_count(current_actor())
    return g.unread_notification_count  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(unread_notification_count=unread_notification_count)
