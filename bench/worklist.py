"""Group worklist at scale: 1,000,000 user tasks (200,000 open), 2,000 users in 40 organisations.

Loads a synthetic but realistic data set straight into the projection tables (bulk inserts on
SQLite, COPY on PostgreSQL; the schema itself comes from the Alembic migrations), runs ANALYZE,
then times ``engine.worklist.worklist`` (first page of 20 + counts) for a sample of users with
view ``gruppe``, ``alle`` and ``meine``. Prints p50/p95/p99 per view and database, and where the
time goes per statement (absence lookup, page, counts, summaries). Target: p95 <= 10 ms.

Data set (fixed seed): organisation sizes follow weight 1/rank**skew (default 0.5, so the
biggest of 40 organisations has ~9 % of users and tasks). Users are mostly ``Fachkraft``, ~10 %
``Leitung`` (half of them also ``Fachkraft``), ~1 % ``Koordination``, a few ``Steuerungsgruppe``
and ``Administration``; 2 % are absent right now with a colleague as Vertretung. Open tasks:
25 % claimed (assignee, no candidate rows), the rest unclaimed with candidate rows as
``engine.projection.candidate_dicts`` writes them: ``Fachkraft@org-N`` (most),
``Fachkraft@org-N,Leitung@org-N``, ``Leitung@org-N``, ``Koordination@*``, ``*@org-N``,
``user:name``, ``Steuerungsgruppe@*``, two-organisation ``Fachkraft@A,Fachkraft@B``. Completed
tasks carry ``completed_by``/``assignee`` and no candidate rows.

Run: .venv/bin/python bench/worklist.py [--quick] [--tasks N --open N --users N --orgs N]
     [--db sqlite,postgresql] [--sample 200] [--rounds 3] [--explain] [--keep]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, text

from engine.assignment import user_keys
from engine.persistence.database import Database
from engine.persistence.schema import upgrade
from engine.projection import candidate_dicts
from engine.read_models import Actor
from engine.worklist import WorklistQuery, process_names, worklist

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 10.0
NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
NOW_NAIVE = NOW.replace(tzinfo=None)
SEED = 20260302
CHUNK = 50_000
VIEWS = ("gruppe", "alle", "meine")
PROCESSES = {
    "gefaehrdungseinschaetzung": ("Gefährdungseinschätzung § 8a SGB VIII", ("einschaetzen", "pruefen")),
    "hochrisikofall": ("Hochrisikofall-Management", ("meldung_sichten", "fallkonferenz_vorbereiten")),
    "fallkonferenz": ("Fallkonferenz", ("einladen", "protokoll_erstellen", "massnahmen_festlegen")),
    "schutzplan": ("Schutzplan", ("schutzplan_erstellen", "schutzplan_pruefen")),
    "wohnungsverweisung": ("Wohnungsverweisung § 34a PolG", ("kontakt_aufnehmen", "beratung_anbieten")),
    "beratungsanfrage": ("Beratungsanfrage", ("erstgespraech", "weitervermitteln")),
    "gewaltschutz": ("Gewaltschutzverfahren", ("antrag_pruefen", "stellungnahme")),
    "nachsorge": ("Nachsorge", ("nachfragen", "abschliessen")),
}
PROCESS_KEYS = tuple(PROCESSES)
# (share of unclaimed open tasks, candidate pattern)
PATTERNS = (
    (0.70, "fachkraft"),
    (0.10, "fachkraft+leitung"),
    (0.08, "leitung"),
    (0.04, "koordination"),
    (0.03, "org"),
    (0.02, "user"),
    (0.02, "zwei_orgs"),
    (0.01, "steuerung"),
)
# statement kinds, recognised by their text (robust to changes in the order or number of statements)
STATEMENTS = ("identity", "page", "cnt_gruppe", "cnt_meine", "summaries")
STATEMENT_HELP = (
    "identity = absences/Vertretung lookup (effective_identity); page = first 20 ids; "
    "cnt_gruppe = count statements on task_candidate (total/gruppe/ueberfaellig); "
    "cnt_meine = count statements on user_task only; summaries = the 20 task rows; "
    "rest = Python/SQLAlchemy/fetch/BEGIN"
)


# ----------------------------------------------------------------------------------------------
# Synthetic data
# ----------------------------------------------------------------------------------------------


@dataclass
class Sizes:
    tasks: int
    open: int
    users: int
    orgs: int
    skew: float
    claimed_share: float = 0.25


@dataclass
class Directory:
    org_slugs: list[str]
    org_cum: list[float]
    users: list[tuple[int, str, int, tuple[str, ...]]]  # id, username, org index, roles
    users_by_org: list[list[int]]
    absences: list[tuple[int, int, datetime, datetime]]  # user, substitute, starts, ends

    def actor(self, user_id: int) -> Actor:
        uid, username, org, roles = self.users[user_id - 1]
        return Actor(
            id=uid,
            username=username,
            display_name=username,
            organisation=self.org_slugs[org],
            organisation_name=self.org_slugs[org],
            roles=roles,
        )


@dataclass
class Stats:
    key_rows: Counter[str] = field(default_factory=Counter)
    assigned_open: Counter[int] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)


def _org_sizes(total: int, weights: list[float], minimum: int) -> list[int]:
    scale = sum(weights)
    sizes = [max(minimum, int(total * w / scale)) for w in weights]
    i = 0
    while sum(sizes) < total:
        sizes[i % len(sizes)] += 1
        i += 1
    while sum(sizes) > total:
        j = max(range(len(sizes)), key=sizes.__getitem__)
        sizes[j] -= 1
    return sizes


def _roles(rng: random.Random, first_in_org: int) -> tuple[str, ...]:
    roles: set[str] = set()
    if first_in_org == 0:
        roles.add("Leitung")
    elif first_in_org == 1:
        roles.add("Fachkraft")
    else:
        r = rng.random()
        if r < 0.05:
            roles.add("Leitung")
        elif r < 0.10:
            roles.update(("Leitung", "Fachkraft"))
        else:
            roles.add("Fachkraft")
    if rng.random() < 0.01:
        roles.add("Koordination")
    if rng.random() < 0.01:
        roles.add("Steuerungsgruppe")
    if rng.random() < 0.002:
        roles.add("Administration")
    return tuple(sorted(roles))


def make_directory(sizes: Sizes, rng: random.Random) -> Directory:
    weights = [1 / (i + 1) ** sizes.skew for i in range(sizes.orgs)]
    org_sizes = _org_sizes(sizes.users, weights, 2)
    users: list[tuple[int, str, int, tuple[str, ...]]] = []
    by_org: list[list[int]] = [[] for _ in range(sizes.orgs)]
    for org, size in enumerate(org_sizes):
        for n in range(size):
            uid = len(users) + 1
            users.append((uid, f"u{uid:05d}.org{org + 1}", org, _roles(rng, n)))
            by_org[org].append(uid)
    absences = []
    for uid, _name, org, _user_roles in users:
        r = rng.random()
        if r < 0.05 and len(by_org[org]) > 1:
            substitute = rng.choice([u for u in by_org[org] if u != uid])
            if r < 0.02:  # absent right now
                starts = NOW_NAIVE - timedelta(days=rng.randint(1, 10))
                ends = NOW_NAIVE + timedelta(days=rng.randint(1, 20))
            else:  # past absence
                starts = NOW_NAIVE - timedelta(days=rng.randint(40, 300))
                ends = starts + timedelta(days=rng.randint(3, 21))
            absences.append((uid, substitute, starts, ends))
    org_cum = list(accumulate(org_sizes))
    return Directory(
        [f"org-{i + 1}" for i in range(sizes.orgs)], [float(c) for c in org_cum], users, by_org, absences
    )


def _priority(r: float) -> int:
    return 50 if r < 0.70 else 70 if r < 0.85 else 30 if r < 0.95 else 90


def _candidate_keys(rng: random.Random, d: Directory, pattern: str) -> list[str]:
    org = d.org_slugs[rng.choices(range(len(d.org_slugs)), cum_weights=d.org_cum)[0]]
    if pattern == "fachkraft":
        return [f"Fachkraft@{org}"]
    if pattern == "fachkraft+leitung":
        return [f"Fachkraft@{org}", f"Leitung@{org}"]
    if pattern == "leitung":
        return [f"Leitung@{org}"]
    if pattern == "koordination":
        return ["Koordination@*"]
    if pattern == "org":
        return [f"*@{org}"]
    if pattern == "user":
        return [f"user:{rng.choice(d.users)[1]}"]
    if pattern == "steuerung":
        return ["Steuerungsgruppe@*"]
    other = org
    while other == org and len(d.org_slugs) > 1:
        other = rng.choice(d.org_slugs)
    return sorted({f"Fachkraft@{org}", f"Fachkraft@{other}"})


TASK_COLUMNS = (
    "id",
    "instance_id",
    "process_key",
    "element_id",
    "name",
    "instructions",
    "form_id",
    "candidates",
    "assignee_id",
    "status",
    "priority",
    "due_at",
    "follow_up_at",
    "created_at",
    "completed_at",
    "completed_by_id",
    "draft",
    "context_label",
)
INSTANCE_COLUMNS = (
    "id",
    "definition_id",
    "process_key",
    "title",
    "status",
    "status_reason",
    "end_event",
    "state",
    "state_format",
    "lock_version",
    "started_at",
    "started_by_id",
    "initiator_org_id",
    "ended_at",
    "next_timer_at",
)


class TaskGenerator:
    """Streams user_task rows (completed first, then open) and the task_candidate rows."""

    def __init__(self, sizes: Sizes, d: Directory, rng: random.Random) -> None:
        self.sizes, self.d, self.rng = sizes, d, rng
        self.n_completed = sizes.tasks - sizes.open
        self.n_done_instances = max(1, self.n_completed // 8)  # half of the history, 4 tasks each
        self.stats = Stats()
        self.pattern_cum = list(accumulate(p for p, _ in PATTERNS))

    def instance_count(self) -> int:
        return self.sizes.open + self.n_done_instances

    def process_of(self, instance_id: int) -> str:
        return PROCESS_KEYS[instance_id * 7919 % len(PROCESS_KEYS)]

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def completed(self) -> Iterator[tuple[Any, ...]]:
        rng, users = self.rng, self.d.users
        for j in range(self.n_completed):
            if j % 2 == 0 and self.sizes.open:  # history of a running instance
                instance = 1 + rng.randrange(self.sizes.open)
            else:  # a completed instance
                instance = self.sizes.open + 1 + (j // 2) % self.n_done_instances
            process = self.process_of(instance)
            created = NOW_NAIVE - timedelta(seconds=rng.randrange(3 * 365 * 86400))
            done = created + timedelta(seconds=rng.randrange(1, 14 * 86400))
            due = created + timedelta(days=rng.randint(3, 30)) if rng.random() < 0.75 else None
            user = users[rng.randrange(len(users))][0]
            element = PROCESSES[process][1][j % len(PROCESSES[process][1])]
            self.stats.rows["completed"] += 1
            yield (
                self._uuid(),
                instance,
                process,
                element,
                element.replace("_", " ").title(),
                "",
                element,
                "",
                user,
                "completed",
                _priority(rng.random()),
                due,
                None,
                created,
                done,
                user,
                None,
                f"Fall {instance}",
            )

    def open(self) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
        rng, d = self.rng, self.d
        for i in range(self.sizes.open):
            instance = 1 + i
            process = self.process_of(instance)
            element = PROCESSES[process][1][i % len(PROCESSES[process][1])]
            created = NOW_NAIVE - timedelta(seconds=rng.randrange(90 * 86400))
            due = (
                NOW_NAIVE + timedelta(seconds=rng.randrange(-20 * 86400, 60 * 86400))
                if rng.random() < 0.75
                else None
            )
            priority = _priority(rng.random())
            pattern = rng.choices(PATTERNS, cum_weights=self.pattern_cum)[0][1]
            keys = _candidate_keys(rng, d, pattern)
            assignee = None
            if rng.random() < self.sizes.claimed_share:
                assignee = d.users[rng.randrange(len(d.users))][0]
                self.stats.assigned_open[assignee] += 1
                self.stats.rows["open_claimed"] += 1
            else:
                self.stats.rows["open_unclaimed"] += 1
            row = (
                self._uuid(),
                instance,
                process,
                element,
                element.replace("_", " ").title(),
                "",
                element,
                ",".join(keys),
                assignee,
                "open",
                priority,
                due,
                None,
                created,
                None,
                None,
                None,
                f"Fall {instance}",
            )
            cands: list[dict[str, Any]] = []
            if assignee is None:  # rows exactly as the projection writes them
                self.stats.key_rows.update(keys)
                cands = candidate_dicts(dict(zip(TASK_COLUMNS, row, strict=True)))
            yield row, cands

    def instances(self) -> Iterator[tuple[Any, ...]]:
        rng, d = self.rng, self.d
        definition = {key: n + 1 for n, key in enumerate(PROCESS_KEYS)}
        for iid in range(1, self.instance_count() + 1):
            process = self.process_of(iid)
            running = iid <= self.sizes.open
            started = NOW_NAIVE - timedelta(seconds=rng.randrange((90 if running else 3 * 365) * 86400))
            starter = d.users[rng.randrange(len(d.users))]
            yield (
                iid,
                definition[process],
                process,
                f"Fall {iid}",
                "running" if running else "completed",
                None,
                None if running else "ende",
                b"\x00",
                1,
                1,
                started,
                starter[0],
                starter[2] + 1,
                None if running else started + timedelta(days=30),
                None,
            )


def directory_rows(d: Directory) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    created = NOW_NAIVE - timedelta(days=400)
    orgs = [(i + 1, slug, f"Organisation {i + 1}", False, True) for i, slug in enumerate(d.org_slugs)]
    roles = [
        (r, r)
        for r in (
            "Fachkraft",
            "Leitung",
            "Koordination",
            "Steuerungsgruppe",
            "Pressestelle",
            "Administration",
        )
    ]
    users = [
        (uid, name, name, "!bench", org + 1, True, "de", 0, None, created) for uid, name, org, _r in d.users
    ]
    user_roles = [(uid, role) for uid, _n, _o, rs in d.users for role in rs]
    absences = [(n + 1, u, s, a, b, "Urlaub") for n, (u, s, a, b) in enumerate(d.absences)]
    definitions = [
        (n + 1, key, 1, name, f"{n:064x}", "<definitions/>", "{}", "{}", None, created, "bench")
        for n, (key, (name, _e)) in enumerate(PROCESSES.items())
    ]
    return {
        "organisation": (("id", "slug", "name", "volunteer", "active"), orgs),
        "role": (("name", "label"), roles),
        "app_user": (
            (
                "id",
                "username",
                "display_name",
                "password_hash",
                "organisation_id",
                "active",
                "locale",
                "failed_logins",
                "locked_until",
                "created_at",
            ),
            users,
        ),
        "user_role": (("user_id", "role"), user_roles),
        "absence": (("id", "user_id", "substitute_id", "starts_at", "ends_at", "note"), absences),
        "process_definition": (
            (
                "id",
                "process_key",
                "version",
                "name",
                "content_hash",
                "bpmn_xml",
                "spec_json",
                "forms_json",
                "start_form",
                "deployed_at",
                "deployed_by",
            ),
            definitions,
        ),
    }


def chunked(rows: Iterator[tuple[Any, ...]], size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ----------------------------------------------------------------------------------------------
# Loaders
# ----------------------------------------------------------------------------------------------


class Writer:
    """Bulk writer for one database; ``rows`` expects naive UTC datetimes."""

    def table(self, name: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def finish(self) -> dict[str, float]:
        raise NotImplementedError


class SqliteWriter(Writer):
    """Plain sqlite3 executemany in one transaction; secondary indexes of the two big tables are
    dropped for the load and re-created from their own DDL afterwards."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path, isolation_level=None)
        for pragma in ("synchronous=OFF", "cache_size=-400000", "temp_store=MEMORY", "foreign_keys=OFF"):
            self.con.execute(f"PRAGMA {pragma}")
        self.indexes = self.con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
            "AND tbl_name IN ('user_task', 'task_candidate', 'process_instance')"
        ).fetchall()
        for name, _sql in self.indexes:
            self.con.execute(f'DROP INDEX "{name}"')
        self.con.execute("BEGIN")

    @staticmethod
    def _convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(v.isoformat(" ", "microseconds") if isinstance(v, datetime) else v for v in row)

    def table(self, name: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(columns))
        self.con.executemany(
            f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", map(self._convert, rows)
        )

    def finish(self) -> dict[str, float]:
        self.con.execute("COMMIT")
        t0 = time.perf_counter()
        for _name, sql in self.indexes:
            self.con.execute(sql)
        t1 = time.perf_counter()
        self.con.execute("ANALYZE")
        t2 = time.perf_counter()
        self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.con.close()
        return {"indexes": t1 - t0, "analyze": t2 - t1}


