"""Process definitions: parsing through the hardened parser, bundles, content hashes, spec cache.

A *bundle* is everything one process version needs: its BPMN file, the BPMN files of processes
it calls, the DMN tables it uses and the forms its user tasks and start event reference. The
bundle's hash keys the stored version, so deploying unchanged files is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask, StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask as SubWorkflowTaskMixin
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaStartEventParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.camunda.specs.user_task import UserTask as CamundaUserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.bpmn_structure import structure_problems
from engine.dmn_feel import translate_dmn
from engine.errors import InvalidDefinitionError, Problem
from engine.executable_rules import executable_problems
from engine.foreign_elements import foreign_problems
from engine.forms import FormDefinition, load_form
from engine.retention_rules import parse_retention
from engine.xml_safety import parse_xml, read_definition_file

#: Camunda 7 attributes the properties panel writes and the stock parser ignores.
CAMUNDA_TASK_ATTRIBUTES = (
    "assignee",
    "candidateGroups",
    "candidateUsers",
    "dueDate",
    "followUpDate",
    "priority",
    "formRef",
    "formKey",
    "formRefBinding",
    "formRefVersion",
    "initiator",
)
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: SpiffWorkflow names its implicit first and last task specs so; an element with such an id
#: silently replaces them and the process cannot start ("No output task connected").
RESERVED_IDS = frozenset({"Start", "End"})


def _camunda_attributes(node: Any) -> dict[str, str]:
    found = {}
    for name in CAMUNDA_TASK_ATTRIBUTES:
        value = node.get(f"{{{CAMUNDA_MODEL_NS}}}{name}")
        if value is not None and value.strip():
            found[name] = value.strip()
    return found


class HilfenetzUserTaskParser(UserTaskParser):  # type: ignore[misc]
    """Carries the Camunda task attributes in ``task_spec.extensions``."""

    def parse_extensions(self, node: Any = None) -> dict[str, str]:
        extensions: dict[str, str] = super().parse_extensions(node)
        extensions.update(_camunda_attributes(self.node))
        return extensions


class HilfenetzStartEventParser(CamundaStartEventParser):  # type: ignore[misc]
    def parse_extensions(self, node: Any = None) -> dict[str, str]:
        extensions: dict[str, str] = super().parse_extensions(node) or {}
        extensions.update(_camunda_attributes(self.node))
        return extensions


class SystemStep(ServiceTask):  # type: ignore[misc]
    """A ``serviceTask`` the engine carries out (``camunda:property aktion``, engine/actions.py).

    Running it does nothing but wait (STARTED); the runtime then calls the named handler in the
    same transaction and completes the task, or leaves it waiting until the engine resumes it.
    """

    def _run_hook(self, my_task: Any) -> None:
        return None


class HilfenetzParser(CamundaParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (HilfenetzUserTaskParser, CamundaUserTask),
        full_tag("startEvent"): (HilfenetzStartEventParser, StartEvent),
        full_tag("serviceTask"): (CamundaTaskParser, SystemStep),
    }


def make_serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure({**CAMUNDA_CONFIG, SystemStep: BpmnTaskSpecConverter})
    return BpmnWorkflowSerializer(registry)


def system_step_actions(specs: list[Any]) -> dict[str, str]:
    """``{element id: aktion}`` for every system step; an empty name is kept for the check."""
    found = {}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, SystemStep):
                found[task_spec.bpmn_id] = str((task_spec.extensions or {}).get("aktion") or "").strip()
    return found


@dataclass(frozen=True)
class Bundle:
    """The files of one process version, as text, and what was parsed from them."""

    process_key: str
    name: str
    bpmn: dict[str, str]
    dmn: dict[str, str]
    forms: dict[str, str]
    start_form: str | None
    spec_json: str = field(repr=False)
    starter_groups: str | None = None
    start_message: str | None = None
    confidential: bool = False
    actions: tuple[tuple[str, str], ...] = ()
    """``(element id, aktion)`` of every system step the version has."""
    retention: tuple[tuple[str, str], ...] = ()
    """``(data category, ISO duration)`` declared on the process element (engine/retention_rules.py)."""

    @property
    def content_hash(self) -> str:
        canonical = json.dumps({"bpmn": self.bpmn, "dmn": self.dmn, "forms": self.forms}, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def main_bpmn(self) -> str:
        return self.bpmn[f"{self.process_key}.bpmn"]


def form_reference(task_spec: Any) -> str | None:
    """The form id a user task or start event names (``formRef``, else ``formKey``)."""
    extensions = getattr(task_spec, "extensions", None) or {}
    ref = extensions.get("formRef") or extensions.get("formKey")
    if not ref:
        return None
    ref = str(ref)
    return ref.removeprefix("camunda-forms:deployment:").removeprefix("embedded:deployment:")


def refusals(root: etree._Element, filename: str) -> list[Problem]:
    """What no deployment may contain: broken structure, foreign elements, code that cannot run."""
    problems = structure_problems(root, filename)
    if problems:
        return problems
    return foreign_problems(root, filename) + executable_problems(root, filename)


def _process_ids(root: etree._Element) -> list[str]:
    return [p.get("id") or "" for p in root.iter(f"{{{BPMN_NS}}}process")]


def _process_properties(process: etree._Element) -> dict[str, str]:
    """``camunda:properties`` directly under the process's extension elements."""
    found = {}
    for ext in process.findall(f"{{{BPMN_NS}}}extensionElements"):
        for prop in ext.iter(f"{{{CAMUNDA_MODEL_NS}}}property"):
            holder = prop.getparent()
            if holder is not None and holder.getparent() is ext:
                found[prop.get("name") or ""] = (prop.get("value") or "").strip()
    return found


