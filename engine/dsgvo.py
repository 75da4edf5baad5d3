"""Rights of data subjects: access (DSGVO Art. 15) and erasure (Art. 17).

Two kinds of person:

* a **staff account** — account, organisation, roles, absences, tasks claimed or completed,
  instances started, audit entries with them as actor, notifications, e-mail log, ballots they
  were electors of and their own votes (a secret ballot stores no choice: the export says so);
  contact records they recorded are listed by number only (they are data of third persons);
* a **data subject of a case** — the referral contact records (Kontaktdaten) whose name fields
  contain every word of the search text as a whole word (case- and umlaut-folded); the officer sees
  each hit with its context and ticks the records that belong to the person, and only those (re-checked
  by the engine) are exported or erased; plus the consent records given with those records or under
  that pseudonym (:func:`engine.consent.consents_of_subject`).

Erasure first shows a plan: per item erase, anonymise or keep, with the German reason when a duty
to keep applies. An account is anonymised (name, user name, e-mail, password; roles removed) but
keeps its id. The audit trail is append-only and hash-chained: its entries keep the actor's id,
the display name at that time (``actor_name``) and names in some details (forwarding target,
substitute, ballot member) — the plan says so (:data:`AUDIT_KEEP_REASON`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from engine import consent, retention
from engine.errors import InvalidSubmissionError, NotFoundError
from engine.persistence.models import (
    Absence,
    AccessToken,
    AccountSecurity,
    AuditEvent,
    Ballot,
    BallotElector,
    BallotVote,
    EmailDelivery,
    Kontaktdaten,
    Notification,
    ProcessDefinition,
    ProcessInstance,
    User,
    UserRole,
    UserTask,
)

DSB_ROLE = "Datenschutzbeauftragte"
#: At most this many rows per section (the note says when more exist).
MAX_ROWS = 5000
MIN_QUERY = 3
#: No password hash ever equals this: an anonymised account cannot sign in.
# B105 (S105): a marker no argon2 hash can equal, not a secret
UNUSABLE_PASSWORD = "!"  # noqa: S105  # nosec B105
ERASE, ANONYMISE, KEEP = "löschen", "anonymisieren", "behalten"
#: What stays in the audit trail after an account is anonymised, and why (said truthfully).
AUDIT_KEEP_REASON = (
    "Die Protokolleinträge bleiben unverändert erhalten, und zwar mit der Kontonummer und dem Namen, "
    "den das Konto bei der Handlung trug; einzelne Einträge nennen den Namen auch als Empfängerin einer "
    "Weiterleitung, als Vertretung oder bei Abstimmungen als Mitglied bzw. Vertretung. Das Protokoll "
    "kann nur ergänzt werden und ist durch eine Hash-Kette gesichert: jede Änderung würde die Prüfung "
    "des ganzen Protokolls ungültig machen. Rechtsgrundlage: Rechenschafts- und Nachweispflicht "
    "(Art. 5 Abs. 2, Art. 30 DSGVO; Art. 17 Abs. 3 lit. b und e DSGVO). Die Einträge werden für die "
    "Aufbewahrungsdauer des Protokolls aufbewahrt; Hilfenetz löscht Protokolleinträge nicht selbst."
)


@dataclass(frozen=True)
class ExportSection:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""

    def as_json(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class PersonalDataExport:
    """Everything stored about one person, as the PDF and the JSON show it."""

    kind: str  # konto | betroffene
    subject: str
    created_at: datetime
    created_by: str
    sections: tuple[ExportSection, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "auskunft": "DSGVO Art. 15",
            "art": self.kind,
            "person": self.subject,
            "erstellt_am": self.created_at.isoformat(),
            "erstellt_von": self.created_by,
            "abschnitte": {
                s.key: {"titel": s.title, "eintraege": s.as_json(), "hinweis": s.note} for s in self.sections
            },
        }


@dataclass(frozen=True)
class ErasureItem:
    """One item of an erasure request: what happens to it and, when it is kept, why."""

    what: str
    count: int
    action: str  # löschen | anonymisieren | behalten
    reason: str = ""
    record: int | None = None
    """The contact record the item is about (data subjects)."""


@dataclass(frozen=True)
class ErasurePlan:
    kind: str
    subject: str
    items: tuple[ErasureItem, ...]
    applied: bool = False

    @property
    def blocked(self) -> tuple[ErasureItem, ...]:
        return tuple(i for i in self.items if i.action == KEEP)


@dataclass(frozen=True)
class PersonHit:
    kind: str  # konto | betroffene
    key: str  # username, or the search text for contact records
    label: str
    detail: str = ""


@dataclass
class _Table:
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _section(
    key: str, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], note: str = ""
) -> ExportSection:
    texts = [tuple(_text(v) for v in row) for row in rows]
    if len(texts) > MAX_ROWS:
        note = f"{note} Gezeigt sind die ersten {MAX_ROWS} von {len(texts)} Einträgen.".strip()
        texts = texts[:MAX_ROWS]
    return ExportSection(key, title, tuple(columns), tuple(texts), note)


# --- search ----------------------------------------------------------------------------------
def find_people(session: Session, query: str) -> list[PersonHit]:
    """Accounts whose user name or name contains ``query``, and whether contact records do."""
    text = query.strip()
    if len(text) < MIN_QUERY:
        return []
    pattern = f"%{text.lower()}%"
    hits = [
        PersonHit("konto", u.username, u.display_name, f"{u.organisation.name} · {u.username}")
        for u in session.scalars(
            select(User)
            .where(or_(func.lower(User.username).like(pattern), func.lower(User.display_name).like(pattern)))
            .order_by(User.display_name)
            .limit(50)
        )
    ]
    records = _contact_records(session, text)
    if records:
        hits.append(PersonHit("betroffene", text, text, f"{len(records)} Kontaktdatensatz/-sätze"))
    return hits


#: A contact field is name-like when its key or label contains one of these (case-insensitive).
NAME_FIELD_MARKERS = ("name", "pseudonym")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def name_tokens(text: str) -> set[str]:
    """Whole words of ``text``, case- and umlaut-folded ("Müller" and "Mueller" are the same word)."""
    folded = unicodedata.normalize("NFC", text).casefold().translate(_FOLD)
    plain = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    return set(re.findall(r"\w+", plain))


def _name_fields(record: Kontaktdaten) -> dict[str, str]:
    """The name-like fields of a contact record: key → value."""
    values: Mapping[str, Any] = record.fields.get("values") or {}
    labels: Mapping[str, str] = record.fields.get("labels") or {}
    return {
        k: _text(v)
        for k, v in values.items()
        if any(m in f"{k} {labels.get(k, '')}".lower() for m in NAME_FIELD_MARKERS)
    }


def _matched_fields(record: Kontaktdaten, wanted: set[str]) -> list[str]:
    """Labels of the name-like fields that together contain every word of the search (else none)."""
    fields = _name_fields(record)
    tokens = {k: name_tokens(v) for k, v in fields.items()}
    if not wanted or not wanted <= set().union(*tokens.values()):
        return []
    labels: Mapping[str, str] = record.fields.get("labels") or {}
    return [labels.get(k, k) for k, t in tokens.items() if t & wanted]


def _contact_records(session: Session, text: str) -> list[Kontaktdaten]:
    """Stored contact records whose name-like fields contain every word of ``text`` as a whole word."""
    return [r for r, _ in _contact_matches(session, text)]


def _contact_matches(session: Session, text: str) -> list[tuple[Kontaktdaten, list[str]]]:
    wanted = name_tokens(text)
    if len(text.strip()) < MIN_QUERY or not wanted:
        return []
    rows = session.scalars(
        select(Kontaktdaten).where(Kontaktdaten.deleted_at.is_(None)).order_by(Kontaktdaten.id)
    )
    matches = [(r, _matched_fields(r, wanted)) for r in rows]
    return [(r, fields) for r, fields in matches if fields]


@dataclass(frozen=True)
class ContactHit:
    """One contact record a search found, with the context the officer needs to decide whether it
    is the person asking (shown to the data-protection officer only)."""

    record: int
    instance_id: int
    process: str
    recorded_at: datetime
    recorded_by_org: str
    matched: tuple[str, ...]
    """Labels of the fields that matched."""
    names: str
    """The values of the name-like fields (e.g. the full name)."""
    case_running: bool


def contact_hits(session: Session, text: str) -> list[ContactHit]:
    """Every contact record matching ``text`` word by word, for the officer to tick."""
    matches = _contact_matches(session, text)
    names = _process_names(session)
    instances = {
        i: (k, st)
        for i, k, st in session.execute(
            select(ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.status).where(
                ProcessInstance.id.in_([r.instance_id for r, _ in matches])
            )
        )
    }
    hits = []
    for r, fields in matches:
        key, status = instances.get(r.instance_id, ("", ""))
        hits.append(
            ContactHit(
                r.id,
                r.instance_id,
                names.get(key, key),
                r.recorded_at,
                r.recorded_by_org,
                tuple(fields),
                "; ".join(v for v in _name_fields(r).values() if v),
                status != "completed",
            )
        )
    return hits


def selected_records(session: Session, text: str, ids: Iterable[int]) -> list[Kontaktdaten]:
    """The chosen contact records, re-checked: each must still match the search (else an error)."""
    chosen = sorted(set(ids))
    if not chosen:
        message = "Bitte mindestens einen Kontaktdatensatz auswählen, der zu der Person gehört."
        raise InvalidSubmissionError(message, {"datensatz": message})
    found = {r.id: r for r in _contact_records(session, text)}
    stray = [i for i in chosen if i not in found]
    if stray:
        message = (
            "Diese Datensätze passen nicht (mehr) zur Suche: "
            + ", ".join(str(i) for i in stray)
            + ". Bitte die Person erneut suchen und die Auswahl prüfen."
        )
        raise InvalidSubmissionError(message, {"datensatz": message})
    return [found[i] for i in chosen]


# --- Art. 15: staff account ------------------------------------------------------------------
def user_by_name(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"Kein Konto „{username}“ gefunden. Bitte den Benutzernamen prüfen.")
    return user


def account_export(session: Session, user: User, now: datetime, created_by: str) -> PersonalDataExport:
    sections = (
        _account_section(user),
        _absence_section(session, user),
        _task_section(session, user),
        _instance_section(session, user),
        _ballot_section(session, user),
        _notification_section(session, user),
        _email_section(session, user),
        _token_section(session, user),
        _recorded_contacts_section(session, user),
        _audit_section(session, user),
    )
    return PersonalDataExport("konto", f"{user.display_name} ({user.username})", now, created_by, sections)


def _account_section(user: User) -> ExportSection:
    rows = [
        ("Benutzername", user.username),
        ("Name", user.display_name),
        ("E-Mail", user.email or ""),
        ("Organisation", user.organisation.name),
        ("Rollen", sorted(r.role for r in user.roles)),
        ("Aktiv", user.active),
        ("Angelegt am", user.created_at),
        ("Sprache", user.locale),
        ("E-Mail-Benachrichtigung", user.notification_preference),
        ("Fehlgeschlagene Anmeldungen", user.failed_logins),
        ("Gesperrt bis", user.locked_until),
    ]
    return _section("konto", "Konto", ("Angabe", "Wert"), rows)


def _names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {i: n for i, n in session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))}


def _absence_section(session: Session, user: User) -> ExportSection:
    rows = session.scalars(
        select(Absence)
        .where(or_(Absence.user_id == user.id, Absence.substitute_id == user.id))
        .order_by(Absence.starts_at)
    ).all()
    names = _names(session, [a.user_id for a in rows] + [a.substitute_id for a in rows])
    return _section(
        "abwesenheiten",
        "Abwesenheiten und Vertretungen",
        ("Abwesend", "Vertretung", "Von", "Bis", "Notiz"),
        [(names.get(a.user_id), names.get(a.substitute_id), a.starts_at, a.ends_at, a.note) for a in rows],
    )


def _process_names(session: Session) -> dict[str, str]:
    return {k: n for k, n in session.execute(select(ProcessDefinition.process_key, ProcessDefinition.name))}


def _task_section(session: Session, user: User) -> ExportSection:
    names = _process_names(session)
    rows = session.scalars(
        select(UserTask)
        .where(or_(UserTask.assignee_id == user.id, UserTask.completed_by_id == user.id))
        .order_by(UserTask.created_at)
    ).all()
    return _section(
        "aufgaben",
        "Übernommene und erledigte Aufgaben",
        ("Vorgang", "Prozess", "Aufgabe", "Stand", "Erstellt", "Erledigt", "Selbst erledigt"),
        [
            (
                t.instance_id,
                names.get(t.process_key, t.process_key),
                t.name,
                t.status,
                t.created_at,
                t.completed_at,
                t.completed_by_id == user.id,
            )
            for t in rows
        ],
        "Die Inhalte der Aufgaben gehören zur Fallakte und sind nicht Teil dieser Auskunft.",
    )


def _instance_section(session: Session, user: User) -> ExportSection:
    names = _process_names(session)
    rows = session.execute(
        select(
            ProcessInstance.id,
            ProcessInstance.process_key,
            ProcessInstance.status,
            ProcessInstance.started_at,
        )
        .where(ProcessInstance.started_by_id == user.id)
        .order_by(ProcessInstance.id)
    ).all()
    return _section(
        "gestartete_vorgaenge",
        "Gestartete Vorgänge",
        ("Vorgang", "Prozess", "Stand", "Gestartet"),
        [(r.id, names.get(r.process_key, r.process_key), r.status, r.started_at) for r in rows],
    )


def _ballot_section(session: Session, user: User) -> ExportSection:
    electors = session.execute(
        select(Ballot.id, Ballot.subject, Ballot.secret, BallotElector.exclusion_reason)
        .join(BallotElector, BallotElector.ballot_id == Ballot.id)
        .where(or_(BallotElector.member_id == user.id, BallotElector.voter_id == user.id))
        .order_by(Ballot.id)
    ).all()
    votes = {
        v.ballot_id: v
        for v in session.scalars(
            select(BallotVote).where(or_(BallotVote.member_id == user.id, BallotVote.cast_by_id == user.id))
        )
    }
    rows = []
    for ballot_id, subject, secret, excluded in electors:
        vote = votes.get(ballot_id)
        if vote is None:
            own = "ausgeschlossen: " + excluded if excluded else "keine Stimme abgegeben"
        elif vote.choice:
            own = vote.choice
        else:
            own = "abgestimmt (geheime Abstimmung: die Wahl wird nicht gespeichert)"
        rows.append(
            (ballot_id, subject, "geheim" if secret else "offen", own, vote.cast_at if vote else None)
        )
    return _section(
        "abstimmungen",
        "Abstimmungen der Steuerungsgruppe",
        ("Abstimmung", "Gegenstand", "Art", "Eigene Stimme", "Abgegeben am"),
        rows,
        "Nur die eigene Stimme; die Stimmen anderer Mitglieder sind nicht Teil dieser Auskunft.",
    )


def _notification_section(session: Session, user: User) -> ExportSection:
    rows = session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.created_at)
    ).all()
    return _section(
        "benachrichtigungen",
        "Benachrichtigungen",
        ("Erstellt", "Art", "Titel", "Vorgang", "Gelesen"),
        [(n.created_at, n.kind, n.title, n.instance_id, n.read_at) for n in rows],
    )


def _token_section(session: Session, user: User) -> ExportSection:
    rows = session.scalars(
        select(AccessToken).where(AccessToken.user_id == user.id).order_by(AccessToken.id)
    ).all()
    return _section(
        "zugangstoken",
        "Zugangstoken für die REST-API",
        ("Name", "Beginnt mit", "Bereiche", "Erstellt", "Läuft ab", "Zuletzt benutzt", "Widerrufen"),
        [
            (t.name, t.prefix, t.scopes, t.created_at, t.expires_at, t.last_used_at, t.revoked_at)
            for t in rows
        ],
        "Das Token selbst ist nirgends gespeichert, nur sein Hashwert.",
    )


def _email_section(session: Session, user: User) -> ExportSection:
    rows = session.scalars(
        select(EmailDelivery).where(EmailDelivery.user_id == user.id).order_by(EmailDelivery.created_at)
    ).all()
    return _section(
        "emails",
        "E-Mail-Protokoll",
        ("Erstellt", "Art", "Stand", "Gesendet"),
        [(e.created_at, e.kind, e.status, e.sent_at) for e in rows],
    )


def _recorded_contacts_section(session: Session, user: User) -> ExportSection:
    rows = session.execute(
        select(Kontaktdaten.id, Kontaktdaten.instance_id, Kontaktdaten.recorded_at)
        .where(Kontaktdaten.recorded_by_id == user.id)
        .order_by(Kontaktdaten.id)
    ).all()
    return _section(
        "erfasste_kontaktdaten",
        "Von Ihnen erfasste Kontaktdatensätze",
        ("Datensatz", "Vorgang", "Erfasst"),
        rows,
        "Nur Nummer und Zeitpunkt: die Inhalte sind Daten der Betroffenen.",
    )


def _audit_section(session: Session, user: User) -> ExportSection:
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.action, AuditEvent.instance_id, AuditEvent.actor_name)
        .where(AuditEvent.actor_id == user.id)
        .order_by(AuditEvent.id)
        .limit(MAX_ROWS + 1)
    ).all()
    return _section(
        "protokoll",
        "Protokolleinträge (Audit)",
        ("Zeitpunkt", "Aktion", "Vorgang", "Name im Protokoll"),
        rows,
    )


# --- Art. 15: data subject of a case ----------------------------------------------------------
#: Columns of the consent section: key in :func:`engine.consent.consents_of_subject` → heading.
CONSENT_COLUMNS = (
    ("id", "Einwilligung"),
    ("pseudonym", "Pseudonym"),
    ("vorgang", "Vorgang"),
    ("datenarten", "Datenarten"),
    ("empfaenger", "Empfänger"),
    ("zweck", "Zweck"),
    ("erteilt_gegenueber", "Erteilt gegenüber"),
    ("erteilt_am", "Erteilt am"),
    ("form", "Form"),
    ("zeugin_zeuge", "Zeugin/Zeuge"),
    ("widerrufen_am", "Widerrufen am"),
    ("dokument", "Unterschriebenes Formular"),
)


def _consent_cell(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return str(value.get("dateiname", ""))
    return value


def subject_export(
    session: Session, text: str, ids: Iterable[int], now: datetime, created_by: str
) -> PersonalDataExport:
    """The chosen contact records (re-checked against the search) and the consents given with them
    or under the search text as pseudonym."""
    records = selected_records(session, text, ids)
    names = _process_names(session)
    keys = {
        i: v
        for i, v in session.execute(
            select(ProcessInstance.id, ProcessInstance.process_key).where(
                ProcessInstance.id.in_([r.instance_id for r in records])
            )
        )
    }
    rows = []
    for r in records:
        labels: Mapping[str, str] = r.fields.get("labels") or {}
        values = "; ".join(
            f"{labels.get(k, k)}: {_text(v)}" for k, v in (r.fields.get("values") or {}).items()
        )
        process = names.get(keys.get(r.instance_id, ""), "")
        rows.append(
            (
                r.id,
                r.instance_id,
                process,
                r.recorded_at,
                r.recorded_by_org,
                values,
                r.consent_date,
                r.consent_scope,
                r.recipients,
                r.retention_until,
            )
        )
    contact = _section(
        "kontaktdaten",
        "Kontaktdaten aus der Vermittlung",
        (
            "Datensatz",
            "Vorgang",
            "Prozess",
            "Erfasst",
            "Erfasst von",
            "Angaben",
            "Einwilligung vom",
            "Umfang",
            "Empfänger",
            "Löschung spätestens",
        ),
        rows,
    )
    consents = consent.consents_of_subject(session, text, [r.id for r in records])
    consent_section = _section(
        "einwilligungen",
        "Einwilligungen",
        tuple(label for _, label in CONSENT_COLUMNS),
        [[_consent_cell(c.get(key)) for key, _ in CONSENT_COLUMNS] for c in consents],
    )
    return PersonalDataExport("betroffene", text, now, created_by, (contact, consent_section))


# --- Art. 17: erasure ------------------------------------------------------------------------
def _count(session: Session, statement: Any) -> int:
    return int(session.scalar(statement) or 0)


def account_erasure_plan(session: Session, user: User, now: datetime) -> ErasurePlan:
    def count(model: Any, *where: Any) -> int:
        return _count(session, select(func.count()).select_from(model).where(*where))

    open_tasks = count(UserTask, UserTask.assignee_id == user.id, UserTask.status == "open")
    if user.active:
        account = ErasureItem(
            "Konto (Name, Benutzername, E-Mail, Rollen)",
            1,
            KEEP,
            "Das Konto ist noch aktiv. Bitte es zuerst unter „Partner“ deaktivieren; dabei gehen offene "
            "Aufgaben an eine Nachfolge.",
        )
    elif open_tasks:
        account = ErasureItem(
            "Konto (Name, Benutzername, E-Mail, Rollen)",
            1,
            KEEP,
            f"Dem Konto sind noch {open_tasks} offene Aufgabe(n) zugewiesen. Bitte sie zuerst übergeben.",
        )
    else:
        account = ErasureItem("Konto (Name, Benutzername, E-Mail, Rollen)", 1, ANONYMISE)
    running = count(Absence, Absence.user_id == user.id, Absence.ends_at > now)
    items = [
        account,
        ErasureItem("Benachrichtigungen", count(Notification, Notification.user_id == user.id), ERASE),
        ErasureItem(
            "Zugangstoken für die REST-API", count(AccessToken, AccessToken.user_id == user.id), ERASE
        ),
        ErasureItem(
            "Beendete Abwesenheiten",
            count(Absence, Absence.user_id == user.id, Absence.ends_at <= now),
            ERASE,
        ),
        ErasureItem(
            "Laufende oder geplante Abwesenheiten",
            running,
            KEEP,
            "Die Vertretung regelt gerade, wer die Aufgaben sieht; bitte die Abwesenheit zuerst beenden.",
        ),
        ErasureItem(
            "Protokolleinträge (Audit)",
            count(AuditEvent, AuditEvent.actor_id == user.id),
            KEEP,
            AUDIT_KEEP_REASON,
        ),
        ErasureItem(
            "Stimmabgaben",
            count(BallotVote, BallotVote.member_id == user.id),
            KEEP,
            "Nachweis der Beschlussfassung der Steuerungsgruppe (Kooperationsvereinbarung); geheime "
            "Stimmen sind ohnehin ohne Wahl gespeichert.",
        ),
        ErasureItem(
            "Bearbeitete Aufgaben und gestartete Vorgänge",
            count(UserTask, UserTask.completed_by_id == user.id),
            KEEP,
            "Teil der Fallakten; sie werden nach der Aufbewahrungsfrist des jeweiligen Prozesses gelöscht.",
        ),
        ErasureItem(
            "E-Mail-Protokoll (nur Zustellstatus, keine Inhalte)",
            count(EmailDelivery, EmailDelivery.user_id == user.id),
            KEEP,
            "Nachweis, dass eine Nachricht höchstens einmal versandt wurde; enthält keine Adresse und "
            "keinen Text.",
        ),
    ]
    return ErasurePlan("konto", user.username, tuple(i for i in items if i.count or i.action != KEEP))


def erase_account(session: Session, user: User, now: datetime) -> ErasurePlan:
    plan = account_erasure_plan(session, user, now)
    session.execute(delete(Notification).where(Notification.user_id == user.id))
    session.execute(delete(AccessToken).where(AccessToken.user_id == user.id))
    session.execute(delete(Absence).where(Absence.user_id == user.id, Absence.ends_at <= now))
    if plan.items[0].action == ANONYMISE:
        user.username = f"geloescht-{user.id}"
        user.display_name = f"Gelöschtes Konto #{user.id}"
        user.email = None
        user.password_hash = UNUSABLE_PASSWORD
        user.active = False
        user.locked_until = None
        session.execute(delete(UserRole).where(UserRole.user_id == user.id))
        session.execute(delete(AccountSecurity).where(AccountSecurity.user_id == user.id))  # SSO subject
        session.expire(user, ["roles"])
    return ErasurePlan(plan.kind, plan.subject, plan.items, applied=True)


def _cases(session: Session, instance_ids: Iterable[int | None]) -> dict[int, tuple[str, dict[str, str]]]:
    """Status and retention periods (category → ISO duration) of these instances."""
    wanted = sorted({i for i in instance_ids if i is not None})
    if not wanted:
        return {}
    periods = {v.id: p for v, p in retention.effective_periods(session)}
    return {
        i: (status, periods.get(definition, {}))
        for i, status, definition in session.execute(
            select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.definition_id).where(
                ProcessInstance.id.in_(wanted)
            )
        )
    }


def _period_text(periods: Mapping[str, str], category: str) -> str:
    return periods.get(category, "keine Frist festgelegt")


def _contact_item(record: Kontaktdaten, running: bool) -> ErasureItem:
    what = (
        f"Kontaktdatensatz {record.id} (Vorgang #{record.instance_id}, erfasst am "
        f"{record.recorded_at.date().isoformat()} von {record.recorded_by_org})"
    )
    if not running:
        return ErasureItem(what, 1, ERASE, "", record.id)
    return ErasureItem(
        what,
        1,
        KEEP,
        f"Der Vorgang #{record.instance_id} läuft noch: die Kontaktdaten werden für die vereinbarte "
        "Kontaktaufnahme gebraucht (Art. 17 Abs. 3 DSGVO i. V. m. der Einwilligung). "
        "Widerruft die Person die Einwilligung, bitte den Vorgang beenden und die Löschung "
        "erneut anstoßen.",
        record.id,
    )


def _case_item(instance_id: int, running: bool, periods: Mapping[str, str]) -> ErasureItem:
    what = f"Falldaten des Vorgangs #{instance_id} (Prozessdaten: Formulareingaben, Aufgaben, Titel)"
    if running:
        reason = (
            f"Der Vorgang #{instance_id} läuft noch: die Fallakte wird für die Hilfe gebraucht, die die "
            "Organisationen gerade leisten (Art. 17 Abs. 3 DSGVO)."
        )
    else:
        reason = (
            "Die Falldaten gehören zur Fallakte der beteiligten Organisationen (Dokumentations- und "
            "Nachweispflichten, Art. 17 Abs. 3 lit. b und e DSGVO). Der tägliche Löschlauf löscht sie "
            f"nach der Aufbewahrungsfrist des Prozesses ({_period_text(periods, 'falldaten')} ab dem "
            "Ende des Vorgangs)."
        )
    return ErasureItem(what, 1, KEEP, reason)


def _consent_item(given: Mapping[str, Any], running: bool, periods: Mapping[str, str]) -> ErasureItem:
    case = given.get("vorgang")
    what = f"Einwilligung {given['id']} (Vorgang #{case}, erteilt am {given['erteilt_am']})"
    if running:
        reason = (
            f"Der Vorgang #{case} läuft noch: die Einwilligung ist die Grundlage der Weitergabe und "
            "muss nachgewiesen werden können (Art. 7 Abs. 1 DSGVO). Die Person kann sie jederzeit "
            "widerrufen; der Widerruf wird auf der Seite der Einwilligung erfasst."
        )
    else:
        reason = (
            "Nachweispflicht (Art. 7 Abs. 1, Art. 5 Abs. 2 DSGVO): Der tägliche Löschlauf löscht das "
            "unterschriebene Formular und die Namen darin (Zeugin/Zeuge, Widerruf durch, Zweck) nach "
            f"der Frist „Einwilligungen“ ({_period_text(periods, 'einwilligungen')} ab dem Ende des "
            "Vorgangs); Datum, Datenarten und Empfänger bleiben ohne Namen als Nachweis."
        )
    return ErasureItem(what, 1, KEEP, reason)


def subject_erasure_plan(session: Session, text: str, ids: Iterable[int]) -> ErasurePlan:
    """Per chosen contact record erase (case ended) or keep; the case data and the consents of the
    person are listed with the reason they stay and when the retention job erases them."""
    records = selected_records(session, text, ids)
    consents = consent.consents_of_subject(session, text, [r.id for r in records])
    cases = _cases(session, [r.instance_id for r in records] + [c.get("vorgang") for c in consents])

    def running(instance_id: int | None) -> bool:
        return instance_id is None or cases.get(instance_id, ("", {}))[0] != "completed"

    items = [_contact_item(r, running(r.instance_id)) for r in records]
    for instance_id in sorted({r.instance_id for r in records}):
        items.append(_case_item(instance_id, running(instance_id), cases.get(instance_id, ("", {}))[1]))
    for given in consents:
        case = given.get("vorgang")
        periods = cases.get(case, ("", {}))[1] if case is not None else {}
        items.append(_consent_item(given, running(case) and case is not None, periods))
    return ErasurePlan("betroffene", text, tuple(items))


def erase_subject(
    session: Session, text: str, ids: Iterable[int], now: datetime
) -> tuple[ErasurePlan, list[int]]:
    """Erase exactly the chosen records whose case has ended (the others keep their reason)."""
    plan = subject_erasure_plan(session, text, ids)
    allowed = {i.record for i in plan.items if i.action == ERASE and i.record is not None}
    if allowed:
        session.execute(
            update(Kontaktdaten).where(Kontaktdaten.id.in_(allowed)).values(fields={}, deleted_at=now)
        )
    return ErasurePlan(plan.kind, plan.subject, plan.items, applied=True), sorted(allowed)
