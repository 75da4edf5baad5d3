"""The one JSON error shape of ``/api/v1`` (never an HTML page there):
``{"code": 422, "status": "Eingaben prüfen", "message": "<German>", "errors": {"field": ["<German>"]}}``.

``webapp/errors.py`` hands every error under ``/api/`` to :func:`api_error`; request validation by
webargs/marshmallow arrives as an HTTPException whose ``data["messages"]`` holds the field errors,
which are flattened and put into German here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify, request

from webapp.i18n import _

PREFIX = "/api/"
FIELDS_MESSAGE = "Bitte korrigieren Sie die markierten Angaben."
INVALID_VALUE = "Ungültiger Wert."
#: marshmallow's and webargs's English default messages, in German.
GERMAN = {
    "Missing data for required field.": "Pflichtangabe fehlt.",
    "Field may not be null.": "Darf nicht leer (null) sein.",
    "Unknown field.": "Unbekanntes Feld.",
    "Invalid input type.": "Ungültiger Eingabetyp.",
    "Invalid value.": INVALID_VALUE,
    "Not a valid integer.": "Bitte geben Sie eine ganze Zahl an.",
    "Not a valid number.": "Bitte geben Sie eine Zahl an.",
    "Not a valid string.": "Bitte geben Sie einen Text an.",
    "Not a valid boolean.": "Bitte geben Sie true oder false an.",
    "Not a valid date.": "Bitte geben Sie ein Datum wie 2026-11-24 an.",
    "Not a valid datetime.": "Bitte geben Sie Datum und Uhrzeit im ISO-Format an.",
    "Not a valid list.": "Bitte geben Sie eine Liste an.",
    "Not a valid mapping type.": "Bitte geben Sie ein JSON-Objekt an.",
    "Invalid JSON body.": "Der Inhalt ist kein gültiges JSON.",
    "Number too large.": "Die Zahl ist zu groß.",
    "Must be one of: {choices}.": "Bitte wählen Sie einen der vorgesehenen Werte.",
}
_CHOICE_RE = re.compile(r"Must be one of: .*\.")


def is_api_request() -> bool:
    return request.path.startswith(PREFIX)


def german(message: str) -> str:
    """A validation message in German (our own messages are German already)."""
    if _CHOICE_RE.fullmatch(message):
        return _(GERMAN["Must be one of: {choices}."])
    return _(GERMAN.get(message, message))


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs' ``{"query": {"per_page": ["…"]}}`` or nested marshmallow errors as
    ``{"per_page": ["…"], "data.name": ["…"]}`` (request locations left out)."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key)
            if not prefix and name in ("json", "query", "querystring", "form", "path", "headers"):
                name = ""
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            for field, texts in flatten(value, path).items():
                out.setdefault(field, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for item in messages:
            for field, texts in flatten(item, prefix).items():
                out.setdefault(field, []).extend(texts)
    else:
        out.setdefault(prefix or "_schema", []).append(german(str(messages)))
    return out


def api_error(
    status: int,
    title: str,
    message: str,
    errors: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """The JSON error body; ``errors`` as ``{"field": "text" | ["text", …]}``; ``extra`` e.g. what
    the anonymity guard found."""
    body: dict[str, Any] = {**(extra or {}), "code": status, "status": title, "message": message}
    if errors:
        body["errors"] = {
            field: [texts] if isinstance(texts, str) else list(texts) for field, texts in errors.items()
        }
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hilfenetz"'
    return response


def validation_errors(error: Exception) -> dict[str, list[str]] | None:
    """The field errors webargs attached to an HTTPException (None when there are none)."""
    data = getattr(error, "data", None)
    if not isinstance(data, Mapping):
        return None
    messages = data.get("errors", data.get("messages"))
    return flatten(messages) if messages else None
