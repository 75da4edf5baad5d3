"""Ids beyond the database's integer columns answer 404, never 500: every route with an ``<int:…>``
path argument (pages and API, GET and POST, signed in and with an all-scope token) on SQLite and
PostgreSQL, the bound in the OpenAPI document, and a draft id of 30 digits in the upload form."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from engine.service import Hilfenetz
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_webapp_auth import login
from webapp.url_ids import MAX_ID

HUGE = 10**30
#: Path arguments that are not ids: any value that builds a URL will do (the id does not match).
TEXT_VALUES = {"fmt": "json", "filename": "none.css", "jahr": 2026}
COORDINATOR = "koordination.jugendamt"


@pytest.fixture
def hn(tmp_path, any_db_url, clock, definitions) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, any_db_url, clock, definitions)
    yield engine
    engine.db.dispose()


def id_urls(app: Flask, number: int) -> list[tuple[str, str]]:
    """(method, url) for every rule with an integer path argument, that argument set to ``number``."""
    adapter = app.url_map.bind("localhost")
    urls = []
    for rule in app.url_map.iter_rules():
        converters = rule._converters  # werkzeug keeps them only there
        if not any(isinstance(c, IntegerConverter) for c in converters.values()):
            continue
        values = {
            name: number if isinstance(c, IntegerConverter) else TEXT_VALUES.get(name, "x")
            for name, c in converters.items()
        }
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            urls.append((method, adapter.build(rule.endpoint, values, method=method)))
    return urls


@pytest.mark.parametrize("number", [HUGE, MAX_ID + 1])
def test_every_int_route_answers_404_to_an_id_beyond_the_integer_columns(hn, app, number):
    urls = id_urls(app, number)
    assert len(urls) > 30 and any(u.startswith("/api/v1/") for _m, u in urls)
    client = app.test_client()
    token = login(client, COORDINATOR)
    scopes = ["lesen", "schreiben", "abstimmen"]
    secret = hn.create_access_token(actor_lookup(hn)(COORDINATOR), "Test", scopes, None).secret
    failures = []
    for method, url in urls:
        if url.startswith("/api/"):
            response = client.open(url, method=method, headers={"Authorization": f"Bearer {secret}"})
        else:
            response = client.open(url, method=method, data={"csrf_token": token})
        # 405 where a rule for another method has the same path: werkzeug checks the method
        # before it converts the id (the URL still does not exist; nothing reaches the database).
        if response.status_code not in (404, 405):
            failures.append((method, url, response.status_code))
    assert not failures, failures


def test_the_largest_id_is_an_ordinary_missing_id(hn, app):
    client = app.test_client()
    login(client, COORDINATOR)
    for url in (f"/vorgaenge/{MAX_ID}", f"/abstimmungen/{MAX_ID}", f"/modellierung/entwurf/{MAX_ID}"):
        assert client.get(url).status_code == 404, url


def test_the_openapi_document_states_the_bound(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    parameters = [
        p
        for path in document["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict)
        for p in operation.get("parameters", []) + path.get("parameters", [])
        if isinstance(p, dict) and p.get("in") == "path" and p["schema"].get("type") == "integer"
    ]
    assert parameters and all(p["schema"]["maximum"] == MAX_ID for p in parameters)


@pytest.mark.parametrize("change_id", [str(HUGE), str(MAX_ID + 1), "²", "-1"])
def test_an_upload_into_a_draft_id_that_cannot_exist_is_refused_in_german(hn, app, change_id):
    client = app.test_client()
    token = login(client, COORDINATOR)
    data = {"csrf_token": token, "change_id": change_id, "datei": (io.BytesIO(b"<x/>"), "a.bpmn")}
    response = client.post("/modellierung/hochladen", data=data, content_type="multipart/form-data")
    assert response.status_code == 404 and "Entwurf nicht gefunden." in response.get_data(as_text=True)
