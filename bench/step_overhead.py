"""Step overhead: one 5-user-task process run (a) bare SpiffWorkflow in memory, (b) through the
engine on SQLite, (c) through the engine on PostgreSQL. Interleaved rounds; prints ms per
instance and the medians of b/a and c/a. Target: b/a <= 8, c/a <= 12.

Run: .venv/bin/python bench/step_overhead.py [--rounds 7] [--instances 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import create_engine, select, text

from engine.clock import ManualClock
from engine.definitions import HilfenetzParser
from engine.persistence.database import Database
from engine.persistence.models import UserTask
from engine.service import Hilfenetz
from engine.settings import Settings
from engine.xml_safety import parse_xml
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import chain_bpmn, write_definitions

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def bare_runner(bpmn: str):  # type: ignore[no-untyped-def]
    parser = HilfenetzParser()
    parser.add_bpmn_xml(parse_xml(bpmn, filename="kette.bpmn"), filename="kette.bpmn")
    spec = parser.get_spec("kette")

    def run() -> None:
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        for _ in range(5):
            task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update({"notiz": "ok"})
            task.run()
            wf.do_engine_steps()
        assert wf.is_completed()

    return run


def engine_runner(root: Path, url: str):  # type: ignore[no-untyped-def]
    processes, forms = write_definitions(root, {"kette": chain_bpmn()})
    settings = Settings(
        database_url=url,
        secret_key="bench",
        dev=True,
        processes_dir=processes,
        forms_dir=forms,
        base_url="http://127.0.0.1:5000",
    )
    hn = Hilfenetz(settings, clock=ManualClock(), database=Database(url))
    hn.prepare_demo()
    user = actor_lookup(hn)("fachkraft.frauenberatung")

    def next_task(instance_id: int) -> str:
        with hn.db.read() as s:
            return str(
                s.scalar(
                    select(UserTask.id).where(UserTask.instance_id == instance_id, UserTask.status == "open")
                )
            )

    def run() -> None:
        task_id = next_task(hn.start(user, "kette", {}))
        for _ in range(5):
            done = hn.complete_task(user, task_id, {"notiz": "ok"})
            task_id = done.new_task_ids[0] if done.new_task_ids else ""

    return run, hn


def timed(run, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(n):
        run()
    return (time.perf_counter() - start) * 1000 / n


def postgres_url() -> tuple[str, str] | None:
    name = f"hilfenetz_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:
        print(f"PostgreSQL nicht erreichbar, (c) entfällt: {exc}")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--instances", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hn-bench-"))
    bare = bare_runner(chain_bpmn())
    sqlite_run, _ = engine_runner(tmp / "sqlite", f"sqlite:///{tmp / 'bench.db'}")
    pg = postgres_url()
    pg_run = engine_runner(tmp / "pg", pg[0])[0] if pg else None
    for run in (bare, sqlite_run, pg_run):  # warm-up: imports, caches, connections
        if run:
            timed(run, 3)
    a_ms, b_ms, c_ms, ba, ca = [], [], [], [], []
    for _ in range(args.rounds):
        a = timed(bare, args.instances)
        b = timed(sqlite_run, args.instances)
        a_ms.append(a)
        b_ms.append(b)
        ba.append(b / a)
        if pg_run:
            c = timed(pg_run, args.instances)
            c_ms.append(c)
            ca.append(c / a)
    print(f"(a) bare SpiffWorkflow in memory: {statistics.median(a_ms):7.2f} ms/instance")
    print(
        f"(b) engine + SQLite:              {statistics.median(b_ms):7.2f} ms/instance   "
        f"b/a median {statistics.median(ba):.2f}  (target <= 8)"
    )
    if pg_run:
        print(
            f"(c) engine + PostgreSQL:          {statistics.median(c_ms):7.2f} ms/instance   "
            f"c/a median {statistics.median(ca):.2f}  (target <= 12)"
        )
    if pg:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{pg[1]}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
