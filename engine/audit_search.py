"""Search and export of the audit trail, for the Koordination and the data-protection officer.

Only they may look; every search and every export is itself written to the trail (with the filters,
never with the rows found). Entries carry ids and action names, never case data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.persistence.models import AuditEvent, Organisation
from engine.projection import BERLIN
from engine.read_models import Actor

AUDIT_ROLES = ("Koordination", "Datenschutzbeauftragte")
MAX_PER_PAGE = 200
MAX_EXPORT = 50_000
EXPORT_FORMATS = ("csv", "json")
NOT_PERMITTED = (
    "Das Audit-Protokoll sehen nur die Koordination und die/der Datenschutzbeauftragte. "
    "Wenden Sie sich bitte an die Koordinierungsstelle."
)
#: Years a search may name: outside them the Berlin day bounds would overflow.
YEARS = range(2000, 2101)
DAY_OUT_OF_RANGE = "Bitte ein Datum zwischen 2000 und 2100 angeben."
CSV_COLUMNS = (
    "id",
    "chain_seq",
    "at",
    "actor_name",
    "actor_org",
    "action",
    "instance_id",
    "task_id",
    "element_id",
    "detail",
)


def may_search(actor: Actor) -> bool:
    return any(actor.has_role(role) for role in AUDIT_ROLES)


def require_search(actor: Actor) -> None:
    if not may_search(actor):
        raise NotPermittedError(NOT_PERMITTED)


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit search; days are Europe/Berlin calendar days, both inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    actor: str = ""
    organisation: str = ""
    action: str = ""
    instance_id: int | None = None
    page: int = 1
    per_page: int = 50

    def normalised(self) -> AuditQuery:
        """The query with trimmed texts and page bounds; days outside ``YEARS`` are refused (422)."""
        wrong = {
            name: DAY_OUT_OF_RANGE
            for name, day in (("date_from", self.date_from), ("date_to", self.date_to))
            if day is not None and day.year not in YEARS
        }
        if wrong:
            raise InvalidSubmissionError("Der Zeitraum der Suche ist ungültig.", wrong)
        return replace(
            self,
            actor=self.actor.strip()[:200],
            organisation=self.organisation.strip()[:80],
            action=self.action.strip()[:60],
            page=max(1, self.page),
            per_page=min(MAX_PER_PAGE, max(1, self.per_page)),
        )

    def filters(self) -> dict[str, Any]:
        """The filters as written into the trail (the page is left out)."""
        values = asdict(self)
        del values["page"], values["per_page"]
        kept = {k: v for k, v in values.items() if v not in (None, "")}
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in kept.items()}


@dataclass(frozen=True)
class AuditEntryView:
    id: int
    chain_seq: int | None
    at: datetime
    actor_name: str
    actor_org: str
    action: str
    instance_id: int | None
    task_id: str | None
    element_id: str | None
    detail: dict[str, Any]

    @property
    def detail_text(self) -> str:
        return json.dumps(self.detail, ensure_ascii=False, sort_keys=True) if self.detail else ""


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntryView, ...]
    total: int
    query: AuditQuery
    actions: tuple[str, ...]
    organisations: tuple[tuple[str, str], ...]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def _filtered(query: AuditQuery) -> Select[Any]:
    stmt = select(AuditEvent)
    if query.date_from is not None:
        stmt = stmt.where(AuditEvent.at >= datetime.combine(query.date_from, time.min, BERLIN))
    if query.date_to is not None:
        end = datetime.combine(query.date_to + timedelta(days=1), time.min, BERLIN)
        stmt = stmt.where(AuditEvent.at < end)
    if query.actor:
        pattern = f"%{query.actor.lower()}%"
        stmt = stmt.where(func.lower(AuditEvent.actor_name).like(pattern))
    if query.organisation:
        stmt = stmt.where(AuditEvent.actor_org == query.organisation)
    if query.action:
        stmt = stmt.where(AuditEvent.action == query.action)
    if query.instance_id is not None:
        stmt = stmt.where(AuditEvent.instance_id == query.instance_id)
    return stmt


def _view(row: AuditEvent) -> AuditEntryView:
    return AuditEntryView(
        id=row.id,
        chain_seq=row.chain_seq,
        at=row.at,
        actor_name=row.actor_name,
        actor_org=row.actor_org,
        action=row.action,
        instance_id=row.instance_id,
        task_id=row.task_id,
        element_id=row.element_id,
        detail=dict(row.detail or {}),
    )


def distinct_actions(session: Session) -> tuple[str, ...]:
    """Every action name in the trail (a scan of the whole table: the caller caches it)."""
    return tuple(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def search(session: Session, query: AuditQuery, actions: Sequence[str]) -> AuditPage:
    """One page of matching entries, newest first; ``actions`` are offered in the action filter
    (the chosen one is always among them)."""
    stmt = _filtered(query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset((query.page - 1) * query.per_page)
        .limit(query.per_page)
    )
    organisations = session.execute(select(Organisation.slug, Organisation.name).order_by(Organisation.name))
    return AuditPage(
        entries=tuple(_view(r) for r in rows),
        total=total,
        query=query,
        actions=tuple(sorted({*actions, query.action} - {""})),
        organisations=tuple((slug, name) for slug, name in organisations),
    )


def export_rows(session: Session, query: AuditQuery) -> list[AuditEntryView]:
    """Every matching entry (at most ``MAX_EXPORT``), oldest first."""
    stmt = _filtered(query).order_by(AuditEvent.at, AuditEvent.id).limit(MAX_EXPORT)
    return [_view(r) for r in session.scalars(stmt)]


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet never runs as a formula."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(entries: Sequence[AuditEntryView]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        values = {**asdict(e), "detail": e.detail_text}
        writer.writerow([_cell(values[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def to_json(entries: Sequence[AuditEntryView]) -> str:
    return json.dumps([{**asdict(e), "at": e.at.isoformat()} for e in entries], ensure_ascii=False, indent=1)


__all__ = [
    "AUDIT_ROLES",
    "EXPORT_FORMATS",
    "AuditEntryView",
    "AuditPage",
    "AuditQuery",
    "distinct_actions",
    "export_rows",
    "may_search",
    "require_search",
    "search",
    "to_csv",
    "to_json",
]
