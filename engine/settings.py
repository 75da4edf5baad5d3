"""Settings from ``HILFENETZ_*`` environment variables — the one place they are declared.

Every variable is listed in :data:`VARIABLES` with its default and meaning; the README's
configuration table is generated from the same list (``hilfenetz settings``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    help: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "HILFENETZ_DATABASE_URL",
        "sqlite:///instance/hilfenetz.db",
        "SQLAlchemy URL. Default: embedded SQLite file; production: postgresql+psycopg://…",
    ),
    Variable(
        "HILFENETZ_SECRET_KEY",
        "",
        "Secret for sessions and CSRF. Required unless HILFENETZ_DEV=1 (then a random one is made).",
    ),
    Variable("HILFENETZ_DEV", "0", "1 = development mode (random secret, cookies without Secure flag)."),
    Variable("HILFENETZ_PROCESSES_DIR", str(REPO_ROOT / "processes"), "Folder with BPMN/DMN files."),
    Variable("HILFENETZ_FORMS_DIR", str(REPO_ROOT / "forms"), "Folder with form-js files (*.form)."),
    Variable("HILFENETZ_BASE_URL", "http://127.0.0.1:5000", "Public URL, used in notification links."),
    Variable(
        "HILFENETZ_JOB_INTERVAL_SECONDS", "1.0", "Embedded job runner: how often to look for due timers."
    ),
    Variable("HILFENETZ_SCRIPT_TIME_LIMIT", "2.0", "Seconds a diagram script or expression may run."),
    Variable("HILFENETZ_LOGIN_MAX_ATTEMPTS", "5", "Failed logins per account and 15 minutes before a pause."),
    Variable("HILFENETZ_SESSION_IDLE_MINUTES", "30", "Session idle timeout in minutes."),
    Variable("HILFENETZ_WORKFLOW_CACHE_SIZE", "256", "Deserialized workflows kept in memory per process."),
    Variable(
        "HILFENETZ_TRUSTED_PROXIES",
        "0",
        "Reverse proxies in front of the app whose X-Forwarded-For is trusted (for the login limit).",
    ),
)
_DEFAULTS = {v.name: v.default for v in VARIABLES}


def _number(env: Mapping[str, str], name: str, kind: type[float] | type[int]) -> float:
    raw = env.get(name, _DEFAULTS[name])
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} ist keine Zahl.") from None
    if value <= 0:
        raise ConfigurationError(f"{name} muss größer als 0 sein.")
    return value


def _count(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, _DEFAULTS[name])
    if not raw.isdigit():
        raise ConfigurationError(f"{name}={raw!r} muss eine ganze Zahl ab 0 sein.")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    dev: bool
    processes_dir: Path
    forms_dir: Path
    base_url: str
    job_interval_seconds: float = 1.0
    script_time_limit: float = 2.0
    login_max_attempts: int = 5
    session_idle_minutes: int = 30
    workflow_cache_size: int = 256
    trusted_proxies: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every variable; unknown HILFENETZ_* names are an error (typos)."""
        env = os.environ if env is None else env
        unknown = sorted(
            k
            for k in env
            if k.startswith("HILFENETZ_") and k not in _DEFAULTS and not k.startswith("HILFENETZ_TEST_")
        )
        if unknown:
            raise ConfigurationError(f"Unbekannte Einstellung(en): {', '.join(unknown)}")
        dev = env.get("HILFENETZ_DEV", "0") == "1"
        secret = env.get("HILFENETZ_SECRET_KEY", "")
        if not secret and not dev:
            raise ConfigurationError("HILFENETZ_SECRET_KEY fehlt (oder HILFENETZ_DEV=1 für die Entwicklung).")
        return cls(
            database_url=env.get("HILFENETZ_DATABASE_URL", _DEFAULTS["HILFENETZ_DATABASE_URL"]),
            secret_key=secret or os.urandom(32).hex(),
            dev=dev,
            processes_dir=Path(env.get("HILFENETZ_PROCESSES_DIR", _DEFAULTS["HILFENETZ_PROCESSES_DIR"])),
            forms_dir=Path(env.get("HILFENETZ_FORMS_DIR", _DEFAULTS["HILFENETZ_FORMS_DIR"])),
            base_url=env.get("HILFENETZ_BASE_URL", _DEFAULTS["HILFENETZ_BASE_URL"]),
            job_interval_seconds=_number(env, "HILFENETZ_JOB_INTERVAL_SECONDS", float),
            script_time_limit=_number(env, "HILFENETZ_SCRIPT_TIME_LIMIT", float),
            login_max_attempts=int(_number(env, "HILFENETZ_LOGIN_MAX_ATTEMPTS", int)),
            session_idle_minutes=int(_number(env, "HILFENETZ_SESSION_IDLE_MINUTES", int)),
            workflow_cache_size=int(_number(env, "HILFENETZ_WORKFLOW_CACHE_SIZE", int)),
            trusted_proxies=_count(env, "HILFENETZ_TRUSTED_PROXIES"),
        )
