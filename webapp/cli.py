"""The ``hilfenetz`` console command: run, worker, beat, deploy, check, demo, settings, anonymity-check,
audit verify."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from engine.checks import check_files, expand_paths
from engine.errors import ConfigurationError, HilfenetzError, InvalidDefinitionError
from engine.settings import VARIABLES, Settings


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from engine.service import Hilfenetz

    hn = Hilfenetz(settings)
    hn.migrate()
    return hn


def cmd_demo(settings: Settings) -> int:
    """Create the schema, the network's organisations, demo users and deploy every process."""
    from engine.service import Hilfenetz

    orgs, users, deployed = Hilfenetz(settings).prepare_demo()
    print(
        f"{orgs} Organisationen, {len(users)} neue Demo-Konten, "
        f"{len(deployed)} Prozesse bereitgestellt: " + ", ".join(f"{p.key} v{p.version}" for p in deployed)
    )
    return 0


def cmd_deploy(settings: Settings, path: Path) -> int:
    hn = _engine(settings)
    files = sorted(path.glob("*.bpmn")) if path.is_dir() else [path]
    for file in files:
        views = (
            hn.deploy_decision_file(file, "cli") if file.suffix == ".dmn" else [hn.deploy_file(file, "cli")]
        )
        if not views:
            print(f"{file.name}: kein Prozess nutzt diese Entscheidungstabelle.")
        for view in views:
            print(f"{view.key}: Version {view.version} ist aktiv.")
    return 0


def cmd_check(settings: Settings, paths: Sequence[Path]) -> int:
    files = expand_paths(list(paths))
    problems = check_files(files, settings.forms_dir)
    for problem in problems:
        print(f"{problem.file}: {problem.element or '-'}: {problem.reason}")
    if not problems:
        print(f"{len(files)} Datei(en) geprüft, keine Probleme.")
    return 1 if problems else 0


def cmd_run(settings: Settings, host: str, port: int, jobs: bool) -> int:
    from waitress import serve

    from engine.jobs import EmbeddedJobRunner
    from webapp import create_app

    if settings.broker_url:  # without a database server, beat and workers refuse: nothing would run
        from engine.distributed import check_distributed

        check_distributed(settings)
    hn = _engine(settings)
    hn.seed_organisations()
    app = create_app(hilfenetz=hn)
    if jobs and settings.broker_url:
        print(
            "HILFENETZ_BROKER_URL ist gesetzt: Fristen und Benachrichtigungen übernehmen "
            "„hilfenetz beat“ und „hilfenetz worker“ (kein eingebetteter Job-Runner)."
        )
        jobs = False
    runner = EmbeddedJobRunner(hn, settings.job_interval_seconds) if jobs else None
    if runner:
        runner.start()
    print(f"Hilfenetz läuft auf http://{host}:{port}/ (Beenden mit Strg+C)")
    try:
        serve(app, host=host, port=port, threads=8, ident="Hilfenetz")
    finally:
        if runner:
            runner.stop()
    return 0


def cmd_worker(settings: Settings, concurrency: int | None) -> int:
    """A Celery worker (prefork): executes timers, outbox deliveries and periodic jobs."""
    from engine.distributed import make_celery

    if concurrency is not None and concurrency < 1:
        raise ConfigurationError("--concurrency muss mindestens 1 sein.")
    app = make_celery(settings)
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            f"--queues={settings.broker_queue}",
            f"--hostname=hilfenetz-{os.getpid()}@{socket.gethostname()}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
    return 0


def cmd_beat(settings: Settings) -> int:
    """The scheduler: publishes due timers, outbox rows and periodic jobs (engine/distributed.py)."""
    from engine.distributed import Dispatcher, check_distributed, make_celery

    check_distributed(settings)
    hn = _engine(settings)
    dispatcher = Dispatcher(hn, make_celery(settings, lambda: hn), settings.scheduler_interval_seconds)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"Hilfenetz-Planer läuft (alle {settings.scheduler_interval_seconds:g} s, Beenden mit Strg+C)")
    dispatcher.run(stop)
    return 0