class PostgresWriter(Writer):
    """COPY in one transaction; FK triggers skipped (data consistent by construction), secondary
    indexes of the big tables dropped and re-created, then VACUUM ANALYZE (what autovacuum does)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.dsn = url.replace("postgresql+psycopg://", "postgresql://")
        self.con = psycopg.connect(self.dsn)
        self.cur = self.con.cursor()
        self.cur.execute("SET session_replication_role = replica")
        self.indexes = self.cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename IN ('user_task', 'task_candidate', 'process_instance') "
            "AND indexname NOT LIKE '%pkey'"
        ).fetchall()
        for name, _sql in self.indexes:
            self.cur.execute(f'DROP INDEX "{name}"')

    def table(self, name: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        with self.cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> dict[str, float]:
        t0 = time.perf_counter()
        self.cur.execute("SET maintenance_work_mem = '256MB'")
        for _name, sql in self.indexes:
            self.cur.execute(sql)
        self.con.commit()
        t1 = time.perf_counter()
        self.con.autocommit = True
        self.cur.execute("VACUUM ANALYZE")
        t2 = time.perf_counter()
        self.con.close()
        return {"indexes": t1 - t0, "analyze": t2 - t1}


def load(writer: Writer, sizes: Sizes) -> tuple[Directory, Stats, dict[str, float]]:
    t0 = time.perf_counter()
    rng = random.Random(SEED)
    d = make_directory(sizes, rng)
    for name, (cols, rows) in directory_rows(d).items():
        writer.table(name, cols, rows)
    gen = TaskGenerator(sizes, d, rng)
    for batch in chunked(gen.instances()):
        writer.table("process_instance", INSTANCE_COLUMNS, batch)
    for batch in chunked(gen.completed()):
        writer.table("user_task", TASK_COLUMNS, batch)
    cands: list[tuple[Any, ...]] = []
    tasks: list[tuple[Any, ...]] = []
    cand_columns: tuple[str, ...] = ()
    for row, dicts in gen.open():
        tasks.append(row)
        if dicts:
            cand_columns = cand_columns or tuple(dicts[0])
            cands.extend(tuple(c.values()) for c in dicts)
        if len(tasks) >= CHUNK:
            writer.table("user_task", TASK_COLUMNS, tasks)
            writer.table("task_candidate", cand_columns, cands)
            tasks, cands = [], []
    if tasks:
        writer.table("user_task", TASK_COLUMNS, tasks)
    if cands:
        writer.table("task_candidate", cand_columns, cands)
    t1 = time.perf_counter()
    timings = writer.finish()
    timings["rows"] = t1 - t0
    timings["total"] = time.perf_counter() - t0
    return d, gen.stats, timings


# ----------------------------------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------------------------------


@dataclass
class Call:
    view: str
    user: int
    ms: float
    statements: list[tuple[str, float, str, Any]]


def statement_kind(statement: str) -> str:
    text_ = " ".join(statement.split())
    if not text_.upper().startswith("SELECT"):
        return "other"  # SQLite's explicit BEGIN
    if "absence" in text_ or "user_role" in text_:
        return "identity"
    if "count(" in text_:
        return "cnt_gruppe" if "task_candidate" in text_ else "cnt_meine"
    if "app_user.username" in text_:
        return "summaries"
    return "page"


class StatementClock:
    """Times each DBAPI execute of one worklist call and names it by its text."""

    def __init__(self, engine: Any) -> None:
        self.current: list[tuple[str, float, str, Any]] | None = None
        self._start = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def begin(self) -> list[tuple[str, float, str, Any]]:
        self.current = []
        return self.current

    def _before(self, _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        self._start = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if self.current is None:
            return
        ms = (time.perf_counter() - self._start) * 1000
        self.current.append((statement_kind(statement), ms, statement, params))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def measure(db: Database, d: Directory, sample: list[int], rounds: int) -> list[Call]:
    clock = StatementClock(db.read_engine)
    with db.read() as s:
        names = process_names(s)
    actors = {uid: d.actor(uid) for uid in sample}
    calls: list[Call] = []
    for rnd in range(rounds + 1):  # round 0 warms caches and is not counted
        order = sample[:]
        random.Random(SEED + rnd).shuffle(order)
        for uid in order:
            for view in VIEWS:
                q = WorklistQuery(view=view)
                with db.read() as s:
                    stmts = clock.begin()
                    t0 = time.perf_counter()
                    worklist(s, actors[uid], q, NOW, names)
                    ms = (time.perf_counter() - t0) * 1000
                    clock.current = None
                if rnd:
                    calls.append(Call(view, uid, ms, stmts))
    return calls


def report(label: str, calls: list[Call]) -> dict[str, float]:
    n = len([c for c in calls if c.view == VIEWS[0]])
    print(f"\n  {label}: worklist() = first page of 20 + total + counts, ms (n per view = {n})")
    print(f"  {'view':8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}   target p95 <= {TARGET_MS:.0f} ms")
    p95s = {}
    for view in VIEWS:
        ms = [c.ms for c in calls if c.view == view]
        p95s[view] = pct(ms, 95)
        flag = "ok" if p95s[view] <= TARGET_MS else "MISSED"
        print(f"  {view:8} {pct(ms, 50):7.2f} {p95s[view]:7.2f} {pct(ms, 99):7.2f} {max(ms):7.2f}   {flag}")
    print("  where the time goes, per call: mean / p95 ms (xN = statements of that kind per call)")
    print(f"  {'view':8} " + " ".join(f"{s:>17}" for s in (*STATEMENTS, "rest")))
    for view in VIEWS:
        vc = [c for c in calls if c.view == view]
        cells = []
        for kind in STATEMENTS:
            per_call = [sum(ms for lab, ms, _st, _p in c.statements if lab == kind) for c in vc]
            count = statistics.fmean([sum(lab == kind for lab, *_ in c.statements) for c in vc])
            cells.append(f"{statistics.fmean(per_call):5.2f} /{pct(per_call, 95):6.2f} x{count:.0f}")
        rest = [c.ms - sum(ms for lab, ms, _s, _p in c.statements if lab in STATEMENTS) for c in vc]
        cells.append(f"{statistics.fmean(rest):5.2f} /{pct(rest, 95):6.2f}   ")
        print(f"  {view:8} " + " ".join(f"{x:>17}" for x in cells))
    print(f"  ({STATEMENT_HELP})")
    return p95s


def _plan_lines(db: Database, statement: str, params: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    with db.read_engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, params).all()
    return [str(row[-1]) if db.is_sqlite else str(row[0]) for row in rows]


def explain(db: Database, calls: list[Call], views: list[str]) -> None:
    """Plans of the statement kinds that dominate the p95 call of each view (each kind once)."""
    done: set[str] = set()
    for view in views:
        ordered = sorted((c for c in calls if c.view == view), key=lambda c: c.ms)
        call = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)))]
        by_kind: dict[str, list[tuple[str, float, str, Any]]] = {}
        for stmt in call.statements:
            by_kind.setdefault(stmt[0], []).append(stmt)
        kinds = sorted(by_kind, key=lambda k: -sum(s[1] for s in by_kind[k]))
        kinds = [
            k for k in kinds[:2] if k not in done and k != "other" and sum(s[1] for s in by_kind[k]) >= 0.5
        ]
        if not kinds:
            continue
        label = "EXPLAIN QUERY PLAN" if db.is_sqlite else "EXPLAIN ANALYZE"
        print(f"\n  {label}, p95 '{view}' call (user {call.user}, {call.ms:.1f} ms):")
        for kind in kinds:
            done.add(kind)
            total = sum(s[1] for s in by_kind[kind])
            _k, ms, statement, params = max(by_kind[kind], key=lambda s: s[1])
            print(f"  -- {kind}: {total:.2f} ms in {len(by_kind[kind])} statement(s); slowest ({ms:.2f} ms):")
            print(f"     {' '.join(statement.split())[:400]} ...")
            for line in _plan_lines(db, statement, params):
                print(f"       {line[:170]}")


def group_rows(d: Directory, stats: Stats, uid: int) -> int:
    _i, name, org, roles = d.users[uid - 1]
    keys = set(user_keys(name, d.org_slugs[org], roles))
    return sum(stats.key_rows[k] for k in keys)


# ----------------------------------------------------------------------------------------------
# Per-database runs
# ----------------------------------------------------------------------------------------------


def run_one(
    label: str, url: str, writer_factory: Callable[[], Writer], args: argparse.Namespace, sizes: Sizes
) -> None:
    print(f"\n=== {label} ({url})")
    db = Database(url)
    t0 = time.perf_counter()
    upgrade(db)
    schema_s = time.perf_counter() - t0
    d, stats, t = load(writer_factory(), sizes)
    print(
        f"  data generation: {t['total'] + schema_s:.1f} s (schema {schema_s:.1f}, rows {t['rows']:.1f}, "
        f"indexes {t['indexes']:.1f}, analyze {t['analyze']:.1f})   rows: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(stats.rows.items()))
        + f", task_candidate {sum(stats.key_rows.values()):,}"
    )
    sample = random.Random(SEED).sample(range(1, len(d.users) + 1), min(args.sample, len(d.users)))
    sizes_seen = [group_rows(d, stats, u) for u in sample]
    print(
        f"  sampled users: {len(sample)}; candidate rows matching their own keys "
        f"p50 {pct(sizes_seen, 50):,.0f} / p95 {pct(sizes_seen, 95):,.0f} / max {max(sizes_seen):,}"
    )
    t0 = time.perf_counter()
    calls = measure(db, d, sample, args.rounds)
    p95s = report(f"{label}, {args.rounds} rounds in {time.perf_counter() - t0:.1f} s", calls)
    missed = [v for v in VIEWS if args.explain or p95s[v] > TARGET_MS]
    if missed:
        explain(db, calls, missed)
    db.dispose()


def sqlite_run(args: argparse.Namespace, sizes: Sizes) -> None:
    path = Path(tempfile.mkdtemp(prefix="hn-worklist-")) / "bench.db"
    try:
        run_one("SQLite", f"sqlite:///{path}", lambda: SqliteWriter(path), args, sizes)
        print(f"  file size: {path.stat().st_size / 1e6:,.0f} MB")
    finally:
        if args.keep:
            print(f"  kept: {path}")
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            path.parent.rmdir()


def postgres_run(args: argparse.Namespace, sizes: Sizes) -> None:
    name = f"hilfenetz_worklist_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"\nPostgreSQL nicht erreichbar, entfällt: {exc}")
        return
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        run_one("PostgreSQL", url, lambda: PostgresWriter(url), args, sizes)
        with admin.connect() as c:
            size = c.execute(text("SELECT pg_database_size(:n)"), {"n": name}).scalar_one()
            print(f"  database size: {size / 1e6:,.0f} MB")
    finally:
        if args.keep:
            print(f"  kept: {url}")
        else:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--open", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=2_000)
    ap.add_argument("--orgs", type=int, default=40)
    ap.add_argument("--skew", type=float, default=0.5, help="organisation size ~ 1/rank**skew (0 = equal)")
    ap.add_argument("--quick", action="store_true", help="1/10 size: 100k tasks, 20k open, 200 users")
    ap.add_argument("--sample", type=int, default=200, help="users measured")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--explain", action="store_true", help="print plans even when the target is met")
    ap.add_argument("--keep", action="store_true", help="keep the databases for inspection")
    args = ap.parse_args()
    if args.quick:
        args.tasks, args.open, args.users = args.tasks // 10, args.open // 10, args.users // 10
    sizes = Sizes(
        args.tasks, min(args.open, args.tasks), args.users, min(args.orgs, args.users // 2), args.skew
    )
    print(
        f"Worklist benchmark: {sizes.tasks:,} tasks ({sizes.open:,} open, {sizes.claimed_share:.0%} of "
        f"them claimed), {sizes.users:,} users in {sizes.orgs} organisations (skew {sizes.skew}), "
        f"now = {NOW:%Y-%m-%d %H:%M} UTC, seed {SEED}"
    )
    dbs = [x.strip() for x in args.db.split(",")]
    if "sqlite" in dbs:
        sqlite_run(args, sizes)
    if "postgresql" in dbs:
        postgres_run(args, sizes)


if __name__ == "__main__":
    main()
