"""Each role finds exactly its own work (issue 3): one case of every network process (P5–P12) is
started as its first scenario starts it, the press release is approved, and the worklists of a
coordinator, a steering-group member, a Fachkraft and the press office hold exactly these tasks,
with their German names."""

from __future__ import annotations

import json
from typing import Any

from engine.service import Hilfenetz
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup
from tests.processes.test_scenarios import PROCESSES, engine  # noqa: F401  (fixture)

NETWORK_PROCESSES = (
    "foerderantrag",
    "netzwerktreffen",
    "steuerungsgruppe",
    "arbeitsgruppe",
    "verzeichnispflege",
    "pressemitteilung",
    "vereinbarungsueberpruefung",
    "partnerschaft",
)
PROPOSALS = ("Überprüfung der Kooperationsvereinbarung", "Änderungsvorschläge einreichen")
EXPECTED = {
    # Koordination (and Steuerungsgruppe) of the Kreisjugendamt: the partner's fit check and its
    # own organisation's proposals for the agreement.
    "koordination.jugendamt": {("Partner treten bei oder aus", "Passung prüfen"), PROPOSALS},
    # A steering-group member who is not a coordinator: her organisation's proposals only.
    "fachkraft.gleichstellung": {PROPOSALS},
    # A police Fachkraft: the police's directory review, topics for the meeting, proposals.
    "fachkraft.polizei": {
        ("Verzeichnispflege", "Verzeichniseintrag prüfen"),
        ("Netzwerktreffen und Fachtag", "Themen für das Treffen einreichen"),
        PROPOSALS,
    },
    # The press office: only the approved press release.
    "presse.kreis": {("Pressemitteilung", "Pressemitteilung veröffentlichen")},
}


def first_scenario(process: str) -> dict[str, Any]:
    data = json.loads((PROCESSES / f"{process}.scenarios.json").read_text(encoding="utf-8"))
    return dict(data["scenarios"][0])


def test_each_role_finds_exactly_its_work(engine: Hilfenetz) -> None:  # noqa: F811
    look = actor_lookup(engine)
    started = {}
    for process in NETWORK_PROCESSES:
        start = first_scenario(process)["start"]
        started[process] = engine.start(look(start["as"]), process, start.get("data", {}))
    approval = next(
        s for s in first_scenario("pressemitteilung")["steps"] if s.get("complete") == "Task_Freigabe"
    )
    coordinator = look(approval["as"])
    tasks = engine.worklist(coordinator, WorklistQuery(view="alle", per_page=200)).tasks
    task = next(
        t for t in tasks if t.instance_id == started["pressemitteilung"] and t.element_id == "Task_Freigabe"
    )
    engine.complete(coordinator, task.id, approval["data"])

    for username, expected in EXPECTED.items():
        page = engine.worklist(look(username), WorklistQuery(view="alle", per_page=200))
        found = {(t.process_name, t.name) for t in page.tasks if t.instance_id in started.values()}
        assert found == expected, username
        assert page.total == len(page.tasks) == len(found), username  # nothing from elsewhere
