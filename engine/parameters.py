"""Configuration the processes read at run time: Fristen (durations) and the organisations.

Both are cached in memory per engine and refreshed from the database (``refresh``).
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.directory import organisation_views
from engine.errors import ScriptError
from engine.persistence.models import ProcessParameter
from engine.projection import parse_iso_duration
from engine.read_models import OrganisationView

#: The Frist (processes/fristen.json) after which referral contact data are deleted.
CONTACT_RETENTION = "kontaktdaten.aufbewahrung"
_DAYS = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?")
#: Fristen the engine itself needs; processes/fristen.json may set other values.
CONTACT_GRACE = "kontaktdaten.nach_abschluss"
ENGINE_FRISTEN = {
    CONTACT_RETENTION: "P3M",
    CONTACT_GRACE: "P14D",
    "erinnerung.vorlauf": "P1D",
    "eskalation.nach": "PT0S",
}
#: A Frist with this value switches a reminder or an escalation off.
OFF = "aus"


class Fristen:
    """Configured durations: defaults from ``processes/fristen.json``, overrides in the database."""

    def __init__(self, processes_dir: Path) -> None:
        path = processes_dir / "fristen.json"
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        configured = {k: v["wert"] if isinstance(v, dict) else v for k, v in raw.items() if k[:1] != "_"}
        self.defaults = {**ENGINE_FRISTEN, **{k: str(v) for k, v in configured.items()}}
        self.overrides: dict[str, str] = {}

    def refresh(self, session: Session) -> None:
        self.overrides = {p.name: p.value for p in session.scalars(select(ProcessParameter))}

    def days(self, name: str) -> int:
        """A Frist in whole days (``P10D``, ``P2W``); months and years vary, so they are refused."""
        value = self.value(name)
        match = _DAYS.fullmatch(value.strip().upper())
        if match is None:
            raise ScriptError(
                f"Die Frist „{name}“ = „{value}“ muss in Tagen oder Wochen angegeben sein (z. B. P10D, P2W)."
            )
        weeks, days = (int(g) if g else 0 for g in match.groups())
        return weeks * 7 + days

    def optional_duration(self, name: str, default: str) -> relativedelta | None:
        """``name`` (else the network-wide ``default``) as a duration; None when it is ``aus``."""
        value = self.overrides.get(name) or self.defaults.get(name) or self.value(default)
        if value.strip().lower() == OFF:
            return None
        try:
            return parse_iso_duration(value)
        except ValueError:
            raise ScriptError(
                f"Die Frist „{name}“ = „{value}“ ist keine Dauer (z. B. P1D, PT4H) und nicht „aus“."
            ) from None

    def per_process(self, suffix: str) -> set[str]:
        """The processes with their own value for ``<process>.<suffix>``."""
        keys = {*self.defaults, *self.overrides}
        return {k.rsplit(".", 1)[0] for k in keys if k.endswith(f".{suffix}")}

    def moments(self, suffix: str, default: str, now: datetime, sign: int) -> dict[str | None, datetime]:
        """``now ± duration`` per process with its own value (key None: all other processes); off left out."""
        found: dict[str | None, datetime] = {}
        for process in [None, *sorted(self.per_process(suffix))]:
            name = default if process is None else f"{process}.{suffix}"
            duration = self.optional_duration(name, default)
            if duration is not None:
                found[process] = now + duration if sign > 0 else now - duration
        return found

    def value(self, name: str) -> str:
        found = self.overrides.get(name) or self.defaults.get(name)
        if found is None:
            raise ScriptError(f"Unbekannte Frist „{name}“ (nicht in processes/fristen.json).")
        return found


class Organisations:
    """In-memory view of the directory for diagram helpers (``ist_ehrenamtlich``) and forms."""

    def __init__(self) -> None:
        self._views: list[OrganisationView] = []
        self._lock = threading.Lock()

    def refresh(self, session: Session) -> None:
        with self._lock:
            self._views = organisation_views(session)

    def all(self) -> list[OrganisationView]:
        with self._lock:
            return list(self._views)

    def slugs(self) -> set[str]:
        with self._lock:
            return {o.slug for o in self._views}

    def is_volunteer(self, slug: str) -> bool:
        for org in self.all():
            if org.slug == slug:
                return org.volunteer
        raise ScriptError(f"Unbekannte Organisation „{slug}“.")

    def options(self) -> list[dict[str, str]]:
        return [{"label": o.name, "value": o.slug} for o in self.all()]
