"""Auswertung (/auswertung, engine/dashboard.py) on a busy year: how long one
``Hilfenetz.auswertung`` takes for the whole network and with an organisation filter, and how long
the annual report PDF takes, on SQLite and PostgreSQL. N P1 referrals spread over the year (each
with its contact task, four other tasks and the end-event audit rows), N/10 case conferences and
N/20 funding applications. Prints the median and the maximum of the rounds.

Run: .venv/bin/python bench/dashboard_figures.py [--rows 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text

from engine.clock import ManualClock
from engine.persistence.database import Database
from engine.persistence.models import AuditEvent, ProcessInstance, UserTask
from engine.service import Hilfenetz
from engine.settings import Settings
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn, write_definitions

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
YEAR_START = datetime(2026, 1, 1, 8, tzinfo=UTC)
OUTCOMES = ["Ende_BeratungAngenommen", "Ende_BeratungAbgelehnt", "Ende_NichtErreichbar", None]


def filled_engine(root: Path, url: str, rows: int) -> Hilfenetz:
    processes, forms = write_definitions(root, {"kette": chain_bpmn()})
    settings = Settings(
        database_url=url,
        secret_key="bench",
        dev=True,
        processes_dir=processes,
        forms_dir=forms,
        base_url="http://127.0.0.1:5000",
    )
    clock = ManualClock(datetime(2026, 12, 20, 9, tzinfo=UTC))
    hn = Hilfenetz(settings, clock=clock, database=Database(url))
    hn.prepare_demo()
    template_id = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "kette", {})
    with hn.db.write() as session:
        template = session.get(ProcessInstance, template_id)
        assert template is not None
        keys = ["polizeieinsatz"] * rows + ["fallkonferenz"] * (rows // 10) + ["foerderantrag"] * (rows // 20)
        instances = [
            {
                "definition_id": template.definition_id,
                "process_key": key,
                "title": "",
                "status": "running",
                "state": b"{}",
                "state_format": template.state_format,
                "started_at": YEAR_START + timedelta(minutes=(i * 97) % (350 * 24 * 60)),
            }
            for i, key in enumerate(keys)
        ]
        session.execute(insert(ProcessInstance), instances)
        session.flush()
        ids = [
            (i, key, started)
            for i, key, started in session.execute(
                text("SELECT id, process_key, started_at FROM process_instance WHERE id <> :t"),
                {"t": template_id},
            )
        ]
        tasks, audits = [], []
        for n, (instance_id, key, started) in enumerate(ids):
            started = started if isinstance(started, datetime) else datetime.fromisoformat(str(started))
            started = started.replace(tzinfo=UTC) if started.tzinfo is None else started
            for k in range(5):
                element = "Task_Kontaktaufnahme" if key == "polizeieinsatz" and k == 0 else f"Task_{k}"
                tasks.append(
                    {
                        "id": str(uuid.uuid4()),
                        "instance_id": instance_id,
                        "process_key": key,
                        "element_id": element,
                        "name": element,
                        "candidates": "Fachkraft@frauenberatung-soest"
                        if k == 0
                        else "Fachkraft@kreispolizei",
                        "status": "completed" if n % 7 else "open",
                        "created_at": started,
                        "due_at": started + timedelta(days=3),
                        "completed_at": started + timedelta(hours=n % 90) if n % 7 else None,
                    }
                )
            outcome = OUTCOMES[n % len(OUTCOMES)]
            if key == "polizeieinsatz" and outcome:
                audits.append(
                    {
                        "at": started + timedelta(days=4),
                        "actor_name": "System",
                        "action": "element_left",
                        "instance_id": instance_id,
                        "element_id": outcome,
                        "detail": {},
                    }
                )
        session.execute(insert(UserTask), tasks)
        session.execute(insert(AuditEvent), audits)
        session.commit()
    return hn


def timed(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    call()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def measure(database: str, hn: Hilfenetz, rows: int, rounds: int) -> None:
    coordinator = actor_lookup(hn)("koordination.jugendamt")
    summe = hn.auswertung(coordinator, "2026-01-01", "2026-12-31").tabelle("vermittlungen").zeilen[-1]
    assert summe.zellen[0].wert == rows, summe
    for label, call in (
        ("whole network", lambda: hn.auswertung(coordinator, "2026-01-01", "2026-12-31")),
        ("one organisation", lambda: hn.auswertung(coordinator, None, None, "frauenberatung-soest")),
        ("annual report PDF", lambda: hn.jahresbericht_pdf(coordinator, 2026)),
    ):
        median, worst = timed(call, rounds)
        print(f"{database} {rows} referrals, {label}: median {median:.0f} ms, max {worst:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hn-bench-dashboard-"))
    sqlite = filled_engine(tmp / "sqlite", f"sqlite:///{tmp / 'bench.db'}", args.rows)
    measure("SQLite    ", sqlite, args.rows, args.rounds)
    sqlite.db.dispose()
    name = f"hilfenetz_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL nicht erreichbar, entfällt: {exc}")
        return
    try:
        pg = filled_engine(tmp / "pg", PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", args.rows)
        measure("PostgreSQL", pg, args.rows, args.rounds)
        pg.db.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
