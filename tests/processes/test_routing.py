"""Responsibility routing is data: a changed DMN table routes the next case anew."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from engine.clock import ManualClock
from engine.persistence.models import ProcessInstance
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine


def _copy_definitions(root: Path) -> tuple[Path, Path]:
    processes, forms = root / "processes", root / "forms"
    shutil.copytree(REPO_ROOT / "processes", processes)
    shutil.copytree(REPO_ROOT / "forms", forms)
    return processes, forms


def _youth_office_sees(hn: Hilfenetz, username: str, instance_id: int) -> bool:
    page = hn.worklist(actor_lookup(hn)(username), WorklistQuery(view="alle", per_page=100))
    return any(t.instance_id == instance_id for t in page.tasks)


def _start(hn: Hilfenetz, gemeinde: str) -> int:
    data = {"gemeinde": gemeinde, "quelle": "partner", "anzahl_kinder": 1, "anlass": "Hinweis einer Schule"}
    return hn.start(actor_lookup(hn)("fachkraft.frauenhaus"), "kinderschutz", data)


def test_a_changed_table_routes_the_next_case_and_running_cases_keep_theirs(
    tmp_path: Path, clock: ManualClock
) -> None:
    processes, forms = _copy_definitions(tmp_path)
    hn = build_engine(tmp_path, f"sqlite:///{tmp_path / 'routing.db'}", clock, (processes, forms))
    before = _start(hn, "Rüthen")
    assert _youth_office_sees(hn, "fachkraft.jugendamt", before)
    assert not _youth_office_sees(hn, "fachkraft.jugendamt-warstein", before)

    table = processes / "jugendamt_zustaendigkeit.dmn"
    text = table.read_text(encoding="utf-8")
    assert text.count('"Rüthen"') == 1 and text.count('"Warstein"') == 1
    text = text.replace('"Rüthen",', "").replace(',"Rüthen"', "").replace(', "Rüthen"', "")
    table.write_text(text.replace('"Warstein"', '"Warstein","Rüthen"'), encoding="utf-8")
    views = hn.deploy_decision_file(table, "koordination")
    assert "kinderschutz" in {v.key for v in views}

    after = _start(hn, "Rüthen")
    assert _youth_office_sees(hn, "fachkraft.jugendamt-warstein", after)
    assert not _youth_office_sees(hn, "fachkraft.jugendamt", after)
    assert _youth_office_sees(hn, "fachkraft.jugendamt", before)  # the running case keeps its route
    with hn.db.read() as session:
        versions = dict(
            session.execute(
                select(ProcessInstance.id, ProcessInstance.definition_id).where(
                    ProcessInstance.id.in_([before, after])
                )
            ).all()
        )
    assert versions[before] != versions[after]
    hn.db.dispose()
