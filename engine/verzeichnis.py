"""Netzwerkverzeichnis (P9): each partner organisation's offers, contact persons, reachability and
access routes, searchable by every logged-in partner.

Edits come from the organisation's own Leitung or Fachkraft, or from the Koordination; every
change is audited. The entry holds office data only — never client data. Use cases here never
commit (the caller's unit of work does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import InvalidSubmissionError, NotFoundError, NotPermittedError
from engine.persistence.models import DirectoryEntry, DirectoryReview, Organisation, ProcessInstance
from engine.read_models import Actor
from engine.runtime import audit

AKTUELL = "aktuell"
VERALTET = "veraltet"
ENTFERNT = "entfernt"
STATUS_LABELS = {AKTUELL: "aktuell", VERALTET: "veraltet – nicht rechtzeitig bestätigt", ENTFERNT: "entfernt"}
#: Roles of the organisation itself that may edit its entry; the Koordination may edit every entry.
OWN_EDITOR_ROLES = ("Leitung", "Fachkraft")
KOORDINATION = "Koordination"

THEMEN = {
    "beratung": "Beratung für Betroffene",
    "schutz": "Schutz und Unterkunft",
    "kinderschutz": "Kinderschutz und Jugendhilfe",
    "polizei_justiz": "Polizei und Justiz",
    "recht": "Rechtliche Unterstützung",
    "gesundheit": "Gesundheit und Spurensicherung",
    "existenz": "Existenzsicherung und Arbeit",
    "sexualisierte_gewalt": "Sexualisierte Gewalt",
    "sucht_psyche": "Sucht und psychische Gesundheit",
    "taeterarbeit": "Arbeit mit Tätern",
    "netzwerk": "Netzwerk und Öffentlichkeit",
}
ZUGANGSWEGE = {
    "barrierefrei": "barrierefreier Zugang",
    "gebaerdensprache": "Gebärdensprache",
    "leichte_sprache": "Leichte Sprache",
    "dolmetschung": "Dolmetschung auf Anfrage",
    "telefonisch": "telefonische Beratung",
    "online": "Online-Beratung",
    "aufsuchend": "aufsuchend (Hausbesuch)",
    "anonym": "anonyme Beratung möglich",
    "rund_um_die_uhr": "rund um die Uhr erreichbar",
}
KREISWEIT = "kreisweit"
GEMEINDEN = (
    "Anröchte",
    "Bad Sassendorf",
    "Ense",
    "Erwitte",
    "Geseke",
    "Lippetal",
    "Lippstadt",
    "Möhnesee",
    "Rüthen",
    "Soest",
    "Warstein",
    "Welver",
    "Werl",
    "Wickede (Ruhr)",
)
#: The process-data keys that carry an entry (form fields of the P9 forms use the same keys).
ENTRY_KEYS = ("angebote", "themen", "gemeinden", "kontakte", "erreichbarkeit", "zugangswege", "sprachen")
MAX_CONTACTS = 10
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()/-]{2,29}")
SEED_FILE = Path(__file__).parent / "seed" / "verzeichnis.json"


@dataclass(frozen=True)
class ContactView:
    funktion: str
    name: str
    telefon: str
    email: str


@dataclass(frozen=True)
class DirectoryEntryView:
    organisation: str
    organisation_name: str
    angebote: str
    themen: tuple[str, ...]
    gemeinden: tuple[str, ...]
    kontakte: tuple[ContactView, ...]
    erreichbarkeit: str
    zugangswege: tuple[str, ...]
    sprachen: str
    status: str
    confirmed_at: datetime | None
    confirmed_by: str | None
    may_edit: bool


@dataclass(frozen=True)
class DirectoryQuery:
    """``text``: every word must occur in name, offers, topics, access routes or languages."""

    text: str = ""
    gemeinde: str = ""
    thema: str = ""
    include_removed: bool = False


def may_edit(actor: Actor | None, organisation: str) -> bool:
    """The organisation's own Leitung/Fachkraft, or the Koordination; a job (None) may always."""
    if actor is None:
        return True
    if actor.has_role(KOORDINATION):
        return True
    return actor.organisation == organisation and any(actor.has_role(r) for r in OWN_EDITOR_ROLES)


