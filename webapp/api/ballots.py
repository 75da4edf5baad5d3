"""``/api/v1/ballots``: the steering group's ballots the token's user may see, one ballot with its
minutes, and casting a vote (scope ``abstimmen``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from engine.errors import NotPermittedError
from webapp.api.auth import api_actor
from webapp.api.blueprint import ApiBlueprint
from webapp.api.paging import page_of
from webapp.api.schemas import BallotPage, BallotSchema, MessageSchema, PageArgs, VoteBody
from webapp.ballots import LIST_ROLES
from webapp.facade import hilfenetz
from webapp.i18n import _

NO_BALLOTS = "Abstimmungen sehen die Steuerungsgruppe, die Koordination und die Stimmberechtigten."

bp = ApiBlueprint("api-ballots", __name__, url_prefix="/api/v1/ballots", description="Abstimmungen")


@bp.get("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, BallotPage)
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Abstimmungen, die Sie sehen dürfen, offene zuerst; ``must_vote``: Ihre Stimme fehlt noch."""
    actor = api_actor()
    ballots = hilfenetz().ballots(actor)
    if not ballots and not any(actor.has_role(r) for r in LIST_ROLES):
        raise NotPermittedError(NO_BALLOTS)  # as on the web page: neither electorate nor steering group
    return page_of([asdict(b) for b in ballots], args)


@bp.get("/<int:ballot_id>")
@bp.response(200, BallotSchema)
def show(ballot_id: int) -> dict[str, Any]:
    """Eine Abstimmung mit Regeln, Stimmberechtigten, Stand und Ergebnis (das Lesen wird protokolliert)."""
    return asdict(hilfenetz().ballot_minutes(api_actor(), ballot_id, document="api"))


@bp.post("/<int:ballot_id>/votes")
@bp.arguments(VoteBody)
@bp.response(201, MessageSchema)
def vote(body: dict[str, Any], ballot_id: int) -> dict[str, str]:
    """Ihre Stimme abgeben (oder als Vertretung die des Mitglieds ``member``); ein zweites Mal: 409."""
    hilfenetz().cast_vote(api_actor(), ballot_id, body["choice"], member=body.get("member") or None)
    return {"message": _("Ihre Stimme wurde gespeichert.")}
