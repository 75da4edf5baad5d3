"""``/api/v1/directory``: the partner directory (Netzwerkverzeichnis) — search and one entry."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from engine.verzeichnis import DirectoryQuery
from webapp.api.auth import api_actor
from webapp.api.blueprint import ApiBlueprint
from webapp.api.paging import page_of
from webapp.api.schemas import DirectoryArgs, DirectoryEntrySchema, DirectoryPage
from webapp.facade import hilfenetz

bp = ApiBlueprint(
    "api-directory", __name__, url_prefix="/api/v1/directory", description="Netzwerkverzeichnis"
)


@bp.get("")
@bp.arguments(DirectoryArgs, location="query")
@bp.response(200, DirectoryPage)
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Das Verzeichnis durchsuchen: Wörter ``q``, Gemeinde, Thema."""
    query = DirectoryQuery(text=args["q"].strip(), gemeinde=args["gemeinde"], thema=args["thema"])
    return page_of([asdict(e) for e in hilfenetz().directory(api_actor(), query)], args)


@bp.get("/<organisation>")
@bp.response(200, DirectoryEntrySchema)
def show(organisation: str) -> dict[str, Any]:
    """Ein Eintrag (Organisation, Angebote, Kontakte, Erreichbarkeit)."""
    return asdict(hilfenetz().directory_entry(api_actor(), organisation))