def start_message(spec: Any) -> str | None:
    """The message name a process's start event waits for (None for a plain start)."""
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if isinstance(task_spec, StartEvent) and isinstance(definition, MessageEventDefinition):
            return str(definition.name)
    return None


def _parse_problem(filename: str, exc: Exception) -> Problem:
    element = getattr(exc, "id", None) or getattr(exc, "task_id", None)
    text = getattr(exc, "message", None) or str(exc)
    return Problem(filename, element, f"SpiffWorkflow kann die Datei nicht verarbeiten: {text}")


#: What a formRef, calledElement or decisionRef may be: a file name stem, never a path
#: ("../../tmp/x/geheim" would embed any file of the server in a deployed version).
REFERENCE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def reference_problem(kind: str, name: str) -> str | None:
    """The German reason a referenced name is refused, or None for a plain name."""
    if REFERENCE_NAME.match(name):
        return None
    return (
        f"{kind} „{name[:60]}“: Der Name darf nur Buchstaben, Ziffern, „_“ und „-“ enthalten (keine Pfade)."
    )


class DefinitionSource:
    """Reads process, DMN and form files from the configured folders.

    Names that are not plain (REFERENCE_NAME) find nothing: they could leave the folders."""

    def __init__(self, processes_dir: Path, forms_dir: Path) -> None:
        self.processes_dir = processes_dir
        self.forms_dir = forms_dir

    def bpmn_files(self) -> list[Path]:
        return sorted(self.processes_dir.glob("*.bpmn"))

    def find_process_file(self, process_id: str) -> Path | None:
        if not REFERENCE_NAME.match(process_id):
            return None
        candidate = self.processes_dir / f"{process_id}.bpmn"
        return candidate if candidate.exists() else None

    def find_decision_file(self, decision_id: str) -> Path | None:
        if not REFERENCE_NAME.match(decision_id):
            return None
        for path in sorted(self.processes_dir.glob("*.dmn")):
            if f'id="{decision_id}"' in read_definition_file(path):
                return path
        return None

    def read_form(self, form_id: str) -> str | None:
        if not REFERENCE_NAME.match(form_id):
            return None
        path = self.forms_dir / f"{form_id}.form"
        return path.read_text(encoding="utf-8") if path.exists() else None


def build_bundle(bpmn_path: Path, source: DefinitionSource) -> Bundle:
    """Parse one process file (and what it calls) into a bundle; every problem is collected."""
    process_key = bpmn_path.stem
    builder = _BundleBuilder(process_key, source)
    builder.add_bpmn(bpmn_path.name, read_definition_file(bpmn_path))
    return builder.finish()


