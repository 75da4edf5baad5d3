"""Vorgänge: the instances I started, one instance with diagram, open tasks and history, messages."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _
from webapp.labels import message_label

bp = Blueprint("instances", __name__, url_prefix="/vorgaenge")


@bp.get("")
def index() -> str:
    """Meine Vorgänge: instances I started, newest first."""
    return render_template("instances/index.html", instances=hilfenetz().my_instances(current_actor()))


@bp.get("/<int:instance_id>")
def show(instance_id: int) -> str:
    """One instance: status, diagram, open tasks, history and the messages it waits for."""
    actor = current_actor()
    detail = hilfenetz().instance_detail(actor, instance_id)
    meeting = hilfenetz().meeting_of(actor, instance_id)
    return render_template("instances/show.html", instance=detail, meeting=meeting, page_assets=("diagram",))


@bp.post("/<int:instance_id>/nachricht")
def send_message(instance_id: int) -> Response:
    """Send a message the instance waits for (e.g. a new incident reopens the case)."""
    name = request.form.get("name", "")
    hilfenetz().send_message(current_actor(), instance_id, name)
    flash(_("Erledigt: {action}", action=message_label(name)), "success")
    return redirect(url_for("instances.show", instance_id=instance_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
