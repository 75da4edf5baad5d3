"""Auswertung: the network's figures for a period (and optionally one organisation), without
personal data — read by SQL from the tables the processes already write.

Every figure is a count or a duration over cases, never a case: no names, no case numbers, no
free text. Case counts pass through :mod:`engine.small_numbers` before they leave this module, so
the page, the PDF and the CSV can only show what may be shown. The figures (cohorts: a case belongs
to the period in which it began):

* **Vermittlungen (P1)**: a referral is a P1 case in which the counselling centre got the task
  *Betroffene proaktiv kontaktieren* (``Task_Kontaktaufnahme``; month of its first task). Its
  outcome is the end event of that strand (audit ``end_event_reached``, written per strand by the
  runtime; ``process_instance.end_event`` as a fall-back for cases that ended before).
* **Erste Kontaktaufnahme**: from the referral to the first recorded contact attempt (first
  completion of that task), against the task's due date — the Frist ``polizeieinsatz.kontaktaufnahme``.
* **Überfällige Aufgaben** (now): open tasks past their due date, by the assignee's organisation,
  else by every organisation among the candidates (a task offered to two counts for both;
  ``Rolle@*`` counts as „alle Organisationen“).
* **Fallkonferenzen (P4)**: requested in the period; held (*durchführen und protokollieren*
  completed); how they ended.
* **Netzwerktreffen (P6)**: in the calendar year of the period's end, held / planned / cancelled,
  against the rule of at least two a year (not case data: not suppressed).
* **Förderanträge (P5)**: started in the period, by state (projects, not cases: not suppressed).
* **Netzwerkverzeichnis (P9)**: entries by state; out of date = flagged ``veraltet`` or not
  confirmed for twelve months (organisations, not persons: not suppressed).

An organisation filter keeps the cases in which it took part (started them, was a candidate or
had a member assigned or completing a task).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Select, func, literal, or_, select, union
from sqlalchemy.orm import Session

from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.persistence.models import (
    AuditEvent,
    DirectoryEntry,
    NetworkMeeting,
    Organisation,
    ProcessInstance,
    User,
    UserTask,
)
from engine.projection import BERLIN
from engine.read_models import Actor
from engine.small_numbers import Fallzahlen, Zelle, anteil, einzeln, median_von, text, zahl

#: Who may see the Auswertung (and the process heatmap): the Koordination and the Steuerungsgruppe.
ROLES = ("Koordination", "Steuerungsgruppe")
REFERRAL = ("polizeieinsatz", "Task_Kontaktaufnahme")
CONTACT_FRIST = "polizeieinsatz.kontaktaufnahme"
REFERRAL_OUTCOMES = {
    "Ende_BeratungAngenommen": "Beratung angenommen",
    "Ende_BeratungAbgelehnt": "Beratung abgelehnt",
    "Ende_NichtErreichbar": "nicht erreichbar",
}
CONFERENCE = "fallkonferenz"
CONFERENCE_HELD = "Task_DurchfuehrenProtokollieren"
CONFERENCE_ENDS = {
    "Ende_Abgeschlossen": "abgeschlossen (Plan umgesetzt)",
    "Ende_Eskaliert": "an die Polizei eskaliert",
    "Ende_Zurueckgezogen": "zurückgezogen / abgelehnt",
}
FUNDING = "foerderantrag"
FUNDING_ENDS = {
    "End_Abgerechnet": "bewilligt und abgerechnet",
    "End_VomLandAbgelehnt": "vom Land abgelehnt",
    "End_InternAbgelehnt": "intern abgelehnt",
    "End_Zurueckgezogen": "zurückgezogen",
}
#: A running funding application's state, by its open step.
FUNDING_STEPS = {
    "Task_Entwurf": "in Ausarbeitung",
    "Task_FormalPruefung": "formale Prüfung (Koordination)",
    "Task_NachAbstimmung": "Abstimmung der Steuerungsgruppe",
    "Task_Einreichen": "Einreichung beim Land",
    "Task_Bescheid": "beim Land eingereicht, Bescheid offen",
    "Task_Veroeffentlichung": "bewilligt, in Umsetzung",
    "Task_Verwendungsnachweis": "bewilligt, in Umsetzung",
    "Task_NachweisPruefen": "bewilligt, Verwendungsnachweis",
    "Task_NachweisEinreichen": "bewilligt, Verwendungsnachweis",
}
FUNDING_WAITING = "Abstimmung der Steuerungsgruppe"
FUNDING_STATES = (
    "in Ausarbeitung",
    "formale Prüfung (Koordination)",
    FUNDING_WAITING,
    "Einreichung beim Land",
    "beim Land eingereicht, Bescheid offen",
    "bewilligt, in Umsetzung",
    "bewilligt, Verwendungsnachweis",
    *FUNDING_ENDS.values(),
)
MEETINGS_PER_YEAR = 2
STALE_AFTER = relativedelta(months=12)
DIRECTORY_STATES = ("aktuell", "aktuell, seit über 12 Monaten unbestätigt", "veraltet", "entfernt")
ALL_ORGANISATIONS = "*"
MONTHS = ("Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez")


def require_access(actor: Actor) -> None:
    if not any(actor.has_role(role) for role in ROLES):
        raise NotPermittedError("Die Auswertung sehen nur die Koordination und die Steuerungsgruppe.")


@dataclass(frozen=True)
class Diagramm:
    """How a table is drawn: ``art`` bar | gestapelt | quer; the value columns that become series
    (indexes into a row's cells) and the rows that become labels (the sum row left out)."""

    art: str
    reihen: tuple[int, ...]
    zeilen: tuple[int, ...]
    beschreibung: str


@dataclass(frozen=True)
class Zeile:
    label: str
    zellen: tuple[Zelle, ...]


@dataclass(frozen=True)
class Tabelle:
    id: str
    titel: str
    kopf: tuple[str, ...]
    """Column headings: the row-label column first, then one per cell."""
    zeilen: tuple[Zeile, ...]
    hinweis: str = ""
    diagramm: Diagramm | None = None


@dataclass(frozen=True)
class Zeitraum:
    von: date
    bis: date  # inclusive

    @property
    def start(self) -> datetime:
        return _utc(self.von)

    @property
    def ende(self) -> datetime:
        return _utc(self.bis + timedelta(days=1))

    def months(self) -> list[tuple[str, datetime, datetime]]:
        found = []
        first = self.von.replace(day=1)
        while first <= self.bis:
            following = first + relativedelta(months=1)
            found.append(
                (
                    f"{MONTHS[first.month - 1]} {first.year}",
                    max(_utc(first), self.start),
                    min(_utc(following), self.ende),
                )
            )
            first = following
        return found


@dataclass(frozen=True)
class Auswertung:
    zeitraum: Zeitraum
    organisation: str | None
    organisation_name: str | None
    stand: datetime
    jahr: int
    """The calendar year the network-meeting rule is checked for (the year of the period's end)."""
    tabellen: tuple[Tabelle, ...]

    def tabelle(self, table_id: str) -> Tabelle:
        return next(t for t in self.tabellen if t.id == table_id)


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), BERLIN).astimezone(UTC)


