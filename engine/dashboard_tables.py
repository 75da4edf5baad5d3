"""The Auswertung's building blocks: the shown tables (view objects), the period, and which cases
an organisation filter keeps (engine/dashboard.py puts them together)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Select, literal, or_, select, union
from sqlalchemy.orm import Session

from engine.persistence.models import Organisation, ProcessInstance, User, UserTask
from engine.projection import BERLIN
from engine.small_numbers import Zelle

MONTHS = ("Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez")


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
        return utc(self.von)

    @property
    def ende(self) -> datetime:
        return utc(self.bis + timedelta(days=1))

    def months(self) -> list[tuple[str, datetime, datetime]]:
        found = []
        first = self.von.replace(day=1)
        while first <= self.bis:
            following = first + relativedelta(months=1)
            found.append(
                (
                    f"{MONTHS[first.month - 1]} {first.year}",
                    max(utc(first), self.start),
                    min(utc(following), self.ende),
                )
            )
            first = following
        return found


def utc(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), BERLIN).astimezone(UTC)


# --- which cases ----------------------------------------------------------------------------
def involved(org: Organisation) -> Select[tuple[int]]:
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


def in_scope(statement: Any, column: Any, org: Organisation | None) -> Any:
    return statement if org is None else statement.where(column.in_(involved(org)))


def aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type on SQLite: give naive UTC values their zone back."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# --- P4 case conferences, P5 funding --------------------------------------------------------
def started(session: Session, key: str, period: Zeitraum, org: Organisation | None) -> tuple[list[Any], Any]:
    """(instance id, end event) of the cases of ``key`` started in the period, and their ids as a select."""
    pi = ProcessInstance
    statement = in_scope(
        select(pi.id, pi.end_event).where(
            pi.process_key == key, pi.started_at >= period.start, pi.started_at < period.ende
        ),
        pi.id,
        org,
    )
    return list(session.execute(statement).all()), select(statement.subquery().c.id)
