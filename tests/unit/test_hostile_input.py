"""Hostile diagrams and scripts through the whole engine: refused with German messages, nothing saved."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.checks import check_files
from engine.errors import InvalidDefinitionError, ScriptError
from engine.persistence.models import ProcessInstance
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn, script_bpmn, with_retention

XXE = '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + chain_bpmn().split(
    "\n", 1
)[1].replace('name="Kette kette"', 'name="&x;"')


def test_deploy_refuses_doctype_and_entities(hn):
    path = hn.settings.processes_dir / "boese.bpmn"
    path.write_text(XXE.replace('id="kette"', 'id="boese"'), encoding="utf-8")
    with pytest.raises(InvalidDefinitionError) as err:
        hn.deploy_file(path)
    reasons = " ".join(p.reason for p in err.value.problems)
    assert "nicht erlaubt" in reasons and "root:" not in reasons


def test_deploy_refuses_oversized_file(hn):
    path = hn.settings.processes_dir / "gross.bpmn"
    path.write_text(
        chain_bpmn(pid="gross").replace(
            "</bpmn:definitions>", "<!--" + "x" * 2_100_000 + "--></bpmn:definitions>"
        ),
        encoding="utf-8",
    )
    with pytest.raises(InvalidDefinitionError):
        hn.deploy_file(path)


def test_deploy_reports_missing_form_and_wrong_process_id(hn):
    path = hn.settings.processes_dir / "falsch.bpmn"
    path.write_text(with_retention(chain_bpmn(pid="anders")), encoding="utf-8")
    with pytest.raises(InvalidDefinitionError) as err:
        hn.deploy_file(path)
    assert "id = Dateiname" in err.value.problems[0].reason
    path.write_text(with_retention(chain_bpmn(pid="falsch", form="gibtsnicht")), encoding="utf-8")
    with pytest.raises(InvalidDefinitionError) as err:
        hn.deploy_file(path)
    assert "gibtsnicht" in err.value.problems[0].reason


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("x = __import__('os').system('id')", "__import__"),
        ("x = ().__class__.__base__.__subclasses__()", "__class__"),
        ("x = 0\nwhile True:\n    x = x + 1", "Endlosschleife"),
        ("x = open('/etc/passwd').read()", "„open“"),
    ],
)
def test_hostile_script_task_is_refused_at_deployment(hn, script, reason):
    path = hn.settings.processes_dir / "skript.bpmn"
    path.write_text(script_bpmn("skript", script.replace("'", "&apos;")), encoding="utf-8")
    with pytest.raises(InvalidDefinitionError) as err:
        hn.deploy_file(path)
    assert any(p.reason.startswith("Skript: ") and reason in p.reason for p in err.value.problems)
    assert all(p.file == "skript.bpmn" for p in err.value.problems)


@pytest.mark.parametrize(
    "script",
    ["x = 'a' * 10**10", "x = 0\nwhile x >= 0:\n    x = x + 1"],
)
def test_hostile_script_task_fails_cleanly_and_saves_nothing(engine_for, script):
    hn = engine_for({"skript": script_bpmn("skript", script.replace("'", "&apos;"))})
    coord = actor_lookup(hn)("koordination.jugendamt")
    with pytest.raises(ScriptError) as err:
        hn.start(coord, "skript", {})
    assert err.value.message
    with hn.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == 0


def test_harmless_script_task_runs(engine_for):
    hn = engine_for({"skript": script_bpmn("skript", "summe = sum([1, 2, 3])")})
    coord = actor_lookup(hn)("koordination.jugendamt")
    instance_id = hn.start(coord, "skript", {})
    assert hn.instance_detail(coord, instance_id).status == "running"


def test_check_command_lists_problems(hn, tmp_path):
    bad = tmp_path / "ohne.bpmn"
    bad.write_text(with_retention(chain_bpmn(pid="ohne", groups="Fachkraft@@x")), encoding="utf-8")
    problems = check_files([bad, hn.settings.processes_dir / "kette.bpmn"], hn.settings.forms_dir)
    assert problems and all(p.file == "ohne.bpmn" for p in problems)
    assert any("Kandidatengruppe" in p.reason for p in problems)
