"""Hilfenetz web app: thin Flask views over the engine facade :class:`engine.service.Hilfenetz`."""

from __future__ import annotations

from typing import Any

from flask import Flask

from engine.service import Hilfenetz
from engine.settings import Settings
from webapp import (
    absences,
    access_tokens,
    accessibility,
    api,
    audit,
    auth,
    ballots,
    body_limits,
    consents,
    dashboard,
    datenschutz,
    errors,
    i18n,
    instances,
    labels,
    meetings,
    modell_migration,
    modellierung,
    modellierung_tabelle,
    notifications,
    oidc,
    operations,
    pages,
    partners,
    process_analytics,
    processes,
    security,
    tasks,
    url_ids,
    verzeichnis,
    worklist,
)


def create_app(test_config: dict[str, Any] | None = None, *, hilfenetz: Hilfenetz | None = None) -> Flask:
    """Build the app around an engine (from ``HILFENETZ_*`` settings unless one is injected)."""
    if hilfenetz is None:
        hilfenetz = Hilfenetz(Settings.from_env())
        hilfenetz.migrate()
    app = Flask(__name__)
    url_ids.init_app(app)  # before any blueprint: its rules pick the converter when added
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    security.configure(app, hilfenetz.settings)
    if test_config:
        app.config.from_mapping(test_config)
    app.extensions["hilfenetz"] = hilfenetz
    for subsystem in (
        i18n,
        auth,
        oidc,
        security,
        body_limits,
        errors,
        labels,
        pages,
        worklist,
        tasks,
        processes,
        instances,
        absences,
        notifications,
        ballots,
        meetings,
        partners,
        verzeichnis,
        operations,
        datenschutz,
        consents,
        process_analytics,
        dashboard,
        audit,
        modellierung,
        modellierung_tabelle,
        modell_migration,
        access_tokens,
        api,
        accessibility,
    ):
        subsystem.init_app(app)
    return app


__all__ = ["create_app"]
