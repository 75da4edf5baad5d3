"""Real Celery workers for tests and benchmarks: ``hilfenetz worker`` subprocesses, a dispatcher
thread, and reachability checks for Redis and RabbitMQ."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.distributed import Dispatcher, make_celery
from engine.service import Hilfenetz

REDIS_URL = os.environ.get("HILFENETZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
RABBITMQ_URL = os.environ.get("HILFENETZ_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
REPO = Path(__file__).resolve().parents[2]


def broker_unreachable(url: str) -> str | None:
    """None when the broker answers, else the reason (for need_service)."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        return f"Broker {url} nicht erreichbar: {exc}"
    return None


def worker_env(hn: Hilfenetz, broker_url: str, **extra: str) -> dict[str, str]:
    """The environment a worker process needs to serve the same database and definitions."""
    s = hn.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HILFENETZ_")}
    env.update(
        HILFENETZ_DEV="1",
        HILFENETZ_DATABASE_URL=s.database_url,
        HILFENETZ_BROKER_URL=broker_url,
        HILFENETZ_PROCESSES_DIR=str(s.processes_dir),
        HILFENETZ_FORMS_DIR=str(s.forms_dir),
        HILFENETZ_BASE_URL=s.base_url,
        HILFENETZ_BROKER_QUEUE=s.broker_queue,
        PYTHONPATH=str(REPO),
    )
    if s.smtp_host:
        env.update(HILFENETZ_SMTP_HOST=s.smtp_host, HILFENETZ_SMTP_PORT=str(s.smtp_port))
    env.update(extra)
    return env


class Worker:
    """One ``hilfenetz worker`` process (Celery prefork) with its log file."""

    def __init__(self, env: Mapping[str, str], log: Path, concurrency: int = 1) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "worker", f"--concurrency={concurrency}"],
            env=dict(env),
            cwd=REPO,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def nodename(self) -> str:
        """Celery's name for this worker (``hilfenetz worker`` names it after its pid)."""
        return f"hilfenetz-{self.pid}@{socket.gethostname()}"

    def stop(self, timeout: float = 15.0) -> None:
        """Warm shutdown (SIGTERM: finish the running task), SIGKILL only if it does not end."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._out.close()

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")


class DispatcherThread:
    """``hilfenetz beat`` in a thread of the test process (same code, the test's engine)."""

    def __init__(self, hn: Hilfenetz, interval: float = 0.2) -> None:
        self.app = make_celery(hn.settings, lambda: hn)
        self.dispatcher = Dispatcher(hn, self.app, interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.dispatcher.run, args=(self._stop,), daemon=True)

    def __enter__(self) -> DispatcherThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def launch(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``hilfenetz <command>`` (worker or beat) as a subprocess writing to ``log``."""
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", *command], env=env, stdout=out, stderr=subprocess.STDOUT
    )


def unique_queue() -> str:
    """A queue of its own per test or benchmark run, so that runs sharing the broker never take
    each other's messages."""
    return f"hilfenetz-test-{uuid.uuid4().hex[:12]}"


def drop_queue(hn: Hilfenetz) -> None:
    """Delete the run's queue from the broker (RabbitMQ keeps durable queues otherwise)."""
    queue = hn.settings.broker_queue
    app = make_celery(hn.settings, lambda: hn)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)
    if hn.settings.broker_url.startswith("redis"):  # kombu keeps binding sets of its own there
        import redis

        client = redis.Redis.from_url(hn.settings.broker_url)
        try:
            keys = list(client.scan_iter(match=f"*{queue}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def wait_for(condition: Callable[[], Any], timeout: float, what: str, workers: list[Worker]) -> Any:
    """Poll until ``condition()`` is truthy; on timeout fail with the workers' logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    logs = "\n".join(f"--- worker {w.pid} ---\n{w.output()[-4000:]}" for w in workers)
    raise AssertionError(f"{what}: nicht innerhalb von {timeout} s\n{logs}")
