"""Meine Aufgaben: the worklist with views, filters, sorting and paging."""

from __future__ import annotations

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


def parse_day(text: str) -> date | None:
    """A date from a date input (2026-11-24) or typed in German notation (24.11.2026)."""
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def query_from(args: MultiDict[str, str]) -> tuple[WorklistQuery, dict[str, str]]:
    """The worklist query from GET parameters, and German messages for fields that were not understood."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name in ("due_from", "due_to"):
        days[name] = None
        if args.get(name, "").strip():
            try:
                days[name] = parse_day(args[name])
            except ValueError:
                errors[name] = _(DATE_ERROR)
    page = args.get("page", "1")
    query = WorklistQuery(
        view=args.get("view", "alle"),
        process_key=args.get("process", ""),
        state=args.get("state", ""),
        due_from=days["due_from"],
        due_to=days["due_to"],
        sort=args.get("sort", "faelligkeit"),
        page=int(page) if page.isdigit() else 1,
    )
    return query.normalised(), errors


def page_url(**changes: Any) -> str:
    """This worklist URL with some parameters changed (keeps the filters)."""
    args = {**request.args.to_dict(), **changes}
    return url_for("worklist.index", **{k: v for k, v in args.items() if v not in ("", None)})


@bp.get("/aufgaben")
def index() -> str:
    """Meine Aufgaben: the chosen view, filtered and paged."""
    query, errors = query_from(request.args)
    actor = current_actor()
    page = hilfenetz().worklist(actor, query)
    return render_template(
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
