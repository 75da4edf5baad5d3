"""Access to the engine facade and the signed-in actor for the current request."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user

from engine.read_models import Actor
from engine.service import Hilfenetz


def hilfenetz() -> Hilfenetz:
    """The engine facade of this app (the only thing views may call)."""
    engine: Hilfenetz = current_app.extensions["hilfenetz"]
    return engine


def current_actor() -> Actor:
    """The signed-in user as the engine's Actor (views run only after the login check)."""
    actor: Actor = current_user.actor
    return actor
