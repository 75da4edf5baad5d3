"""The Auswertung's case figures — referrals (P1), first contact, overdue tasks, case conferences
(P4) — each passed through :mod:`engine.small_numbers` before it leaves this module."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.dashboard_tables import Diagramm, Tabelle, Zeile, Zeitraum, aware, in_scope, started
from engine.element_trail import LEFT
from engine.persistence.models import AuditEvent, Organisation, ProcessInstance, User, UserTask
from engine.small_numbers import Fallzahlen, anteil, median_von, text

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
ALL_ORGANISATIONS = "*"


# --- P1 referrals ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Referral:
    instance_id: int
    at: datetime
    due: datetime | None
    first_contact: datetime | None
    outcome: str


def referrals(session: Session, period: Zeitraum, org: Organisation | None) -> list[Referral]:
    """One row per referral (its first contact task) with the outcome of its strand."""
    ut = UserTask
    key, element = REFERRAL
    statement = in_scope(
        select(ut.instance_id, func.min(ut.created_at), func.min(ut.due_at), func.min(ut.completed_at))
        .where(ut.process_key == key, ut.element_id == element)
        .group_by(ut.instance_id)
        .having(func.min(ut.created_at) >= period.start, func.min(ut.created_at) < period.ende),
        ut.instance_id,
        org,
    )
    outcomes = _outcomes(session, select(statement.subquery().c.instance_id), REFERRAL_OUTCOMES)
    return [
        Referral(i, aware(at) or period.start, aware(due), aware(done), outcomes.get(i, "offen"))
        for i, at, due, done in session.execute(statement)
    ]


def _outcomes(session: Session, ids: Any, ends: dict[str, str]) -> dict[int, str]:
    """The outcome per instance of ``ids`` (a select): the end event its referral strand left, from
    the element trail (``element_left`` of an end event; the latest wins), else the instance's own
    end event (cases that ended before the element trail existed)."""
    pi, ae = ProcessInstance, AuditEvent
    found: dict[int, str] = {}
    for instance_id, end in session.execute(
        select(pi.id, pi.end_event).where(pi.id.in_(ids), pi.end_event.in_(ends)).order_by(pi.id)
    ):
        if end is not None:
            found[instance_id] = ends[end]
    for audited_id, audited_end in session.execute(
        select(ae.instance_id, ae.element_id)
        .where(ae.instance_id.in_(ids), ae.action == LEFT, ae.element_id.in_(ends))
        .order_by(ae.at, ae.id)
    ):
        if audited_id is not None and audited_end is not None:
            found[audited_id] = ends[audited_end]
    return found


def referral_table(period: Zeitraum, referrals: list[Referral]) -> Tabelle:
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


def contact_tables(referrals: list[Referral], now: datetime, frist: str) -> tuple[Tabelle, Tabelle]:
    labels = (
        "erster Kontakt innerhalb der Frist",
        "erster Kontakt nach Ablauf der Frist",
        "noch kein Kontakt, Frist abgelaufen",
        "noch kein Kontakt, Frist läuft",
    )
    counts = Counter(_contact_state(r, now) for r in referrals)
    # rows: the four states, all referrals, those with a first contact (rows 0 + 1) — the last one
    # is shown in the other table, but suppressed here so that no difference gives a cell away
    grid = [[counts[i]] for i in range(len(labels))] + [[len(referrals)], [counts[0] + counts[1]]]
    total, contacted_row = len(labels), len(labels) + 1
    table = Fallzahlen(grid)
    table.spaltensumme(0, total, range(len(labels)))
    table.spaltensumme(0, contacted_row, [0, 1])
    table.spaltensumme(0, total, [contacted_row, 2, 3])
    cells = table.zellen()
    rows = tuple(
        Zeile(label, (cells[i][0], anteil(cells[i][0], cells[total][0])))
        for i, label in enumerate([*labels, "Vermittlungen"])
    )
    hours = [(r.first_contact - r.at).total_seconds() / 3600 for r in referrals if r.first_contact]
    contacted = cells[contacted_row][0]
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


def _contact_state(referral: Referral, now: datetime) -> int:
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
def overdue_table(session: Session, now: datetime, org: Organisation | None) -> Tabelle:
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


def conference_table(session: Session, period: Zeitraum, org: Organisation | None) -> Tabelle:
    cases, ids = started(session, CONFERENCE, period, org)
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
