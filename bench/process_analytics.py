"""Process analytics at scale: the heatmap figures of one process over 10,000 instances.

Loads one process version (start → five user tasks → end) and 10,000 instances straight into the
tables, each with its element trail as the runtime writes it (``element_entered`` /
``element_left`` per element; 90 % of the cases finished, the rest stopped at a random task), plus
as many unrelated audit rows (logins, views) as noise. Then times, in the same run and on the same
data:

* baseline: the one query that reads the element trail of the process in the period
  (``SELECT … FROM audit_event JOIN process_instance``, all rows fetched) — the least any
  implementation reading the audit trail must do;
* analytics: ``engine.process_analytics.process_analytics`` (that query + pairing visits,
  merging runs, median and 90th percentile per element, suppression, diagram parsing).

Prints the median of each over the rounds and the ratio analytics / baseline.

Run: .venv/bin/python bench/process_analytics.py [--instances 10000] [--rounds 5]
     [--db sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, select, text

from engine.element_trail import ENTERED, LEFT
from engine.persistence.database import Database
from engine.persistence.models import AuditEvent, ProcessDefinition, ProcessInstance
from engine.persistence.schema import upgrade
from engine.process_analytics import Period, process_analytics
from tests.support.bpmn_factory import chain_bpmn

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
SEED = 9
TASKS = 5
CHUNK = 20_000


def trail(instance_id: int, started: datetime, dice: random.Random) -> list[dict[str, Any]]:
    """The element rows of one case: start, the tasks with random durations, end (if finished)."""
    rows: list[dict[str, Any]] = []
    now = started

    def visit(element: str, stay: timedelta | None) -> None:
        nonlocal now
        task_id = str(uuid.UUID(int=dice.getrandbits(128)))
        rows.append(_row(instance_id, task_id, element, ENTERED, now))
        if stay is not None:
            now += stay
            rows.append(_row(instance_id, task_id, element, LEFT, now))

    visit("start", timedelta(0))
    stop = dice.randint(1, TASKS) if dice.random() < 0.1 else None
    for i in range(1, TASKS + 1):
        if i == stop:
            visit(f"aufgabe_{i}", None)
            return rows
        visit(f"aufgabe_{i}", timedelta(minutes=dice.randint(10, 60 * 24 * 10)))
    visit("ende", timedelta(0))
    return rows


def _row(instance_id: int, task_id: str, element: str, action: str, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "actor_id": None,
        "actor_name": "System",
        "action": action,
        "instance_id": instance_id,
        "task_id": task_id,
        "element_id": element,
        "detail": {},
    }


def load(database: Database, instances: int) -> int:
    dice = random.Random(SEED)
    with database.write() as session:
        definition = ProcessDefinition(
            process_key="kette",
            version=1,
            name="Kette",
            content_hash="bench",
            bpmn_xml=chain_bpmn(tasks=TASKS),
            spec_json="{}",
            forms_json="{}",
            deployed_at=START,
            deployed_by="bench",
        )
        session.add(definition)
        session.flush()
        definition_id = definition.id
        batch: list[dict[str, Any]] = []
        for n in range(instances):
            started = START + timedelta(minutes=37 * n)
            instance_id = session.execute(
                insert(ProcessInstance)
                .values(
                    definition_id=definition_id,
                    process_key="kette",
                    title=f"Kette #{n}",
                    status="running",
                    state=b"",
                    state_format=1,
                    lock_version=1,
                    started_at=started,
                )
                .returning(ProcessInstance.id)
            ).scalar_one()
            batch.extend(trail(instance_id, started, dice))
            batch.append(_row(instance_id, "", "", "instance_viewed", started))  # noise
            if len(batch) >= CHUNK:
                session.execute(insert(AuditEvent), batch)
                batch = []
        if batch:
            session.execute(insert(AuditEvent), batch)
        session.commit()
        return int(session.scalar(select(text("count(*)")).select_from(AuditEvent)) or 0)


def baseline(database: Database, period: Period) -> int:
    with database.read() as session:
        rows = session.execute(
            select(AuditEvent.task_id, AuditEvent.instance_id, AuditEvent.element_id, AuditEvent.action)
            .add_columns(AuditEvent.at)
            .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
            .where(
                ProcessInstance.process_key == "kette",
                AuditEvent.action.in_((ENTERED, LEFT)),
                AuditEvent.at >= period.start,
            )
            .order_by(AuditEvent.id)
        ).all()
        return len(rows)


def analytics(database: Database, period: Period) -> int:
    with database.read() as session:
        result = process_analytics(session, "kette", period, None)
        return sum(f.runs or 0 for f in result.elements)


def timed(function: Any, *args: Any) -> float:
    began = time.perf_counter()
    function(*args)
    return (time.perf_counter() - began) * 1000


def run(url: str, instances: int, rounds: int) -> None:
    database = Database(url)
    try:
        upgrade(database)
        rows = load(database, instances)
        period = Period(date(2026, 1, 1), date(2026, 12, 31))
        analytics(database, period)  # warm caches once
        base = [timed(baseline, database, period) for _ in range(rounds)]
        full = [timed(analytics, database, period) for _ in range(rounds)]
        b, a = statistics.median(base), statistics.median(full)
        print(
            f"{url.split(':', 1)[0]:<22} instances={instances} audit_rows={rows} "
            f"baseline={b:.1f} ms analytics={a:.1f} ms ratio={a / b:.2f}"
        )
    finally:
        database.dispose()


def postgres_url() -> tuple[str, Any]:
    name = f"hilfenetz_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    for kind in args.db.split(","):
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run(f"sqlite:///{tmp}/bench.db", args.instances, args.rounds)
        elif kind == "postgresql":
            try:
                url, drop = postgres_url()
            except Exception as exc:  # a missing server is reported, not fatal
                print(f"postgresql: übersprungen ({exc.__class__.__name__})")
                continue
            try:
                run(url, args.instances, args.rounds)
            finally:
                drop()


if __name__ == "__main__":
    main()
