"""Timer latency: 1,000 BPMN timers due across one minute; prints p50/p99/max lateness
(due time → the follow-up task committed) for

* embedded mode: SQLite and the in-process job runner (``HILFENETZ_JOB_INTERVAL_SECONDS``), and
* Celery mode: PostgreSQL + Redis, ``hilfenetz beat`` and two ``hilfenetz worker`` processes
  (concurrency 1 each), all real subprocesses.

Each instance waits in a user task with a boundary timer whose date comes from the start data
(``timeDate``), spread evenly over 60 s; lateness is the escalation task's ``created_at`` minus
that date. Target (issue 6): p99 ≤ 2 s in both modes. A benchmark prints figures, it asserts none.

Run: .venv/bin/python bench/timer_latency.py [--timers 1000] [--window 60] [--mode both|embedded|celery]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, select, text

from engine.clock import SystemClock
from engine.jobs import EmbeddedJobRunner
from engine.persistence.database import Database
from engine.persistence.models import UserTask
from engine.service import Hilfenetz
from engine.settings import Settings
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import timer_bpmn, write_definitions
from tests.support.celery_workers import (
    REDIS_URL,
    broker_unreachable,
    drop_queue,
    launch,
    unique_queue,
    worker_env,
)

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START_FORM = {
    "id": "frist_start",
    "type": "default",
    "components": [{"type": "textfield", "key": "faellig", "label": "Fällig", "id": "faellig"}],
}


def definitions(root: Path) -> tuple[Path, Path]:
    bpmn = (
        timer_bpmn("frist")
        .replace(
            '<bpmn:startEvent id="start"/>', '<bpmn:startEvent id="start" camunda:formRef="frist_start"/>'
        )
        .replace('<bpmn:timeDuration>"P2D"</bpmn:timeDuration>', "<bpmn:timeDate>faellig</bpmn:timeDate>")
    )
    return write_definitions(root, {"frist": bpmn}, {"frist_start": START_FORM})


def build(root: Path, url: str, **overrides: object) -> Hilfenetz:
    processes, forms = definitions(root / "defs")
    settings = Settings.from_env({"HILFENETZ_DEV": "1", "HILFENETZ_DATABASE_URL": url})
    settings = replace(settings, processes_dir=processes, forms_dir=forms, **overrides)  # type: ignore[arg-type]
    hn = Hilfenetz(settings, clock=SystemClock(), database=Database(url))
    hn.prepare_demo()
    return hn


def start_timers(hn: Hilfenetz, count: int, window: float) -> dict[int, datetime]:
    """Start ``count`` instances whose timers fall evenly into ``window`` seconds, beginning once
    all are started (the start rate is measured on the first 20)."""
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    probe = time.monotonic()
    later = (hn.clock.now() + timedelta(days=1)).isoformat()  # probes: due long after the run
    for _ in range(20):
        hn.start(user, "frist", {"faellig": later})
    per_start = (time.monotonic() - probe) / 20
    begin = hn.clock.now() + timedelta(seconds=per_start * count * 2.5 + 10)
    due: dict[int, datetime] = {}
    for i in range(count):
        moment = begin + timedelta(seconds=window * i / count)
        due[hn.start(user, "frist", {"faellig": moment.isoformat()})] = moment
    if hn.clock.now() > begin:
        print(f"  Achtung: das Anlegen dauerte länger als geplant, {hn.clock.now() - begin} nach Beginn")
    return due


def lateness(hn: Hilfenetz, due: dict[int, datetime]) -> list[float]:
    with hn.db.read() as session:
        rows = session.execute(
            select(UserTask.instance_id, UserTask.created_at).where(
                UserTask.element_id == "eskalation", UserTask.instance_id.in_(list(due))
            )
        ).all()
    return [(created - due[instance]).total_seconds() for instance, created in rows]


def wait_until_fired(hn: Hilfenetz, due: dict[int, datetime], window: float) -> list[float]:
    deadline = max(due.values()) + timedelta(seconds=max(30.0, window / 2))
    while hn.clock.now() < deadline:
        late = lateness(hn, due)
        if len(late) == len(due):
            return late
        time.sleep(1.0)
    return lateness(hn, due)


def report(mode: str, late: list[float], expected: int) -> None:
    if not late:
        print(f"{mode:<52} kein Timer gefeuert (von {expected})")
        return
    q = statistics.quantiles(late, n=100, method="inclusive")
    print(
        f"{mode:<52} gefeuert {len(late):>5}/{expected}  p50 {q[49]:6.3f} s  p99 {q[98]:6.3f} s  "
        f"max {max(late):6.3f} s  (Ziel p99 ≤ 2 s: {'erreicht' if q[98] <= 2 else 'nicht erreicht'})"
    )


def embedded(root: Path, count: int, window: float) -> None:
    hn = build(root / "embedded", f"sqlite:///{root / 'embedded.db'}")
    interval = hn.settings.job_interval_seconds
    runner = EmbeddedJobRunner(hn, interval)
    runner.start()
    try:
        due = start_timers(hn, count, window)
        late = wait_until_fired(hn, due, window)
    finally:
        runner.stop()
        hn.db.dispose()
    report(f"eingebettet (SQLite, Runner alle {interval:g} s)", late, count)


def celery(root: Path, count: int, window: float) -> None:
    reason = broker_unreachable(REDIS_URL)
    if reason:
        print(f"Celery-Modus übersprungen: {reason}")
        return
    name = f"hilfenetz_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    processes: list[subprocess.Popen[bytes]] = []
    hn = build(root / "celery", url, broker_url=REDIS_URL, broker_queue=unique_queue())
    try:
        env = worker_env(hn, REDIS_URL)
        logs = root / "logs"
        logs.mkdir()
        commands = [["worker", "--concurrency=1"], ["worker", "--concurrency=1"], ["beat"]]
        for i, command in enumerate(commands):
            processes.append(launch(command, env, logs / f"{command[0]}{i}.log"))
        due = start_timers(hn, count, window)
        late = wait_until_fired(hn, due, window)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_queue(hn)
        hn.db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    interval = hn.settings.scheduler_interval_seconds
    report(f"Celery (PostgreSQL + Redis, 2 Worker, beat {interval:g} s)", late, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--mode", choices=("both", "embedded", "celery"), default="both")
    args = parser.parse_args()
    print(
        f"{args.timers} Timer, fällig über {args.window:g} s verteilt; Verspätung = Folgeaufgabe − Fälligkeit"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.mode in ("both", "embedded"):
            embedded(root, args.timers, args.window)
        if args.mode in ("both", "celery"):
            celery(root, args.timers, args.window)


if __name__ == "__main__":
    main()
