"""The embedded job runner fires due timers; the CLI's check command reports and sets its exit status."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from engine.jobs import EmbeddedJobRunner
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn, timer_bpmn, with_retention
from webapp.cli import main


def escalated(hn, lead) -> bool:
    return [t.element_id for t in hn.worklist(lead, WorklistQuery(view="gruppe")).tasks] == ["eskalation"]


def test_runner_fires_due_timers_in_its_thread(engine_for, clock):
    hn = engine_for({"erinnerung": timer_bpmn()})
    user, lead = actor_lookup(hn)("fachkraft.frauenberatung"), actor_lookup(hn)("leitung.frauenberatung")
    hn.start(user, "erinnerung", {})
    runner = EmbeddedJobRunner(hn, interval_seconds=0.05)
    assert runner.run_once() == 0
    runner.start()
    try:
        clock.advance(timedelta(days=3))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not escalated(hn, lead):
            time.sleep(0.05)
    finally:
        runner.stop()
    assert escalated(hn, lead)


def test_check_command_exit_status_and_one_line_per_problem(tmp_path, capsys, monkeypatch):
    good = tmp_path / "kette.bpmn"
    good.write_text(with_retention(chain_bpmn()), encoding="utf-8")
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "notiz.form").write_text(
        '{"id": "notiz", "type": "default", "components": '
        '[{"type": "textfield", "key": "notiz", "label": "Notiz", "id": "n"}]}',
        encoding="utf-8",
    )
    monkeypatch.setenv("HILFENETZ_DEV", "1")
    monkeypatch.setenv("HILFENETZ_FORMS_DIR", str(forms))
    assert main(["check", str(good)]) == 0
    assert "keine Probleme" in capsys.readouterr().out
    bad = tmp_path / "kaputt.bpmn"
    bad.write_text(
        chain_bpmn(pid="kaputt", form="fehlt").replace(
            'camunda:candidateGroups="Fachkraft@frauenberatung-soest"', ""
        ),
        encoding="utf-8",
    )
    assert main(["check", str(bad), str(tmp_path / "gibtsnicht.form")]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all(line.count(": ") >= 2 for line in lines)
    assert any("gibtsnicht.form" in line and "nicht gefunden" in line for line in lines)


def test_unknown_setting_is_refused_with_exit_status_2(monkeypatch, capsys):
    monkeypatch.setenv("HILFENETZ_DEV", "1")
    monkeypatch.setenv("HILFENETZ_DATENBANK", "x")
    assert main(["check", "x.bpmn"]) == 2
    assert "Unbekannte Einstellung" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["settings"]])
def test_settings_table_lists_every_variable(args, capsys):
    from engine.settings import VARIABLES

    assert main(args) == 0
    out = capsys.readouterr().out
    assert all(v.name in out for v in VARIABLES)


def failing_after_timer_bpmn(pid: str) -> str:
    """The escalation path of the timer process runs a script that fails when it runs (a script the
    check can refuse beforehand never gets deployed)."""
    return (
        timer_bpmn(pid)
        .replace(
            '<bpmn:userTask id="eskalation"',
            '<bpmn:scriptTask id="kaputt" name="Kaputt"><bpmn:script>x = "a" * 10**10</bpmn:script>'
            '</bpmn:scriptTask><bpmn:userTask id="eskalation"',
        )
        .replace(
            'sourceRef="zeit_um" targetRef="eskalation"/>',
            'sourceRef="zeit_um" targetRef="kaputt"/><bpmn:sequenceFlow id="fk" sourceRef="kaputt" '
            'targetRef="eskalation"/>',
        )
    )


def test_a_failing_timer_path_marks_its_instance_and_spares_the_others(engine_for, clock):
    hn = engine_for({"kaputt": failing_after_timer_bpmn("kaputt"), "erinnerung": timer_bpmn()})
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    broken, healthy = hn.start(user, "kaputt", {}), hn.start(user, "erinnerung", {})
    clock.advance(timedelta(days=3))
    assert hn.fire_due_timers() == 1
    assert hn.fire_due_timers() == 0  # no endless retries of the broken one
    coordinator = actor_lookup(hn)("koordination.jugendamt")
    failed = hn.instance_detail(coordinator, broken)
    assert failed.status == "error" and "zu groß" in (failed.status_reason or "")
    assert [t.element_id for t in failed.open_tasks] == ["bearbeiten"]  # state as it was
    assert [t.element_id for t in hn.instance_detail(coordinator, healthy).open_tasks] == ["eskalation"]


def test_one_failing_job_does_not_stop_the_others(hn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from engine.jobs import EmbeddedJobRunner

    ran = []

    def broken() -> int:
        raise RuntimeError("SMTP-Server weg")

    monkeypatch.setattr(hn, "deliver_outbox", broken)
    monkeypatch.setattr(hn, "purge_contact_data", lambda: ran.append("purge") or 0)
    monkeypatch.setattr(hn, "close_due_ballots", lambda: ran.append("ballots") or 0)
    EmbeddedJobRunner(hn, 1.0).run_once()
    assert ran == ["purge", "ballots"]


def test_check_takes_directories_and_everything_shipped_is_clean(tmp_path, capsys, monkeypatch):
    """`hilfenetz check processes/ forms/` checks every BPMN, DMN and form file in them (not the
    scenario or parameter files), and what we ship has no problem."""
    monkeypatch.setenv("HILFENETZ_DEV", "1")
    assert main(["check", str(REPO_ROOT / "processes"), str(REPO_ROOT / "forms")]) == 0
    shipped = [*(REPO_ROOT / "processes").glob("*.bpmn"), *(REPO_ROOT / "processes").glob("*.dmn")]
    shipped += list((REPO_ROOT / "forms").glob("*.form"))
    assert f"{len(shipped)} Datei(en) geprüft, keine Probleme." in capsys.readouterr().out
    broken = tmp_path / "prozesse"
    broken.mkdir()
    (broken / "kaputt.bpmn").write_text("<definitions", encoding="utf-8")
    (broken / "notizen.txt").write_text("kein Prozess", encoding="utf-8")
    assert main(["check", str(broken)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kaputt.bpmn: ")