def _organisation(session: Session, slug: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFoundError(f"Die Organisation „{slug}“ ist nicht bekannt.")
    return org


def organisation_name(session: Session, slug: str) -> str:
    return _organisation(session, slug).name


def _entry(session: Session, org: Organisation) -> DirectoryEntry | None:
    return session.scalar(select(DirectoryEntry).where(DirectoryEntry.organisation_id == org.id))


def _text(values: Mapping[str, Any], key: str, limit: int, errors: dict[str, str], label: str) -> str:
    value = values.get(key)
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        errors[key] = f"{label}: bitte als Text angeben."
    elif len(text) > limit:
        errors[key] = f"{label}: höchstens {limit} Zeichen."
    return text


def _choices(
    values: Mapping[str, Any], key: str, allowed: Sequence[str], errors: dict[str, str], label: str
) -> list[str]:
    value = values.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[key] = f"{label}: bitte aus der Liste wählen."
        return []
    unknown = [v for v in value if v not in allowed]
    if unknown:
        errors[key] = f"{label}: unbekannte Auswahl {', '.join(unknown)}."
    return [v for v in allowed if v in value]


def _contacts(values: Mapping[str, Any], errors: dict[str, str]) -> list[dict[str, str]]:
    raw = values.get("kontakte") or []
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        errors["kontakte"] = "Ansprechpersonen: bitte als Liste angeben."
        return []
    contacts: list[dict[str, str]] = []
    problems: list[str] = []
    for number, item in enumerate(raw, 1):
        contact = {k: str(item.get(k) or "").strip() for k in ("funktion", "name", "telefon", "email")}
        if not contact["funktion"]:
            problems.append(f"Nr. {number}: Funktion fehlt")
        if not contact["telefon"] and not contact["email"]:
            problems.append(f"Nr. {number}: Telefon oder E-Mail der Dienststelle fehlt")
        if contact["telefon"] and not _PHONE.fullmatch(contact["telefon"]):
            problems.append(f"Nr. {number}: „{contact['telefon']}“ ist keine Telefonnummer")
        if contact["email"] and not _EMAIL.fullmatch(contact["email"]):
            problems.append(f"Nr. {number}: „{contact['email']}“ ist keine E-Mail-Adresse")
        if any(len(v) > 200 for v in contact.values()):
            problems.append(f"Nr. {number}: höchstens 200 Zeichen je Angabe")
        contacts.append(contact)
    if not contacts:
        problems.append("mindestens eine Ansprechperson (Funktion) angeben")
    if len(contacts) > MAX_CONTACTS:
        problems.append(f"höchstens {MAX_CONTACTS} Ansprechpersonen")
    if problems:
        errors["kontakte"] = "Ansprechpersonen: " + "; ".join(problems) + "."
    return contacts


def validate_entry(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entry fields from ``values``, checked; raises with German field errors, changes nothing."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {
        "angebote": _text(values, "angebote", 3000, errors, "Angebote"),
        "themen": _choices(values, "themen", list(THEMEN), errors, "Themen"),
        "gemeinden": _choices(values, "gemeinden", [KREISWEIT, *GEMEINDEN], errors, "Gemeinden"),
        "kontakte": _contacts(values, errors),
        "erreichbarkeit": _text(values, "erreichbarkeit", 1000, errors, "Erreichbarkeit"),
        "zugangswege": _choices(values, "zugangswege", list(ZUGANGSWEGE), errors, "Zugangswege"),
        "sprachen": _text(values, "sprachen", 300, errors, "Sprachen"),
    }
    if not cleaned["angebote"] and "angebote" not in errors:
        errors["angebote"] = "Bitte beschreiben Sie die Angebote der Organisation."
    if not cleaned["themen"] and "themen" not in errors:
        errors["themen"] = "Bitte wählen Sie mindestens ein Thema."
    if not cleaned["gemeinden"] and "gemeinden" not in errors:
        errors["gemeinden"] = "Bitte wählen Sie „kreisweit“ oder mindestens eine Gemeinde."
    if not cleaned["erreichbarkeit"] and "erreichbarkeit" not in errors:
        errors["erreichbarkeit"] = "Bitte geben Sie die Erreichbarkeit an (z. B. Sprechzeiten)."
    if errors:
        raise InvalidSubmissionError("Der Verzeichniseintrag ist unvollständig oder fehlerhaft.", errors)
    return cleaned


def entry_values(session: Session, organisation: str) -> dict[str, Any]:
    """The current entry as process data (keys of :data:`ENTRY_KEYS`), empty values if none yet."""
    entry = _entry(session, _organisation(session, organisation))
    if entry is None:
        return {
            "angebote": "",
            "themen": [],
            "gemeinden": [],
            "kontakte": [],
            "erreichbarkeit": "",
            "zugangswege": [],
            "sprachen": "",
            "verzeichnis_status": "neu",
        }
    return {
        "angebote": entry.angebote,
        "themen": list(entry.themen),
        "gemeinden": list(entry.gemeinden),
        "kontakte": [dict(c) for c in entry.kontakte],
        "erreichbarkeit": entry.erreichbarkeit,
        "zugangswege": list(entry.zugangswege),
        "sprachen": entry.sprachen,
        "verzeichnis_status": entry.status,
    }


def _require_editor(actor: Actor | None, organisation: str) -> None:
    if not may_edit(actor, organisation):
        raise NotPermittedError(
            "Den Verzeichniseintrag dürfen nur Leitung und Fachkräfte der Organisation selbst "
            "oder die Koordination ändern."
        )


def save_entry(
    session: Session,
    now: datetime,
    actor: Actor | None,
    organisation: str,
    values: Mapping[str, Any],
    *,
    instance_id: int | None = None,
) -> DirectoryEntry:
    """Write the organisation's entry from ``values`` (validated) and mark it confirmed now."""
    _require_editor(actor, organisation)
    cleaned = validate_entry(values)
    org = _organisation(session, organisation)
    entry = _entry(session, org)
    if (
        entry is not None
        and entry.status == ENTFERNT
        and actor is not None
        and not actor.has_role(KOORDINATION)
    ):
        raise NotPermittedError(
            "Die Koordination hat diesen Eintrag aus dem Verzeichnis entfernt; "
            "nur sie kann ihn wieder aufnehmen."
        )
    before = entry_values(session, organisation) if entry else None
    if entry is None:
        entry = DirectoryEntry(organisation_id=org.id, status=AKTUELL, updated_at=now)
        session.add(entry)
    for key, value in cleaned.items():
        setattr(entry, key, value)
    entry.status = AKTUELL
    entry.confirmed_at = entry.updated_at = now
    entry.confirmed_by = actor.display_name if actor else "System"
    session.flush()
    changed = sorted(k for k in ENTRY_KEYS if before is None or before[k] != cleaned[k])
    audit(
        session,
        now,
        actor,
        "verzeichnis_aktualisiert",
        instance_id,
        detail={"organisation": organisation, "geaendert": changed},
    )
    return entry


def confirm_entry(
    session: Session, now: datetime, actor: Actor | None, organisation: str, *, instance_id: int | None = None
) -> DirectoryEntry:
    """The organisation confirms its entry unchanged (it must exist and not be removed)."""
    _require_editor(actor, organisation)
    entry = _entry(session, _organisation(session, organisation))
    if entry is None or entry.status == ENTFERNT:
        raise InvalidSubmissionError(
            "Es gibt keinen Eintrag zum Bestätigen – bitte die Angaben aktualisieren.",
            {"ergebnis": "Ohne bestehenden Eintrag bitte „aktualisieren“ wählen und die Angaben eintragen."},
        )
    entry.status = AKTUELL
    entry.confirmed_at = entry.updated_at = now
    entry.confirmed_by = actor.display_name if actor else "System"
    audit(session, now, actor, "verzeichnis_bestaetigt", instance_id, detail={"organisation": organisation})
    return entry


def set_status(
    session: Session,
    now: datetime,
    actor: Actor | None,
    organisation: str,
    status: str,
    *,
    instance_id: int | None = None,
) -> DirectoryEntry | None:
    """Flag the entry ``veraltet`` (a job) or ``entfernt`` (only the Koordination)."""
    if status not in (VERALTET, ENTFERNT):
        raise InvalidSubmissionError(f"Unbekannter Status „{status}“.", {"status": "veraltet oder entfernt"})
    if status == ENTFERNT and actor is not None and not actor.has_role(KOORDINATION):
        raise NotPermittedError("Nur die Koordination darf einen Verzeichniseintrag entfernen.")
    entry = _entry(session, _organisation(session, organisation))
    if entry is None:
        return None
    if status == VERALTET and entry.status == ENTFERNT:
        return entry
    entry.status = status
    entry.updated_at = now
    audit(session, now, actor, f"verzeichnis_{status}", instance_id, detail={"organisation": organisation})
    return entry


def _view(entry: DirectoryEntry, org: Organisation, actor: Actor | None) -> DirectoryEntryView:
    return DirectoryEntryView(
        organisation=org.slug,
        organisation_name=org.name,
        angebote=entry.angebote,
        themen=tuple(entry.themen),
        gemeinden=tuple(entry.gemeinden),
        kontakte=tuple(
            ContactView(**{k: c.get(k, "") for k in ("funktion", "name", "telefon", "email")})
            for c in entry.kontakte
        ),
        erreichbarkeit=entry.erreichbarkeit,
        zugangswege=tuple(entry.zugangswege),
        sprachen=entry.sprachen,
        status=entry.status,
        confirmed_at=entry.confirmed_at,
        confirmed_by=entry.confirmed_by,
        may_edit=may_edit(actor, org.slug) if actor is not None else False,
    )


def _haystack(view: DirectoryEntryView) -> str:
    parts = [view.organisation_name, view.angebote, view.sprachen, view.erreichbarkeit]
    parts += [THEMEN.get(t, t) for t in view.themen]
    parts += [ZUGANGSWEGE.get(z, z) for z in view.zugangswege]
    parts += [c.funktion for c in view.kontakte]
    return " ".join(parts).casefold()


def search(session: Session, actor: Actor, query: DirectoryQuery) -> list[DirectoryEntryView]:
    """Entries matching every word of the query, the municipality and the topic, by name."""
    rows = session.execute(
        select(DirectoryEntry, Organisation)
        .join(Organisation, Organisation.id == DirectoryEntry.organisation_id)
        .order_by(Organisation.name)
    ).all()
    words = query.text.casefold().split()
    found = []
    for entry, org in rows:
        view = _view(entry, org, actor)
        if view.status == ENTFERNT and not (query.include_removed and actor.has_role(KOORDINATION)):
            continue
        if query.gemeinde and query.gemeinde not in view.gemeinden and KREISWEIT not in view.gemeinden:
            continue
        if query.thema and query.thema not in view.themen:
            continue
        haystack = _haystack(view)
        if all(w in haystack for w in words):
            found.append(view)
    return found


def entry_view(session: Session, actor: Actor, organisation: str) -> DirectoryEntryView:
    org = _organisation(session, organisation)
    entry = _entry(session, org)
    if entry is None or (entry.status == ENTFERNT and not actor.has_role(KOORDINATION)):
        raise NotFoundError("Für diese Organisation gibt es keinen Verzeichniseintrag.")
    return _view(entry, org, actor)


def seed_entries(session: Session, now: datetime, path: Path = SEED_FILE) -> int:
    """Create the fictitious demo entries that do not exist yet; returns how many."""
    data = json.loads(path.read_text(encoding="utf-8"))
    created = 0
    for item in data["eintraege"]:
        org = session.scalar(select(Organisation).where(Organisation.slug == item["organisation"]))
        if org is None or _entry(session, org) is not None:
            continue
        cleaned = validate_entry(item)
        session.add(
            DirectoryEntry(
                organisation_id=org.id,
                status=AKTUELL,
                confirmed_at=now,
                confirmed_by="Demo-Daten",
                updated_at=now,
                **cleaned,
            )
        )
        created += 1
    session.flush()
    return created


def active_organisations(session: Session) -> list[str]:
    """Slugs of the active partner organisations whose entry has not been removed."""
    removed = select(DirectoryEntry.organisation_id).where(DirectoryEntry.status == ENTFERNT)
    rows = session.scalars(
        select(Organisation.slug)
        .where(Organisation.active.is_(True), Organisation.id.not_in(removed))
        .order_by(Organisation.slug)
    )
    return list(rows)


def begin_review(session: Session, now: datetime, organisation: str, instance_id: int) -> None:
    """Register ``instance_id`` as the organisation's running review; refuses a second one."""
    org = _organisation(session, organisation)
    running = session.get(DirectoryReview, org.id, with_for_update=True)
    if running is not None and running.instance_id != instance_id:
        status = session.scalar(
            select(ProcessInstance.status).where(ProcessInstance.id == running.instance_id)
        )
        if status == "running":
            raise _already_running(org.name, f" (Vorgang #{running.instance_id})")
        session.delete(running)
        session.flush()
        running = None
    if running is None:
        try:
            with session.begin_nested():  # a review started at the same moment wins the primary key
                session.add(DirectoryReview(organisation_id=org.id, instance_id=instance_id, started_at=now))
        except IntegrityError:
            raise _already_running(org.name, "") from None


def _already_running(name: str, which: str) -> InvalidSubmissionError:
    return InvalidSubmissionError(
        f"Für {name} läuft bereits eine Überprüfung des Verzeichniseintrags{which}; "
        "bitte dort weiterarbeiten.",
        {"organisation": "Für diese Organisation läuft bereits eine Überprüfung."},
    )


def end_review(session: Session, organisation: str, instance_id: int) -> None:
    org = _organisation(session, organisation)
    running = session.get(DirectoryReview, org.id)
    if running is not None and running.instance_id == instance_id:
        session.delete(running)
        session.flush()


def running_reviews(session: Session) -> set[str]:
    """Organisations with a running review."""
    rows = session.scalars(
        select(Organisation.slug)
        .join(DirectoryReview, DirectoryReview.organisation_id == Organisation.id)
        .join(ProcessInstance, ProcessInstance.id == DirectoryReview.instance_id)
        .where(ProcessInstance.status == "running")
    )
    return set(rows)


def on_partner_join(session: Session, now: datetime, organisation: str) -> None:
    """P12: a partner (re)joins. A removed entry comes back flagged ``veraltet`` until the
    organisation confirms it; a new partner creates its entry on the directory page."""
    entry = _entry(session, _organisation(session, organisation))
    if entry is not None and entry.status == ENTFERNT:
        entry.status = VERALTET
        entry.updated_at = now
        audit(session, now, None, "verzeichnis_veraltet", None, detail={"organisation": organisation})


def on_partner_leave(session: Session, now: datetime, organisation: str) -> None:
    """P12: a partner leaves; its entry is removed from the directory (kept, not deleted)."""
    set_status(session, now, None, organisation, ENTFERNT)
