"""Every GET route answers hostile query strings without a 500: digits that are not ASCII (``²``,
which ``str.isdigit`` accepts and ``int`` refuses), days whose Berlin bounds overflow (9999-12-31,
0001-01-01) and page numbers far too large. Filters that are not understood answer 422 with a German
message; everything else simply ignores them."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.persistence.models import Organisation, ProcessInstance
from tests.conftest import actor_lookup
from tests.integration import test_webapp_audit
from tests.integration.test_webapp_audit import READER, Case, api_headers
from tests.integration.test_webapp_auth import login

#: The fixtures of the audit tests: a Hilfenetz with a case, a ballot and a consent.
p6, app, client, case = (
    test_webapp_audit.p6,
    test_webapp_audit.app,
    test_webapp_audit.client,
    test_webapp_audit.case,
)
HOSTILE = (
    "page=%C2%B2",
    "page=99999999999999999999",
    "vorgang=%C2%B2",
    "version=%C2%B2",
    "date_from=0001-01-01",
    "date_to=9999-12-31",
    "due_from=0001-01-01&due_to=9999-12-31",
    "von=9999-12-31",
    "von=0001-01-01&bis=9999-12-31",
    "bis=0001-01-01",
    "von=01.01.0001&bis=31.12.9999&date_from=31.12.9999&due_to=31.12.9999",
)
#: The filters of these pages answer 422 for every hostile value above that names them.
VALIDATED = {
    "audit.index": ("vorgang=", "date_from=", "date_to="),
    "worklist.index": ("due_from=", "due_to="),
    "dashboard.index": ("von=", "bis="),
    "process_analytics.show": ("von=", "bis=", "version="),
    "api-tasks.index": ("page=", "due_from=", "due_to="),
    **{f"api-{name}": ("page=",) for name in ("processes.index", "processes.versions", "instances.index")},
    **{f"api-{name}": ("page=",) for name in ("ballots.index", "directory.index")},
}


def route_values(p6, case: Case) -> dict[str, object]:
    with p6.db.read() as session:
        process_key = session.scalar(
            select(ProcessInstance.process_key).where(ProcessInstance.id == case.instance_id)
        )
        definition_id = session.scalar(
            select(ProcessInstance.definition_id).where(ProcessInstance.id == case.instance_id)
        )
        organisation = session.scalars(select(Organisation.slug).order_by(Organisation.id)).first()
    coordinator = actor_lookup(p6)("koordination.jugendamt")
    draft_id = p6.create_model_draft(coordinator, "bpmn", "feindliche_anfrage", "Feindliche Anfrage")
    return {
        "ballot_id": case.ballot_id,
        "instance_id": case.instance_id,
        "consent_id": case.consent_id,
        "task_id": case.task_id,
        "jahr": 2026,
        "username": "fachkraft.polizei",
        "fmt": "json",
        "process_key": process_key,
        "key": process_key,
        "definition_id": definition_id,
        "organisation": organisation,
        "filename": "none.css",
        "draft_id": draft_id,
    }


def get_urls(app: Flask, values: dict[str, object]) -> dict[str, str]:
    """One URL per GET endpoint, its path arguments filled in from a real case."""
    adapter = app.url_map.bind("localhost")
    urls = {}
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and rule.endpoint not in urls:
            urls[rule.endpoint] = adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments})
    return urls


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_get_route_answers_500_to_a_hostile_query_string(app, p6, case, hostile):
    urls = get_urls(app, route_values(p6, case))
    clients: dict[str, FlaskClient] = {}
    tokens: dict[str, dict[str, str]] = {}
    failures = []
    for endpoint, path in sorted(urls.items()):
        username = READER.get(endpoint.split(".")[0], "koordination.jugendamt")
        if username not in clients:
            clients[username] = app.test_client()
            login(clients[username], username)
        url = f"{path}{'&' if '?' in path else '?'}{hostile}"
        headers = tokens.setdefault(username, api_headers(p6, username)) if path.startswith("/api/") else {}
        try:
            status = clients[username].get(url, headers=headers).status_code
        except Exception as error:  # TESTING propagates what would be a 500
            failures.append((url, repr(error)))
            continue
        if status >= 500:
            failures.append((url, status))
        named = any(hostile.startswith(p) or f"&{p}" in hostile for p in VALIDATED.get(endpoint, ()))
        if named and status != 422:
            failures.append((url, f"{status}, 422 erwartet"))
    assert not failures


def test_the_audit_search_names_the_permitted_days_in_german(client, p6):
    login(client, "datenschutz.kreis")
    response = client.get("/audit-protokoll?date_to=9999-12-31&page=%C2%B2")
    assert response.status_code == 422
    assert "zwischen dem 01.01.2000 und dem 31.12.2100" in response.get_data(as_text=True)
    response = client.get("/audit-protokoll?vorgang=%C2%B2")
    assert response.status_code == 422 and "nur Ziffern" in response.get_data(as_text=True)
    assert client.get("/audit-protokoll?page=%C2%B2").status_code == 200
    english = client.get("/audit-protokoll?date_from=0001-01-01&lang=en").get_data(as_text=True)
    assert "Please enter a date between 01.01.2000 and 31.12.2100." in english
