"""schemathesis against the live OpenAPI document of ``/api/v1`` (through WSGI, with a valid token):
every operation, generated requests — no server error, every response conforms to the document
(status code, content type, body schema).

The data are seeded so that the generated requests meet real objects: running cases with open
tasks, a ballot, directory entries. Half of the examples replace the generated path parameters by
the ids of those objects (otherwise almost every request would be a 404).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from engine.persistence.models import UserTask

#: Examples per operation: 16 operations x 12 keeps the run at well under a minute.
EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def seed(hn, actor, clock) -> dict[str, Any]:
    """Cases with open tasks, a ballot and the directory; the ids generated paths may point to."""
    coordination = actor("koordination.jugendamt")
    instance_ids = [hn.start(actor("fachkraft.frauenberatung"), "kette", {}) for _ in range(3)]
    with hn.db.read() as session:
        task_ids = list(session.scalars(select(UserTask.id).where(UserTask.status == "open")))
    ballot_id = hn.open_ballot(
        "Förderantrag", None, None, clock.now() + timedelta(days=7), False, coordination
    )
    return {
        "task_id": task_ids,
        "instance_id": instance_ids,
        "ballot_id": [ballot_id],
        "key": ["kette"],
        "organisation": ["frauenberatung-soest", "kreisjugendamt"],
    }


def test_every_operation_conforms_to_the_openapi_document(app, hn, actor, clock):
    real = seed(hn, actor, clock)
    scopes = ["lesen", "schreiben", "abstimmen"]
    headers = {  # the tasks' candidate works on tasks; the coordination sees cases and ballots
        username: {
            "Authorization": f"Bearer {hn.create_access_token(actor(username), 'st', scopes, None).secret}"
        }
        for username in ("fachkraft.frauenberatung", "koordination.jugendamt")
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 16

    for operation in operations:
        tasks = operation.path.startswith("/api/v1/tasks")
        run(operation, headers["fachkraft.frauenberatung" if tasks else "koordination.jugendamt"], real)


def run(operation: Any, headers: dict[str, str], real: dict[str, Any]) -> None:
    """Generated requests for one operation, each validated by :data:`CHECKS`."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), use_real=st.booleans(), pick=st.integers(0, 10))
    def check(case: Any, use_real: bool, pick: int) -> None:
        if use_real and case.path_parameters:
            for name in case.path_parameters:
                choices = real[name]
                case.path_parameters[name] = choices[pick % len(choices)]
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
