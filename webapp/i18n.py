"""A small dict-based translator: German source strings are the keys, ``translations/en.json`` the English.

No gettext build step. ``_()`` works in views and templates; the locale comes from an explicit choice
in this session (``?lang=en`` or the language selector), else the user's saved preference, else German.
Dates are shown in Europe/Berlin in German notation (24.11.2026 14:30).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, g, has_request_context, redirect, request, session
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.facade import hilfenetz
from webapp.navigation import safe_next

LOCALES = ("de", "en")
BERLIN = ZoneInfo("Europe/Berlin")
_CATALOGUE: dict[str, dict[str, str]] = {
    "en": json.loads((Path(__file__).parent / "translations" / "en.json").read_text(encoding="utf-8")),
}

bp = Blueprint("i18n", __name__)


def current_locale() -> str:
    """The locale chosen for this request ("de" outside a request)."""
    return str(g.get("locale", "de")) if has_request_context() else "de"


def gettext(text: str, **values: Any) -> str:
    """Translate a German source string and fill in ``{name}`` placeholders."""
    translated = _CATALOGUE.get(current_locale(), {}).get(text, text)
    return translated.format(**values) if values else translated


_ = gettext


def _select_locale() -> None:
    """Pick the locale: ``?lang=`` switch, then this session's choice, then the saved preference.
    The REST API never touches the session (``webapp/api/auth.py`` picks its locale)."""
    if request.path.startswith("/api/"):
        return
    wanted = request.args.get("lang", "")
    if wanted in LOCALES:
        remember_choice(wanted)
    chosen = session.get("lang")
    if chosen in LOCALES:
        g.locale = chosen
    elif current_user.is_authenticated:
        g.locale = current_user.actor.locale if current_user.actor.locale in LOCALES else "de"
    else:
        g.locale = "de"


def remember_choice(locale: str) -> None:
    """Keep an explicit language choice in the session and, when signed in, as the user's preference."""
    session["lang"] = locale
    if current_user.is_authenticated and current_user.actor.locale != locale:
        hilfenetz().set_locale(current_user.actor, locale)


@bp.post("/sprache")
def choose_language() -> Response:
    """Language selector in the header (POST with CSRF)."""
    locale = request.form.get("lang", "")
    if locale in LOCALES:
        remember_choice(locale)
    return redirect(safe_next(request.form.get("next"), "/"))


def switch_target() -> str:
    """This page's path and query without ``lang`` (where the language selector returns to)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return request.path + ("?" + urlencode(args) if args else "")


def _local(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(BERLIN)


def format_datetime(value: datetime | None) -> str:
    """24.11.2026 14:30 in Europe/Berlin; empty for None."""
    return _local(value).strftime("%d.%m.%Y %H:%M") if value else ""


def format_date(value: date | datetime | None) -> str:
    """24.11.2026 (a datetime is converted to Europe/Berlin first)."""
    if value is None:
        return ""
    return (_local(value) if isinstance(value, datetime) else value).strftime("%d.%m.%Y")


def iso_datetime(value: datetime | None) -> str:
    """Machine-readable value for ``<time datetime>``."""
    return _local(value).isoformat(timespec="minutes") if value else ""


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_select_locale)
    app.jinja_env.globals.update(_=gettext, current_locale=current_locale, switch_target=switch_target)
    app.jinja_env.filters.update(datum=format_datetime, tag=format_date, iso=iso_datetime)
