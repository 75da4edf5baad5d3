"""Model drafts (issue 5): what a draft is, how its content is read safely, and the read models.

A draft holds one BPMN, DMN or form file as text. Saving only requires the content to be readable
and harmless (safe XML of the right kind, or form JSON); whether it can run is the check's business
(``engine/model_check.py``), so a coordinator can save half-finished work and see its problems.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from engine.errors import InvalidDefinitionError, Problem
from engine.retention_rules import CATEGORY_KEYS, PREFIX
from engine.xml_safety import MAX_XML_BYTES, parse_xml, too_large

#: File kinds and their extension.
KINDS = {"bpmn": ".bpmn", "dmn": ".dmn", "form": ".form"}
#: Draft states, in German (stored as is).
ENTWURF, ZUR_FREIGABE, FREIGEGEBEN, VERWORFEN = "entwurf", "zur_freigabe", "freigegeben", "verworfen"
STATE_LABELS = {
    ENTWURF: "Entwurf",
    ZUR_FREIGABE: "Zur Freigabe vorgelegt",
    FREIGEGEBEN: "Freigegeben",
    VERWORFEN: "Abgelehnt",
}
#: The role that edits, submits and approves models.
MODELING_ROLE = "Koordination"
#: Largest upload or saved content (the XML parser's limit; forms have their own, smaller one).
MAX_MODEL_BYTES = MAX_XML_BYTES
#: A file key: the process id of a BPMN file (id = file name), the form id, the DMN file's stem.
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
_ROOT_NAMESPACES = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "dmn": (
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    ),
}


@dataclass(frozen=True)
class DraftFile:
    """One file of a change set (for links on the draft page)."""

    id: int
    kind: str
    filename: str


@dataclass(frozen=True)
class DraftView:
    """One draft as the pages and the editors see it."""

    id: int
    kind: str
    filename: str
    key: str
    content: str
    state: str
    author_id: int
    author: str
    based_on_id: int | None
    based_on_version: int | None
    change_id: int | None
    """The BPMN draft whose change set this file belongs to (None: it heads a change set or stands alone)."""
    created_at: datetime
    updated_at: datetime
    submitted_by: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_comment: str | None
    deployed_ids: tuple[int, ...]
    files: tuple[DraftFile, ...]
    """The change set: the head first, then its forms and DMN tables."""
    writer_ids: tuple[int, ...] = ()
    """Users who wrote or submitted any file of the change set (they may not approve it)."""
    revision: int = 1
    """Changes with every save: an editor that sends it back is told when someone saved meanwhile."""

    @property
    def editable(self) -> bool:
        return self.state == ENTWURF

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def media_type(self) -> str:
        return "application/json" if self.kind == "form" else "application/xml"


def split_filename(filename: str) -> tuple[str, str]:
    """``(kind, key)`` of a model file name, or a German error for anything else."""
    kind, name = kind_of(filename)
    key = name[: -len(KINDS[kind])]
    if not KEY_PATTERN.match(key):
        raise InvalidDefinitionError(
            f"Der Dateiname „{name}“ ist nicht zulässig: erlaubt sind Kleinbuchstaben, Ziffern und "
            "Unterstrich (2 bis 61 Zeichen, am Anfang ein Buchstabe), z. B. „fallkonferenz.bpmn“."
        )
    return kind, key


def kind_of(filename: str) -> tuple[str, str]:
    """``(kind, file name without folders)`` by the extension, or a German error."""
    name = (filename or "").strip().rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    for kind, suffix in KINDS.items():
        if name.lower().endswith(suffix):
            return kind, name[: -len(suffix)] + suffix
    raise InvalidDefinitionError(
        f"Die Datei „{name or '(ohne Namen)'}“ hat keine erlaubte Endung; "
        "erwartet wird .bpmn, .dmn oder .form."
    )


def upload_key(kind: str, filename: str, text: str) -> str:
    """The key of an uploaded file: a BPMN file's process id (the file name must equal it, and
    modelling tools name files freely), else the file name's stem."""
    if kind != "bpmn":
        return split_filename(filename)[1]
    root = parse_xml(text, filename=filename)
    ids = [p.get("id") or "" for p in root.iter(f"{{{_ROOT_NAMESPACES['bpmn']}}}process")]
    if len(ids) != 1:
        raise InvalidDefinitionError(
            f"Die Datei „{filename}“ muss genau einen Prozess enthalten (sie enthält {len(ids)})."
        )
    if not KEY_PATTERN.match(ids[0]):
        raise InvalidDefinitionError(
            f"Die Prozess-id „{ids[0]}“ ist nicht zulässig: sie ist zugleich der Dateiname und darf nur "
            "Kleinbuchstaben, Ziffern und Unterstrich enthalten (2 bis 61 Zeichen, am Anfang ein "
            "Buchstabe). Bitte im Modeler am Prozess eine id wie „beratung_nachsorge“ vergeben."
        )
    return ids[0]


