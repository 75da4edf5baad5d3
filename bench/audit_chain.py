"""Audit chain cost: one 5-user-task process run through the engine with sealing at each commit
(embedded default: inside the transaction on SQLite, right after it on PostgreSQL) vs without it
(rows left unsealed), on SQLite and PostgreSQL. Interleaved
rounds; prints ms per instance, the median ratio with/without, and what sealing the rows the
"without" runs left costs as one batch (the periodic job of the distributed mode), per instance.

Run: .venv/bin/python bench/audit_chain.py [--rounds 5] [--instances 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, text
from step_overhead import PG_ADMIN, engine_runner, postgres_url, timed

from engine.service import Hilfenetz


def without_sealing(hn: Hilfenetz) -> None:
    """What the distributed mode does: no sealing after commit, the job seals later."""
    trail = hn.audit_trail
    if hn.db.is_sqlite:
        event.remove(hn.db._write_sessions, "before_commit", trail._before_commit)
    else:
        hn.db.remove_after_write_commit(trail._after_commit)


def measure(label: str, root: Path, url_with: str, url_without: str, rounds: int, n: int) -> None:
    with_run, hn_with = engine_runner(root / "with", url_with)
    without_run, hn_without = engine_runner(root / "without", url_without)
    without_sealing(hn_without)
    hn_without.seal_audit_trail()
    for run in (with_run, without_run):
        timed(run, 3)
    hn_without.seal_audit_trail()
    w_ms, wo_ms, ratios, job_ms = [], [], [], []
    for _ in range(rounds):
        w = timed(with_run, n)
        wo = timed(without_run, n)
        start = time.perf_counter()
        hn_without.seal_audit_trail()
        job_ms.append((time.perf_counter() - start) * 1000 / n)
        w_ms.append(w)
        wo_ms.append(wo)
        ratios.append(w / wo)
    assert hn_with.verify_audit_trail().intact and hn_without.verify_audit_trail().intact
    print(
        f"{label}: mit Versiegeln {statistics.median(w_ms):7.2f} ms/Vorgang, "
        f"ohne {statistics.median(wo_ms):7.2f} ms/Vorgang, Verhältnis mit/ohne "
        f"{statistics.median(ratios):.2f}; Versiegeln im Job nachträglich "
        f"{statistics.median(job_ms):.2f} ms/Vorgang"
    )
    hn_with.db.dispose()
    hn_without.db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--instances", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hn-bench-audit-"))
    sqlite = (f"sqlite:///{tmp / 'with.db'}", f"sqlite:///{tmp / 'without.db'}")
    measure("SQLite    ", tmp / "sqlite", *sqlite, args.rounds, args.instances)
    pg_with, pg_without = postgres_url(), postgres_url()
    if pg_with and pg_without:
        try:
            measure("PostgreSQL", tmp / "pg", pg_with[0], pg_without[0], args.rounds, args.instances)
        finally:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                for _, name in (pg_with, pg_without):
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
