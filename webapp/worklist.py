"""Meine Aufgaben: the worklist with views, filters, sorting and paging."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Flask, g, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from engine.worklist import WorklistQuery
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("worklist", __name__)

VIEWS = (
    ("meine", "Mir zugewiesen"),
    ("gruppe", "Zur Übernahme"),
    ("alle", "Alle offenen"),
    ("erledigt", "Erledigt"),
)
STATES = (
    ("", "alle"),
    ("ueberfaellig", "überfällig"),
    ("heute", "heute fällig"),
    ("ohne_frist", "ohne Frist"),
)
SORTS = (("faelligkeit", "Fälligkeit"), ("prioritaet", "Priorität"), ("erstellt", "Erstellt"))
DATE_ERROR = "Bitte geben Sie ein Datum wie 24.11.2026 ein."
DATE_RANGE_ERROR = "Bitte geben Sie ein Datum zwischen dem 01.01.2000 und dem 31.12.2100 ein."
#: Days a filter may name (outside, adding a day or turning Berlin time into UTC would overflow).
YEARS = range(2000, 2101)


class DayOutOfRange(ValueError):
    """A well-formed date outside ``YEARS``."""


def parse_day(text: str) -> date | None:
    """A date from a date input (2026-11-24) or typed in German notation (24.11.2026), 2000–2100."""
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
        if day.year not in YEARS:
            raise DayOutOfRange(text)
        return day
    raise ValueError(text)


def day_error(error: ValueError) -> str:
    """The German message for a date ``parse_day`` refused."""
    return _(DATE_RANGE_ERROR) if isinstance(error, DayOutOfRange) else _(DATE_ERROR)


def parse_page(text: str) -> int:
    """A page number from the query string; anything but plain ASCII digits means page 1."""
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else 1


def parse_days(
    args: MultiDict[str, str], names: tuple[str, ...], errors: dict[str, str]
) -> dict[str, date | None]:
    """The date filters ``names`` from GET parameters (empty: None); a German message in
    ``errors`` for each that was not understood."""
    days: dict[str, date | None] = {}
    for name in names:
        days[name] = None
        if args.get(name, "").strip():
            try:
                days[name] = parse_day(args[name])
            except ValueError as error:
                errors[name] = day_error(error)
    return days


def query_from(args: MultiDict[str, str]) -> tuple[WorklistQuery, dict[str, str]]:
    """The worklist query from GET parameters, and German messages for fields that were not understood."""
    errors: dict[str, str] = {}
    days = parse_days(args, ("due_from", "due_to"), errors)
    query = WorklistQuery(
        view=args.get("view", "alle"),
        process_key=args.get("process", ""),
        state=args.get("state", ""),
        due_from=days["due_from"],
        due_to=days["due_to"],
        sort=args.get("sort", "faelligkeit"),
        page=parse_page(args.get("page", "1")),
    )
    return query.normalised(), errors


def page_url(**changes: Any) -> str:
    """This worklist URL with some parameters changed (keeps the filters)."""
    args = {**request.args.to_dict(), **changes}
    return url_for("worklist.index", **{k: v for k, v in args.items() if v not in ("", None)})


@bp.get("/aufgaben")
def index() -> tuple[str, int]:
    """Meine Aufgaben: the chosen view, filtered and paged (422 when a filter was not understood)."""
    query, errors = query_from(request.args)
    actor = current_actor()
    page = hilfenetz().worklist(actor, query)
    html = render_template(
        "worklist/index.html",
        page=page,
        query=query,
        errors=errors,
        processes=hilfenetz().processes(actor),
        views=VIEWS,
        states=STATES,
        sorts=SORTS,
        page_url=page_url,
    )
    return html, 422 if errors else 200


def open_task_count() -> int | None:
    """Tasks assigned to me plus tasks I may take over (for the navigation badge), once per request."""
    if "open_task_count" not in g:
        g.open_task_count = 0
        if current_user.is_authenticated:
            counts = hilfenetz().worklist(current_actor(), WorklistQuery(view="meine", per_page=1)).counts
            g.open_task_count = counts.get("meine", 0) + counts.get("gruppe", 0)
    return g.open_task_count  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(open_task_count=open_task_count)
