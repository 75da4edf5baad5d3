"""Settings from ``HILFENETZ_*`` environment variables — the one place they are declared.

Every variable is listed in :data:`VARIABLES` with its default and meaning; the README's
configuration table is generated from the same list (``hilfenetz settings``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    Variable("HILFENETZ_SESSION_MAX_HOURS", "10", "Maximum age of a session in hours, however active it is."),
    # --- single sign-on (OpenID Connect) ---
    Variable(
        "HILFENETZ_OIDC_ISSUER",
        "",
        "OpenID Connect issuer URL of the county's identity provider; empty = local accounts only.",
    ),
    Variable("HILFENETZ_OIDC_CLIENT_ID", "", "Client id of Hilfenetz at the identity provider."),
    Variable("HILFENETZ_OIDC_CLIENT_SECRET", "", "Client secret of Hilfenetz at the identity provider."),
    Variable(
        "HILFENETZ_OIDC_ORGANISATION_CLAIM", "organisation", "ID-token claim naming the user's organisation."
    ),
    Variable("HILFENETZ_OIDC_ROLES_CLAIM", "groups", "ID-token claim listing the user's groups."),
    Variable(
        "HILFENETZ_OIDC_MAPPING",
        "",
        "JSON file mapping the provider's values to ours: "
        '{"organisationen": {"IdP-Wert": "slug"}, "rollen": {"IdP-Gruppe": "Rolle"}}.',
    ),
    Variable("HILFENETZ_WORKFLOW_CACHE_SIZE", "256", "Deserialized workflows kept in memory per process."),
    Variable(
        "HILFENETZ_TRUSTED_PROXIES",
        "0",
        "Reverse proxies in front of the app whose X-Forwarded-For is trusted (for the login limit).",
    ),
    Variable(
        "HILFENETZ_SMTP_HOST", "", "SMTP server for notification e-mails; empty = e-mail off (in-app only)."
    ),
    Variable("HILFENETZ_SMTP_PORT", "25", "SMTP port (587 with starttls, 465 with ssl)."),
    Variable("HILFENETZ_SMTP_TLS", "none", "none, starttls or ssl."),
    Variable("HILFENETZ_SMTP_USER", "", "SMTP user name; empty = no login."),
    Variable("HILFENETZ_SMTP_PASSWORD", "", "SMTP password (only with HILFENETZ_SMTP_USER)."),
    Variable(
        "HILFENETZ_MAIL_SENDER",
        "Hilfenetz <noreply@hilfenetz.invalid>",
        "Sender (From) of notification e-mails.",
    ),
    Variable("HILFENETZ_DIGEST_HOUR", "7", "Hour (0–23, Europe/Berlin) from which the daily digest is sent."),
    # --- distributed mode (Celery) ---
    Variable(
        "HILFENETZ_BROKER_URL",
        "",
        "Celery broker (redis://… or amqp://…); empty = embedded mode (in-process job runner).",
    ),
    Variable(
        "HILFENETZ_SCHEDULER_INTERVAL_SECONDS",
        "0.5",
        "hilfenetz beat: how often due timers, outbox rows and jobs are looked for and published.",
    ),
    Variable(
        "HILFENETZ_REDISPATCH_SECONDS",
        "60",
        "hilfenetz beat: a published timer or outbox row not taken up after this long is published again "
        "(once the queue is short).",
    ),
    Variable("HILFENETZ_WORKER_CONCURRENCY", "2", "hilfenetz worker: processes per worker (Celery prefork)."),
    Variable(
        "HILFENETZ_BROKER_QUEUE",
        "hilfenetz",
        "Queue name on the broker; different names let several installations share one broker.",
    ),
)
ACCESSIBILITY_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "HILFENETZ_BARRIEREFREIHEIT_KONTAKT",
        "Netzwerkkoordination der Kreiskooperationsrunde – Telefon und E-Mail trägt der Betreiber ein",
        "Contact for accessibility feedback shown in the accessibility statement (phone, e-mail, address).",
    ),
    Variable(
        "HILFENETZ_BARRIEREFREIHEIT_OMBUDSSTELLE",
        "Kontaktdaten wie vom Land NRW veröffentlicht – vom Betreiber zu bestätigen",
        "Contact data of the Ombudsstelle für barrierefreie Informationstechnik NRW, as published.",
    ),
    Variable(
        "HILFENETZ_BARRIEREFREIHEIT_STAND",
        "25.11.2026",
        "Date (DD.MM.YYYY) on which the accessibility statement was made or last reviewed.",
    ),
    Variable(
        "HILFENETZ_BARRIEREFREIHEIT_RUECKMELDUNGEN_PRO_STUNDE",
        "300",
        "Accessibility feedback reports accepted per hour (all senders together; each address may "
        "send 5 per hour); more are refused.",
    ),
    Variable(
        "HILFENETZ_BARRIEREFREIHEIT_AUFBEWAHRUNG_TAGE",
        "365",
        "Days after which accessibility feedback reports are deleted by the job runner.",
    ),
)
VARIABLES = VARIABLES + ACCESSIBILITY_VARIABLES
BROKER_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://")
SMTP_TLS_MODES = ("none", "starttls", "ssl")
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
    session_max_hours: int = 10
    workflow_cache_size: int = 256
    trusted_proxies: int = 0
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = ""
    mail_sender: str = "Hilfenetz <noreply@hilfenetz.invalid>"
    digest_hour: int = 7
    broker_url: str = ""
    scheduler_interval_seconds: float = 0.5
    redispatch_seconds: float = 60.0
    worker_concurrency: int = 2
    broker_queue: str = "hilfenetz"
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_organisation_claim: str = "organisation"
    oidc_roles_claim: str = "groups"
    oidc_mapping: str = ""
    accessibility_contact: str = ACCESSIBILITY_VARIABLES[0].default
    ombudsstelle_contact: str = ACCESSIBILITY_VARIABLES[1].default
    accessibility_statement_date: str = ACCESSIBILITY_VARIABLES[2].default
    accessibility_feedback_per_hour: int = 300
    accessibility_feedback_keep_days: int = 365
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
            session_max_hours=int(_number(env, "HILFENETZ_SESSION_MAX_HOURS", int)),
            workflow_cache_size=int(_number(env, "HILFENETZ_WORKFLOW_CACHE_SIZE", int)),
            trusted_proxies=_count(env, "HILFENETZ_TRUSTED_PROXIES"),
            **_mail_settings(env),
            **_distributed_settings(env),
            **_oidc_settings(env),
            **_accessibility_settings(env),
        )


def _mail_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """SMTP and digest settings, checked (an unknown TLS mode or hour is refused at start-up)."""
    tls = env.get("HILFENETZ_SMTP_TLS", _DEFAULTS["HILFENETZ_SMTP_TLS"]).strip().lower()
    if tls not in SMTP_TLS_MODES:
        raise ConfigurationError(f"HILFENETZ_SMTP_TLS={tls!r}: erlaubt sind {', '.join(SMTP_TLS_MODES)}.")
    hour = _count(env, "HILFENETZ_DIGEST_HOUR")
    if hour > 23:
        raise ConfigurationError("HILFENETZ_DIGEST_HOUR muss zwischen 0 und 23 liegen.")
    return {
        "smtp_host": env.get("HILFENETZ_SMTP_HOST", "").strip(),
        "smtp_port": int(_number(env, "HILFENETZ_SMTP_PORT", int)),
        "smtp_tls": tls,
        "smtp_user": env.get("HILFENETZ_SMTP_USER", ""),
        "smtp_password": env.get("HILFENETZ_SMTP_PASSWORD", ""),
        "mail_sender": env.get("HILFENETZ_MAIL_SENDER", _DEFAULTS["HILFENETZ_MAIL_SENDER"]),
        "digest_hour": hour,
    }


def _accessibility_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """What the accessibility statement shows and how its feedback form is limited and kept."""
    stand = env.get("HILFENETZ_BARRIEREFREIHEIT_STAND", _DEFAULTS["HILFENETZ_BARRIEREFREIHEIT_STAND"]).strip()
    if not re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", stand):
        raise ConfigurationError("HILFENETZ_BARRIEREFREIHEIT_STAND muss ein Datum wie 25.11.2026 sein.")
    texts = {}
    for key, name in (("accessibility_contact", "KONTAKT"), ("ombudsstelle_contact", "OMBUDSSTELLE")):
        variable = f"HILFENETZ_BARRIEREFREIHEIT_{name}"
        texts[key] = env.get(variable, _DEFAULTS[variable]).strip() or _DEFAULTS[variable]
    return {
        **texts,
        "accessibility_statement_date": stand,
        "accessibility_feedback_per_hour": int(
            _number(env, "HILFENETZ_BARRIEREFREIHEIT_RUECKMELDUNGEN_PRO_STUNDE", int)
        ),
        "accessibility_feedback_keep_days": int(
            _number(env, "HILFENETZ_BARRIEREFREIHEIT_AUFBEWAHRUNG_TAGE", int)
        ),
    }


def _distributed_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Broker and scheduler settings (issue 6): only Redis and RabbitMQ URLs are accepted."""
    broker = env.get("HILFENETZ_BROKER_URL", "").strip()
    if broker and not broker.startswith(BROKER_SCHEMES):
        raise ConfigurationError(
            "HILFENETZ_BROKER_URL muss mit redis://, rediss://, amqp:// oder amqps:// beginnen "
            "(leer = eingebetteter Betrieb)."
        )
    interval = _number(env, "HILFENETZ_SCHEDULER_INTERVAL_SECONDS", float)
    if interval > 60:
        raise ConfigurationError("HILFENETZ_SCHEDULER_INTERVAL_SECONDS darf höchstens 60 Sekunden sein.")
    queue = env.get("HILFENETZ_BROKER_QUEUE", _DEFAULTS["HILFENETZ_BROKER_QUEUE"]).strip()
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", queue):
        raise ConfigurationError(
            "HILFENETZ_BROKER_QUEUE darf nur Buchstaben, Ziffern, Punkt, Binde- und Unterstrich enthalten "
            "(höchstens 100 Zeichen)."
        )
    return {
        "broker_url": broker,
        "broker_queue": queue,
        "scheduler_interval_seconds": interval,
        "redispatch_seconds": _number(env, "HILFENETZ_REDISPATCH_SECONDS", float),
        "worker_concurrency": int(_number(env, "HILFENETZ_WORKER_CONCURRENCY", int)),
    }


