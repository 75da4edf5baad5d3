"""Request body limits: ``MAX_CONTENT_LENGTH`` (webapp/security.py) for every route, and a larger
one for the modeler's JSON endpoints.

A draft may hold ``MAX_MODEL_BYTES`` of XML or JSON; sent as a JSON string, every quote and line
break is escaped, so the body can grow to twice the content. With the general limit a large but
valid draft would be refused as „zu groß“ before the engine could check it; with this one the
engine decides and names its limit. The limit is read per request (Flask 3.1), after routing, so
it holds before anything (the CSRF check included) reads the body.
"""

from __future__ import annotations

from flask import Flask, Request

from engine.model_drafts import MAX_MODEL_BYTES

#: The modeler's save and check: ``{"content": "<escaped draft>", "revision": n}``.
MODEL_JSON_ENDPOINTS = frozenset({"modellierung.save", "modellierung.check"})
MODEL_JSON_LIMIT = 2 * MAX_MODEL_BYTES + 64 * 1024


class LimitedRequest(Request):
    @property
    def max_content_length(self) -> int | None:
        if self.endpoint in MODEL_JSON_ENDPOINTS:
            return MODEL_JSON_LIMIT
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def init_app(app: Flask) -> None:
    app.request_class = LimitedRequest
