"""Settings are checked at start-up; candidateStarterGroups limits who may start a process."""

from __future__ import annotations

import pytest

from engine.errors import ConfigurationError, NotPermittedError
from engine.settings import Settings
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn


def test_settings_refuse_typos_missing_secret_and_bad_numbers():
    with pytest.raises(ConfigurationError, match="Unbekannte"):
        Settings.from_env({"HILFENETZ_DATABSE_URL": "x", "HILFENETZ_DEV": "1"})
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings.from_env({})
    with pytest.raises(ConfigurationError, match="ganze Zahl"):
        Settings.from_env({"HILFENETZ_DEV": "1", "HILFENETZ_TRUSTED_PROXIES": "-1"})
    with pytest.raises(ConfigurationError, match="keine Zahl"):
        Settings.from_env({"HILFENETZ_DEV": "1", "HILFENETZ_SCRIPT_TIME_LIMIT": "zwei"})
    ok = Settings.from_env({"HILFENETZ_SECRET_KEY": "s", "HILFENETZ_TRUSTED_PROXIES": "1"})
    assert ok.trusted_proxies == 1 and not ok.dev


def test_candidate_starter_groups_limit_who_may_start(engine_for):
    bpmn = chain_bpmn(pid="nur_fachkraefte").replace(
        'isExecutable="true"', 'isExecutable="true" camunda:candidateStarterGroups="Fachkraft,Koordination"'
    )
    hn = engine_for({"nur_fachkraefte": bpmn})
    look = actor_lookup(hn)
    press, worker = look("presse.kreis"), look("fachkraft.polizei")
    assert [p.may_start for p in hn.processes(press)] == [False]
    with pytest.raises(NotPermittedError):
        hn.start(press, "nur_fachkraefte", {})
    assert hn.start(worker, "nur_fachkraefte", {})
    assert [s.open_task_count for s in hn.my_instances(worker)] == [1]
