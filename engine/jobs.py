"""Embedded job runner: an in-process thread that fires due timers, writes due-date reminders and
escalations, reminds electors before a ballot's deadline, delivers the outbox (notifications,
e-mail), sends the daily digest, closes ballots whose deadline passed, deletes expired contact
data and, once a day, what the processes' retention periods allow no longer (the database is the truth).

The distributed mode (``engine/distributed.py``: ``hilfenetz beat`` and Celery workers) calls the
same engine functions per id: ``Instances.fire_timer`` (which ``fire_due_timers`` loops over),
``Notifications.deliver_outbox`` and the periodic jobs of ``engine.dispatch.PERIODIC_JOBS``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from engine.errors import HilfenetzError
from engine.service import Hilfenetz

log = logging.getLogger(__name__)


class EmbeddedJobRunner:
    def __init__(self, hilfenetz: Hilfenetz, interval_seconds: float) -> None:
        self.hilfenetz = hilfenetz
        self.interval = interval_seconds
        self.clock = hilfenetz.clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hilfenetz-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self) -> int:
        """One round of every job; returns how many timers fired. A failing job is logged and does
        not keep the others from running; the next round tries again (the thread never dies)."""
        fired = 0
        for name, job in self._jobs():
            try:
                result = job()
            except HilfenetzError as exc:
                log.warning("Job „%s“ konnte nicht ausgeführt werden: %s", name, exc.message)
            except Exception:  # e.g. the database is restarting
                log.exception("Job „%s“ fehlgeschlagen, nächster Versuch in der nächsten Runde", name)
            else:
                if name == "fire_due_timers" and isinstance(result, int):
                    fired = result
        return fired

    def _jobs(self) -> list[tuple[str, Callable[[], object]]]:
        hn = self.hilfenetz
        return [
            ("fire_due_timers", hn.fire_due_timers),
            ("send_due_reminders", hn.send_due_reminders),  # before delivery: they go out this round
            ("send_ballot_reminders", hn.send_ballot_reminders),  # electors who have not voted yet
            ("warn_second_meeting", hn.warn_second_meeting),  # P6: once a year at most
            ("deliver_outbox", hn.deliver_outbox),
            ("send_digests", hn.send_digests),  # decides by the injected clock (digest hour, Berlin)
            ("purge_contact_data", hn.purge_contact_data),
            ("close_due_ballots", hn.close_due_ballots),
            ("start_yearly_directory_reviews", hn.start_yearly_directory_reviews),  # P9, once a year
            ("start_due_agreement_review", hn.start_due_agreement_review),  # P11, once per version
            ("apply_retention", hn.apply_retention),  # once a day: periods declared in the BPMN
            ("purge_accessibility_feedback", hn.purge_accessibility_feedback),  # BITV feedback, 1 year
            ("seal_audit_trail", hn.seal_audit_trail),  # what the after-commit sealing left
        ]

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)
