"""`make audit` must not call an environment clean when pip-audit could not look anything up."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

from engine.settings import REPO_ROOT

_SPEC = importlib.util.spec_from_file_location("dependency_audit", REPO_ROOT / "scripts/dependency_audit.py")
assert _SPEC and _SPEC.loader
dependency_audit = importlib.util.module_from_spec(_SPEC)
sys.modules["dependency_audit"] = dependency_audit
_SPEC.loader.exec_module(dependency_audit)

CLEAN = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}], "fixes": []}
SKIPPED = {"dependencies": [{"name": "flask", "skip_reason": "Dependency not found on PyPI"}], "fixes": []}
VULNERABLE = {
    "dependencies": [
        {"name": "jinja2", "version": "3.1.0", "vulns": [{"id": "GHSA-x", "fix_versions": ["3.1.6"]}]}
    ],
    "fixes": [],
}


def run(monkeypatch: pytest.MonkeyPatch, report: dict[str, Any] | None, ci: bool) -> int:
    monkeypatch.setattr(dependency_audit, "run_pip_audit", lambda: (report, "" if report else "offline"))
    if ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)
    code: int = dependency_audit.main()
    return code


@pytest.mark.parametrize("ci", [False, True])
def test_a_known_vulnerability_always_fails(monkeypatch, capsys, ci):
    assert run(monkeypatch, VULNERABLE, ci) == 1
    assert "jinja2 3.1.0: GHSA-x (behoben in 3.1.6)" in capsys.readouterr().out


def test_a_clean_report_passes(monkeypatch, capsys):
    assert run(monkeypatch, CLEAN, ci=True) == 0
    assert "1 Pakete geprüft" in capsys.readouterr().out


@pytest.mark.parametrize("report", [SKIPPED, None])
def test_an_unreachable_service_warns_locally_and_fails_in_ci(monkeypatch, capsys, report):
    assert run(monkeypatch, report, ci=False) == 0
    assert "WARNUNG" in capsys.readouterr().out
    assert run(monkeypatch, report, ci=True) == 1
    assert "CI=true" in capsys.readouterr().out
