"""Audit-Protokoll: search and export for the Koordination and the data-protection officer.
The engine checks the role (403 for everyone else) and audits every search and export."""

from __future__ import annotations

import re

from flask import Blueprint, Flask, Response, render_template, request
from werkzeug.datastructures import MultiDict

from engine.audit_search import AuditQuery
from engine.read_models import Actor
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _
from webapp.labels import ACTIONS
from webapp.worklist import parse_days, parse_page

bp = Blueprint("audit", __name__, url_prefix="/audit-protokoll")

CASE_ERROR = "Bitte eine Vorgangsnummer (nur Ziffern) eingeben."
#: Actions only the audit trail shows (the case history's own ones come from ``webapp/labels.py``).
AUDIT_ACTIONS = {
    "login": "Anmeldung",
    "login_fehlgeschlagen": "Anmeldung fehlgeschlagen",
    "login_gesperrt": "Anmeldung abgelehnt: Konto gesperrt",
    "konto_gesperrt": "Konto nach Fehlversuchen gesperrt",
    "login_gedrosselt": "Anmeldung abgelehnt: zu viele Versuche von diesem Rechner",
    "logout": "Abmeldung",
    "logout_zeitueberschreitung": "Abmeldung durch den Server (Zeitüberschreitung)",
    "passwort_geaendert": "Passwort geändert",
    "passwort_aenderung_abgelehnt": "Passwortänderung abgelehnt: bisheriges Passwort falsch",
    "instance_viewed": "Vorgang angesehen",
    "task_viewed": "Aufgabe angesehen",
    "task_data_read": "Formulardaten einer Aufgabe gelesen",
    "abstimmung_gelesen": "Abstimmung oder Protokoll gelesen",
    "termin_heruntergeladen": "Kalenderdatei heruntergeladen",
    "audit_durchsucht": "Audit-Protokoll durchsucht",
    "audit_exportiert": "Audit-Protokoll exportiert",
    "modell_entwurf_angelegt": "Modell-Entwurf angelegt",
    "modell_hochgeladen": "Modell-Datei hochgeladen",
    "modell_entwurf_gespeichert": "Modell-Entwurf gespeichert",
    "modell_zur_freigabe": "Modell-Entwurf zur Freigabe vorgelegt",
    "modell_freigegeben": "Modell-Entwurf freigegeben (Vier-Augen-Prinzip)",
    "modell_abgelehnt": "Modell-Entwurf abgelehnt",
    "modell_verworfen": "Modell-Entwurf verworfen",
    "prozessversion_bereitgestellt": "Neue Prozessversion bereitgestellt",
    "barrierefreiheit_rueckmeldung": "Rückmeldung zur Barrierefreiheit eingegangen",
    "barrierefreiheit_gelesen": "Rückmeldungen zur Barrierefreiheit gelesen",
    "barrierefreiheit_beantwortet": "Rückmeldung zur Barrierefreiheit als beantwortet markiert",
    "barrierefreiheit_geloescht": "Rückmeldungen zur Barrierefreiheit gelöscht (Aufbewahrungsfrist)",
}
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


def shows_navigation(actor: Actor) -> bool:
    return hilfenetz().may_search_audit(actor)


def action_label(action: str) -> str:
    """The action in words where one is known (the code itself is shown beside it)."""
    if action in AUDIT_ACTIONS:
        return _(AUDIT_ACTIONS[action])
    template = ACTIONS.get(action, "")
    return _(template) if template and "{" not in template else ""


def query_from(args: MultiDict[str, str]) -> tuple[AuditQuery, dict[str, str]]:
    """The search from GET parameters, and German messages for what was not understood."""
    errors: dict[str, str] = {}
    days = parse_days(args, ("date_from", "date_to"), errors)
    case = args.get("vorgang", "").strip()
    if case and not re.fullmatch(r"[0-9]{1,11}", case):
        errors["vorgang"] = _(CASE_ERROR)
    query = AuditQuery(
        date_from=days["date_from"],
        date_to=days["date_to"],
        actor=args.get("actor", ""),
        organisation=args.get("organisation", ""),
        action=args.get("action", ""),
        instance_id=int(case) if case and "vorgang" not in errors else None,
        page=parse_page(args.get("page", "1")),
    )
    return query, errors


@bp.get("")
def index() -> tuple[str, int]:
    """The filter form and one page of entries, newest first."""
    query, errors = query_from(request.args)
    if errors:
        query = AuditQuery()
    page = hilfenetz().audit_search(current_actor(), query)
    return render_template("audit/index.html", page=page, errors=errors), 422 if errors else 200


@bp.get("/export.<fmt>")
def export(fmt: str) -> Response | tuple[str, int]:
    """Every entry matching the filters as a CSV or JSON download."""
    query, errors = query_from(request.args)
    if errors:
        return index()
    body = hilfenetz().audit_export(current_actor(), query, fmt)
    response = Response(body, mimetype=MEDIA_TYPES.get(fmt, "text/plain"))
    response.headers["Content-Disposition"] = f'attachment; filename="audit-protokoll.{fmt}"'
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(shows_audit=shows_navigation, audit_action_label=action_label)
