"""Organisations admitted by another process reach this process's routing without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import partners, service
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import chain_bpmn, write_definitions


def test_a_partner_admitted_elsewhere_is_routed_to_after_the_cache_age(
    tmp_path: Path, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = write_definitions(
        tmp_path / "d", {"neu": chain_bpmn("neu", tasks=1, groups="Leitung@neu-partner")}
    )
    url = f"sqlite:///{tmp_path / 'c.db'}"
    web = build_engine(tmp_path, url, clock, defs)
    worker = build_engine(tmp_path, url, clock, defs)  # another process on the same database
    look = actor_lookup(worker)
    with worker.db.write() as session:
        accounts = [{"benutzername": "leitung.neu", "anzeigename": "Leitung Neu"}]
        partners.create_organisation(session, clock.now(), None, "neu-partner", "Neu e. V.", False, accounts)
        session.commit()
    monkeypatch.setattr(service, "CACHE_MAX_AGE_SECONDS", 0.0)
    web.start(look("koordination.jugendamt"), "neu", {})
    mine = web.worklist(look("leitung.neu"), WorklistQuery(view="gruppe")).tasks
    assert [t.element_id for t in mine] == ["aufgabe_1"]  # not re-routed to the Koordination
    web.db.dispose()
    worker.db.dispose()
