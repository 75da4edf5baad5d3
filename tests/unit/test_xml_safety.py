"""The hardened XML parser refuses every entity, DTD and size trick."""

from __future__ import annotations

import pytest
from lxml import etree

from engine.errors import InvalidDefinitionError
from engine.xml_safety import MAX_XML_BYTES, parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

VALID_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <!-- Kommentare bleiben erhalten -->
  <bpmn:process id="antrag" name="Antrag prüfen" isExecutable="true">
    <bpmn:startEvent id="Start" />
  </bpmn:process>
</bpmn:definitions>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>
"""

EXTERNAL_PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [
  <!ENTITY % xxe SYSTEM "file:///etc/passwd">
  %xxe;
]>
<foo/>
"""

XINCLUDE = """<root xmlns:xi="http://www.w3.org/2001/XInclude">
  <xi:include href="file:///etc/passwd" parse="text"/>
</root>
"""


def _refusal(data: bytes | str, **kwargs: int) -> InvalidDefinitionError:
    with pytest.raises(InvalidDefinitionError) as info:
        parse_xml(data, filename="prozess.bpmn", **kwargs)
    err = info.value
    assert err.problems, "a refusal names its problem"
    assert err.problems[0].file == "prozess.bpmn"
    assert "root:" not in err.message
    assert "root:" not in err.problems[0].reason
    return err


def test_valid_bpmn_returns_root_element() -> None:
    root = parse_xml(VALID_BPMN, filename="antrag.bpmn")
    assert root.tag == f"{{{BPMN_NS}}}definitions"
    process = root.find(f"{{{BPMN_NS}}}process")
    assert process is not None
    assert process.get("name") == "Antrag prüfen"


def test_bytes_input_is_accepted() -> None:
    root = parse_xml(VALID_BPMN.encode("utf-8"))
    assert root.get("id") == "Definitions_1"


def test_str_with_foreign_encoding_declaration_is_accepted() -> None:
    root = parse_xml('<?xml version="1.0" encoding="ISO-8859-1"?>\n<a>Größe</a>')
    assert root.text == "Größe"


def test_billion_laughs_is_refused() -> None:
    err = _refusal(BILLION_LAUGHS)
    assert "Entity" in err.problems[0].reason


def test_billion_laughs_in_utf16_is_refused() -> None:
    data = BILLION_LAUGHS.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    _refusal(data)


def test_external_entity_is_refused_and_never_read() -> None:
    err = _refusal(EXTERNAL_ENTITY)
    assert "/etc/passwd" not in str(err)


def test_external_parameter_entity_is_refused() -> None:
    _refusal(EXTERNAL_PARAMETER_ENTITY)


def test_xinclude_is_not_processed() -> None:
    root = parse_xml(XINCLUDE)
    text = etree.tostring(root, encoding="unicode")
    assert "root:" not in text
    assert root[0].tag == "{http://www.w3.org/2001/XInclude}include"


@pytest.mark.parametrize("doctype", ["<!DOCTYPE root>", "<!doctype root>", '<!DocType root SYSTEM "x.dtd">'])
def test_doctype_alone_is_refused(doctype: str) -> None:
    err = _refusal(f"{doctype}\n<root/>")
    assert "DOCTYPE" in err.problems[0].reason


@pytest.mark.parametrize("xml", ['<?xml-stylesheet href="x.xsl"?><root/>', "<root><?php echo 1; ?></root>"])
def test_processing_instructions_are_refused(xml: str) -> None:
    err = _refusal(xml)
    assert "Verarbeitungsanweisungen" in err.problems[0].reason


def test_oversize_is_refused() -> None:
    err = _refusal("<root>" + "x" * 100 + "</root>", max_bytes=50)
    assert "zu groß" in err.problems[0].reason


def test_default_size_limit() -> None:
    assert MAX_XML_BYTES == 2_000_000
    _refusal(b"<root>" + b"x" * MAX_XML_BYTES + b"</root>")


def test_malformed_xml_reports_line_number() -> None:
    err = _refusal("<root>\n  <a>\n  </b>\n</root>")
    assert "Zeile 3" in err.problems[0].reason


def test_empty_document_is_refused() -> None:
    _refusal(b"")


@pytest.mark.parametrize(
    "xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_PARAMETER_ENTITY, "<!DOCTYPE r><r/>"]
)
def test_parsed_tree_check_refuses_even_without_raw_check(xml: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Second line of defence: the parsed document is checked again."""
    monkeypatch.setattr("engine.xml_safety._check_raw_text", lambda raw, filename: None)
    err = _refusal(xml)
    assert "/etc/passwd" not in str(err)


def test_a_file_over_the_limit_is_named_with_german_thousands():
    from engine.xml_safety import too_large

    assert too_large(3_638_526, 2_000_000) == (
        "zu groß (3.638.526 Bytes, erlaubt sind höchstens 2.000.000 Bytes)"
    )
