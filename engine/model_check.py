"""The server check of drafts: the same checks as ``hilfenetz check`` and deployment, on content in memory.

A change set's files lie over the files approved earlier in the browser, which lie over the shipped
``processes/`` and ``forms/`` folders: a process draft finds its new form in the change set, an
unchanged form where it was last approved, everything else where it ships. The layers are written
to a temporary folder, so the very builder that deploys files from disk (``engine/definitions.py``)
checks and builds them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from engine.checks import check_file
from engine.definitions import REFERENCE_NAME, Bundle, DefinitionSource, build_bundle
from engine.errors import InvalidDefinitionError, Problem
from engine.model_drafts import KINDS, split_filename, validate_content
from engine.xml_safety import parse_xml

UNUSED = (
    "Kein Prozess verwendet diese Datei; es gibt nichts bereitzustellen. Bitte die Datei zusammen mit "
    "dem Prozess bearbeiten, der sie verwendet (im Entwurf des Prozesses „Formular hinzufügen“)."
)


class LayeredSource(DefinitionSource):
    """A definition source over several (processes, forms) folder pairs; the first one wins."""

    def __init__(self, layers: list[tuple[Path, Path]]) -> None:
        super().__init__(layers[-1][0], layers[-1][1])
        self.layers = layers

    def bpmn_files(self) -> list[Path]:
        found: dict[str, Path] = {}
        for processes, _ in self.layers:
            for path in sorted(processes.glob("*.bpmn")):
                found.setdefault(path.name, path)
        return [found[name] for name in sorted(found)]

    def find_process_file(self, process_id: str) -> Path | None:
        if not REFERENCE_NAME.match(process_id):
            return None
        for processes, _ in self.layers:
            candidate = processes / f"{process_id}.bpmn"
            if candidate.exists():
                return candidate
        return None

    def find_decision_file(self, decision_id: str) -> Path | None:
        if not REFERENCE_NAME.match(decision_id):
            return None
        seen: set[str] = set()
        for processes, _ in self.layers:
            for path in sorted(processes.glob("*.dmn")):
                if path.name in seen:
                    continue
                seen.add(path.name)
                if f'id="{decision_id}"' in path.read_text(encoding="utf-8"):
                    return path
        return None

    def read_form(self, form_id: str) -> str | None:
        if not REFERENCE_NAME.match(form_id):
            return None
        for _, forms in self.layers:
            path = forms / f"{form_id}.form"
            if path.exists():
                return path.read_text(encoding="utf-8")
        return None


@contextmanager
def layered(
    change: Mapping[str, str], approved: Mapping[str, str], shipped: DefinitionSource
) -> Iterator[tuple[LayeredSource, dict[str, Path]]]:
    """A source with ``change`` over ``approved`` over ``shipped`` (file name → content), and the
    paths the change set's files were written to."""
    with tempfile.TemporaryDirectory(prefix="hilfenetz-modell-") as tmp:
        layers, written = [], {}
        for index, files in enumerate((change, approved)):
            processes, forms = Path(tmp, f"{index}", "processes"), Path(tmp, f"{index}", "forms")
            processes.mkdir(parents=True)
            forms.mkdir(parents=True)
            for filename, content in files.items():
                kind, _ = split_filename(filename)  # file names were checked on creation; again here
                path = (forms if kind == "form" else processes) / filename
                path.write_text(content, encoding="utf-8")
                if index == 0:
                    written[filename] = path
            layers.append((processes, forms))
        layers.append((shipped.processes_dir, shipped.forms_dir))
        yield LayeredSource(layers), written


def check_change(
    change: Mapping[str, str], approved: Mapping[str, str], shipped: DefinitionSource
) -> list[Problem]:
    """Every problem of a change set's files (empty: it may be deployed), including the processes
    a lone form or DMN table changes."""
    problems: list[Problem] = []
    for filename, content in change.items():
        kind, _ = split_filename(filename)
        try:
            validate_content(kind, filename, content)
        except InvalidDefinitionError as exc:
            problems.extend(exc.problems or [Problem(filename, None, exc.message)])
    if problems:
        return problems
    with layered(change, approved, shipped) as (source, written):
        for path in written.values():
            problems.extend(check_file(path, source.forms_dir, source))
        affected = affected_processes(change, source)
        for path in affected:
            if path.name not in written:
                problems.extend(p for p in check_file(path, source.forms_dir, source) if p not in problems)
    if not affected:  # a lone form or table nobody uses: approving it would deploy nothing
        problems.append(Problem(next(iter(change), "-"), None, UNUSED))
    return problems


def affected_processes(change: Mapping[str, str], source: LayeredSource) -> list[Path]:
    """The process files a change set deploys: its BPMN files, and every process that uses one of
    its forms or DMN tables (a changed table takes effect through new versions of its users)."""
    form_ids = {filename[: -len(KINDS["form"])] for filename in change if filename.endswith(".form")}
    decisions: set[str] = set()
    for filename, content in change.items():
        if filename.endswith(".dmn"):
            root = parse_xml(content, filename=filename)
            decisions.update(d.get("id") or "" for d in root.iter("{*}decision"))
    found = []
    for path in source.bpmn_files():
        text = path.read_text(encoding="utf-8")
        uses_form = any(f'"{form_id}"' in text or f'deployment:{form_id}"' in text for form_id in form_ids)
        uses_table = any(f'decisionRef="{d}"' in text for d in decisions if d)
        if path.name in change or uses_form or uses_table:
            found.append(path)
    return found


def redeployed_files(
    change: Mapping[str, str], approved: Mapping[str, str], shipped: DefinitionSource
) -> dict[str, str]:
    """The processes outside the change set that approving it deploys anew (they use one of its
    forms or tables), each with the content :func:`build_change` builds it from — the same layers
    as the start-up deployment (approved over shipped)."""
    with layered(change, approved, shipped) as (source, _):
        return {
            path.name: path.read_text(encoding="utf-8")
            for path in affected_processes(change, source)
            if path.name not in change
        }


def build_change(
    change: Mapping[str, str], approved: Mapping[str, str], shipped: DefinitionSource
) -> list[Bundle]:
    """The bundles to deploy for a change set, or InvalidDefinitionError listing every problem."""
    problems = check_change(change, approved, shipped)
    if problems:
        raise InvalidDefinitionError(
            "Die Prüfung hat Fehler gefunden; die Änderung wird nicht bereitgestellt.", problems
        )
    with layered(change, approved, shipped) as (source, _):
        return [build_bundle(path, source) for path in affected_processes(change, source)]
