"""Auswertung: the network's figures (charts and tables) and the annual report as PDF and CSV,
for the Koordination and the Steuerungsgruppe (403 for everyone else, from the engine)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, render_template, request
from werkzeug.wrappers import Response

from engine.dashboard import MONTHS, ROLES, Auswertung, Tabelle
from engine.errors import InvalidSubmissionError
from engine.read_models import Actor
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("dashboard", __name__, url_prefix="/auswertung")

FILTER_LABELS = {"von": "Von", "bis": "Bis", "organisation": "Organisation"}
MONTH_ROW = re.compile(r"^(\S+) (\d{4})$")


def row_label(label: str) -> str:
    """A row label in the user's language; „Mär 2026“ becomes „Mar 2026“ in English."""
    match = MONTH_ROW.match(label)
    if match and match.group(1) in MONTHS:
        return f"{_(match.group(1))} {match.group(2)}"
    return _(label)


def shows_navigation(actor: Actor) -> bool:
    return any(actor.has_role(role) for role in ROLES)


def chart_data(table: Tabelle) -> dict[str, Any] | None:
    """What dashboard.js draws: labels, and one series per value column (None = withheld)."""
    if table.diagramm is None or not table.diagramm.zeilen:
        return None
    rows = [table.zeilen[i] for i in table.diagramm.zeilen]
    return {
        "art": table.diagramm.art,
        "labels": [row_label(row.label) for row in rows],
        "reihen": [
            {"label": _(table.kopf[column + 1]), "werte": [row.zellen[column].wert for row in rows]}
            for column in table.diagramm.reihen
        ],
    }


@bp.get("")
def index() -> tuple[str, int]:
    """Filters (period, organisation), then each figure as a chart and as a table."""
    engine, actor = hilfenetz(), current_actor()
    args = {key: request.args.get(key) or None for key in ("von", "bis", "organisation")}
    organisations = engine.auswertung_organisationen(actor)
    report: Auswertung | None = None
    errors: dict[str, str] = {}
    try:
        report = engine.auswertung(actor, args["von"], args["bis"], args["organisation"])
    except InvalidSubmissionError as exc:
        errors = exc.field_errors
    page = render_template(
        "dashboard/index.html",
        report=report,
        args=args,
        errors=errors,
        labels=FILTER_LABELS,
        organisations=organisations,
        page_assets=("chart",),
    )
    return page, 422 if errors else 200


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/jahresbericht/<int:jahr>.pdf")
def annual_pdf(jahr: int) -> Response:
    """The annual report as PDF: the year's tables for the network meeting and the funding body."""
    pdf = hilfenetz().jahresbericht_pdf(current_actor(), jahr)
    return _download(pdf, "application/pdf", f"hilfenetz-jahresbericht-{jahr}.pdf")


@bp.get("/jahresbericht/<int:jahr>.csv")
def annual_csv(jahr: int) -> Response:
    """The same tables as CSV (Tabelle;Zeile;Spalte;Wert)."""
    data = hilfenetz().jahresbericht_csv(current_actor(), jahr)
    return _download(data, "text/csv; charset=utf-8", f"hilfenetz-jahresbericht-{jahr}.csv")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(shows_dashboard=shows_navigation, chart_data=chart_data, row_label=row_label)