class _BundleBuilder:
    def __init__(self, process_key: str, source: DefinitionSource) -> None:
        self.process_key = process_key
        self.source = source
        self.parser = HilfenetzParser()
        self.bpmn: dict[str, str] = {}
        self.dmn: dict[str, str] = {}
        self.forms: dict[str, str] = {}
        self.problems: list[Problem] = []
        self.starter_groups: str | None = None
        self.confidential = False
        self.retention: dict[str, str] = {}

    def add_bpmn(self, filename: str, text: str) -> None:
        root = parse_xml(text, filename=filename)
        refused = refusals(root, filename)
        if refused:
            self.problems.extend(refused)
            return
        ids = _process_ids(root)
        if filename == f"{self.process_key}.bpmn" and self.process_key not in ids:
            self.problems.append(
                Problem(
                    filename,
                    None,
                    f"Die Datei muss einen Prozess mit der id "
                    f"„{self.process_key}“ enthalten (id = Dateiname).",
                )
            )
            return
        reserved = [e.get("id") for e in root.iter() if e.get("id") in RESERVED_IDS]
        for element in reserved:
            self.problems.append(
                Problem(
                    filename,
                    element,
                    f"Die id „{element}“ ist in SpiffWorkflow reserviert; bitte umbenennen.",
                )
            )
        if reserved:
            return
        try:
            self.parser.add_bpmn_xml(root, filename=filename)
        except (ValidationException, SpiffWorkflowException) as exc:
            self.problems.append(_parse_problem(filename, exc))
            return
        self.bpmn[filename] = text
        if filename == f"{self.process_key}.bpmn":
            for process in root.iter(f"{{{BPMN_NS}}}process"):
                if process.get("id") == self.process_key:
                    self.starter_groups = process.get(f"{{{CAMUNDA_MODEL_NS}}}candidateStarterGroups")
                    properties = _process_properties(process)
                    self.confidential = properties.get("vertraulich") == "ja"
                    self.retention, problems = parse_retention(properties, filename, self.process_key)
                    self.problems.extend(problems)
        self._add_decisions(root, filename)

    def _add_decisions(self, root: etree._Element, filename: str) -> None:
        for node in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
            ref = node.get(f"{{{CAMUNDA_MODEL_NS}}}decisionRef")
            if not ref:
                continue
            reason = reference_problem("DMN-Entscheidung", ref)
            path = None if reason else self.source.find_decision_file(ref)
            if reason:
                self.problems.append(Problem(filename, node.get("id"), reason))
            elif path is None:
                self.problems.append(Problem(filename, node.get("id"), f"DMN-Entscheidung „{ref}“ fehlt."))
            elif path.name not in self.dmn:
                text = read_definition_file(path)
                tree = parse_xml(text, filename=path.name)
                problems = translate_dmn(tree, path.name)  # FEEL cells -> Python, in place
                if problems:
                    self.problems.extend(p for p in problems if p not in self.problems)
                    continue
                self.parser.add_dmn_xml(tree, filename=path.name)
                self.dmn[path.name] = text  # the coordinators' FEEL, as uploaded

    def _resolve_called_processes(self) -> None:
        """Add files of called processes until every call activity finds its spec."""
        for _ in range(20):
            missing = self._missing_called_processes()
            if not missing:
                return
            for process_id, caller in missing.items():
                reason = reference_problem("Aufgerufener Prozess", process_id)
                if reason:
                    self.problems.append(Problem(f"{self.process_key}.bpmn", caller, reason))
                    return
                path = self.source.find_process_file(process_id)
                if path is None:
                    self.problems.append(
                        Problem(
                            f"{self.process_key}.bpmn",
                            process_id,
                            f"Aufgerufener Prozess „{process_id}“ fehlt.",
                        )
                    )
                    return
                self.add_bpmn(path.name, read_definition_file(path))

    def _missing_called_processes(self) -> dict[str, str]:
        """Processes named by call activities that no added file defines (embedded subprocesses
        are registered by the parser itself and are never missing), each with a calling element."""
        missing: dict[str, str] = {}
        for pid in list(self.parser.get_process_ids()):
            spec = self.parser.get_spec(pid)
            for task_spec in spec.task_specs.values():
                called = getattr(task_spec, "spec", None)
                if (
                    isinstance(task_spec, SubWorkflowTaskMixin)
                    and called
                    and self.parser.get_spec(called, required=False) is None
                ):
                    missing.setdefault(called, task_spec.bpmn_id or task_spec.name)
        return dict(sorted(missing.items()))

    def _collect_forms(self, specs: Mapping[str, Any]) -> str | None:
        start_form = None
        for spec in specs.values():
            for task_spec in spec.task_specs.values():
                ref = form_reference(task_spec)
                if ref is None:
                    continue
                if isinstance(task_spec, StartEvent) and spec.name == self.process_key:
                    start_form = ref
                self._add_form(ref, task_spec)
        return start_form

    def _add_form(self, form_id: str, task_spec: Any) -> None:
        if form_id in self.forms:
            return
        element = getattr(task_spec, "bpmn_id", None)
        reason = reference_problem("Formular", form_id)
        if reason:
            self.problems.append(Problem(f"{self.process_key}.bpmn", element, reason))
            return
        text = self.source.read_form(form_id)
        if text is None:
            self.problems.append(
                Problem(
                    f"{self.process_key}.bpmn",
                    element,
                    f"Formular „{form_id}“ fehlt (erwartet: forms/{form_id}.form).",
                )
            )
            return
        try:
            load_form(text, filename=f"{form_id}.form")
        except InvalidDefinitionError as exc:
            self.problems.extend(exc.problems)
            return
        self.forms[form_id] = text

    def _refuse_self_start(self, message: str | None, specs: list[Any]) -> None:
        """A process that throws the message it starts on would multiply itself."""
        if message is None:
            return
        for spec in specs:
            for task_spec in spec.task_specs.values():
                definition = getattr(task_spec, "event_definition", None)
                throws = type(task_spec).__name__ in ("IntermediateThrowEvent", "EndEvent", "SendTask")
                if throws and isinstance(definition, MessageEventDefinition) and definition.name == message:
                    self.problems.append(
                        Problem(
                            f"{self.process_key}.bpmn",
                            getattr(task_spec, "bpmn_id", None),
                            f"Der Prozess sendet die Nachricht „{message}“, mit der er selbst startet; "
                            "er würde sich unbegrenzt vervielfältigen.",
                        )
                    )

    def finish(self) -> Bundle:
        if not self.problems:
            self._resolve_called_processes()
        if self.problems:
            raise InvalidDefinitionError(
                "Die Prozessdefinition enthält Fehler.", self.problems, process=self.process_key
            )
        try:
            spec = self.parser.get_spec(self.process_key)
            subprocess_specs = self.parser.get_subprocess_specs(self.process_key)
        except (ValidationException, SpiffWorkflowException) as exc:
            raise InvalidDefinitionError(
                "Die Prozessdefinition enthält Fehler.",
                [_parse_problem(f"{self.process_key}.bpmn", exc)],
                process=self.process_key,
            ) from None
        start_form = self._collect_forms({self.process_key: spec, **subprocess_specs})
        self._refuse_self_start(start_message(spec), [spec, *subprocess_specs.values()])
        actions = system_step_actions([spec, *subprocess_specs.values()])
        for element, name in actions.items():
            if not name:
                self.problems.append(
                    Problem(
                        f"{self.process_key}.bpmn",
                        element,
                        "Eine Serviceaufgabe braucht die Eigenschaft „aktion“ (welcher Systemschritt "
                        "ausgeführt wird); ohne sie würde der Vorgang an dieser Stelle stehen bleiben.",
                    )
                )
        if self.problems:
            raise InvalidDefinitionError(
                "Die Prozessdefinition enthält Fehler.", self.problems, process=self.process_key
            )
        return Bundle(
            self.process_key,
            spec.description or self.process_key,
            dict(self.bpmn),
            dict(self.dmn),
            dict(self.forms),
            start_form,
            spec_json=serialize_specs(spec, subprocess_specs),
            starter_groups=self.starter_groups,
            start_message=start_message(spec),
            confidential=self.confidential,
            actions=tuple(sorted(actions.items())),
            retention=tuple(self.retention.items()),
        )