def _oidc_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Single sign-on: an issuer needs a client id and a mapping file; plain http only on this host."""
    issuer = env.get("HILFENETZ_OIDC_ISSUER", "").strip().rstrip("/")
    values = {
        "oidc_issuer": issuer,
        "oidc_client_id": env.get("HILFENETZ_OIDC_CLIENT_ID", "").strip(),
        "oidc_client_secret": env.get("HILFENETZ_OIDC_CLIENT_SECRET", ""),
        "oidc_organisation_claim": env.get("HILFENETZ_OIDC_ORGANISATION_CLAIM", "organisation").strip(),
        "oidc_roles_claim": env.get("HILFENETZ_OIDC_ROLES_CLAIM", "groups").strip(),
        "oidc_mapping": env.get("HILFENETZ_OIDC_MAPPING", "").strip(),
    }
    if not issuer:
        return values
    local = re.match(r"^http://(127\.0\.0\.1|localhost)(:[0-9]+)?(/|$)", issuer)
    if not issuer.startswith("https://") and not local:
        raise ConfigurationError("HILFENETZ_OIDC_ISSUER muss mit https:// beginnen.")
    if not values["oidc_client_id"]:
        raise ConfigurationError("HILFENETZ_OIDC_CLIENT_ID fehlt (HILFENETZ_OIDC_ISSUER ist gesetzt).")
    if not values["oidc_mapping"] or not Path(values["oidc_mapping"]).is_file():
        raise ConfigurationError(
            "HILFENETZ_OIDC_MAPPING muss auf eine JSON-Datei mit der Zuordnung von Organisationen und "
            "Rollen zeigen (HILFENETZ_OIDC_ISSUER ist gesetzt)."
        )
    return values
