"""Throughput: durable steps per second in the distributed mode with 1 and with 2 Celery workers
on PostgreSQL + Redis, and the ratio 2-worker/1-worker.

A step is one committed transaction of a worker: a timer fires, the script after it runs
(``zaehler = zaehler + 1``) and the next timer is created — five such pairs in a row, then a user
task. Each timer is ``PT1S`` (a zero duration would fire inside the step that reaches it, not as a
step of its own), so an instance offers its next step a second after the last one; with 1,000
instances that keeps more work due than the workers can do, so the figure is the workers' rate,
not the timers'. The scheduler (``hilfenetz beat``, every 0.5 s) publishes what is due; each step
is a separate transaction (lock, restore, advance, save, commit), exactly the path of a real
timer. N instances (default 1,000) are started through the engine before the workers and beat
run; the time is from starting beat until every instance has reached its final task. Each worker
count gets a fresh private database and queue. A benchmark prints figures, it asserts none.

Run: .venv/bin/python bench/throughput.py [--instances 1000] [--steps 5] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from xml.sax.saxutils import quoteattr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.timer_latency import PG_ADMIN
from engine.clock import SystemClock
from engine.persistence.database import Database
from engine.service import Hilfenetz
from engine.settings import Settings
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import FOOTER, HEADER, _flow, user_task, write_definitions
from tests.support.celery_workers import (
    REDIS_URL,
    broker_unreachable,
    drop_queue,
    launch,
    unique_queue,
    worker_env,
)


def steps_bpmn(steps: int) -> str:
    """Start → ``steps`` × (timer PT0S → script) → user task → end."""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        '<bpmn:scriptTask id="init" name="Init"><bpmn:script>zaehler = 0</bpmn:script></bpmn:scriptTask>\n'
        + _flow("f0", "start", "init")
    )
    previous = "init"
    for i in range(1, steps + 1):
        body += (
            f'<bpmn:intermediateCatchEvent id="warte_{i}"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>'
            "</bpmn:intermediateCatchEvent>\n"
            f'<bpmn:scriptTask id="schritt_{i}" name="Schritt {i}">'
            "<bpmn:script>zaehler = zaehler + 1</bpmn:script></bpmn:scriptTask>\n"
            + _flow(f"w{i}", previous, f"warte_{i}")
            + _flow(f"s{i}", f"warte_{i}", f"schritt_{i}")
        )
        previous = f"schritt_{i}"
    body += (
        user_task("fertig", "Fertig", "Fachkraft@frauenberatung-soest")
        + '<bpmn:endEvent id="ende"/>\n'
        + _flow("f_fertig", previous, "fertig")
        + _flow("f_ende", "fertig", "ende")
    )
    return HEADER.format(pid="schritte", name=quoteattr("Schritte")) + body + FOOTER


def measure(root: Path, workers: int, concurrency: int, instances: int, steps: int) -> float | None:
    """Steps per second with ``workers`` worker processes, or None when it did not finish."""
    name = f"hilfenetz_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    processes, forms = write_definitions(root / "defs", {"schritte": steps_bpmn(steps)})
    settings = Settings.from_env({"HILFENETZ_DEV": "1", "HILFENETZ_DATABASE_URL": url})
    settings = replace(
        settings,
        processes_dir=processes,
        forms_dir=forms,
        broker_url=REDIS_URL,
        broker_queue=unique_queue(),
    )
    hn = Hilfenetz(settings, clock=SystemClock(), database=Database(url))
    hn.prepare_demo()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        user = actor_lookup(hn)("fachkraft.frauenberatung")
        ids = [hn.start(user, "schritte", {}) for _ in range(instances)]
        env = worker_env(hn, REDIS_URL)
        logs = root / "logs"
        logs.mkdir()
        for i in range(workers):
            procs.append(launch(["worker", f"--concurrency={concurrency}"], env, logs / f"worker{i}.log"))
        time.sleep(8.0)  # the workers connect and wait idle
        began = time.monotonic()
        out = (logs / "beat.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "webapp.cli", "beat"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        )
        query = text(
            "SELECT count(*) FROM user_task WHERE element_id = 'fertig' AND instance_id BETWEEN :a AND :b"
        )
        fired = text("SELECT count(*) FROM audit_event WHERE action = 'timer_fired'")
        with hn.db.read_engine.connect() as conn:
            done = 0
            while done < instances and time.monotonic() - began < 900:
                time.sleep(0.5)
                done = conn.execute(query, {"a": min(ids), "b": max(ids)}).scalar_one()
                conn.commit()
            elapsed = time.monotonic() - began
            total = conn.execute(fired).scalar_one()
        if done < instances:
            print(f"{workers} Worker: nach {elapsed:.0f} s erst {done}/{instances} Vorgänge fertig")
            return None
        rate = total / elapsed
        print(
            f"{workers} Worker × Nebenläufigkeit {concurrency}: {total} Schritte "
            f"({instances} Vorgänge × {steps}) in {elapsed:.1f} s = {rate:.0f} Schritte/s"
        )
        return rate
    finally:
        for process in procs:
            process.terminate()
        for process in procs:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_queue(hn)
        hn.db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    reason = broker_unreachable(REDIS_URL)
    if reason:
        print(f"übersprungen: {reason}")
        return
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            rates[workers] = measure(Path(tmp), workers, args.concurrency, args.instances, args.steps)
    if rates[1] and rates[2]:
        print(f"Verhältnis 2 Worker / 1 Worker: {rates[2] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
