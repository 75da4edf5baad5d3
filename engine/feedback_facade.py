"""Facade methods for the accessibility feedback (mixed into :class:`engine.service.Hilfenetz`)."""

from __future__ import annotations

from engine import accessibility_feedback as feedback
from engine.clock import Clock
from engine.persistence.database import Database
from engine.read_models import Actor
from engine.settings import Settings


class FeedbackFacade:
    """Send, list, answer and expire reports about accessibility barriers (BITV 2.0 § 7)."""

    db: Database
    clock: Clock
    settings: Settings

    def send_accessibility_feedback(self, given: feedback.FeedbackInput) -> int:
        """Store a report (no login needed) and notify the Koordination; returns its id.

        Raises InvalidSubmissionError with German field errors, or TooManyRequestsError above
        the hourly limit (``HILFENETZ_BARRIEREFREIHEIT_RUECKMELDUNGEN_PRO_STUNDE``)."""
        with self.db.write() as session:
            feedback_id = feedback.record(
                session, given, self.clock.now(), self.settings.accessibility_feedback_per_hour
            )
            session.commit()
            return feedback_id

    def accessibility_feedback(self, actor: Actor) -> list[feedback.FeedbackView]:
        """Every stored report, for the Koordination (the read is audited)."""
        feedback.require_coordination(actor)
        with self.db.write() as session:
            views = feedback.listed(session)
            feedback.record_read(session, actor, self.clock.now(), len(views))
            session.commit()
            return views

    def mark_accessibility_feedback_answered(self, actor: Actor, feedback_id: int) -> None:
        feedback.require_coordination(actor)
        with self.db.write() as session:
            feedback.mark_answered(session, feedback_id, actor, self.clock.now())
            session.commit()

    def purge_accessibility_feedback(self) -> int:
        """Delete reports older than ``HILFENETZ_BARRIEREFREIHEIT_AUFBEWAHRUNG_TAGE`` (periodic job)."""
        now, keep_days = self.clock.now(), self.settings.accessibility_feedback_keep_days
        with self.db.read() as session:  # the job runs every few seconds: write only when due
            if not feedback.any_due(session, now, keep_days):
                return 0
        with self.db.write() as session:
            count = feedback.purge(session, now, keep_days)
            session.commit()
            return count