def zeitraum(von: str | None, bis: str | None, today: date) -> Zeitraum:
    """Parse the filter (ISO dates, Europe/Berlin); default: 1 January of this year to today."""
    errors: dict[str, str] = {}
    parsed: dict[str, date] = {}
    for key, raw, default in (("von", von, today.replace(month=1, day=1)), ("bis", bis, today)):
        try:
            parsed[key] = date.fromisoformat(raw) if raw else default
        except ValueError:
            errors[key] = "Bitte ein Datum im Format JJJJ-MM-TT angeben."
    for key, value in parsed.items():
        if not 2000 <= value.year <= 2100:
            errors[key] = "Bitte ein Datum zwischen 2000 und 2100 angeben."
    if not errors and parsed["von"] > parsed["bis"]:
        errors["bis"] = "Das Ende des Zeitraums liegt vor seinem Beginn."
    if not errors and parsed["bis"] - parsed["von"] > timedelta(days=3 * 366):
        errors["von"] = "Bitte einen Zeitraum von höchstens drei Jahren wählen."
    if errors:
        raise InvalidSubmissionError("Bitte prüfen Sie den Zeitraum.", errors)
    return Zeitraum(parsed["von"], parsed["bis"])


def jahreszeitraum(jahr: int, today: date) -> Zeitraum:
    if not 2000 <= jahr <= today.year:
        raise InvalidSubmissionError(
            "Für dieses Jahr gibt es keinen Jahresbericht.",
            {"jahr": f"Bitte ein Jahr von 2000 bis {today.year} wählen."},
        )
    return Zeitraum(date(jahr, 1, 1), date(jahr, 12, 31))


