"""``/api/v1/processes``: the process catalogue, the versions of a process, its start form, and
starting an instance with the start form's data."""

from __future__ import annotations

from typing import Any

from webapp.api.auth import api_actor
from webapp.api.blueprint import ApiBlueprint
from webapp.api.paging import page_of
from webapp.api.schemas import FormDataBody, FormSchema, PageArgs, ProcessPage, StartedSchema
from webapp.facade import hilfenetz
from webapp.i18n import _
from webapp.tasks import EMPTY_SCHEMA

bp = ApiBlueprint("api-processes", __name__, url_prefix="/api/v1/processes", description="Prozesse")


@bp.get("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, ProcessPage)
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Prozesskatalog: die neueste Version jedes Prozesses, ``may_start`` für den Token-Inhaber."""
    return page_of(hilfenetz().processes(api_actor()), args)


@bp.get("/<key>/versions")
@bp.arguments(PageArgs, location="query")
@bp.response(200, ProcessPage)
def versions(args: dict[str, Any], key: str) -> dict[str, Any]:
    """Alle bereitgestellten Versionen eines Prozesses, neueste zuerst."""
    return page_of(hilfenetz().process_versions(api_actor(), key), args)


@bp.get("/<key>/start-form")
@bp.response(200, FormSchema)
def start_form(key: str) -> dict[str, Any]:
    """Das Startformular (form-js-Schema) und seine vorbelegten Daten."""
    start = hilfenetz().start_form(api_actor(), key)
    return {"schema": start.form_schema or EMPTY_SCHEMA, "data": start.form_data}


@bp.post("/<key>/instances")
@bp.arguments(FormDataBody)
@bp.response(201, StartedSchema)
def start(body: dict[str, Any], key: str) -> dict[str, Any]:
    """Einen Vorgang mit den Daten des Startformulars starten (422 mit Feldfehlern)."""
    actor = api_actor()
    instance_id = hilfenetz().start(actor, key, body["data"])
    if not hilfenetz().may_view_instance(actor, instance_id):  # a confidential case now with others
        message = _(
            "Meldung übermittelt: Vorgang #{id} liegt jetzt bei der zuständigen Stelle.", id=instance_id
        )
        return {"instance_id": instance_id, "visible": False, "message": message}
    return {"instance_id": instance_id, "visible": True, "message": _("Vorgang gestartet.")}
