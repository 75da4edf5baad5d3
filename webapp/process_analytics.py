"""Prozessauswertung: per element of a process diagram, how often it ran and how long cases stayed
there (a heatmap over the bpmn-js viewer and the same figures as a table). Koordination and
Steuerungsgruppe only; the figures come from engine/process_analytics.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.errors import InvalidSubmissionError
from engine.process_analytics import ElementFigures, ProcessAnalytics
from engine.read_models import Actor
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("process_analytics", __name__, url_prefix="/auswertung/prozess")

ROLES = ("Koordination", "Steuerungsgruppe")
MINUTE, HOUR, DAY = 60, 3600, 86400


def shows_navigation(actor: Actor) -> bool:
    return any(actor.has_role(role) for role in ROLES)


def duration_text(seconds: float | None) -> str:
    """A duration for people: „3 Tage 4 Std.“, „5 Std. 20 Min.“, „12 Min.“, „< 1 Min.“."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < MINUTE:
        return _("< 1 Min.")
    if whole < HOUR:
        return _("{m} Min.", m=whole // MINUTE)
    if whole < DAY:
        hours, minutes = divmod(whole // MINUTE, 60)
        return _("{h} Std. {m} Min.", h=hours, m=minutes) if minutes else _("{h} Std.", h=hours)
    days, hours = divmod(whole // HOUR, 24)
    day_text = _("1 Tag") if days == 1 else _("{d} Tage", d=days)
    return f"{day_text} {_('{h} Std.', h=hours)}" if hours else day_text


def runs_text(figures: ElementFigures, min_cases: int) -> str:
    """„< 5“ (suppressed), „0“, or the rounded count „≈ 10“."""
    if figures.suppressed:
        return f"< {min_cases}"
    return _approximately(figures.runs)


def open_text(figures: ElementFigures, min_cases: int) -> str:
    """„< 5“ for 1 … 4 open runs, „–“ when withheld or suppressed, else the rounded count."""
    if figures.open_small:
        return f"< {min_cases}"
    if figures.open_runs is None:
        return "–"
    return _approximately(figures.open_runs)


def _approximately(count: int | None) -> str:
    if not count:
        return "0"
    return f"≈ {count}"


def heat_label(heat: int | None) -> str:
    """The heat class in words (the colour is never the only sign)."""
    if heat is None:
        return _("keine Angabe")
    return _("Stufe {n} von 5", n=heat + 1)


def legend(result: ProcessAnalytics) -> list[tuple[int, str]]:
    """(class, range in words) for each heat class."""
    bounds = list(result.heat_bounds)
    if not bounds:
        return [(0, _("alle Zeiten gleich (oder keine)"))]
    lower = [0.0, *bounds]
    items = []
    for heat, low in enumerate(lower):
        if heat < len(bounds):
            items.append((heat, _("bis {t}", t=duration_text(bounds[heat]))))
        else:
            items.append((heat, _("über {t}", t=duration_text(low))))
    return items


def overlay_data(result: ProcessAnalytics) -> list[dict[str, Any]]:
    """What js/heatmap.js puts on the diagram, already worded in the page's language."""
    data = []
    for f in result.elements:
        if f.suppressed:
            text = _("< {n} Fälle", n=result.min_cases)
        elif not f.runs:
            text = _("0 Durchläufe")
        elif f.median_seconds is None:
            text = _("{n}× · Zeiten: zu wenige abgeschlossen", n=_approximately(f.runs))
        else:
            text = _(
                "{n}× · Median {median} · 90 % {p90}",
                n=_approximately(f.runs),
                median=duration_text(f.median_seconds),
                p90=duration_text(f.p90_seconds),
            )
        data.append({"id": f.element_id, "text": text, "heat": f.heat})
    return data


@bp.get("")
def index() -> Response | str:
    """The chooser; a chosen process goes to its own address (bookmarkable)."""
    choices = hilfenetz().analytics_processes(current_actor())
    key = request.args.get("prozess", "")
    if key in {c.process_key for c in choices}:
        args = {k: v for k in ("von", "bis", "version") if (v := request.args.get(k, ""))}
        return redirect(url_for("process_analytics.show", process_key=key, **args))
    return render_template(
        "process_analytics/index.html", choices=choices, result=None, errors={}, selected_key=""
    )


@bp.get("/<process_key>")
def show(process_key: str) -> tuple[str, int] | str:
    """Heatmap and table of one process, version and period."""
    actor = current_actor()
    choices = hilfenetz().analytics_processes(actor)
    args = request.args
    try:
        result = hilfenetz().process_analytics(
            actor, process_key, args.get("von"), args.get("bis"), args.get("version")
        )
    except InvalidSubmissionError as refused:
        page = render_template(
            "process_analytics/show.html",
            result=None,
            choices=choices,
            process_key=process_key,
            selected_key=process_key,
            message=_(refused.message),
            errors={k: _(v) for k, v in refused.field_errors.items()},
        )
        return page, 422
    return render_template(
        "process_analytics/show.html",
        result=result,
        choices=choices,
        process_key=process_key,
        selected_key=process_key,
        overlays=overlay_data(result),
        legend=legend(result),
        errors={},
        page_assets=("diagram",),
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        shows_process_analytics=shows_navigation,
        analytics_duration=duration_text,
        analytics_runs=runs_text,
        analytics_open=open_text,
        analytics_heat_label=heat_label,
    )
