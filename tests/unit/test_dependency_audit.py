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


def run(monkeypatch: pytest.MonkeyPatch, report: dict[str, Any] | None, required: bool) -> int:
    monkeypatch.setattr(dependency_audit, "run_pip_audit", lambda: (report, "" if report else "offline"))
    monkeypatch.setenv("CI", "true")  # CI alone does not make an unreachable service a failure
    if required:
        monkeypatch.setenv("HILFENETZ_AUDIT_REQUIRED", "1")
    else:
        monkeypatch.delenv("HILFENETZ_AUDIT_REQUIRED", raising=False)
    code: int = dependency_audit.main()
    return code


@pytest.mark.parametrize("required", [False, True])
def test_a_known_vulnerability_always_fails(monkeypatch, capsys, required):
    assert run(monkeypatch, VULNERABLE, required) == 1
    assert "jinja2 3.1.0: GHSA-x (behoben in 3.1.6)" in capsys.readouterr().out


def test_a_clean_report_passes(monkeypatch, capsys):
    assert run(monkeypatch, CLEAN, required=True) == 0
    assert "1 Pakete geprüft" in capsys.readouterr().out


@pytest.mark.parametrize("report", [SKIPPED, None])
def test_an_unreachable_service_warns_and_fails_only_where_required(monkeypatch, capsys, report):
    assert run(monkeypatch, report, required=False) == 0
    out = capsys.readouterr().out
    assert "WARNUNG" in out and "nicht geprüft" in out
    assert run(monkeypatch, report, required=True) == 1
    assert "HILFENETZ_AUDIT_REQUIRED=1" in capsys.readouterr().out
