"""The one place where engine errors and HTTP errors become responses (HTML for people, JSON for fetch)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import (
    ConflictError,
    HilfenetzError,
    InvalidDefinitionError,
    InvalidSubmissionError,
    NotFoundError,
    NotPermittedError,
    PersonalDataError,
    ScriptError,
    TooManyRequestsError,
)
from webapp.api.errors import FIELDS_MESSAGE, api_error, is_api_request, validation_errors
from webapp.i18n import _
from webapp.responses import wants_json

log = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[HilfenetzError], int], ...] = (
    (NotFoundError, 404),
    (NotPermittedError, 403),
    (ConflictError, 409),
    (InvalidSubmissionError, 422),
    (InvalidDefinitionError, 422),
    (ScriptError, 422),
    (TooManyRequestsError, 429),
)
TITLES = {
    400: "Anfrage nicht möglich",
    401: "Anmeldung erforderlich",
    403: "Keine Berechtigung",
    404: "Nicht gefunden",
    405: "Aktion nicht möglich",
    409: "Inzwischen geändert",
    413: "Zu groß",
    422: "Eingaben prüfen",
    429: "Zu viele Anfragen",
    500: "Interner Fehler",
}
MESSAGES = {
    400: "Die Anfrage konnte nicht verarbeitet werden.",
    404: "Diese Seite gibt es nicht (mehr). Bitte prüfen Sie die Adresse.",
    405: "Diese Aktion ist so nicht möglich.",
    413: "Die gesendeten Daten sind zu groß.",
    429: "Zu viele Anfragen. Bitte warten Sie einige Minuten.",
    500: "Es ist ein Fehler aufgetreten. Bitte versuchen Sie es später erneut; "
    "wenn der Fehler bleibt, wenden Sie sich an die Administration.",
}
CSRF_MESSAGE = (
    "Das Formular ist abgelaufen oder unvollständig (Sicherheitsprüfung). "
    "Bitte laden Sie die Seite neu und versuchen Sie es erneut."
)


def status_of(error: HilfenetzError) -> int:
    """HTTP status for an engine error (other engine errors: 400)."""
    return next((status for kind, status in STATUS_BY_ERROR if isinstance(error, kind)), 400)


def error_response(
    status: int,
    message: str,
    field_errors: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A JSON body ``{"message", "field_errors"?, **extra}`` or a friendly German page; under
    ``/api/`` always the API's JSON error (``webapp/api/errors.py``)."""
    if is_api_request():
        return api_error(status, _(TITLES.get(status, TITLES[400])), message, field_errors, extra)
    if wants_json():
        body: dict[str, Any] = {"message": message, **(extra or {})}
        if field_errors is not None:
            body["field_errors"] = field_errors
        response = jsonify(body)
    else:
        if status >= 500:
            g.open_task_count = None  # the error page must not need the database
            g.unread_notification_count = None
        html = render_template(
            "errors/error.html",
            status=status,
            title=_(TITLES.get(status, TITLES[400])),
            message=message,
            field_errors=field_errors or {},
        )
        response = Response(html, mimetype="text/html")
    response.status_code = status
    return response


def _engine_error(error: HilfenetzError) -> Response:
    status = status_of(error)
    if isinstance(error, (InvalidDefinitionError, ScriptError)) or status == 400:
        log.warning("engine refused a request: %s (%s)", error.message, type(error).__name__)
    fields = (
        {k: _(v) for k, v in error.field_errors.items()}
        if isinstance(error, InvalidSubmissionError)
        else None
    )
    return error_response(status, _(error.message), fields, _anonymity_details(error))


def _anonymity_details(error: HilfenetzError) -> dict[str, Any] | None:
    """For the task form: what the anonymity guard found, and where a typed reason goes."""
    if not isinstance(error, PersonalDataError):
        return None
    return {"anonymitaet": {"funde": error.findings, "begruendung_schluessel": error.reason_key}}


def _csrf_error(error: CSRFError) -> Response:
    return error_response(400, _(CSRF_MESSAGE))


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    message = _(MESSAGES.get(status, MESSAGES[400 if status < 500 else 500]))
    fields = validation_errors(error) if is_api_request() else None
    if fields:  # request validation of the API (webargs/marshmallow)
        return api_error(status, _(TITLES.get(status, TITLES[400])), _(FIELDS_MESSAGE), fields)
    return error_response(status, message)


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error")
    return error_response(500, _(MESSAGES[500]))


def init_app(app: Flask) -> None:
    app.register_error_handler(HilfenetzError, _engine_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
