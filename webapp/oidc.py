"""Single sign-on with the county's OpenID Connect provider ("Mit Kreis-Konto anmelden"), by Authlib.

Discovery from ``HILFENETZ_OIDC_ISSUER``; authorization code flow with PKCE (S256); ``state`` and
``nonce`` kept in the (signed) session and checked; the ID token's signature is checked against the
provider's JWKS, and its audience and expiry by Authlib; its issuer must be exactly
``HILFENETZ_OIDC_ISSUER`` (not merely what the discovery document claims). The verified claims go to
the engine (:meth:`engine.service.Hilfenetz.oidc_login`), which maps organisation and roles. Every refusal is
answered in German on the login page and recorded in the audit trail (a short reason, never a token).
"""

from __future__ import annotations

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError
from requests import RequestException
from werkzeug.wrappers import Response

from engine.errors import LoginRefusedError
from webapp.auth import refusal_message, sign_in
from webapp.facade import hilfenetz
from webapp.i18n import _
from webapp.navigation import safe_next

bp = Blueprint("oidc", __name__, url_prefix="/anmelden/kreis")
NEXT = "oidc_next"
#: The German answers per reason (the reason itself goes into the audit trail).
REFUSALS = {
    "state": "Die Anmeldung über das Kreis-Konto ist abgelaufen oder gehört nicht zu dieser Sitzung. "
    "Bitte versuchen Sie es erneut.",
    "signatur": "Die Anmeldung über das Kreis-Konto wurde abgelehnt: Die Signatur des Anmeldenachweises "
    "ist ungültig.",
    "abgelaufen": "Die Anmeldung über das Kreis-Konto wurde abgelehnt: Der Anmeldenachweis ist abgelaufen.",
    "angaben": "Die Anmeldung über das Kreis-Konto wurde abgelehnt: Der Anmeldenachweis passt nicht zu "
    "dieser Anmeldung.",
    "anbieter": "Der Anmeldedienst des Kreises hat die Anmeldung abgelehnt oder ist nicht erreichbar. "
    "Bitte versuchen Sie es später erneut.",
}
BUTTON = "Mit Kreis-Konto anmelden"


def _client() -> object:
    if not current_app.config.get("OIDC_ENABLED"):
        abort(404)
    return current_app.extensions["oidc"].kreis


def redirect_uri() -> str:
    """The fixed redirect URI registered at the provider (from HILFENETZ_BASE_URL)."""
    return hilfenetz().settings.base_url.rstrip("/") + url_for("oidc.callback")


@bp.get("")
def start() -> Response:
    """Send the browser to the provider (state, nonce and PKCE verifier stay in the session)."""
    client = _client()
    session[NEXT] = safe_next(request.args.get("next"), url_for("worklist.index"))
    try:
        response: Response = client.authorize_redirect(redirect_uri())  # type: ignore[attr-defined]
    except RequestException:
        return _refused("anbieter")
    return response


@bp.get("/zurueck")
def callback() -> Response | tuple[str, int]:
    """The provider's answer: exchange the code, verify the ID token, sign in."""
    client = _client()
    try:
        issuer = {"iss": {"essential": True, "value": hilfenetz().settings.oidc_issuer}}
        token = client.authorize_access_token(claims_options=issuer)  # type: ignore[attr-defined]
    except MismatchingStateError:
        return _refused("state")
    except BadSignatureError:
        return _refused("signatur")
    except ExpiredTokenError:
        return _refused("abgelaufen")
    except (ClaimError, JoseError):
        return _refused("angaben")
    except (OAuthError, RequestException, ValueError):
        return _refused("anbieter")
    claims = token.get("userinfo")
    if not claims:
        return _refused("angaben")
    try:
        actor = hilfenetz().oidc_login(dict(claims))
    except LoginRefusedError as exc:
        return render_template("auth/login.html", next_url="", username="", error=refusal_message(exc)), 403
    next_url = session.get(NEXT) or url_for("worklist.index")
    if sign_in(actor):
        return redirect(url_for("account.change_password"))
    return redirect(next_url)


def _refused(reason: str) -> tuple[str, int]:
    hilfenetz().oidc_refused(reason)
    session.pop(NEXT, None)
    error = _(REFUSALS[reason])
    return render_template("auth/login.html", next_url="", username="", error=error), 400


def init_app(app: Flask) -> None:
    """Register the provider when one is configured; the login page shows the button only then."""
    settings = app.extensions["hilfenetz"].settings
    oauth = OAuth(app)
    if settings.oidc_issuer:
        oauth.register(
            "kreis",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=f"{settings.oidc_issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
        )
    app.extensions["oidc"] = oauth
    app.config["OIDC_ENABLED"] = bool(settings.oidc_issuer)
    app.jinja_env.globals["single_sign_on"] = bool(settings.oidc_issuer)
    app.register_blueprint(bp)
