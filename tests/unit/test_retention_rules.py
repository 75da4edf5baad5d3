"""Every process declares its retention periods in the BPMN; deployment and check refuse it otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.checks import check_file
from engine.definitions import declared_retention
from engine.errors import InvalidDefinitionError
from engine.projection import parse_iso_duration
from engine.retention_rules import CATEGORY_KEYS
from engine.service import Hilfenetz
from tests.support.bpmn_factory import TEST_RETENTION, chain_bpmn, retention_properties

SHIPPED = Path(__file__).resolve().parents[2] / "processes"


def _with(periods: dict[str, str], pid: str) -> str:
    block = f"<bpmn:extensionElements><camunda:properties>{retention_properties(periods)}"
    return chain_bpmn(pid=pid).replace(
        'isExecutable="true">',
        f'isExecutable="true">{block}</camunda:properties></bpmn:extensionElements>',
        1,
    )


def _refusal(hn: Hilfenetz, pid: str, text: str) -> list[str]:
    path = hn.settings.processes_dir / f"{pid}.bpmn"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidDefinitionError) as refused:
        hn.deploy_file(path)
    assert all(p.element == pid for p in refused.value.problems)
    from_check = check_file(path, hn.settings.forms_dir)
    assert [p.reason for p in from_check] == [p.reason for p in refused.value.problems]
    return [p.reason for p in refused.value.problems]


def test_a_process_without_retention_periods_is_refused(hn: Hilfenetz) -> None:
    (reason,) = _refusal(hn, "ohne", chain_bpmn(pid="ohne"))
    assert "keine Aufbewahrungsfrist" in reason and "aufbewahrung.falldaten" in reason


def test_a_missing_category_an_unparsable_period_and_an_unknown_category_are_named(hn: Hilfenetz) -> None:
    periods = {"falldaten": "drei Jahre", "entwuerfe": "P1M", "kontaktdaten": "P3M", "sonstiges": "P1Y"}
    reasons = _refusal(hn, "schief", _with(periods, "schief"))
    assert any("„aufbewahrung.falldaten“ = „drei Jahre“ ist keine ISO-8601-Dauer" in r for r in reasons)
    assert any("Unbekannte Datenkategorie „sonstiges“" in r for r in reasons)
    assert any("aufbewahrung.benachrichtigungen" in r and "keine Aufbewahrungsfrist" in r for r in reasons)
    assert any("aufbewahrung.einwilligungen" in r and "keine Aufbewahrungsfrist" in r for r in reasons)
    assert len(reasons) == 3


def test_complete_declarations_deploy_and_are_read_back(hn: Hilfenetz) -> None:
    periods = {
        "falldaten": "P10Y",
        "entwuerfe": "P1M",
        "kontaktdaten": "P3M",
        "benachrichtigungen": "P6M",
        "einwilligungen": "P10Y",
    }
    path = hn.settings.processes_dir / "gut.bpmn"
    path.write_text(_with(periods, "gut"), encoding="utf-8")
    assert hn.deploy_file(path).key == "gut"
    assert declared_retention(path.read_text(encoding="utf-8"), "gut") == periods


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.bpmn")), ids=lambda p: p.stem)
def test_every_shipped_process_declares_every_category(path: Path) -> None:
    periods = declared_retention(path.read_text(encoding="utf-8"), path.stem)
    assert set(periods) == set(CATEGORY_KEYS)
    for value in periods.values():
        parse_iso_duration(value)


def test_a_zero_period_is_refused(hn: Hilfenetz) -> None:
    periods = {**TEST_RETENTION, "falldaten": "P0D", "entwuerfe": "PT0S"}
    reasons = _refusal(hn, "sofort", _with(periods, "sofort"))
    assert len(reasons) == 2 and all("ist null" in r for r in reasons)
    assert any("„aufbewahrung.falldaten“ = „P0D“" in r for r in reasons)
    assert any("„aufbewahrung.entwuerfe“ = „PT0S“" in r for r in reasons)
