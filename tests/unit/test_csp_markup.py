"""The content security policy forbids inline scripts (``script-src 'self'``); this scan proves the
templates and our static HTML need none: no ``<script>`` without ``src`` (JSON data blocks excepted),
no ``on*=`` event handler attributes and no ``javascript:`` URLs. The scanner itself is tested on
bad markup, so a regression in it cannot make the scan pass silently."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.settings import REPO_ROOT
from webapp.security import CONTENT_SECURITY_POLICY

WEBAPP = REPO_ROOT / "webapp"
#: Jinja tags and expressions are replaced before parsing; their content is not markup.
_JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)
_JSON_TYPES = {"application/json", "application/ld+json"}


class _InlineScriptFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        names = dict(attrs)
        if tag == "script" and "src" not in names and (names.get("type") or "") not in _JSON_TYPES:
            self.problems.append(f"Zeile {line}: <script> ohne src")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"Zeile {line}: Ereignis-Attribut {name}=")
            if value and re.match(r"\s*javascript:", value, re.I):
                self.problems.append(f"Zeile {line}: javascript:-URL in {name}=")


def inline_script_problems(markup: str) -> list[str]:
    finder = _InlineScriptFinder()
    finder.feed(_JINJA.sub(" ", markup))
    finder.close()
    return finder.problems


def html_files() -> list[Path]:
    templates = sorted((WEBAPP / "templates").rglob("*.html"))
    static = [p for p in sorted((WEBAPP / "static").rglob("*.html")) if "vendor" not in p.parts]
    return templates + static


def test_the_policy_allows_no_inline_or_eval_script():
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in directives["default-src"]


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>",
        '<script type="module">x()</script>',
        '<button onclick="x()">x</button>',
        '<body ONLOAD="x()">',
        '<a href=" JavaScript:x()">x</a>',
        '<form action="javascript:x()"></form>',
        '<div {% if a %}onmouseover="x()"{% endif %}></div>',
    ],
)
def test_the_scanner_finds_inline_script(markup):
    assert inline_script_problems(markup)


def test_the_scanner_accepts_external_scripts_and_json_blocks():
    markup = (
        "<script src=\"{{ url_for('static', filename='js/a.js') }}\" defer></script>"
        '<script type="application/json" id="daten">{"a": 1}</script><a href="/x">x</a>'
    )
    assert inline_script_problems(markup) == []


def test_no_template_or_static_page_contains_inline_script():
    files = html_files()
    assert len(files) > 20, "die Vorlagen wurden nicht gefunden"
    problems = {
        str(path.relative_to(REPO_ROOT)): found
        for path in files
        if (found := inline_script_problems(path.read_text(encoding="utf-8")))
    }
    assert problems == {}
