"""Timer backlog: N timers (default 100,000) due at once, drained by two ``hilfenetz worker``
processes (concurrency 1 each) and ``hilfenetz beat`` on PostgreSQL + Redis; prints the drain time
and timers/s. Target (issue 6): 100,000 timers drained in ≤ 5 min.

Setup, and why it is equivalent to starting N instances through the engine: one template
instance is started through the engine (``Hilfenetz.start``) with a boundary timer due two seconds
later; nothing runs yet. Its row is then copied with one ``INSERT … SELECT`` per table over
``generate_series`` — ``process_instance`` (state, ``next_timer_at``, status, definition) and every
row of the tables that reference it (worklist row, audit), with fresh ids. A state is the JSON of
the SpiffWorkflow task tree; the only values in it that are unique per instance are the task
UUIDs (the worklist row's id is one of them), so every UUID of the template is replaced by a fresh
one per copy, and the title's ``#id`` by the copy's id. What ``Hilfenetz.start`` would have written
for N instances started at the same moment with the same data is exactly that: the same tree, the
same data, the same due time, other UUIDs and ids. The due time is the same for all copies, so
the whole backlog is due at once when the workers start — the case of a scheduler outage or a
restored backup. Starting 100,000 instances through the engine would take longer than draining.

Measured: from starting beat (workers already up and idle) until no copied instance has a timer
left (each fired one committed its escalation task). As the baseline, in the same run and on the
same database, the same ``fire_timer`` called directly in this process (no broker, no beat) on
200 further copies: the cost of one timer step on PostgreSQL without distribution. The ratio
compares the drained rate with that single-process rate (2 workers on a 2-core machine cannot do
much better than 2×; the database and beat share those cores).

Run: .venv/bin/python bench/timer_backlog.py [--timers 100000] [--workers 2] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Connection, create_engine, text

from bench.timer_latency import PG_ADMIN, build
from engine.service import Hilfenetz
from tests.conftest import actor_lookup
from tests.support.celery_workers import (
    REDIS_URL,
    broker_unreachable,
    drop_queue,
    launch,
    unique_queue,
    worker_env,
)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BASELINE = 200


def start_template(hn: Hilfenetz, delay: float) -> int:
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    due = hn.clock.now() + timedelta(seconds=delay)
    return hn.start(user, "frist", {"faellig": due.isoformat()})


def referencing_tables(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'instance_id' "
                "AND table_schema = 'public' ORDER BY table_name"
            )
        ).scalars()
    )


def columns(conn: Connection, table: str) -> list[tuple[str, str, str | None]]:
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            text(
                "SELECT column_name, data_type, column_default FROM information_schema.columns "
                "WHERE table_name = :t AND table_schema = 'public' ORDER BY ordinal_position"
            ),
            {"t": table},
        )
    ]


def copy_instances(conn: Connection, template: int, first: int, count: int) -> None:
    """Copy the template instance ``count`` times with ids ``first`` … (see the module docstring)."""
    blob = conn.execute(
        text("SELECT state FROM process_instance WHERE id = :i"), {"i": template}
    ).scalar_one()
    uuids = sorted(set(UUID.findall(bytes(blob).decode("utf-8"))))
    news = ", ".join(f"gen_random_uuid()::text AS u{k}" for k in range(len(uuids)))
    conn.execute(text("DROP TABLE IF EXISTS bench_copy"))
    conn.execute(
        text(
            f"CREATE TEMP TABLE bench_copy AS SELECT g AS nid, {news} "
            "FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) AS g"
        ),
        {"a": first, "b": first + count - 1},
    )

    def swap(expr: str) -> str:  # every template UUID in ``expr`` → the copy's own
        for k, old in enumerate(uuids):
            expr = f"replace({expr}, '{old}', c.u{k})"
        return expr

    cols = columns(conn, "process_instance")
    select = []
    for name, _type, _default in cols:
        if name == "id":
            select.append("c.nid")
        elif name == "state":
            select.append(
                f"convert_to({swap('convert_from(p.state, ' + chr(39) + 'UTF8' + chr(39) + ')')}, 'UTF8')"
            )
        elif name == "title":
            select.append("regexp_replace(p.title, '#[0-9]+$', '#' || c.nid)")
        else:
            select.append(f"p.{name}")
    names = ", ".join(n for n, _t, _d in cols)
    conn.execute(
        text(
            f"INSERT INTO process_instance ({names}) SELECT {', '.join(select)} "
            "FROM process_instance p CROSS JOIN bench_copy c WHERE p.id = :t"
        ),
        {"t": template},
    )
    for table in referencing_tables(conn):
        cols = columns(conn, table)
        keep, select = [], []
        for name, dtype, default in cols:
            if name == "id" and default and default.startswith("nextval"):
                continue  # a serial id: the database gives the copy its own
            keep.append(name)
            if name == "instance_id":
                select.append("c.nid")
            elif dtype in ("character varying", "text"):
                select.append(swap(f"r.{name}"))
            else:
                select.append(f"r.{name}")
        conn.execute(
            text(
                f"INSERT INTO {table} ({', '.join(keep)}) SELECT {', '.join(select)} "
                f"FROM {table} r CROSS JOIN bench_copy c WHERE r.instance_id = :t"
            ),
            {"t": template},
        )
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
            "(SELECT max(id) FROM process_instance))"
        )
    )
    conn.execute(text("DROP TABLE bench_copy"))


def pending(conn: Connection, first: int, last: int) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM process_instance "
                "WHERE id BETWEEN :a AND :b AND next_timer_at IS NOT NULL"
            ),
            {"a": first, "b": last},
        ).scalar_one()
    )


def escalated(conn: Connection, first: int, last: int) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM user_task WHERE instance_id BETWEEN :a AND :b "
                "AND element_id = 'eskalation' AND status = 'open'"
            ),
            {"a": first, "b": last},
        ).scalar_one()
    )


def run(root: Path, count: int, workers: int, concurrency: int, timeout: float) -> None:
    reason = broker_unreachable(REDIS_URL)
    if reason:
        print(f"übersprungen: {reason}")
        return
    name = f"hilfenetz_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    processes: list[subprocess.Popen[bytes]] = []
    hn = build(root, url, broker_url=REDIS_URL, broker_queue=unique_queue())
    bench = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        template = start_template(hn, 2.0)
        first = template + 1
        last = first + count + BASELINE - 1
        started = time.monotonic()
        with bench.begin() as conn:
            copy_instances(conn, template, first, count + BASELINE)
            conn.execute(text("ANALYZE"))
        print(
            f"{count + BASELINE} Vorgänge kopiert in {time.monotonic() - started:.1f} s (Vorlage #{template})"
        )
        time.sleep(max(0.0, 2.5 - (time.monotonic() - started)))

        # Baseline: the same fire_timer in this process, on BASELINE copies outside the backlog.
        base_ids = range(first + count, last + 1)
        t0 = time.perf_counter()
        fired = sum(hn.fire_timer(i) for i in base_ids)
        base_rate = fired / (time.perf_counter() - t0)
        print(
            f"Basis: fire_timer direkt im Prozess, {fired} Timer: "
            f"{1000 / base_rate:.1f} ms/Timer, {base_rate:.0f}/s"
        )

        env = worker_env(hn, REDIS_URL)
        logs = root / "logs"
        logs.mkdir()
        for i in range(workers):
            processes.append(launch(["worker", f"--concurrency={concurrency}"], env, logs / f"worker{i}.log"))
        time.sleep(8.0)  # the workers connect and wait idle
        out = (logs / "beat.log").open("wb")
        began = time.monotonic()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "webapp.cli", "beat"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        )
        last_copy = first + count - 1
        left = count
        next_report = began + 30
        with bench.connect() as conn:
            while left and time.monotonic() - began < timeout:
                time.sleep(1.0)
                left = pending(conn, first, last_copy)
                if time.monotonic() >= next_report:
                    print(f"  nach {time.monotonic() - began:5.0f} s: {count - left} gefeuert")
                    next_report += 30
            drained = time.monotonic() - began
            done = escalated(conn, first, last_copy)
            duplicates = (
                int(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM audit_event WHERE action = 'timer_fired' "
                            "AND instance_id BETWEEN :a AND :b"
                        ),
                        {"a": first, "b": last_copy},
                    ).scalar_one()
                )
                - done
            )
        rate = (count - left) / drained
        print(
            f"Backlog {count} Timer, {workers} Worker × Nebenläufigkeit {concurrency}: "
            f"{count - left} gefeuert ({done} Eskalationsaufgaben) in {drained:.1f} s = {rate:.0f} Timer/s"
            f"{'' if not left else f', {left} nicht gefeuert (Abbruch nach {timeout:g} s)'}"
        )
        print(
            f"  doppelt gefeuert: {duplicates}; "
            f"Verhältnis zur Basis (ein Prozess, direkt): {rate / base_rate:.2f}"
        )
        target = 300.0 * count / 100_000
        print(
            f"  hochgerechnet auf 100.000: {100_000 / rate / 60:.1f} min "
            f"(Ziel ≤ 5 min: {'erreicht' if drained <= target and not left else 'nicht erreicht'})"
        )
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
        bench.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="Abbruch nach so vielen Sekunden")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp), args.timers, args.workers, args.concurrency, args.timeout)


if __name__ == "__main__":
    main()
