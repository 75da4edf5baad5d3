"""Check problems are shown through ``_()`` (webapp/modellierung.py, the modelling templates): every
fixed problem text needs its English in webapp/translations/en.json, or English pages stay German.
Messages built with f-strings (they name elements, values, forms) stay German."""

from __future__ import annotations

import ast
from pathlib import Path

from engine.foreign_elements import _CAMUNDA_8, UNSUPPORTED_EVENTS
from webapp.i18n import _CATALOGUE

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def _fixed_problem_texts() -> dict[str, str]:
    """Constant reasons of ``Problem(...)`` and constant messages of ``InvalidDefinitionError(...)``."""
    found: dict[str, str] = {}
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in ("Problem", "InvalidDefinitionError"):
                continue
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and " " in arg.value:
                    found.setdefault(arg.value, path.name)
    return found


def test_the_scan_finds_the_fixed_problems():
    texts = _fixed_problem_texts()
    assert "Die Benutzeraufgabe hat keine Zuständigkeit (candidateGroups)." in texts
    assert "Die Prozessdefinition enthält Fehler." in texts
    assert len(texts) >= 20


def test_every_fixed_problem_text_has_english():
    texts = {**_fixed_problem_texts(), _CAMUNDA_8: "foreign_elements.py"}
    texts.update((reason, "foreign_elements.py") for reason in UNSUPPORTED_EVENTS.values())
    assert {t: f for t, f in texts.items() if t not in _CATALOGUE["en"]} == {}
