"""``/api/v1/tasks``: the worklist (paged, the web page's filters), one task with its form and
data, claim, release and complete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from engine.worklist import WorklistQuery
from webapp.api.auth import api_actor
from webapp.api.blueprint import ApiBlueprint
from webapp.api.schemas import (
    CompletedSchema,
    FormDataBody,
    MessageSchema,
    TaskDetailSchema,
    TaskPage,
    WorklistArgs,
)
from webapp.facade import hilfenetz
from webapp.i18n import _
from webapp.tasks import EMPTY_SCHEMA

bp = ApiBlueprint("api-tasks", __name__, url_prefix="/api/v1/tasks", description="Aufgaben")


@bp.get("")
@bp.arguments(WorklistArgs, location="query")
@bp.response(200, TaskPage)
def index(args: dict[str, Any]) -> dict[str, Any]:
    """Arbeitsliste: ``view`` meine, gruppe, alle oder erledigt; Filter wie auf der Seite."""
    query = WorklistQuery(
        view=args["view"],
        process_key=args["process"],
        state=args["state"],
        due_from=args["due_from"],
        due_to=args["due_to"],
        sort=args["sort"],
        page=args["page"],
        per_page=args["per_page"],
    )
    result = hilfenetz().worklist(api_actor(), query.normalised())
    return {
        "items": [asdict(t) for t in result.tasks],
        "page": result.page,
        "per_page": result.per_page,
        "total": result.total,
        "counts": result.counts,
    }


@bp.get("/<task_id>")
@bp.response(200, TaskDetailSchema)
def show(task_id: str) -> dict[str, Any]:
    """Eine Aufgabe mit Formular (form-js) und den aktuellen Daten (das Lesen wird protokolliert)."""
    detail = hilfenetz().task_detail(api_actor(), task_id, audit_action="task_data_read", with_contacts=False)
    return {**asdict(detail), "form_schema": detail.form_schema or EMPTY_SCHEMA}


@bp.post("/<task_id>/claim")
@bp.response(200, MessageSchema)
def claim(task_id: str) -> dict[str, str]:
    """Eine Aufgabe der eigenen Gruppe übernehmen."""
    hilfenetz().claim(api_actor(), task_id)
    return {"message": _("Sie haben die Aufgabe übernommen.")}


@bp.post("/<task_id>/release")
@bp.response(200, MessageSchema)
def release(task_id: str) -> dict[str, str]:
    """Eine übernommene Aufgabe an die Gruppe zurückgeben."""
    hilfenetz().release(api_actor(), task_id)
    return {"message": _("Die Aufgabe ist wieder für die Gruppe offen.")}


@bp.post("/<task_id>/complete")
@bp.arguments(FormDataBody)
@bp.response(200, CompletedSchema)
def complete(body: dict[str, Any], task_id: str) -> dict[str, Any]:
    """Die Aufgabe mit Formulardaten abschließen (serverseitig geprüft: 422 mit Feldfehlern; ein
    zweites Abschließen: 409)."""
    completion = hilfenetz().complete_task(api_actor(), task_id, body["data"])
    return {
        "message": _("Aufgabe erledigt."),
        "instance_id": completion.instance_id,
        "new_task_ids": list(completion.new_task_ids),
    }