# --- which cases ----------------------------------------------------------------------------
def _involved(org: Organisation) -> Select[tuple[int]]:
    """Ids of the instances the organisation took part in (started, candidate, assignee, completed)."""
    members = select(User.id).where(User.organisation_id == org.id)
    ut = UserTask
    wrapped = literal(",") + ut.candidates + literal(",")
    by_task = select(ut.instance_id).where(
        or_(
            wrapped.contains(f"@{org.slug},", autoescape=True),
            ut.assignee_id.in_(members),
            ut.completed_by_id.in_(members),
        )
    )
    by_start = select(ProcessInstance.id).where(ProcessInstance.initiator_org_id == org.id)
    return select(union(by_task, by_start).subquery().c[0])


def _in_scope(statement: Any, column: Any, org: Organisation | None) -> Any:
    return statement if org is None else statement.where(column.in_(_involved(org)))


# --- P1 referrals ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Referral:
    instance_id: int
    at: datetime
    due: datetime | None
    first_contact: datetime | None
    outcome: str


def _referrals(session: Session, period: Zeitraum, org: Organisation | None) -> list[_Referral]:
    """One row per referral (its first contact task) with the outcome of its strand."""
    ut = UserTask
    key, element = REFERRAL
    statement = _in_scope(
        select(ut.instance_id, func.min(ut.created_at), func.min(ut.due_at), func.min(ut.completed_at))
        .where(ut.process_key == key, ut.element_id == element)
        .group_by(ut.instance_id)
        .having(func.min(ut.created_at) >= period.start, func.min(ut.created_at) < period.ende),
        ut.instance_id,
        org,
    )
    outcomes = _outcomes(session, select(statement.subquery().c.instance_id), REFERRAL_OUTCOMES)
    return [
        _Referral(i, _aware(at) or period.start, _aware(due), _aware(done), outcomes.get(i, "offen"))
        for i, at, due, done in session.execute(statement)
    ]


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type on SQLite: give naive UTC values their zone back."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _outcomes(session: Session, ids: Any, ends: dict[str, str]) -> dict[int, str]:
    """The outcome per instance of ``ids`` (a select): the strand's end event from the audit,
    else the instance's own end event (cases that ended before the audit row existed)."""
    pi, ae = ProcessInstance, AuditEvent
    found: dict[int, str] = {}
    for instance_id, end in session.execute(
        select(pi.id, pi.end_event).where(pi.id.in_(ids), pi.end_event.in_(ends))
    ):
        if end is not None:
            found[instance_id] = ends[end]
    for audited_id, audited_end in session.execute(
        select(ae.instance_id, ae.element_id).where(
            ae.instance_id.in_(ids), ae.action == "end_event_reached", ae.element_id.in_(ends)
        )
    ):
        if audited_id is not None and audited_end is not None:
            found[audited_id] = ends[audited_end]
    return found


def _referral_table(period: Zeitraum, referrals: list[_Referral]) -> Tabelle:
    months = period.months()
    parts = [*REFERRAL_OUTCOMES.values(), "offen"]
    grid = [[0] * (1 + len(parts)) for _ in range(len(months) + 1)]
    for referral in referrals:
        row = next(i for i, (_, start, end) in enumerate(months) if start <= referral.at < end)
        column = 1 + parts.index(referral.outcome)
        for r in (row, len(months)):
            grid[r][0] += 1
            grid[r][column] += 1
    counts = Fallzahlen(grid)
    for r in range(len(grid)):
        counts.zeilensumme(r, 0, range(1, len(parts) + 1))
    for c in range(len(parts) + 1):
        counts.spaltensumme(c, len(months), range(len(months)), merkmal=False)
    cells = counts.zellen()
    rows = tuple(
        Zeile(label, (*cells[r], anteil(cells[r][1], cells[r][0])))
        for r, label in enumerate([m[0] for m in months] + ["Summe"])
    )
    return Tabelle(
        "vermittlungen",
        "Vermittlungen an die Beratungsstelle (P1) je Monat",
        ("Monat", "Vermittlungen", *parts, "Annahmequote"),
        rows,
        "Monat der Vermittlung; Ergebnis der proaktiven Kontaktaufnahme. "
        "Annahmequote: angenommen je Vermittlung.",
        Diagramm(
            "gestapelt",
            (1, 2, 3, 4),
            tuple(range(len(months))),
            "Gestapeltes Säulendiagramm: Vermittlungen je Monat, aufgeteilt nach Ergebnis.",
        ),
    )


