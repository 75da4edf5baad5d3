"""What a change set changes, element by element, for the approval page (four eyes).

BPMN and DMN: every element with an ``id`` (diagram layout excluded) is compared with its
attributes and what it holds without an own id (conditions, timer values, Camunda properties,
documentation, scripts). Forms: every field by its key (else its id).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.xml_safety import parse_xml

ADDED, REMOVED, CHANGED = "hinzugefuegt", "entfernt", "geaendert"
CHANGE_LABELS = {ADDED: "hinzugefügt", REMOVED: "entfernt", CHANGED: "geändert"}
_LAYOUT_NAMESPACES = (
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "https://www.omg.org/spec/DMN/20191111/DMNDI/",
)
_PREFIXES = {
    "http://camunda.org/schema/1.0/bpmn": "camunda:",
    "http://camunda.org/schema/1.0/dmn": "camunda:",
    "http://camunda.org/schema/modeler/1.0": "modeler:",
}


@dataclass(frozen=True)
class AttributeChange:
    name: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    change: str  # hinzugefuegt|entfernt|geaendert
    type: str
    name: str
    attributes: tuple[AttributeChange, ...]

    @property
    def change_label(self) -> str:
        return CHANGE_LABELS[self.change]


@dataclass(frozen=True)
class FileDiff:
    filename: str
    is_new: bool
    changes: tuple[ElementChange, ...]
    old_content: str | None
    new_content: str


def diff_change(current: Mapping[str, str | None], change: Mapping[str, str]) -> list[FileDiff]:
    """One diff per file of the change set against what is live now (``None``: new file)."""
    diffs = []
    for filename, new in change.items():
        old = current.get(filename)
        if filename.endswith(".form"):
            changes = diff_form(old or '{"components": []}', new)
        else:
            changes = diff_xml(old, new, filename)
        diffs.append(FileDiff(filename, old is None, tuple(changes), old, new))
    return diffs


# --- XML ----------------------------------------------------------------------------------------
def diff_xml(old: str | None, new: str, filename: str = "<entwurf>") -> list[ElementChange]:
    before = _elements(parse_xml(old, filename=filename)) if old else {}
    after = _elements(parse_xml(new, filename=filename))
    changes = []
    for element_id, (kind, name, attrs) in after.items():
        if element_id not in before:
            changes.append(ElementChange(element_id, ADDED, kind, name, _pairs({}, attrs)))
            continue
        old_kind, _, old_attrs = before[element_id]
        pairs = _pairs(old_attrs, attrs)
        if old_kind != kind:
            pairs = (AttributeChange("Typ", old_kind, kind), *pairs)
        if pairs:
            changes.append(ElementChange(element_id, CHANGED, kind, name, pairs))
    for element_id, (kind, name, attrs) in before.items():
        if element_id not in after:
            changes.append(ElementChange(element_id, REMOVED, kind, name, _pairs(attrs, {})))
    return changes


def _elements(root: etree._Element) -> dict[str, tuple[str, str, dict[str, str]]]:
    """``{id: (type, name, attributes and contents)}`` of every element with an id."""
    found = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or etree.QName(node).namespace in _LAYOUT_NAMESPACES:
            continue
        element_id = node.get("id")
        if not element_id:
            continue
        attrs = {_attr_name(str(k)): str(v) for k, v in node.attrib.items() if k != "id"}
        attrs.update(_contents(node))
        found[element_id] = (etree.QName(node).localname, node.get("name") or "", attrs)
    return found


def _contents(node: etree._Element, path: str = "") -> Iterator[tuple[str, str]]:
    """What an element holds without an own id: ``(path, text or attribute value)``."""
    for child in node:
        if not isinstance(child.tag, str) or child.get("id") is not None:
            continue
        local = etree.QName(child).localname
        if local == "property" and child.get("name"):
            yield f"Eigenschaft {child.get('name')}", child.get("value") or ""
            continue
        if local in ("incoming", "outgoing"):
            yield f"{path}{local} {child.text or ''}".strip(), "ja"
            continue
        key = f"{path}{local}"
        text = (child.text or "").strip()
        if text:
            yield key, text
        for name, value in child.attrib.items():
            yield f"{key}/{_attr_name(str(name))}", str(value)
        yield from _contents(child, f"{key}/")


def _attr_name(name: str) -> str:
    qname = etree.QName(name)
    return _PREFIXES.get(qname.namespace or "", "") + qname.localname


def _pairs(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[AttributeChange, ...]:
    return tuple(
        AttributeChange(key, old.get(key), new.get(key))
        for key in sorted({*old, *new})
        if old.get(key) != new.get(key)
    )


# --- forms --------------------------------------------------------------------------------------
def diff_form(old: str, new: str) -> list[ElementChange]:
    before, after = _fields(_json(old)), _fields(_json(new))
    changes = []
    for key, field in after.items():
        flat = _flat(field)
        if key not in before:
            changes.append(
                ElementChange(key, ADDED, str(field.get("type", "")), _label(field), _pairs({}, flat))
            )
        else:
            pairs = _pairs(_flat(before[key]), flat)
            if pairs:
                changes.append(ElementChange(key, CHANGED, str(field.get("type", "")), _label(field), pairs))
    for key, field in before.items():
        if key not in after:
            changes.append(
                ElementChange(
                    key, REMOVED, str(field.get("type", "")), _label(field), _pairs(_flat(field), {})
                )
            )
    return changes


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {}


def _fields(form: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(components: Any) -> None:
        if not isinstance(components, list):
            return
        for component in components:
            if not isinstance(component, dict):
                continue
            key = component.get("key") or component.get("id")
            if isinstance(key, str) and key:
                found[key] = component
            walk(component.get("components"))

    walk(form.get("components") if isinstance(form, dict) else None)
    return found


def _flat(field: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Field properties as ``path → JSON text`` (nested components are fields of their own; the
    layout the editor writes is no change of meaning)."""
    flat: dict[str, str] = {}
    for name, value in field.items():
        if name in ("components", "layout", "id") and not prefix:
            continue
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = (
                value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            )
    return flat


def _label(field: Mapping[str, Any]) -> str:
    label = field.get("label") or field.get("text") or ""
    return str(label)[:200]
