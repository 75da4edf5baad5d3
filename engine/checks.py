"""``hilfenetz check``: the same checks the server runs before deployment, for files on disk."""

from __future__ import annotations

from pathlib import Path

from engine.action_registry import ACTION_HANDLERS
from engine.actions import unknown_action_message
from engine.definitions import Bundle, DefinitionSource, build_bundle
from engine.dmn_feel import translate_dmn
from engine.errors import InvalidDefinitionError, Problem
from engine.forms import load_form
from engine.modelling_rules import lint_bundle
from engine.xml_safety import parse_xml, read_definition_file


def check_file(path: Path, forms_dir: Path, source: DefinitionSource | None = None) -> list[Problem]:
    """Every problem found in one BPMN, DMN or form file (empty list: fine).

    ``source`` is where a process finds its forms, tables and called processes (default: the file's
    folder and ``forms_dir``); the server check of browser drafts passes its layered source, so the
    command line, deployment and the modeler name the same problems.
    """
    if not path.exists():
        return [Problem(str(path), None, "Datei nicht gefunden.")]
    try:
        if path.suffix == ".form":
            load_form(path.read_bytes(), filename=path.name)
            return []
        if path.suffix == ".dmn":
            return translate_dmn(parse_xml(read_definition_file(path), filename=path.name), path.name)
        if path.suffix == ".bpmn":
            bundle = build_bundle(path, source or DefinitionSource(path.parent, forms_dir))
            return unknown_actions(bundle) + lint_bundle(bundle)
    except InvalidDefinitionError as exc:
        problems = exc.problems or [Problem(path.name, None, exc.message)]
        if path.suffix == ".bpmn":  # also the modelling rules, so one check names everything
            problems.extend(p for p in _lint_unbuilt(path) if p not in problems)
        return problems
    return [Problem(path.name, None, "Unbekannter Dateityp (erwartet .bpmn, .dmn oder .form).")]


def unknown_actions(bundle: Bundle) -> list[Problem]:
    """System steps whose ``aktion`` no handler carries out (engine/action_registry.py)."""
    return [
        Problem(f"{bundle.process_key}.bpmn", element, unknown_action_message([name]))
        for element, name in bundle.actions
        if name and name not in ACTION_HANDLERS
    ]


def _lint_unbuilt(path: Path) -> list[Problem]:
    """The modelling rules on a BPMN file that did not build (they read only its XML)."""
    try:
        text = path.read_text(encoding="utf-8")
        return lint_bundle(Bundle(path.stem, path.stem, {path.name: text}, {}, {}, None, spec_json=""))
    except (InvalidDefinitionError, UnicodeDecodeError):
        return []  # unreadable file: the builder's problem already says so


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
