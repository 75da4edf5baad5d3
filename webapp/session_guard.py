"""Server-side session limits (BSI APP.3.1.A1/A7, ASVS 3.3.2): an idle timeout and a maximum age,
measured with the engine's clock and recorded in the audit trail; and the start password that must
be replaced before anything else.

The signed cookie alone would only expire silently in the browser; here the server itself refuses a
session that has been idle too long (or is older than the maximum), says so in German and audits
``logout_zeitueberschreitung``.
"""

from __future__ import annotations

import re

from flask import Flask, flash, jsonify, redirect, request, session, url_for
from flask_login import logout_user
from werkzeug.wrappers import Response

from webapp.facade import hilfenetz
from webapp.i18n import _
from webapp.responses import wants_json

SEEN, SINCE, MUST_CHANGE = "seen", "since", "must_change_password"
#: What a user with a start password may still open: the change page, sign-out, language, public pages.
_WHILE_MUST_CHANGE = {
    "account.change_password",
    "auth.logout",
    "i18n.choose_language",
    "static",
    "pages.healthz",
    "pages.accessibility",
    "pages.imprint",
}


def start(must_change_password: bool) -> None:
    """Called right after a login: the session's clock starts now."""
    now = hilfenetz().clock.now().timestamp()
    session[SEEN] = session[SINCE] = now
    if must_change_password:
        session[MUST_CHANGE] = True


def expired_reason() -> str | None:
    """``inaktiv`` or ``hoechstdauer`` when the signed-in session is over, else None."""
    settings = hilfenetz().settings
    now = hilfenetz().clock.now().timestamp()
    seen, since = session.get(SEEN), session.get(SINCE)
    if not isinstance(seen, float | int) or not isinstance(since, float | int):
        return "inaktiv"  # a session from before these limits, or a tampered one
    if now - seen > settings.session_idle_minutes * 60:
        return "inaktiv"
    if now - since > settings.session_max_hours * 3600:
        return "hoechstdauer"
    return None


def _end(reason: str) -> Response | tuple[Response, int]:
    user_id = str(session.get("_user_id", ""))
    actor = hilfenetz().actor(int(user_id)) if re.fullmatch(r"[0-9]{1,18}", user_id) else None
    if actor is not None:
        hilfenetz().session_expired(actor, reason)
    settings = hilfenetz().settings
    language = session.get("lang")
    logout_user()
    session.clear()
    if language in ("de", "en"):
        session["lang"] = language
    if reason == "inaktiv":
        message = _("Sie wurden nach {n} Minuten ohne Aktivität abgemeldet.", n=settings.session_idle_minutes)
    else:
        message = _(
            "Ihre Sitzung hat die Höchstdauer von {n} Stunden erreicht. Bitte melden Sie sich erneut an.",
            n=settings.session_max_hours,
        )
    if wants_json():
        return jsonify(message=message), 401
    flash(message, "info")
    back = request.method == "GET" and request.endpoint not in _WHILE_MUST_CHANGE | {"auth.login"}
    target = request.full_path.rstrip("?") if back else None
    return redirect(url_for("auth.login", next=target))


def check() -> Response | tuple[Response, int] | None:
    """Before every request: end an expired session; send a start password to the change page."""
    if request.endpoint == "static" or "_user_id" not in session:
        return None
    reason = expired_reason()
    if reason is not None:
        return _end(reason)
    session[SEEN] = hilfenetz().clock.now().timestamp()
    if session.get(MUST_CHANGE) and request.endpoint not in _WHILE_MUST_CHANGE:
        message = _("Bitte ersetzen Sie zuerst Ihr Startpasswort durch ein eigenes Passwort.")
        if wants_json():
            return jsonify(message=message), 403
        flash(message, "info")
        return redirect(url_for("account.change_password"))
    return None


def init_app(app: Flask) -> None:
    """Registered before the login check, so an expired session is ended (and audited) first."""
    app.before_request(check)
