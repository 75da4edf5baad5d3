"""The REST API ``/api/v1`` (flask-smorest, marshmallow schemas, OpenAPI 3 at ``/api/v1/openapi.json``).

Thin views over the engine facade with the web app's permission checks (the engine makes them);
bearer tokens instead of the session (``webapp/api/auth.py``); one JSON error shape for every
error under ``/api/`` (``webapp/api/errors.py``, wired in ``webapp/errors.py``).
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from webapp.api import auth, ballots, directory, instances, processes, tasks
from webapp.api.schemas import ErrorSchema
from webapp.auth import LoginRateLimit
from webapp.security import csrf

BLUEPRINTS = (processes.bp, tasks.bp, instances.bp, ballots.bp, directory.bp)
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "Persönliches Zugangstoken (hn_…)"}


class HilfenetzApi(Api):  # type: ignore[misc]
    """flask-smorest's Api without its app-wide HTTP error handler: ``webapp/errors.py`` stays the
    one place that turns errors into responses (and answers in the API's shape under ``/api/``)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        return None


def init_app(app: Flask) -> None:
    app.config.update(
        API_TITLE="Hilfenetz",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "REST-API von Hilfenetz. Anmeldung mit persönlichem Zugangstoken."},
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": SECURITY_SCHEME}},
        },
    )
    api = HilfenetzApi(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    app.extensions["api_token_rate_limit"] = LoginRateLimit()
    app.before_request(auth.authenticate)
