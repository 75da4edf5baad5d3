"""Small request/response decisions shared by views and the error mapping."""

from __future__ import annotations

from typing import Any

from flask import request

from engine.errors import InvalidSubmissionError


def wants_json() -> bool:
    """True for requests that send JSON or prefer a JSON answer (the task form's fetch calls)."""
    if request.is_json or request.path.endswith(".json"):
        return True
    accept = request.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json" and (
        accept["application/json"] > accept["text/html"]
    )


def submitted_data() -> dict[str, Any]:
    """The ``data`` object of a JSON body ``{"data": {...}}``; anything else is an invalid submission."""
    payload = request.get_json(silent=True)
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise InvalidSubmissionError("Die Formulardaten sind ungültig.", {})
    return data
