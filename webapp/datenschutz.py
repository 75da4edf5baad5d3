"""Datenschutz: the data-protection officer's page (search a person, Art. 15 export as PDF or JSON,
Art. 17 erasure with a plan and reasons), the retention preview, and "Meine Daten" for everyone.

A person's name never goes into a URL (it would end up in logs): searches, subject exports and
erasures are POSTed; account pages use the user name.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, Flask, Response, abort, render_template, request

from engine.dsgvo import DSB_ROLE, MIN_QUERY, PersonalDataExport
from engine.read_models import Actor
from engine.retention_rules import CATEGORIES, LABELS
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _
from webapp.url_ids import parse_id

bp = Blueprint("datenschutz", __name__)

PREVIEW_ROLES = ("Koordination", "Administration", DSB_ROLE)
FORMATS = ("pdf", "json")
PREVIEW_DAYS = 30


def shows_navigation(actor: Actor) -> bool:
    return any(actor.has_role(r) for r in PREVIEW_ROLES)


def _download(export: PersonalDataExport, fmt: str, name: str) -> Response:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "person"
    stamp = export.created_at.strftime("%Y%m%d")
    if fmt == "pdf":
        body, mimetype = hilfenetz().personal_data_pdf(export), "application/pdf"
    else:
        text = json.dumps(export.as_json(), ensure_ascii=False, indent=2)
        body, mimetype = text.encode("utf-8"), "application/json"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="auskunft-{slug}-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        abort(404)
    return fmt


@bp.route("/datenschutz", methods=["GET", "POST"])
def index() -> str:
    """Search (officer only) and the retention preview (officer, Koordination, Administration)."""
    actor = current_actor()
    if not shows_navigation(actor):
        abort(404)
    query = request.form.get("q", "").strip() if request.method == "POST" else ""
    officer = actor.has_role(DSB_ROLE)
    hits = hilfenetz().find_people(actor, query) if officer and query else []
    error = (
        _("Bitte mindestens {n} Zeichen eingeben.", n=MIN_QUERY) if query and len(query) < MIN_QUERY else ""
    )
    records = hilfenetz().find_contact_records(actor, query) if officer and query and not error else []
    return render_template(
        "datenschutz/index.html",
        officer=officer,
        query=query,
        hits=hits,
        records=records,
        error=error,
        preview=hilfenetz().retention_preview(actor, PREVIEW_DAYS),
        gaps=hilfenetz().retention_gaps(actor),
        days=PREVIEW_DAYS,
        categories=CATEGORIES,
        labels=LABELS,
    )


@bp.get("/datenschutz/konto/<username>/auskunft.<fmt>")
def account_export(username: str, fmt: str) -> Response:
    export = hilfenetz().export_account(current_actor(), username, _format(fmt))
    return _download(export, fmt, username)


def _chosen_records() -> list[int]:
    """The ticked contact record ids; anything not an id becomes -1, which the engine refuses."""
    chosen = (parse_id(v.strip()) for v in request.form.getlist("datensatz"))
    return [-1 if record is None else record for record in chosen]


@bp.post("/datenschutz/betroffene/auskunft.<fmt>")
def subject_export(fmt: str) -> Response:
    query = request.form.get("q", "")
    export = hilfenetz().export_subject(current_actor(), query, _chosen_records(), _format(fmt))
    return _download(export, fmt, "betroffene")


@bp.post("/datenschutz/konto/<username>/loeschen")
def account_erasure(username: str) -> str:
    """Without ``bestaetigt``: the plan to confirm; with it: carried out (kept items keep their reason)."""
    confirm = request.form.get("bestaetigt") == "ja"
    plan = hilfenetz().account_erasure(current_actor(), username, confirm=confirm)
    return render_template("datenschutz/loeschung.html", plan=plan, username=username, query="", records=[])


@bp.post("/datenschutz/betroffene/loeschen")
def subject_erasure() -> str:
    query = request.form.get("q", "").strip()
    confirm = request.form.get("bestaetigt") == "ja"
    records = _chosen_records()
    plan = hilfenetz().subject_erasure(current_actor(), query, records, confirm=confirm)
    return render_template(
        "datenschutz/loeschung.html", plan=plan, username="", query=query, records=sorted(set(records))
    )


@bp.get("/meine-daten")
def my_data() -> str:
    """Every user: download what Hilfenetz stores about their own account."""
    return render_template("datenschutz/meine_daten.html")


@bp.get("/meine-daten/auskunft.<fmt>")
def my_export(fmt: str) -> Response:
    actor = current_actor()
    export = hilfenetz().export_account(actor, actor.username, _format(fmt))
    return _download(export, fmt, actor.username)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(shows_datenschutz=shows_navigation)