def _contact_table(referrals: list[_Referral], now: datetime, frist: str) -> tuple[Tabelle, Tabelle]:
    labels = (
        "erster Kontakt innerhalb der Frist",
        "erster Kontakt nach Ablauf der Frist",
        "noch kein Kontakt, Frist abgelaufen",
        "noch kein Kontakt, Frist läuft",
    )
    counts = Counter(_contact_state(r, now) for r in referrals)
    grid = [[counts[i]] for i in range(len(labels))] + [[len(referrals)]]
    table = Fallzahlen(grid)
    table.spaltensumme(0, len(labels), range(len(labels)))
    cells = table.zellen()
    rows = tuple(
        Zeile(label, (cells[i][0], anteil(cells[i][0], cells[-1][0])))
        for i, label in enumerate([*labels, "Vermittlungen"])
    )
    hours = [(r.first_contact - r.at).total_seconds() / 3600 for r in referrals if r.first_contact]
    contacted = einzeln(len(hours))
    kennzahlen = Tabelle(
        "kontakt_dauer",
        "Dauer bis zur ersten Kontaktaufnahme",
        ("Kennzahl", "Wert"),
        (
            Zeile("vereinbarte Frist", (text(_duration_words(frist)),)),
            Zeile("Vermittlungen mit erstem Kontakt", (contacted,)),
            Zeile("Median bis zum ersten Kontakt", (median_von(hours, contacted, "Stunden"),)),
        ),
    )
    return (
        Tabelle(
            "erstkontakt",
            "Zeit von der Vermittlung bis zur ersten Kontaktaufnahme",
            ("Stand", "Anzahl", "Anteil"),
            rows,
            "Frist: Fälligkeit der Aufgabe „Betroffene proaktiv kontaktieren“.",
            Diagramm(
                "quer",
                (0,),
                tuple(range(len(labels))),
                "Balkendiagramm: Vermittlungen nach Stand der ersten Kontaktaufnahme gegenüber der Frist.",
            ),
        ),
        kennzahlen,
    )


def _contact_state(referral: _Referral, now: datetime) -> int:
    if referral.first_contact is not None:
        return 0 if referral.due is None or referral.first_contact <= referral.due else 1
    return 2 if referral.due is not None and referral.due < now else 3


def _duration_words(value: str) -> str:
    """``P3D`` → „3 Tage (P3D)“; other forms as they are."""
    upper = value.upper()
    if upper.startswith("P") and upper.endswith("D") and upper[1:-1].isdigit():
        days = int(upper[1:-1])
        return f"{days} {'Tag' if days == 1 else 'Tage'} ({value})"
    return value


# --- overdue tasks ----------------------------------------------------------------------------
def _overdue_table(session: Session, now: datetime, org: Organisation | None) -> Tabelle:
    ut = UserTask
    statement = (
        select(ut.candidates, Organisation.slug)
        .select_from(ut)
        .outerjoin(User, User.id == ut.assignee_id)
        .outerjoin(Organisation, Organisation.id == User.organisation_id)
        .where(ut.status == "open", ut.due_at.is_not(None), ut.due_at < now)
    )
    per_org: Counter[str] = Counter()
    for candidates, assignee_org in session.execute(statement):
        for slug in [assignee_org] if assignee_org else _candidate_orgs(candidates):
            per_org[slug] += 1
    names = dict(session.execute(select(Organisation.slug, Organisation.name)).all())
    names[ALL_ORGANISATIONS] = "alle Organisationen (nach Rolle)"
    slugs = [org.slug] if org is not None else sorted(per_org, key=lambda s: names.get(s, s))
    grid = [[per_org[s]] for s in slugs] + [[sum(per_org[s] for s in slugs)]]
    counts = Fallzahlen(grid)
    counts.spaltensumme(0, len(slugs), range(len(slugs)), merkmal=False)
    cells = counts.zellen()
    rows = tuple(Zeile(names.get(s, s), (cells[i][0],)) for i, s in enumerate(slugs))
    return Tabelle(
        "ueberfaellig",
        "Überfällige Aufgaben je Organisation",
        ("Organisation", "überfällige Aufgaben"),
        (*rows, Zeile("Summe der Zeilen", (cells[-1][0],))),
        "Offene Aufgaben nach ihrer Fälligkeit, Stand heute; "
        "eine Aufgabe für mehrere Organisationen zählt bei jeder.",
        Diagramm(
            "quer", (0,), tuple(range(len(slugs))), "Balkendiagramm: überfällige Aufgaben je Organisation."
        ),
    )


