"""Ids in URLs and form fields are bounded to the database's ``integer`` columns.

Werkzeug's ``<int:…>`` accepts any number of digits; an id beyond the column type reached the
database and failed there with a 500 (PostgreSQL: "integer out of range" above 2**31-1; SQLite
cannot even bind a number above 2**63-1). Every id column is a plain ``Integer`` (``int4`` on
PostgreSQL), so the bounded converter replaces ``int`` for every route of the app: a larger id
answers 404 like any other id that does not exist, and the OpenAPI document states the bound
(flask-smorest reads ``max`` of the converter).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1  # PostgreSQL's integer, the type of every id column


class BoundedIntegerConverter(IntegerConverter):
    """``<int:…>`` with ``max`` defaulting to :data:`MAX_ID` (larger values do not match: 404)."""

    def __init__(
        self,
        map: Map,  # werkzeug's parameter names: rules like <int(min=1):x> pass them by name
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def parse_id(value: str) -> int | None:
    """A form field's id: ASCII digits up to :data:`MAX_ID`, else None (``"²".isdigit()`` is true)."""
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def init_app(app: Flask) -> None:
    """Must run before any blueprint registers its rules (they pick their converter when added)."""
    app.url_map.converters["int"] = BoundedIntegerConverter