def _read_anchor(path: Path) -> dict[str, object]:
    try:
        anchor = json.loads(path.read_text(encoding="utf-8"))
        int(anchor["seq"]), str(anchor["hash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"Die Ankerdatei {path} ist nicht lesbar oder kein Anker "
            '({"seq": …, "hash": …} aus „hilfenetz audit verify --write-anchor“).'
        ) from exc
    return dict(anchor)


def cmd_audit_verify(settings: Settings, anchor: Path | None, write_anchor: Path | None) -> int:
    """Seal, recompute the hash chain; exit 0 when intact, 1 with the first broken entry."""
    expected = _read_anchor(anchor) if anchor is not None else None
    report = _engine(settings).verify_audit_trail(expected)
    print(report.summary)
    if report.broken is not None:
        return 1
    if expected is not None:
        print(f"Anker bestätigt: Position {expected['seq']} hat unverändert den exportierten Hash.")
    if write_anchor is not None:
        write_anchor.write_text(
            json.dumps({"seq": report.head_seq, "hash": report.head_hash}) + "\n", encoding="utf-8"
        )
        print(f"Anker geschrieben: {write_anchor} (außerhalb der Datenbank aufbewahren).")
    return 0


def cmd_settings() -> int:
    print("| Variable | Standard | Bedeutung |\n|---|---|---|")
    for v in VARIABLES:
        print(f"| `{v.name}` | `{v.default or '—'}` | {v.help} |")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hilfenetz", description="Hilfenetz – Prozesse des Netzwerks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="App mit eingebettetem Job-Runner starten")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=5000)
    run.add_argument("--no-jobs", action="store_true", help="ohne eingebetteten Job-Runner")
    deploy = sub.add_parser(
        "deploy", help="BPMN-Datei, DMN-Tabelle (Prozesse, die sie nutzen) oder Ordner bereitstellen"
    )
    deploy.add_argument("path", type=Path)
    check = sub.add_parser("check", help="BPMN-, DMN- und Formulardateien prüfen")
    check.add_argument("paths", type=Path, nargs="+")
    worker = sub.add_parser("worker", help="Celery-Worker starten (verteilter Betrieb)")
    worker.add_argument("--concurrency", type=int, default=None, help="Prozesse (Standard: Einstellung)")
    sub.add_parser("beat", help="Planer starten: fällige Fristen und Aufträge veröffentlichen (verteilt)")
    sub.add_parser("demo", help="Datenbank, Organisationen, Demo-Konten und Prozesse anlegen")
    sub.add_parser("settings", help="Alle HILFENETZ_*-Einstellungen auflisten")
    sub.add_parser(
        "anonymity-check",
        help="Text von der Standardeingabe auf personenbezogene Daten prüfen "
        "(eine JSON-Zeile je Fund; Status 1, wenn etwas gefunden wurde)",
    )
    audit = sub.add_parser("audit", help="Audit-Protokoll")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="Hash-Kette des Audit-Protokolls prüfen (Exit 1 bei Bruch)")
    verify.add_argument("--anchor", type=Path, help="exportierten Anker (JSON) mit der Kette vergleichen")
    verify.add_argument("--write-anchor", type=Path, help="aktuellen Kopf als Anker in diese Datei schreiben")
    return parser


def cmd_anonymity_check() -> int:
    """Read stdin (UTF-8; undecodable bytes become U+FFFD), print one JSON line per finding."""
    from engine.anonymity import check_text

    lines, status = check_text(sys.stdin.buffer.read().decode("utf-8", errors="replace"))
    for line in lines:
        print(line)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "settings":
        return cmd_settings()
    if args.command == "anonymity-check":
        return cmd_anonymity_check()
    try:
        settings = Settings.from_env()
        if args.command == "demo":
            return cmd_demo(settings)
        if args.command == "deploy":
            return cmd_deploy(settings, args.path)
        if args.command == "check":
            return cmd_check(settings, args.paths)
        if args.command == "worker":
            return cmd_worker(settings, args.concurrency)
        if args.command == "beat":
            return cmd_beat(settings)
        if args.command == "audit":
            return cmd_audit_verify(settings, args.anchor, args.write_anchor)
        return cmd_run(settings, args.host, args.port, not args.no_jobs)
    except InvalidDefinitionError as exc:
        print(exc.message, file=sys.stderr)
        for problem in exc.problems:
            print(f"{problem.file}: {problem.element or '-'}: {problem.reason}", file=sys.stderr)
        return 1
    except (ConfigurationError, HilfenetzError) as exc:
        print(f"Fehler: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
