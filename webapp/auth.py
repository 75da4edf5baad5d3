"""Sign-in and sign-out: Flask-Login over ``Hilfenetz.login``, a per-IP rate limit, session rotation."""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import defaultdict, deque

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from engine.errors import LoginRefusedError
from engine.read_models import Actor
from webapp import account, session_guard
from webapp.facade import hilfenetz
from webapp.i18n import BERLIN, _
from webapp.navigation import safe_next
from webapp.responses import wants_json

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
PUBLIC_ENDPOINTS = {
    "auth.login",
    "oidc.start",
    "oidc.callback",
    "static",
    "pages.healthz",
    "pages.accessibility",
    "accessibility.send",
    "pages.imprint",
    "i18n.choose_language",
}


LOCKED_UNTIL = (
    "Das Konto ist nach mehreren Fehlversuchen vorübergehend gesperrt, bis {zeit} Uhr. "
    "Bitte versuchen Sie es danach erneut."
)


class SignedInUser(UserMixin):  # type: ignore[misc]
    """Flask-Login's view of an engine Actor."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    def get_id(self) -> str:
        return str(self.actor.id)


class LoginRateLimit:
    """In-memory sliding window per client address: at most ``limit`` *failed* attempts in ``window``
    seconds. Successful logins do not count, so an office behind one address can start its day."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """False while the window already holds ``limit`` failures from this address."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            return len(hits) < self.limit

    def failed(self, key: str) -> None:
        with self._lock:
            self._hits[key].append(time.monotonic())


@login_manager.user_loader
def _load_user(user_id: str) -> SignedInUser | None:
    actor = hilfenetz().actor(int(user_id)) if re.fullmatch(r"[0-9]{1,18}", user_id) else None
    return SignedInUser(actor) if actor else None


@login_manager.unauthorized_handler
def _unauthorized() -> Response | tuple[Response, int]:
    if wants_json():
        return jsonify(message=_("Bitte melden Sie sich an.")), 401
    flash(_("Bitte melden Sie sich an."), "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _require_login() -> Response | tuple[Response, int] | None:
    """Every page except the public ones needs a signed-in user (the API checks its own tokens)."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.path.startswith("/api/"):
        return None
    if current_user.is_authenticated:
        return None
    return _unauthorized()


@bp.route("/anmelden", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Login form; on success rotate the session and go on."""
    next_url = safe_next(request.values.get("next"), url_for("worklist.index"))
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url, error=None, username="")
    if not current_app.extensions["login_rate_limit"].allow(request.remote_addr or "-"):
        hilfenetz().login_throttled(request.form.get("username", ""))
        return render_template(
            "auth/login.html",
            next_url=next_url,
            username="",
            error=_("Zu viele Anmeldeversuche von diesem Rechner. Bitte warten Sie fünf Minuten."),
        ), 429
    username = request.form.get("username", "")
    try:
        actor = hilfenetz().login(username, request.form.get("password", ""))
    except LoginRefusedError as exc:
        current_app.extensions["login_rate_limit"].failed(request.remote_addr or "-")
        return render_template(
            "auth/login.html", next_url=next_url, error=refusal_message(exc), username=username
        ), 200
    if sign_in(actor):
        return redirect(url_for("account.change_password"))
    return redirect(next_url)


def refusal_message(exc: LoginRefusedError) -> str:
    """The German (or English) answer; a lock names its end, for unknown names exactly the same."""
    if exc.reason == "gesperrt" and exc.locked_until is not None:
        return _(LOCKED_UNTIL, zeit=exc.locked_until.astimezone(BERLIN).strftime("%H:%M"))
    return _(exc.message)


def sign_in(actor: Actor) -> bool:
    """Rotate the session and start its clocks; True when a start password must be replaced first."""
    chosen = session.get("lang")
    session.clear()
    login_user(SignedInUser(actor))
    session.permanent = True
    session["nonce"] = secrets.token_urlsafe(16)
    if chosen in ("de", "en"):
        session["lang"] = chosen
        if chosen != actor.locale:
            hilfenetz().set_locale(actor, chosen)
    must_change = hilfenetz().must_change_password(actor)
    session_guard.start(actor.id, must_change)
    return must_change


@bp.post("/abmelden")
def logout() -> Response:
    """Sign out (POST only, recorded in the audit trail) and forget the whole session."""
    if current_user.is_authenticated:
        hilfenetz().logout(current_user.actor)
    logout_user()
    session.clear()
    flash(_("Sie wurden abgemeldet."), "success")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.extensions["login_rate_limit"] = LoginRateLimit()
    app.register_blueprint(bp)
    account.init_app(app)
    session_guard.init_app(app)  # before the login check: an expired session is ended and audited
    app.before_request(_require_login)
