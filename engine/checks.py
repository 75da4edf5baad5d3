"""``hilfenetz check``: the same checks the server runs before deployment, for files on disk."""

from __future__ import annotations

from pathlib import Path

from engine.action_registry import ACTION_HANDLERS
from engine.actions import unknown_action_message
from engine.definitions import DefinitionSource, build_bundle
from engine.dmn_feel import translate_dmn
from engine.errors import InvalidDefinitionError, Problem
from engine.forms import load_form
from engine.modelling_rules import lint_bundle
from engine.xml_safety import parse_xml, read_definition_file


def check_file(path: Path, forms_dir: Path) -> list[Problem]:
    """Every problem found in one BPMN, DMN or form file (empty list: fine)."""
    if not path.exists():
        return [Problem(str(path), None, "Datei nicht gefunden.")]
    try:
        if path.suffix == ".form":
            load_form(path.read_bytes(), filename=path.name)
            return []
        if path.suffix == ".dmn":
            return translate_dmn(parse_xml(read_definition_file(path), filename=path.name), path.name)
        if path.suffix == ".bpmn":
            bundle = build_bundle(path, DefinitionSource(path.parent, forms_dir))
            unknown = [
                Problem(path.name, element, unknown_action_message([name]))
                for element, name in bundle.actions
                if name not in ACTION_HANDLERS
            ]
            return unknown + lint_bundle(bundle)
    except InvalidDefinitionError as exc:
        return exc.problems or [Problem(path.name, None, exc.message)]
    return [Problem(path.name, None, "Unbekannter Dateityp (erwartet .bpmn, .dmn oder .form).")]


#: What a directory given to ``hilfenetz check`` contributes (scenario and parameter files are skipped).
CHECKED_SUFFIXES = (".bpmn", ".dmn", ".form")


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; a directory stands for its BPMN, DMN and form files (sorted, not recursive)."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded.extend(sorted(p for p in path.iterdir() if p.suffix in CHECKED_SUFFIXES and p.is_file()))
        else:
            expanded.append(path)
    return expanded


def check_files(paths: list[Path], forms_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    for path in expand_paths(paths):
        problems.extend(check_file(path, forms_dir))
    return problems