def decode_upload(filename: str, data: bytes) -> str:
    """The uploaded bytes as text, or a German error (empty, too large, not UTF-8)."""
    if not data or not data.strip():
        raise InvalidDefinitionError(f"Die Datei „{filename}“ ist leer.")
    if len(data) > MAX_MODEL_BYTES:
        raise InvalidDefinitionError(
            f"Die Datei „{filename}“ ist {too_large(len(data), MAX_MODEL_BYTES)}."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidDefinitionError(
            f"Die Datei „{filename}“ ist keine UTF-8-kodierte Textdatei (BPMN, DMN oder Formular)."
        ) from None


def validate_content(kind: str, filename: str, content: str) -> None:
    """Refuse content that cannot be stored as a draft of this kind: unsafe, malformed, wrong kind."""
    if not isinstance(content, str) or not content.strip():
        raise InvalidDefinitionError(
            "Der Inhalt ist leer.", [Problem(filename, None, "Der Inhalt ist leer.")]
        )
    size = len(content.encode("utf-8", "surrogatepass"))
    if size > MAX_MODEL_BYTES:
        reason = f"Der Inhalt ist {too_large(size, MAX_MODEL_BYTES)}."
        raise InvalidDefinitionError(reason, [Problem(filename, None, reason)])
    if kind == "form":
        _validate_form_json(filename, content)
        return
    root = parse_xml(content, filename=filename)
    expected = _ROOT_NAMESPACES[kind]
    namespaces = (expected,) if isinstance(expected, str) else expected
    qname = etree.QName(root)
    if qname.localname != "definitions" or qname.namespace not in namespaces:
        what = "kein BPMN-Diagramm" if kind == "bpmn" else "keine DMN-Tabelle"
        reason = (
            f"Die Datei ist {what} (erwartet wird ein Wurzelelement „definitions“ "
            f"im {kind.upper()}-Namensraum)."
        )
        raise InvalidDefinitionError(reason, [Problem(filename, None, reason)])


def _validate_form_json(filename: str, content: str) -> None:
    """Form JSON must parse to an object; form-level problems (unknown field types …) are the check's."""
    reason = None
    try:
        data = json.loads(content, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        reason = f"Der Inhalt ist kein gültiges JSON (Zeile {exc.lineno}, Spalte {exc.colno})."
    except ValueError:
        reason = "Der Inhalt enthält NaN oder Infinity; das ist kein gültiges JSON."
    except RecursionError:
        reason = "Der Inhalt ist zu tief verschachtelt."
    else:
        if not isinstance(data, dict) or not isinstance(data.get("components"), list):
            reason = "Der Inhalt ist kein form-js-Formular (erwartet wird ein Objekt mit „components“)."
    if reason is not None:
        raise InvalidDefinitionError(reason, [Problem(filename, None, reason)])


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def new_process_xml(key: str, name: str) -> str:
    """A minimal process that passes the check: retention periods declared, start → end."""
    properties = "\n".join(
        f'        <camunda:property name="{PREFIX}{category}" value="P1Y" />' for category in CATEGORY_KEYS
    )
    title = _xml_attribute(name or key)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" \
xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_{key}" \
targetNamespace="http://bpmn.io/schema/bpmn" exporter="Hilfenetz" exporterVersion="1.0" \
modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.21.0">
  <bpmn:process id="{key}" name="{title}" isExecutable="true" camunda:candidateStarterGroups="Koordination">
    <bpmn:extensionElements>
      <camunda:properties>
{properties}
      </camunda:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="Beginn" name="Beginn">
      <bpmn:outgoing>Fluss_Beginn_Ende</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:endEvent id="Ende" name="Ende">
      <bpmn:incoming>Fluss_Beginn_Ende</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Fluss_Beginn_Ende" sourceRef="Beginn" targetRef="Ende" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagramm_{key}">
    <bpmndi:BPMNPlane id="Ebene_{key}" bpmnElement="{key}">
      <bpmndi:BPMNShape id="Beginn_di" bpmnElement="Beginn">
        <dc:Bounds x="180" y="100" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Ende_di" bpmnElement="Ende">
        <dc:Bounds x="320" y="100" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Fluss_Beginn_Ende_di" bpmnElement="Fluss_Beginn_Ende">
        <di:waypoint x="216" y="118" />
        <di:waypoint x="320" y="118" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def new_form_json(key: str) -> str:
    """An empty form-js form with the given id (the editor adds the fields)."""
    return (
        '{\n  "type": "default",\n  "id": "' + key + '",\n  "schemaVersion": 16,\n'
        '  "exporter": {"name": "Hilfenetz", "version": "1.0"},\n  "components": []\n}\n'
    )


def _xml_attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")[:200]
