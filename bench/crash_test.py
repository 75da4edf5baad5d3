"""Crash test (issue 6, "Proof"): many instances driven by several ``hilfenetz worker`` processes
and ``hilfenetz beat`` while random workers are killed with SIGKILL and restarted, PostgreSQL is
crashed (``pg_ctl stop -m immediate``) and started again once, and the broker (Redis) is killed
and started again once — then every run is checked:

* every instance is complete;
* engine state agrees with the worklist: each instance restored, its READY user tasks are exactly
  its open ``user_task`` rows (none left for a finished instance);
* each step committed exactly once: one ``task_completed`` audit event per user task, three per
  instance, one ``timer_fired`` per instance;
* every outbox row is sent, and each e-mail is received exactly once by the SMTP sink (matched by
  recipient and the task link to its ``email_delivery`` row); a delivery the engine marked
  ``unsicher`` (worker killed while handing it over; by design never repeated) arrived at most
  once; nothing received without a delivery row, nothing duplicated.

It prints "OK" or the list of violations, exit status 1 on any violation. Everything runs on a
private PostgreSQL (initdb in a temporary directory) and a private redis-server on free ports,
removed at the end — the machine's shared services are never touched.

Process: start → aufgabe_1 → timer (PT2S) → aufgabe_2 → aufgabe_3 → end; a driver thread completes
the user tasks through the engine API (retrying through the outages), the workers fire the timers
and deliver the e-mails.

Run: .venv/bin/python bench/crash_test.py [--runs 1] [--instances 40] [--workers 3] [--duration 60]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.clock import SystemClock
from engine.errors import HilfenetzError
from engine.mail import DELIVERY_HEADER
from engine.notifications import LEASE
from engine.persistence.database import Database
from engine.persistence.models import AuditEvent, EmailDelivery, Outbox, ProcessInstance, UserTask
from engine.runtime import ready_user_tasks
from engine.service import Hilfenetz
from engine.settings import Settings
from tests.conftest import actor_lookup
from tests.support.bpmn_factory import FOOTER, HEADER, user_task, write_definitions
from tests.support.celery_workers import REPO, drop_queue, unique_queue, worker_env
from tests.support.smtp_sink import SmtpSink, free_port

PG_BIN = (
    sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1] if Path("/usr/lib/postgresql").exists() else None
)
GROUP = "Fachkraft@frauenberatung-soest"
USER_TASKS = ("aufgabe_1", "aufgabe_2", "aufgabe_3")
STALE = timedelta(seconds=10)
#: Scheduler: publish again what is still due this long after it was published (default 60 s).
REDISPATCH_SECONDS = 5.0


def crash_bpmn(pid: str = "absturz") -> str:
    """start → aufgabe_1 → 2 s timer → aufgabe_2 → aufgabe_3 → end (no due dates: no reminders)."""

    def flow(fid: str, source: str, target: str) -> str:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>\n'

    body = (
        '<bpmn:startEvent id="start"/>\n'
        + user_task("aufgabe_1", "Aufgabe 1", GROUP, "notiz")
        + '<bpmn:intermediateCatchEvent id="warten"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>"PT2S"</bpmn:timeDuration></bpmn:timerEventDefinition>'
        "</bpmn:intermediateCatchEvent>\n"
        + user_task("aufgabe_2", "Aufgabe 2", GROUP, "notiz")
        + user_task("aufgabe_3", "Aufgabe 3", GROUP, "notiz")
        + '<bpmn:endEvent id="ende"/>\n'
        + flow("f1", "start", "aufgabe_1")
        + flow("f2", "aufgabe_1", "warten")
        + flow("f3", "warten", "aufgabe_2")
        + flow("f4", "aufgabe_2", "aufgabe_3")
        + flow("f5", "aufgabe_3", "ende")
    )
    return HEADER.format(pid=pid, name=quoteattr("Absturztest")) + body + FOOTER


# --- private services ---------------------------------------------------------------------------
class PrivatePostgres:
    """A PostgreSQL cluster of its own in a temporary directory (run as ``postgres`` when root)."""

    def __init__(self, root: Path) -> None:
        if PG_BIN is None:
            raise SystemExit("PostgreSQL-Programme nicht gefunden (/usr/lib/postgresql/*/bin)")
        self.dir = root / "pg"
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.port = free_port()
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        assert PG_BIN is not None
        subprocess.run(
            [*self.prefix, str(PG_BIN / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def crash(self) -> None:
        """Stop without a checkpoint (as if the server died); the next start recovers from the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def createdb(self, name: str) -> None:
        assert PG_BIN is not None
        subprocess.run(
            [
                *self.prefix,
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                name,
            ],
            check=True,
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


class PrivateRedis:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.log = root / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("redis-server startet nicht")

    def kill(self) -> None:
        """SIGKILL: every queued message is gone (no persistence), as after a broker crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def descendants(pid: int) -> list[int]:
    """The child processes of ``pid`` (all levels), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Proc:
    """A ``hilfenetz worker`` or ``hilfenetz beat`` subprocess."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, env, log
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "webapp.cli", *self.command],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self, whole: bool) -> None:
        """SIGKILL the main process and its children (a lost machine) or one child process (a
        crashed task: Celery puts the message back)."""
        children = descendants(self.process.pid)
        if not whole and children:
            os.kill(random.choice(children), signal.SIGKILL)
            return
        for pid in [self.process.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)

    def restart(self) -> None:
        self.process = self._spawn()

    def stop(self) -> None:
        children = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- the driver ---------------------------------------------------------------------------------
@dataclass
class Driver:
    """Starts ``target`` instances spread over ``spread`` seconds and completes every user task
    that has been open for ``patience`` seconds (so its e-mails go out first), all through the
    engine API, retrying through the outages. An attempt whose answer was lost is looked at again:
    a completed task is no longer open; a start in doubt may have created an instance, which the
    checks then include (they take every instance in the private database)."""

    hn: Hilfenetz
    target: int
    spread: float
    patience: float = 1.0
    stop: threading.Event = field(default_factory=threading.Event)
    started: int = 0
    completed: int = 0
    refused: int = 0
    errors: int = 0

    def run(self) -> None:
        user = actor_lookup(self.hn)("fachkraft.frauenberatung")
        began = time.monotonic()
        while not self.stop.is_set():
            due = min(self.target, int(self.target * (time.monotonic() - began) / self.spread) + 1)
            while self.started < due and not self.stop.is_set():
                try:
                    self.hn.start(user, "absturz", {})
                    self.started += 1
                except Exception:
                    self.errors += 1
                    self.stop.wait(0.5)
                    break
            try:
                with self.hn.db.read() as session:
                    open_ids = list(
                        session.scalars(
                            select(UserTask.id).where(
                                UserTask.status == "open",
                                UserTask.created_at <= self.hn.clock.now() - timedelta(seconds=self.patience),
                            )
                        )
                    )
            except Exception:
                self.errors += 1
                self.stop.wait(0.5)
                continue
            random.shuffle(open_ids)
            for task_id in open_ids[:10]:
                if self.stop.is_set():
                    return
                try:
                    self.hn.complete(user, task_id, {"notiz": "erledigt"})
                    self.completed += 1
                except HilfenetzError:
                    self.refused += 1  # completed meanwhile (a retry after a lost commit answer)
                except Exception:
                    self.errors += 1
                    self.stop.wait(0.5)
            self.stop.wait(0.2 + random.random() * 0.3)


# --- one run ------------------------------------------------------------------------------------
@dataclass
class Figures:
    kills: int = 0
    child_kills: int = 0
    pg_restart_s: float = 0.0
    broker_restart_s: float = 0.0
    settle_s: float = 0.0
    mails: int = 0
    deliveries: int = 0
    uncertain: int = 0
    outbox: int = 0
    leases: int = 0
    dropped: int = 0


def build(root: Path, url: str, **overrides: object) -> Hilfenetz:
    processes, forms = write_definitions(root / "defs", {"absturz": crash_bpmn()})
    shutil.copy(REPO / "processes" / "fristen.json", processes)  # the jobs read their Fristen there
    settings = Settings.from_env({"HILFENETZ_DEV": "1", "HILFENETZ_DATABASE_URL": url})
    settings = replace(settings, processes_dir=processes, forms_dir=forms, **overrides)  # type: ignore[arg-type]
    hn = Hilfenetz(settings, clock=SystemClock(), database=Database(url))
    hn.prepare_demo()
    return hn


def one_run(number: int, args: argparse.Namespace, root: Path) -> list[str]:
    """Services up, chaos, settle, checks; everything private to this run removed at the end."""
    root.mkdir()
    pg = PrivatePostgres(root)
    redis = PrivateRedis(root)
    smtp = SmtpSink().start()
    procs: list[Proc] = []
    hn: Hilfenetz | None = None
    driver: Driver | None = None
    try:
        pg.start()
        pg.createdb("hilfenetz")
        redis.start()
        hn = build(
            root,
            pg.url("hilfenetz"),
            broker_url=redis.url,
            broker_queue=unique_queue(),
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            redispatch_seconds=REDISPATCH_SECONDS,
        )
        env = worker_env(hn, redis.url, HILFENETZ_REDISPATCH_SECONDS=str(REDISPATCH_SECONDS))
        workers = [
            Proc(["worker", "--concurrency=2"], env, root / f"worker{i}.log") for i in range(args.workers)
        ]
        procs = [*workers, Proc(["beat"], env, root / "beat.log")]
        driver = Driver(hn, args.instances, spread=args.duration * 0.7)
        thread = threading.Thread(target=driver.run, daemon=True)
        thread.start()
        figures = Figures()
        chaos(number, args.duration, workers, pg, redis, figures)
        for proc in procs:  # make sure all run for the rest
            if proc.process.poll() is not None:
                proc.restart()
        settle(hn, driver, args, figures)
        driver.stop.set()
        thread.join(30)
        for proc in procs:
            proc.stop()
        time.sleep(0.5)  # the sink's last messages
        with hn.db.read() as session:
            instances = list(session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)))
        violations = check(hn, instances, smtp, figures)
        print(
            f"Lauf {number}: {len(instances)} Instanzen, {len(instances) * 3} Schritte, "
            f"{len(instances)} Timer; {figures.kills} Worker getötet (SIGKILL samt Kindern) und neu "
            f"gestartet, {figures.child_kills} Worker-Kindprozesse getötet; PostgreSQL und Broker je "
            f"1× neu gestartet; fertig {figures.settle_s:.1f} s nach dem Chaos; Treiber: "
            f"{driver.started} gestartet, {driver.completed} erledigt, {driver.refused} abgewiesen, "
            f"{driver.errors} Fehlversuche (Ausfall); Outbox {figures.outbox}, Zustellungen "
            f"{figures.deliveries} (davon unsicher {figures.uncertain}, entfallen {figures.dropped}), "
            f"E-Mails empfangen {figures.mails}; Leases getöteter Worker beendet: {figures.leases}"
        )
        print("OK" if not violations else "\n".join(f"  VERLETZT: {v}" for v in violations))
        return violations
    finally:
        if driver is not None:
            driver.stop.set()
        for proc in procs:
            proc.stop()
        if hn is not None:
            with contextlib.suppress(Exception):
                drop_queue(hn)
            hn.db.dispose()
        smtp.stop()
        redis.kill()
        pg.stop()


def chaos(
    number: int,
    duration: float,
    workers: list[Proc],
    pg: PrivatePostgres,
    redis: PrivateRedis,
    figures: Figures,
) -> None:
    """Every 1.5–4 s a worker killed (whole, then restarted, or one child process); the database
    crashes after a third of ``duration``, the broker after two thirds; each is back after 2 s."""
    began = time.monotonic()
    outages: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
        ("PostgreSQL", pg.crash, pg.start),
        ("Broker (Redis)", redis.kill, redis.start),
    ]
    while time.monotonic() - began < duration:
        time.sleep(random.uniform(1.5, 4.0))
        if outages and time.monotonic() - began > duration * (3 - len(outages)) / 3:
            name, down, up = outages.pop(0)
            t = time.monotonic()
            down()
            time.sleep(2)
            up()
            print(f"  Lauf {number}: {name} abgestürzt und neu gestartet ({time.monotonic() - t:.1f} s)")
            continue
        victim = random.choice(workers)
        whole = random.random() < 0.5
        victim.kill(whole)
        if whole:
            figures.kills += 1
            time.sleep(random.uniform(0.2, 1.0))
            victim.restart()
        else:
            figures.child_kills += 1


def settle(hn: Hilfenetz, driver: Driver, args: argparse.Namespace, figures: Figures) -> None:
    """Everything up: wait (at most ``--settle`` s) until every instance has ended and every
    outbox row is sent."""
    t = time.monotonic()
    while time.monotonic() - t < args.settle:
        if driver.started >= args.instances and finished(hn):
            break
        figures.leases += expire_leases(hn)
        time.sleep(0.5)
    figures.settle_s = time.monotonic() - t


def expire_leases(hn: Hilfenetz) -> int:
    """Outbox rows claimed by a worker that was killed stay ``processing`` for the lease
    (:data:`engine.notifications.LEASE`, 10 minutes) before another worker takes them over. A
    delivery takes well under a second, so a row claimed more than :data:`STALE` ago belongs to
    a dead worker: its lease is ended now (``next_attempt_at`` set to now), as if the 10 minutes
    had passed — everything after that (the take-over, ``sending`` → ``unsicher``, the other
    recipients' mails) is the engine's own code."""
    try:
        with hn.db.write() as session:
            now = hn.clock.now()
            result = session.execute(
                update(Outbox)
                .where(
                    Outbox.status == "processing",
                    Outbox.next_attempt_at > now,  # lease still running (not ended before)
                    Outbox.next_attempt_at < now + LEASE - STALE,  # claimed more than STALE ago
                )
                .values(next_attempt_at=now)
            )
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)
    except Exception:
        return 0


def finished(hn: Hilfenetz) -> bool:
    try:
        with hn.db.read() as session:
            running = session.scalar(
                select(func.count()).select_from(ProcessInstance).where(ProcessInstance.status != "completed")
            )
            unsent = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.status != "sent"))
        return running == 0 and unsent == 0
    except Exception:
        return False


def check(hn: Hilfenetz, instances: list[int], smtp: SmtpSink, figures: Figures) -> list[str]:
    """All violations found (empty: OK)."""
    with hn.db.read() as session:
        violations = check_state(hn, session, instances)
        violations += check_steps(session, instances)
        violations += check_mails(session, smtp, figures)
    return violations


def check_state(hn: Hilfenetz, session: Session, instances: list[int]) -> list[str]:
    """Every instance complete; its restored READY user tasks are exactly its open task rows."""
    violations = []
    rows = {row.id: row for row in session.scalars(select(ProcessInstance))}
    open_rows: dict[int, set[str]] = {}
    for task_id, instance_id in session.execute(
        select(UserTask.id, UserTask.instance_id).where(UserTask.status == "open")
    ):
        open_rows.setdefault(instance_id, set()).add(task_id)
    for instance_id in instances:
        row = rows[instance_id]
        if row.status != "completed":
            violations.append(f"Instanz {instance_id} nicht abgeschlossen (Status {row.status})")
        ready = {str(task.id) for task in ready_user_tasks(hn.runtime.peek(session, row))}
        if ready != open_rows.get(instance_id, set()):
            violations.append(
                f"Instanz {instance_id}: Engine bereit {sorted(ready)} ≠ offene Aufgaben "
                f"{sorted(open_rows.get(instance_id, set()))}"
            )
    return violations


def check_steps(session: Session, instances: list[int]) -> list[str]:
    """Each user task completed once (audit), three per instance, one timer fired per instance,
    one task row per element."""
    violations = []
    completed = Counter(
        session.execute(
            select(AuditEvent.instance_id, AuditEvent.task_id).where(AuditEvent.action == "task_completed")
        ).all()
    )
    for (instance_id, task_id), count in completed.items():
        if count != 1:
            violations.append(f"Instanz {instance_id}: Schritt {task_id} {count}× festgeschrieben")
    steps = Counter(instance_id for instance_id, _ in completed)
    fired = Counter(
        session.scalars(select(AuditEvent.instance_id).where(AuditEvent.action == "timer_fired")).all()
    )
    tasks = Counter((i, e) for i, e in session.execute(select(UserTask.instance_id, UserTask.element_id)))
    for instance_id in instances:
        if steps[instance_id] != len(USER_TASKS):
            violations.append(f"Instanz {instance_id}: {steps[instance_id]} Schritte statt 3")
        if fired[instance_id] != 1:
            violations.append(f"Instanz {instance_id}: Timer {fired[instance_id]}× gefeuert statt 1×")
        violations += [
            f"Instanz {instance_id}: {tasks[(instance_id, element)]}× {element}"
            for element in USER_TASKS
            if tasks[(instance_id, element)] != 1
        ]
    return violations


def check_mails(session: Session, smtp: SmtpSink, figures: Figures) -> list[str]:
    """Every outbox row sent; each e-mail received once (``unsicher``: at most once;
    ``entfallen`` — never handed over, its task done before the take-over — not at all), none
    received without its ``email_delivery`` row (matched by :data:`DELIVERY_HEADER`)."""
    outbox = session.execute(select(Outbox.id, Outbox.status)).all()
    figures.outbox = len(outbox)
    violations = [f"Outbox {i}: Status {status} statt sent" for i, status in outbox if status != "sent"]
    deliveries = session.execute(select(EmailDelivery.id, EmailDelivery.status)).all()
    figures.deliveries = len(deliveries)
    received = Counter(str(message[DELIVERY_HEADER]) for message in smtp.sink.messages)
    figures.mails = sum(received.values())
    for delivery_id, status in deliveries:
        got = received.pop(str(delivery_id), 0)
        if status == "unsicher":
            figures.uncertain += 1
        if status == "entfallen":
            figures.dropped += 1
        if (status, got) not in (("sent", 1), ("unsicher", 0), ("unsicher", 1), ("entfallen", 0)):
            violations.append(f"Zustellung {delivery_id} ({status}): {got}× empfangen")
    violations += [
        f"E-Mail mit {DELIVERY_HEADER} „{reference}“ ohne Zustellungszeile ({count}×)"
        for reference, count in received.items()
    ]
    return violations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--instances", type=int, default=40)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--duration", type=float, default=60.0, help="Chaos-Phase in Sekunden")
    parser.add_argument("--settle", type=float, default=90.0, help="Höchstens so lange danach warten")
    parser.add_argument("--keep", action="store_true", help="Logs im temporären Verzeichnis behalten")
    args = parser.parse_args()
    failed = False
    root = Path(tempfile.mkdtemp(prefix="hilfenetz-crash-"))
    os.chmod(root, 0o755)
    try:
        for number in range(1, args.runs + 1):
            run_id = uuid.uuid4().hex[:6]
            failed |= bool(one_run(number, args, root / f"lauf{number}-{run_id}"))
    finally:
        if args.keep:
            print(f"Logs: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
