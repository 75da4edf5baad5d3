"""The one hardened XML parser of Hilfenetz.

Every BPMN, DMN or other XML upload goes through :func:`parse_xml`; the resulting
element is handed to SpiffWorkflow (``parser.add_bpmn_xml(root, filename=...)``).
SpiffWorkflow must never read files or strings itself: its own parser resolves
entities and leaked local files through external parameter entities on lxml
releases before 6.1.3.

Defence in depth: the raw text is refused before lxml sees it if it carries a
DOCTYPE or an entity declaration; the parser is configured to load nothing and
expand nothing; the parsed tree is checked once more for a DOCTYPE, entity
references and processing instructions.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import NoReturn

from lxml import etree

from engine.errors import InvalidDefinitionError, Problem

MAX_XML_BYTES = 2_000_000
_ZIP_MAGIC = b"PK\x03\x04"

_DOCTYPE = re.compile(r"<!\s*DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(r"<!\s*ENTITY", re.IGNORECASE)
_ENCODING_DECL = re.compile(r"""\A(\s*<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_UTF_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NUL_PATTERNS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)


def too_large(size: int, max_bytes: int) -> str:
    """The German reason for a file over the limit, with German thousands separators."""
    size_text, limit_text = (f"{n:,}".replace(",", ".") for n in (size, max_bytes))
    return f"zu groß ({size_text} Bytes, erlaubt sind höchstens {limit_text} Bytes)"


def parse_xml(
    data: bytes | str,
    *,
    filename: str = "<upload>",
    max_bytes: int = MAX_XML_BYTES,
) -> etree._Element:
    """Parse untrusted XML and return its root element, or raise InvalidDefinitionError."""
    raw = _to_bytes(data)
    if len(raw) > max_bytes:
        _reject(filename, f"Die Datei ist {too_large(len(raw), max_bytes)}.")
    _check_raw_text(raw, filename)
    try:
        root = etree.fromstring(raw, parser=_make_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno is not None else "?"
        if "Excessive depth" in str(exc.msg):
            _reject(filename, f"Die Datei ist zu tief verschachtelt (Zeile {line}; höchstens 256 Ebenen).")
        _reject(filename, f"Die Datei ist kein wohlgeformtes XML (Zeile {line}): {exc.msg}")
    _check_tree(root, filename)
    return root


def read_definition_file(path: Path, max_bytes: int = MAX_XML_BYTES) -> str:
    """The text of a process or table file; too large, binary or not UTF-8 is refused, never a crash."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            _reject(path.name, f"Die Datei ist {too_large(size, max_bytes)}.")
        raw = path.read_bytes()
    except OSError as exc:
        _reject(path.name, f"Die Datei kann nicht gelesen werden ({exc.strerror or exc}).")
    if raw.startswith(_ZIP_MAGIC):
        _reject(
            path.name,
            "Die Datei ist ein ZIP-Archiv (z. B. ein Export mehrerer Dateien), kein XML; bitte entpacken.",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _reject(
            path.name,
            f"Die Datei ist keine UTF-8-Textdatei (Byte {exc.start}); ist sie wirklich ein Diagramm?",
        )


def _make_parser() -> etree.XMLParser:
    """A fresh parser per call: lxml parser objects are not meant to be shared between threads."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=False,
        dtd_validation=False,
    )


def _to_bytes(data: bytes | str) -> bytes:
    """Encode text as UTF-8 and make its declaration say so.

    lxml refuses a ``str`` that carries an encoding declaration, and a declaration
    naming another encoding would make it misread the UTF-8 bytes.
    """
    if isinstance(data, bytes):
        return data
    text = _ENCODING_DECL.sub(r"\1\2UTF-8\2", data.lstrip("\ufeff"), count=1)
    return text.encode("utf-8")


def _sniff_text(raw: bytes) -> str:
    """Decode just enough to search for markup in any encoding libxml2 detects on its own."""
    for bom, codec in _UTF_BOMS:
        if raw.startswith(bom):
            return raw.decode(codec, errors="replace")
    for pattern, codec in _NUL_PATTERNS:
        if raw.startswith(pattern):
            return raw.decode(codec, errors="replace")
    # Every other encoding libxml2 reads without a BOM is ASCII-compatible for "<!DOCTYPE".
    return raw.decode("latin-1")


def _check_raw_text(raw: bytes, filename: str) -> None:
    text = _sniff_text(raw)
    if _ENTITY.search(text):
        _reject(filename, "Entity-Deklarationen (<!ENTITY …>) sind nicht erlaubt.")
    if _DOCTYPE.search(text):
        _reject(filename, "Eine DOCTYPE-Deklaration ist nicht erlaubt.")


def _check_tree(root: etree._Element, filename: str) -> None:
    if _has_doctype(root.getroottree().docinfo):
        _reject(filename, "Eine DOCTYPE-Deklaration ist nicht erlaubt.")
    for _entity in root.iter(etree.Entity):
        _reject(filename, "Entity-Referenzen sind nicht erlaubt.")
    for node in _top_level_siblings(root):
        if isinstance(node, etree._ProcessingInstruction):
            _reject_pi(node, filename)
    for pi in root.iter(etree.ProcessingInstruction):
        _reject_pi(pi, filename)


def _has_doctype(docinfo: etree.DocInfo) -> bool:
    # ``doctype`` and ``system_url`` exist at runtime but are missing from lxml-stubs.
    declared = getattr(docinfo, "doctype", "") or getattr(docinfo, "system_url", None)
    return bool(
        declared or docinfo.public_id or docinfo.internalDTD is not None or docinfo.externalDTD is not None
    )


def _top_level_siblings(root: etree._Element) -> list[etree._Element]:
    return [*root.itersiblings(preceding=True), *root.itersiblings()]


def _reject_pi(node: etree._Element, filename: str) -> NoReturn:
    target = str(node.target) if isinstance(node, etree._ProcessingInstruction) else "?"
    _reject(filename, f"Verarbeitungsanweisungen (<?{target} …?>) sind nicht erlaubt.")


def _reject(filename: str, reason: str) -> NoReturn:
    raise InvalidDefinitionError(
        f"Die Datei „{filename}“ wurde abgelehnt: {reason}",
        problems=[Problem(file=filename, element=None, reason=reason)],
    )
