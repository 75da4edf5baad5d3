"""Bearer-token authentication of ``/api/v1``: ``Authorization: Bearer hn_…`` only (the session
cookie is never used there, so the API needs no CSRF token), scopes per request, and a per-address
limit on refused tokens (429)."""

from __future__ import annotations

from flask import current_app, g, request
from werkzeug.wrappers import Response

from engine.access_tokens import TokenGrant
from engine.read_models import Actor
from webapp.api.errors import api_error
from webapp.auth import LoginRateLimit
from webapp.facade import hilfenetz
from webapp.i18n import _

API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
#: Endpoints whose POST casts a vote (scope ``abstimmen``); every other POST changes data
#: (``schreiben``); every GET reads (``lesen``).
VOTE_ENDPOINTS = frozenset({"api-ballots.vote"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED_MESSAGE = (
    "Das Zugangstoken fehlt, ist ungültig, abgelaufen oder widerrufen. "
    "Senden Sie es als „Authorization: Bearer hn_…“."
)
SCOPE_MISSING = "Diesem Zugangstoken fehlt der Bereich „{scope}“."
THROTTLED = "Zu viele ungültige Zugangstokens von diesem Rechner. Bitte warten Sie fünf Minuten."


def required_scope() -> str:
    if request.method in READ_METHODS:
        return "lesen"
    return "abstimmen" if request.endpoint in VOTE_ENDPOINTS else "schreiben"


def _bearer() -> str:
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def _locale() -> str:
    return request.accept_languages.best_match(("de", "en"), default="de") or "de"


def authenticate() -> Response | None:
    """Before every request under ``/api/v1`` (except the OpenAPI document): resolve the token."""
    if not request.path.startswith(API_PREFIX + "/") or request.path == OPENAPI_PATH:
        return None
    g.locale = _locale()
    grant = hilfenetz().token_grant(_bearer())
    if grant is None:  # only refused tokens are throttled: bad ones must not lock out good ones
        limit: LoginRateLimit = current_app.extensions["api_token_rate_limit"]
        address = request.remote_addr or "-"
        if not limit.allow(address):
            return api_error(429, _("Zu viele Anfragen"), _(THROTTLED))
        limit.failed(address)
        return api_error(401, _("Anmeldung erforderlich"), _(REFUSED_MESSAGE))
    g.api_grant = grant
    scope = required_scope()
    if scope not in grant.scopes:
        return api_error(403, _("Keine Berechtigung"), _(SCOPE_MISSING, scope=scope))
    return None


def api_actor() -> Actor:
    """The user the request's token speaks for (views run only after :func:`authenticate`)."""
    grant: TokenGrant = g.api_grant
    return grant.actor
