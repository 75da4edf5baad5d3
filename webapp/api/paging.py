"""Paging of lists the engine returns whole (processes, ballots, directory entries): the same
``items``, ``page``, ``per_page``, ``total`` as the paged engine queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def page_of(items: Sequence[Any], args: dict[str, Any]) -> dict[str, Any]:
    page, per_page = int(args["page"]), int(args["per_page"])
    start = (page - 1) * per_page
    return {
        "items": list(items[start : start + per_page]),
        "page": page,
        "per_page": per_page,
        "total": len(items),
    }
