"""Abwesenheit (Vertretung): list my absences, record one with a substitute, end one."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine.errors import InvalidSubmissionError
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import BERLIN, _

bp = Blueprint("absences", __name__, url_prefix="/abwesenheit")

DATETIME_ERROR = "Bitte geben Sie Datum und Uhrzeit wie 24.11.2026 14:30 ein."


def parse_local(text: str) -> datetime:
    """A Europe/Berlin wall-clock time (datetime-local input or German notation) as aware UTC."""
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=BERLIN).astimezone(UTC)
        except ValueError:
            continue
    raise ValueError(text)


def _parsed(form: MultiDict[str, str]) -> tuple[dict[str, datetime], dict[str, str]]:
    times: dict[str, datetime] = {}
    errors: dict[str, str] = {}
    for name in ("starts_at", "ends_at"):
        try:
            times[name] = parse_local(form.get(name, ""))
        except ValueError:
            errors[name] = _(DATETIME_ERROR)
    if not form.get("substitute"):
        errors["substitute"] = _("Bitte wählen Sie eine Vertretung aus.")
    return times, errors


def _page(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    colleagues = [c for c in hilfenetz().colleagues(actor) if c.id != actor.id]
    html = render_template(
        "absences/index.html",
        absences=hilfenetz().absences(actor),
        colleagues=colleagues,
        errors=errors or {},
        form=request.form if errors else {},
    )
    return html, status


@bp.get("")
def index() -> tuple[str, int]:
    """My current and planned absences and the form to add one."""
    return _page()


@bp.post("")
def add() -> Response | tuple[str, int]:
    """Record an absence; the substitute sees my tasks while it lasts."""
    times, errors = _parsed(request.form)
    if errors:
        return _page(errors, 422)
    try:
        hilfenetz().add_absence(
            current_actor(),
            request.form["substitute"],
            times["starts_at"],
            times["ends_at"],
            request.form.get("note", "").strip(),
        )
    except InvalidSubmissionError as exc:
        return _page({k: _(v) for k, v in exc.field_errors.items()} or {"": _(exc.message)}, 422)
    flash(_("Die Abwesenheit wurde eingetragen."), "success")
    return redirect(url_for("absences.index"))


@bp.post("/<int:absence_id>/beenden")
def end(absence_id: int) -> Response:
    """End an absence now (or delete a planned one)."""
    hilfenetz().end_absence(current_actor(), absence_id)
    flash(_("Die Abwesenheit wurde beendet."), "success")
    return redirect(url_for("absences.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
