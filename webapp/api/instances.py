"""``/api/v1/instances``: the cases (Vorgänge) the token's user may see, and one with its history."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from webapp.api.auth import api_actor
from webapp.api.blueprint import ApiBlueprint
from webapp.api.schemas import InstanceDetailSchema, InstancePageSchema, PageArgs
from webapp.facade import hilfenetz

bp = ApiBlueprint("api-instances", __name__, url_prefix="/api/v1/instances", description="Vorgänge")


@bp.get("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, InstancePageSchema)
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Vorgänge, die Sie sehen dürfen (beteiligt, gestartet oder koordinierend), neueste zuerst."""
    page = hilfenetz().visible_instances(api_actor(), args["page"], args["per_page"])
    return asdict(page)


@bp.get("/<int:instance_id>")
@bp.response(200, InstanceDetailSchema)
def show(instance_id: int) -> dict[str, Any]:
    """Ein Vorgang: Status, offene Aufgaben, Verlauf (das Lesen wird protokolliert)."""
    return asdict(hilfenetz().instance_detail(api_actor(), instance_id))
