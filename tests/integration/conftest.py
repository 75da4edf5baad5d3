"""Flask fixtures for the HTTP tests: the app over the module's ``hn`` engine, and a client.

A module that needs another engine defines its own ``hn`` (or ``app``); these pick it up.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.service import Hilfenetz
from tests.integration.test_webapp_auth import make_app


@pytest.fixture
def app(hn: Hilfenetz) -> Flask:
    return make_app(hn)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client
