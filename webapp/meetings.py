"""Netzwerktreffen (P6): the meeting's calendar file for the invited organisations and the involved."""

from __future__ import annotations

from flask import Blueprint, Flask, Response

from webapp.facade import current_actor, hilfenetz

bp = Blueprint("meetings", __name__, url_prefix="/netzwerktreffen")


@bp.get("/<int:instance_id>/termin.ics")
def calendar(instance_id: int) -> Response:
    """The current ``.ics`` of the meeting (an invitation, or its cancellation)."""
    data = hilfenetz().meeting_calendar(current_actor(), instance_id)
    response = Response(data, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'attachment; filename="termin.ics"'
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
