"""The hostile and foreign diagram corpus (tests/data/diagrams/README.md): every file is refused by
``hilfenetz check`` and by deployment with the same German reason, and nothing is stored."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidDefinitionError
from engine.executable_rules import SCRIPT_HELPERS
from engine.persistence.models import ProcessDefinition
from tests.support.bpmn_factory import chain_bpmn, with_retention
from webapp.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "data" / "diagrams"
_ROW = re.compile(
    r"^\| (?P<file>[\w.]+\.(?:bpmn|form|dmn)) \| [^|]+ \| (?P<element>[^|]+) \| `(?P<reason>[^`]+)` \|$"
)


def _rows() -> list[tuple[str, str, str]]:
    rows = []
    folder = ""
    for line in (CORPUS / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            folder = line.split()[1].rstrip("/")
        match = _ROW.match(line)
        if match:
            rows.append((f"{folder}/{match['file']}", match["element"].strip(), match["reason"]))
    return rows


ROWS = _rows()


def test_every_corpus_file_has_exactly_one_row():
    files = sorted(
        str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*") if p.suffix in (".bpmn", ".form", ".dmn")
    )
    assert sorted(row[0] for row in ROWS) == files
    assert len(files) >= 40


@pytest.mark.parametrize(("name", "element", "reason"), ROWS, ids=[row[0] for row in ROWS])
def test_check_command_refuses_with_german_reason(name, element, reason, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HILFENETZ_DEV", "1")
    monkeypatch.setenv("HILFENETZ_FORMS_DIR", str(tmp_path))
    path = CORPUS / name
    assert main(["check", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith(f"{path.name}: ") for line in lines)
    assert any(line.startswith(f"{path.name}: {element}: ") and reason in line for line in lines), lines
    assert "Traceback" not in "\n".join(lines)


@pytest.mark.parametrize(("name", "element", "reason"), ROWS, ids=[row[0] for row in ROWS])
def test_deployment_refuses_with_the_same_reason_and_stores_nothing(hn, name, element, reason):
    source = CORPUS / name
    with hn.db.read() as session:
        before = session.scalar(select(func.count()).select_from(ProcessDefinition))
    if source.suffix == ".form":
        shutil.copy(source, hn.settings.forms_dir / source.name)
        path = hn.settings.processes_dir / "mit_formular.bpmn"
        path.write_text(with_retention(chain_bpmn(pid="mit_formular", form=source.stem)), encoding="utf-8")
    elif source.suffix == ".dmn":
        shutil.copy(source, hn.settings.processes_dir / source.name)
        path = hn.settings.processes_dir / "mit_tabelle.bpmn"
        path.write_text(
            with_retention(_with_decision(chain_bpmn(pid="mit_tabelle"), source.stem)), encoding="utf-8"
        )
    else:
        path = hn.settings.processes_dir / source.name
        shutil.copy(source, path)
    with pytest.raises(InvalidDefinitionError) as err:
        hn.deploy_file(path)
    expected_element = None if element == "-" else element
    assert any(p.element == expected_element and reason in p.reason for p in err.value.problems)
    with hn.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcessDefinition)) == before


def _with_decision(xml: str, decision: str) -> str:
    """Put a business rule task using ``decision`` between the start event and the first task."""
    first = '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="aufgabe_1"/>'
    assert first in xml
    return xml.replace(
        first,
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="regel"/>'
        f'<bpmn:businessRuleTask id="regel" name="Regel" camunda:decisionRef="{decision}" '
        'camunda:resultVariable="ergebnis"/>'
        '<bpmn:sequenceFlow id="f0" sourceRef="regel" targetRef="aufgabe_1"/>',
    )


def test_script_helpers_known_to_the_check_are_the_engines(hn):
    assert set(hn.script_engine.environment.helpers) == SCRIPT_HELPERS