_SERIALIZER = make_serializer()


def serialize_specs(spec: Any, subprocess_specs: Mapping[str, Any]) -> str:
    convert = _SERIALIZER.registry.convert
    return json.dumps(
        {
            "spec": convert(spec),
            "subprocess_specs": {name: convert(s) for name, s in subprocess_specs.items()},
        }
    )


@dataclass(frozen=True)
class LoadedVersion:
    """Restored specs and parsed forms of one stored version; shared read-only between threads."""

    definition_id: int
    process_key: str
    spec: Any
    subprocess_specs: dict[str, Any]
    forms: dict[str, FormDefinition]


class SpecCache:
    """Restored specs per definition id (specs never change once stored)."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[int, LoadedVersion] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def peek(self, definition_id: int) -> LoadedVersion | None:
        with self._lock:
            return self._items.get(definition_id)

    def get(self, definition_id: int, process_key: str, spec_json: str, forms_json: str) -> LoadedVersion:
        with self._lock:
            found = self._items.get(definition_id)
            if found is not None:
                self._items.move_to_end(definition_id)
                return found
        loaded = _restore_version(definition_id, process_key, spec_json, forms_json)
        with self._lock:
            self._items[definition_id] = loaded
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return loaded


def _restore_version(definition_id: int, process_key: str, spec_json: str, forms_json: str) -> LoadedVersion:
    data = json.loads(spec_json)
    restore = _SERIALIZER.registry.restore
    spec = restore(data["spec"])
    subprocess_specs = {name: restore(s) for name, s in data["subprocess_specs"].items()}
    forms = {fid: load_form(text, filename=f"{fid}.form") for fid, text in json.loads(forms_json).items()}
    return LoadedVersion(definition_id, process_key, spec, subprocess_specs, forms)


def declared_retention(bpmn_xml: str, process_key: str) -> dict[str, str]:
    """The retention periods a stored version declares (category → ISO duration)."""
    root = parse_xml(bpmn_xml, filename=f"{process_key}.bpmn")
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") == process_key:
            periods, _ = parse_retention(_process_properties(process), f"{process_key}.bpmn", process_key)
            return periods
    return {}
