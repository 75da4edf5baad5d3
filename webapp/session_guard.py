"""Server-side session limits (BSI APP.3.1.A1/A7, ASVS 3.3.2): an idle timeout and a maximum age,
measured with the engine's clock and recorded in the audit trail; and the start password that must
be replaced before anything else.

The signed cookie alone would only expire silently in the browser; here the server itself refuses a
session that has been idle too long (or is older than the maximum), says so in German and audits
``logout_zeitueberschreitung``. A session also ends when the account's session generation (in the
database) moved on since it started: logout, password change, password reset and deactivation end
every session of the account, so a copied or replayed cookie does not outlive them (ASVS 3.3.1).
The REST API (``/api/``) never uses the session and is not checked here: it answers with its own
JSON errors for its bearer tokens.
"""

from __future__ import annotations

import re

from flask import Flask, flash, jsonify, redirect, request, session, url_for
from flask_login import logout_user
from werkzeug.wrappers import Response

from webapp.facade import hilfenetz
from webapp.i18n import _
from webapp.responses import wants_json

SEEN, SINCE, MUST_CHANGE, GENERATION = "seen", "since", "must_change_password", "generation"
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


def start(user_id: int, must_change_password: bool) -> None:
    """Called right after a login: the session's clock starts now, in the account's generation."""
    now = hilfenetz().clock.now().timestamp()
    session[SEEN] = session[SINCE] = now
    remember_generation(user_id)
    if must_change_password:
        session[MUST_CHANGE] = True


def remember_generation(user_id: int) -> None:
    """Keep this session alive after its own password change, which ends all the others."""
    session[GENERATION] = hilfenetz().session_generation(user_id)


def _signed_in_user_id() -> int | None:
    user_id = str(session.get("_user_id", ""))
    return int(user_id) if re.fullmatch(r"[0-9]{1,18}", user_id) else None


def ended_elsewhere() -> bool:
    """True when logout, a password change or deactivation ended this session since it started."""
    user_id = _signed_in_user_id()
    generation = session.get(GENERATION)
    if user_id is None or not isinstance(generation, int):
        return True
    return generation != hilfenetz().session_generation(user_id)


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
    user_id = _signed_in_user_id()
    actor = hilfenetz().actor(user_id) if user_id is not None else None
    if actor is not None:
        hilfenetz().session_expired(actor, reason)
    settings = hilfenetz().settings
    if reason == "inaktiv":
        message = _("Sie wurden nach {n} Minuten ohne Aktivität abgemeldet.", n=settings.session_idle_minutes)
    else:
        message = _(
            "Ihre Sitzung hat die Höchstdauer von {n} Stunden erreicht. Bitte melden Sie sich erneut an.",
            n=settings.session_max_hours,
        )
    return _sign_out(message)


def _sign_out(message: str) -> Response | tuple[Response, int]:
    """Forget the session (but not its language) and send the user to the login page."""
    language = session.get("lang")
    logout_user()
    session.clear()
    if language in ("de", "en"):
        session["lang"] = language
    if wants_json():
        return jsonify(message=message), 401
    flash(message, "info")
    back = request.method == "GET" and request.endpoint not in _WHILE_MUST_CHANGE | {"auth.login"}
    target = request.full_path.rstrip("?") if back else None
    return redirect(url_for("auth.login", next=target))


def check() -> Response | tuple[Response, int] | None:
    """Before every request: end an expired session or one ended elsewhere (logout, password change,
    deactivation); send a start password to the change page. Not for the API (bearer tokens only)."""
    if request.endpoint == "static" or request.path.startswith("/api/") or "_user_id" not in session:
        return None
    reason = expired_reason()
    if reason is not None:
        return _end(reason)
    if ended_elsewhere():
        return _sign_out(_("Ihre Sitzung wurde beendet. Bitte melden Sie sich erneut an."))
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
