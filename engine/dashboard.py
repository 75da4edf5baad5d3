"""Auswertung: the network's figures for a period (and optionally one organisation), without
personal data — read by SQL from the tables the processes already write.

Every figure is a count or a duration over cases, never a case: no names, no case numbers, no
free text. Case counts (engine/dashboard_cases.py) pass through :mod:`engine.small_numbers`
before they leave the engine, so the page, the PDF and the CSV can only show what may be shown.
The figures (cohorts: a case belongs to the period in which it began):

* **Vermittlungen (P1)**: a referral is a P1 case in which the counselling centre got the task
  *Betroffene proaktiv kontaktieren* (``Task_Kontaktaufnahme``; month of its first task). Its
  outcome is the end event of that strand (the element trail's ``element_left`` row of the end
  event, engine/element_trail.py; ``process_instance.end_event`` as a fall-back for cases that
  ended before).
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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dashboard_cases import (
    CONTACT_FRIST,
    REFERRAL,
    REFERRAL_OUTCOMES,
    conference_table,
    contact_tables,
    overdue_table,
    referral_table,
    referrals,
)
from engine.dashboard_network import directory_tables, funding_table, meeting_table
from engine.dashboard_tables import MONTHS, Diagramm, Tabelle, Zeile, Zeitraum
from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.persistence.models import Organisation
from engine.read_models import Actor

ROLES = ("Koordination", "Steuerungsgruppe")


def require_access(actor: Actor) -> None:
    if not any(actor.has_role(role) for role in ROLES):
        raise NotPermittedError("Die Auswertung sehen nur die Koordination und die Steuerungsgruppe.")


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
    referred = referrals(session, period, org)
    contact, contact_times = contact_tables(referred, now, contact_frist)
    directory, stale = directory_tables(session, now, org)
    tables = (
        referral_table(period, referred),
        contact,
        contact_times,
        overdue_table(session, now, org),
        conference_table(session, period, org),
        meeting_table(session, period.bis.year),
        funding_table(session, period, org),
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
    "CONTACT_FRIST",
    "MONTHS",
    "REFERRAL",
    "REFERRAL_OUTCOMES",
    "ROLES",
    "Auswertung",
    "Diagramm",
    "Tabelle",
    "Zeile",
    "Zeitraum",
    "auswertung",
    "jahreszeitraum",
    "organisation_choices",
    "require_access",
    "zeitraum",
)
