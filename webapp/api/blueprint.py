"""The Blueprint of every ``/api/v1`` resource: documents the error answers each operation can
give (401, 403, 429; 404 with path parameters; 409 for changes) in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask_smorest import Blueprint


class ApiBlueprint(Blueprint):  # type: ignore[misc]
    def route(
        self, rule: str, *, parameters: Any = None, tags: Any = None, **options: Any
    ) -> Callable[..., Any]:
        register = super().route(rule, parameters=parameters, tags=tags, **options)
        codes = [401, 403, 429]
        if "<" in rule:
            codes.append(404)
        if "POST" in options.get("methods", ()):
            codes.append(409)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            for code in codes:
                func = self.alt_response(code, response=HTTPStatus(code).name)(func)
            return register(func)  # type: ignore[no-any-return]

        return decorator
