"""Use cases of the audit trail: seal, verify, search and export; login and logout entries.

Sealing runs right after every commit that wrote audit rows in embedded mode, as the periodic job
``seal_audit_trail`` in both modes, and before every verification (see ``engine/audit_chain.py``
for the chain and its window).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine import audit_chain, audit_search
from engine.audit_chain import ChainReport
from engine.audit_search import AuditPage, AuditQuery
from engine.clock import Clock
from engine.directory import actor_of
from engine.errors import InvalidSubmissionError
from engine.persistence.database import Database
from engine.persistence.models import User
from engine.read_models import Actor
from engine.runtime import audit

log = logging.getLogger(__name__)

#: Reads of case data: written to the trail, never shown in a case's history.
READ_ACTIONS = (
    "abstimmung_gelesen",
    "termin_heruntergeladen",
    "audit_durchsucht",
    "audit_exportiert",
)
#: Login events (never tied to a case).
LOGIN_ACTIONS = (
    "login",
    "login_fehlgeschlagen",
    "login_gesperrt",
    "konto_gesperrt",
    "login_gedrosselt",
    "logout",
    "logout_zeitueberschreitung",
    "passwort_geaendert",
    "passwort_aenderung_abgelehnt",
)

#: How long the action names offered in the search's action filter are kept before they are read
#: again (``SELECT DISTINCT action`` scans the whole trail).
ACTIONS_KEPT = timedelta(minutes=10)


class AuditTrail:
    """``seal_after_commit`` (embedded mode): on SQLite, where write transactions run one at a time
    (``BEGIN IMMEDIATE``), the rows are sealed inside their own transaction just before it commits —
    no window at all. On PostgreSQL a short transaction right after the commit seals them, once the
    writer's session is closed so the seal reuses its pooled connection instead of needing a second
    one (with ``synchronous_commit`` off: a seal lost in a crash is simply made again by the next one)."""

    def __init__(self, db: Database, clock: Clock, *, seal_after_commit: bool) -> None:
        self.db = db
        self.clock = clock
        self._actions: tuple[datetime, tuple[str, ...]] | None = None
        if seal_after_commit and db.is_sqlite:
            db.before_write_commit(self._before_commit)
        elif seal_after_commit:
            db.after_write_commit(self._after_commit)

    def _before_commit(self, session: Session) -> None:
        if audit_chain.take_unsealed_note(session):
            audit_chain.seal(session, self.clock.now(), limit=audit_chain.SEAL_BATCH)

    def _after_commit(self, session: Session) -> None:
        if not audit_chain.take_unsealed_note(session):
            return
        try:
            self.seal(durable=False)
        except Exception:  # the periodic job seals what is left; the user's action stands
            log.exception("Versiegeln des Audit-Protokolls fehlgeschlagen; der Job versucht es erneut")

    def seal(self, *, durable: bool = True) -> int:
        """Seal every committed unsealed entry (in batches, one transaction each)."""
        total = 0
        while True:
            with self.db.write() as session:
                if not durable and not self.db.is_sqlite:
                    session.execute(text("SET LOCAL synchronous_commit = off"))
                count = audit_chain.seal(session, self.clock.now())
                session.commit()
            total += count
            if count < audit_chain.SEAL_BATCH:
                return total

    def verify(self, anchor: Mapping[str, Any] | None = None) -> ChainReport:
        """Seal, then recompute the whole chain; with ``anchor`` also compare an exported head."""
        self.seal()
        with self.db.read() as session:
            report = audit_chain.verify(session)
            if report.broken is None and anchor is not None:
                broken = audit_chain.check_anchor(session, dict(anchor))
                if broken is not None:
                    return dataclasses.replace(report, broken=broken)
            return report

    def search(self, actor: Actor, query: AuditQuery) -> AuditPage:
        audit_search.require_search(actor)
        query = query.normalised()
        with self.db.write() as session:
            page = audit_search.search(session, query, self._known_actions(session))
            audit(session, self.clock.now(), actor, "audit_durchsucht", None, detail=query.filters())
            session.commit()
            return page

    def _known_actions(self, session: Session) -> tuple[str, ...]:
        """The trail's action names, read again at most every ``ACTIONS_KEPT``."""
        now = self.clock.now()
        kept = self._actions
        if kept is None or not kept[0] <= now < kept[0] + ACTIONS_KEPT:
            kept = self._actions = (now, audit_search.distinct_actions(session))
        return kept[1]

    def export(self, actor: Actor, query: AuditQuery, fmt: str) -> str:
        audit_search.require_search(actor)
        if fmt not in audit_search.EXPORT_FORMATS:
            raise InvalidSubmissionError(
                "Unbekanntes Exportformat.", {"format": "Bitte CSV oder JSON wählen."}
            )
        query = query.normalised()
        with self.db.write() as session:
            rows = audit_search.export_rows(session, query)
            detail = {**query.filters(), "format": fmt, "anzahl": len(rows)}
            audit(session, self.clock.now(), actor, "audit_exportiert", None, detail=detail)
            session.commit()
        return audit_search.to_csv(rows) if fmt == "csv" else audit_search.to_json(rows)

    def login_throttled(self, username: str) -> None:
        """A login refused before the password was checked (too many failures from one address).
        Names the account only when it exists; an unknown typed name is never stored."""
        with self.db.write() as session:
            user = session.scalars(
                select(User).where(func.lower(User.username) == username.strip().lower()[:80])
            ).first()
            actor = actor_of(user) if user is not None else None
            audit(session, self.clock.now(), actor, "login_gedrosselt", None, detail={"grund": "adresse"})
            session.commit()


def login_refused(session: Session, now: datetime, actor: Actor | None, reason: str) -> None:
    """The entry of a refused login: ``reason`` is unbekannt, passwort, gesperrt or sperre."""
    action = {"gesperrt": "login_gesperrt", "sperre": "konto_gesperrt"}.get(reason, "login_fehlgeschlagen")
    audit(session, now, actor, action, None, detail={"grund": reason})


__all__ = ["ACTIONS_KEPT", "LOGIN_ACTIONS", "READ_ACTIONS", "AuditTrail", "login_refused"]
