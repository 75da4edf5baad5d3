"""Distributed-mode settings and the refusals of ``hilfenetz worker`` / ``hilfenetz beat``."""

from __future__ import annotations

import pytest

from engine.distributed import check_distributed, make_celery
from engine.errors import ConfigurationError
from engine.settings import Settings
from webapp.cli import main

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/hilfenetz"


def test_broker_and_scheduler_settings_are_read_and_checked():
    s = Settings.from_env({"HILFENETZ_DEV": "1"})
    assert (s.broker_url, s.scheduler_interval_seconds, s.worker_concurrency) == ("", 0.5, 2)
    assert s.redispatch_seconds == 60.0
    s = Settings.from_env(
        {
            "HILFENETZ_DEV": "1",
            "HILFENETZ_BROKER_URL": " amqp://guest:guest@127.0.0.1:5672// ",
            "HILFENETZ_SCHEDULER_INTERVAL_SECONDS": "0.25",
            "HILFENETZ_WORKER_CONCURRENCY": "4",
            "HILFENETZ_REDISPATCH_SECONDS": "30",
            "HILFENETZ_BROKER_QUEUE": "hilfenetz-test.1",
        }
    )
    assert s.broker_queue == "hilfenetz-test.1"
    assert (s.broker_url, s.scheduler_interval_seconds, s.worker_concurrency, s.redispatch_seconds) == (
        "amqp://guest:guest@127.0.0.1:5672//",
        0.25,
        4,
        30.0,
    )
    bad = [
        ({"HILFENETZ_BROKER_URL": "http://127.0.0.1:6379"}, "redis://"),
        ({"HILFENETZ_SCHEDULER_INTERVAL_SECONDS": "0"}, "größer als 0"),
        ({"HILFENETZ_SCHEDULER_INTERVAL_SECONDS": "120"}, "höchstens 60"),
        ({"HILFENETZ_WORKER_CONCURRENCY": "zwei"}, "keine Zahl"),
        ({"HILFENETZ_REDISPATCH_SECONDS": "-1"}, "größer als 0"),
        ({"HILFENETZ_BROKER_QUEUE": "hilfe netz"}, "nur Buchstaben"),
        ({"HILFENETZ_BROKER_QUEUE": ""}, "nur Buchstaben"),
    ]
    for env, message in bad:
        with pytest.raises(ConfigurationError, match=message):
            Settings.from_env({"HILFENETZ_DEV": "1", **env})


def test_distributed_mode_needs_a_broker_and_postgresql():
    with pytest.raises(ConfigurationError, match="Kein Broker"):
        check_distributed(Settings.from_env({"HILFENETZ_DEV": "1", "HILFENETZ_DATABASE_URL": PG}))
    with pytest.raises(ConfigurationError, match="braucht PostgreSQL"):
        check_distributed(
            Settings.from_env({"HILFENETZ_DEV": "1", "HILFENETZ_BROKER_URL": "redis://127.0.0.1:6379/0"})
        )


def test_celery_app_acknowledges_late_and_requeues_on_worker_loss():
    settings = Settings.from_env(
        {"HILFENETZ_DEV": "1", "HILFENETZ_DATABASE_URL": PG, "HILFENETZ_BROKER_URL": "redis://127.0.0.1/0"}
    )
    app = make_celery(settings)
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_default_queue == "hilfenetz"
    names = ("hilfenetz.fire_timer", "hilfenetz.fire_timers", "hilfenetz.deliver_outbox", "hilfenetz.run_job")
    for name in names:
        task = app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost


@pytest.mark.parametrize("command", [["worker"], ["beat"]])
def test_worker_and_beat_refuse_without_broker_or_on_sqlite(command, monkeypatch, capsys):
    monkeypatch.setenv("HILFENETZ_DEV", "1")
    monkeypatch.delenv("HILFENETZ_BROKER_URL", raising=False)
    monkeypatch.setenv("HILFENETZ_DATABASE_URL", PG)
    assert main(command) == 2
    assert "Kein Broker eingestellt" in capsys.readouterr().err
    monkeypatch.setenv("HILFENETZ_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("HILFENETZ_DATABASE_URL", "sqlite:///nirgends.db")
    assert main(command) == 2
    assert "braucht PostgreSQL" in capsys.readouterr().err


def test_worker_refuses_a_concurrency_below_one(monkeypatch, capsys):
    monkeypatch.setenv("HILFENETZ_DEV", "1")
    monkeypatch.setenv("HILFENETZ_DATABASE_URL", PG)
    monkeypatch.setenv("HILFENETZ_BROKER_URL", "redis://127.0.0.1:6379/0")
    assert main(["worker", "--concurrency=0"]) == 2
    assert "mindestens 1" in capsys.readouterr().err


def test_run_refuses_a_broker_with_sqlite_instead_of_running_no_jobs(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HILFENETZ_DEV", "1")
    monkeypatch.setenv("HILFENETZ_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("HILFENETZ_DATABASE_URL", f"sqlite:///{tmp_path / 'eingebettet.db'}")
    assert main(["run", "--port", "0"]) == 2
    assert "braucht PostgreSQL" in capsys.readouterr().err
