"""Instance migration pages (issue 5): running instances of older versions, dry run, migration."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request, session

from engine.errors import ConflictError, InvalidSubmissionError
from webapp.facade import current_actor, hilfenetz
from webapp.url_ids import parse_id

bp = Blueprint("modell_migration", __name__, url_prefix="/modellierung/migration")
#: Session key of the last dry run (process, instances, target): migration follows a dry run of
#: exactly that choice (the session cookie is signed, so a crafted form cannot claim one).
DRY_RUN_KEY = "migration_probelauf"
NO_DRY_RUN = (
    "Bitte zuerst einen Probelauf für genau diese Vorgänge und diese Zielversion machen; "
    "erst danach lassen sie sich umstellen. Es wurde nichts umgestellt."
)


def _dry_run_of(process_key: str, ids: list[int], target: int) -> dict[str, object]:
    return {"prozess": process_key, "vorgaenge": sorted(set(ids)), "ziel": target}


def _choice() -> tuple[list[int], int]:
    ids = [i for i in (parse_id(v) for v in request.form.getlist("vorgang")) if i is not None]
    target = parse_id(request.form.get("ziel", ""))
    if target is None:
        raise InvalidSubmissionError(
            "Bitte eine Zielversion auswählen.", {"ziel": "Bitte eine Zielversion auswählen."}
        )
    return ids, target


def _page(process_key: str, **results: object) -> str:
    page = hilfenetz().migration_page(current_actor(), process_key)
    return render_template("modellierung/migration.html", page=page, **results)


@bp.get("/<process_key>")
def page(process_key: str) -> str:
    """Running instances of older versions, to choose from."""
    return _page(process_key)


@bp.post("/<process_key>/probelauf")
def dry_run(process_key: str) -> str:
    """Names every step that would not map; nothing changes."""
    ids, target = _choice()
    outcomes = hilfenetz().migration_dry_run(current_actor(), ids, target)
    session[DRY_RUN_KEY] = _dry_run_of(process_key, ids, target)
    return _page(process_key, outcomes=outcomes, chosen=ids, target=target, mode="probelauf")


@bp.post("/<process_key>/migrieren")
def migrate(process_key: str) -> str:
    """Moves the chosen instances whose dry run is clean; the others stay and the reasons are shown."""
    ids, target = _choice()
    if ids and session.get(DRY_RUN_KEY) != _dry_run_of(process_key, ids, target):  # none: the engine's 422
        raise ConflictError(NO_DRY_RUN)
    outcomes = hilfenetz().migrate_instances(current_actor(), ids, target)
    session.pop(DRY_RUN_KEY, None)
    return _page(process_key, outcomes=outcomes, chosen=ids, target=target, mode="migration")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
