"""Startable processes, the start form, and the BPMN XML of a process version."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, flash, jsonify, render_template, url_for

from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _
from webapp.responses import submitted_data
from webapp.tasks import EMPTY_SCHEMA

bp = Blueprint("processes", __name__, url_prefix="/prozesse")


@bp.get("")
def index() -> str:
    """Processes the user can start (latest version of each)."""
    processes = [p for p in hilfenetz().processes(current_actor()) if p.may_start]
    return render_template("processes/index.html", processes=processes)


@bp.get("/<key>/starten")
def start_page(key: str) -> str:
    """Page with the start form container."""
    start = hilfenetz().start_form(current_actor(), key)
    return render_template("processes/start.html", start=start, process=start.process, page_assets=("form",))


@bp.get("/<key>/startformular.json")
def start_form_json(key: str) -> Response:
    """The start form's schema and prefilled data."""
    start = hilfenetz().start_form(current_actor(), key)
    return jsonify(schema=start.form_schema or EMPTY_SCHEMA, data=start.form_data)


@bp.post("/<key>/starten")
def start(key: str) -> Response:
    """Start an instance with the submitted start form (JSON)."""
    actor = current_actor()
    instance_id = hilfenetz().start(actor, key, submitted_data())
    if not hilfenetz().may_view_instance(actor, instance_id):  # a confidential case now with others
        message = _(
            "Meldung übermittelt: Vorgang #{id} liegt jetzt bei der zuständigen Stelle.", id=instance_id
        )
        flash(message, "success")
        return jsonify(redirect=url_for("worklist.index"), message=message)
    message = _("Vorgang gestartet.")
    flash(message, "success")
    return jsonify(redirect=url_for("instances.show", instance_id=instance_id), message=message)


@bp.get("/versionen/<int:definition_id>/diagramm.bpmn")
def diagram(definition_id: int) -> Response:
    """BPMN XML of one deployed version (for the viewer; may be downloaded)."""
    xml = hilfenetz().definition_xml(current_actor(), definition_id)
    return Response(
        xml,
        mimetype="application/xml",
        headers={"Content-Disposition": f'inline; filename="prozess-{definition_id}.bpmn"'},
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
