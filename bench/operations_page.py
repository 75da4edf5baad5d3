"""Operations page read model (/betrieb, engine/operations.py) against a large backlog: how long
one ``Hilfenetz.operations_overview`` takes on SQLite and on PostgreSQL with N outbox rows
(80 % sent, the rest waiting, in delivery and dead) and N process instances (a tenth with an
overdue timer, one in a hundred stuck). Prints the median and the maximum of the rounds.

Run: .venv/bin/python bench/operations_page.py [--rows 20000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text

from engine.clock import ManualClock
from engine.persistence.database import Database
from engine.persistence.models import Outbox, ProcessInstance
from engine.service import Hilfenetz
from engine.settings import Settings
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn, write_definitions

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
OUTBOX_STATES = ["sent"] * 16 + ["pending", "failed", "processing", "dead"]


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
    clock = ManualClock()
    hn = Hilfenetz(settings, clock=clock, database=Database(url))
    hn.prepare_demo()
    template_id = hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "kette", {})
    now = clock.now()
    with hn.db.write() as session:
        template = session.get(ProcessInstance, template_id)
        assert template is not None
        instances = [
            {
                "definition_id": template.definition_id,
                "process_key": "kette",
                "title": f"Vorgang {i}",
                "status": "stuck" if i % 100 == 0 else "running",
                "status_reason": "Kein weiterer Schritt möglich." if i % 100 == 0 else None,
                "state": template.state,
                "state_format": template.state_format,
                "started_at": now,
                "next_timer_at": now + timedelta(minutes=(i % 20) - 10),  # half overdue, half due soon
            }
            for i in range(rows)
        ]
        session.execute(insert(ProcessInstance), instances)
        outbox = [
            {
                "created_at": now,
                "kind": "task_created",
                "payload": {"task_id": "0"},
                "status": OUTBOX_STATES[i % len(OUTBOX_STATES)],
                "attempts": 5 if OUTBOX_STATES[i % len(OUTBOX_STATES)] == "dead" else 1,
                "last_error": "SMTP: 550",
            }
            for i in range(rows)
        ]
        session.execute(insert(Outbox), outbox)
        session.commit()
    return hn


def measure(hn: Hilfenetz, rounds: int) -> tuple[float, float]:
    admin = actor_lookup(hn)("admin")
    hn.operations_overview(admin)  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        overview = hn.operations_overview(admin)
        times.append((time.perf_counter() - start) * 1000)
    assert overview.dead_count > 0 and overview.late_timer_count > 0 and overview.troubled_count > 0
    return statistics.median(times), max(times)


def report(database: str, rows: int, median: float, worst: float) -> None:
    print(f"{database} {rows} outbox rows + {rows} instances: median {median:.1f} ms, max {worst:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hn-bench-ops-"))
    sqlite = filled_engine(tmp / "sqlite", f"sqlite:///{tmp / 'bench.db'}", args.rows)
    median, worst = measure(sqlite, args.rounds)
    report("SQLite    ", args.rows, median, worst)
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
        median, worst = measure(pg, args.rounds)
        report("PostgreSQL", args.rows, median, worst)
        pg.db.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