def _candidate_orgs(candidates: str) -> set[str]:
    orgs = set()
    for key in candidates.split(","):
        if "@" in key and not key.startswith("user:"):
            orgs.add(key.split("@", 1)[1])
    return orgs or {ALL_ORGANISATIONS}


# --- P4 case conferences, P5 funding --------------------------------------------------------
def _started(session: Session, key: str, period: Zeitraum, org: Organisation | None) -> tuple[list[Any], Any]:
    """(instance id, end event) of the cases of ``key`` started in the period, and their ids as a select."""
    pi = ProcessInstance
    statement = _in_scope(
        select(pi.id, pi.end_event).where(
            pi.process_key == key, pi.started_at >= period.start, pi.started_at < period.ende
        ),
        pi.id,
        org,
    )
    return list(session.execute(statement).all()), select(statement.subquery().c.id)


def _conference_table(session: Session, period: Zeitraum, org: Organisation | None) -> Tabelle:
    cases, ids = _started(session, CONFERENCE, period, org)
    held = set(
        session.scalars(
            select(UserTask.instance_id).where(
                UserTask.instance_id.in_(ids),
                UserTask.element_id == CONFERENCE_HELD,
                UserTask.status == "completed",
            )
        )
    )
    ends = Counter(CONFERENCE_ENDS.get(end or "", "laufend") for _, end in cases)
    outcome_labels = [*CONFERENCE_ENDS.values(), "laufend"]
    labels = ["angefragt", "durchgeführt", "(noch) nicht durchgeführt", *outcome_labels]
    grid = [[len(cases)], [len(held)], [len(cases) - len(held)], *([ends[o]] for o in outcome_labels)]
    counts = Fallzahlen(grid)
    counts.spaltensumme(0, 0, [1, 2])
    counts.spaltensumme(0, 0, range(3, 3 + len(outcome_labels)))
    cells = counts.zellen()
    return Tabelle(
        "fallkonferenzen",
        "Fallkonferenzen (P4)",
        ("Fallkonferenzen", "Anzahl"),
        tuple(Zeile(label, (cells[i][0],)) for i, label in enumerate(labels)),
        "Im Zeitraum angefragte Fallkonferenzen und ihr Stand heute.",
        Diagramm(
            "bar",
            (0,),
            tuple(range(len(labels))),
            "Säulendiagramm: Fallkonferenzen angefragt, durchgeführt und nach Abschluss.",
        ),
    )


def _funding_table(session: Session, period: Zeitraum, org: Organisation | None) -> Tabelle:
    cases, ids = _started(session, FUNDING, period, org)
    steps: dict[int, str] = {}
    for instance_id, element in session.execute(
        select(UserTask.instance_id, UserTask.element_id)
        .where(UserTask.instance_id.in_(ids), UserTask.status == "open")
        .order_by(UserTask.created_at)
    ):
        steps.setdefault(instance_id, FUNDING_STEPS.get(element, FUNDING_WAITING))
    states = Counter(
        FUNDING_ENDS.get(end, "beendet") if end else steps.get(i, FUNDING_WAITING) for i, end in cases
    )
    rows = [Zeile(s, (zahl(states[s]),)) for s in FUNDING_STATES]
    rows.append(Zeile("Summe", (zahl(len(cases)),)))
    return Tabelle(
        "foerderantraege",
        "Förderanträge (P5) nach Stand",
        ("Stand", "Anträge"),
        tuple(rows),
        "Im Zeitraum begonnene Anträge; Projekte, keine Fälle (nicht unterdrückt).",
        Diagramm(
            "quer", (0,), tuple(range(len(FUNDING_STATES))), "Balkendiagramm: Förderanträge nach Stand."
        ),
    )


