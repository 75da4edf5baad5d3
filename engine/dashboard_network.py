"""The Auswertung's network figures — funding applications (P5), network meetings (P6), the
directory (P9): projects, meetings and organisations, not cases, so they are shown as they are."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dashboard_tables import Diagramm, Tabelle, Zeile, Zeitraum, aware, started, utc
from engine.persistence.models import DirectoryEntry, NetworkMeeting, Organisation, UserTask
from engine.projection import BERLIN
from engine.small_numbers import text, zahl

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


def funding_table(session: Session, period: Zeitraum, org: Organisation | None) -> Tabelle:
    cases, ids = started(session, FUNDING, period, org)
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
def meeting_table(session: Session, year: int) -> Tabelle:
    start, end = utc(date(year, 1, 1)), utc(date(year + 1, 1, 1))
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


def directory_tables(session: Session, now: datetime, org: Organisation | None) -> tuple[Tabelle, Tabelle]:
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
        confirmed = aware(confirmed)
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