# --- P6 meetings, P9 directory --------------------------------------------------------------
def _meeting_table(session: Session, year: int) -> Tabelle:
    start, end = _utc(date(year, 1, 1)), _utc(date(year + 1, 1, 1))
    nm = NetworkMeeting
    found = Counter(
        (kind, status)
        for kind, status in session.execute(
            select(nm.kind, nm.status).where(nm.starts_at >= start, nm.starts_at < end)
        )
    )
    held = found[("netzwerktreffen", "durchgefuehrt")]
    planned = found[("netzwerktreffen", "geplant")]
    if held >= MEETINGS_PER_YEAR:
        rule = f"erfüllt ({held} durchgeführt)"
    elif held + planned >= MEETINGS_PER_YEAR:
        rule = f"noch offen: {held} durchgeführt, {planned} geplant"
    else:
        rule = f"nicht erfüllt: {held} durchgeführt, {planned} geplant"
    rows = [
        Zeile(f"{label}: {words}", (zahl(found[(kind, status)]),))
        for kind, label in (("netzwerktreffen", "Netzwerktreffen"), ("fachtag", "Fachtag"))
        for status, words in (
            ("durchgefuehrt", "durchgeführt"),
            ("geplant", "geplant"),
            ("abgesagt", "abgesagt"),
        )
    ]
    rows.append(Zeile(f"Regel: mindestens {MEETINGS_PER_YEAR} Netzwerktreffen im Jahr", (text(rule),)))
    return Tabelle(
        "netzwerktreffen",
        f"Netzwerktreffen und Fachtage (P6) im Jahr {year}",
        ("Treffen", "Anzahl"),
        tuple(rows),
        "Ganzes Netzwerk (der Organisationsfilter gilt hier nicht).",
    )


def _directory_tables(session: Session, now: datetime, org: Organisation | None) -> tuple[Tabelle, Tabelle]:
    de = DirectoryEntry
    statement = (
        select(Organisation.name, de.status, de.confirmed_at)
        .join(Organisation, Organisation.id == de.organisation_id)
        .order_by(Organisation.name)
    )
    if org is not None:
        statement = statement.where(de.organisation_id == org.id)
    rows = session.execute(statement).all()
    limit = now - STALE_AFTER
    states: Counter[str] = Counter()
    stale: list[Zeile] = []
    for name, status, confirmed in rows:
        confirmed = _aware(confirmed)
        old = status == "aktuell" and (confirmed is None or confirmed < limit)
        states[DIRECTORY_STATES[1] if old else status] += 1
        if old or status == "veraltet":
            when = confirmed.astimezone(BERLIN).strftime("%d.%m.%Y") if confirmed else "nie"
            stale.append(Zeile(name, (text(status), text(when))))
    summary = Tabelle(
        "verzeichnis",
        "Netzwerkverzeichnis (P9): Einträge nach Stand",
        ("Stand", "Einträge"),
        (
            *(Zeile(state, (zahl(states[state]),)) for state in DIRECTORY_STATES),
            Zeile("Summe", (zahl(len(rows)),)),
        ),
        "Veraltet: nicht rechtzeitig bestätigt (P9) oder seit über 12 Monaten ohne Bestätigung.",
    )
    details = Tabelle(
        "verzeichnis_veraltet",
        "Veraltete Einträge im Netzwerkverzeichnis",
        ("Organisation", "Stand", "zuletzt bestätigt"),
        tuple(stale),
    )
    return summary, details


# --- the whole -----------------------------------------------------------------------------
def auswertung(
    session: Session,
    period: Zeitraum,
    now: datetime,
    *,
    organisation: str | None,
    contact_frist: str,
) -> Auswertung:
    """All figures for ``period`` (and the organisation's cases, if one is given), read at ``now``."""
    org = _organisation(session, organisation)
    referrals = _referrals(session, period, org)
    contact, contact_times = _contact_table(referrals, now, contact_frist)
    directory, stale = _directory_tables(session, now, org)
    tables = (
        _referral_table(period, referrals),
        contact,
        contact_times,
        _overdue_table(session, now, org),
        _conference_table(session, period, org),
        _meeting_table(session, period.bis.year),
        _funding_table(session, period, org),
        directory,
        stale,
    )
    return Auswertung(
        period, org.slug if org else None, org.name if org else None, now, period.bis.year, tables
    )


def _organisation(session: Session, slug: str | None) -> Organisation | None:
    if not slug:
        return None
    org = session.scalars(select(Organisation).where(Organisation.slug == slug)).one_or_none()
    if org is None:
        raise InvalidSubmissionError(
            "Bitte prüfen Sie den Filter.", {"organisation": "Diese Organisation gibt es nicht."}
        )
    return org


def organisation_choices(session: Session) -> list[tuple[str, str]]:
    statement = (
        select(Organisation.slug, Organisation.name).where(Organisation.active).order_by(Organisation.name)
    )
    return [(slug, name) for slug, name in session.execute(statement)]


__all__: Sequence[str] = (
    "ROLES",
    "Auswertung",
    "Diagramm",
    "Tabelle",
    "Zeile",
    "Zeitraum",
    "auswertung",
    "jahreszeitraum",
    "require_access",
    "zeitraum",
)
