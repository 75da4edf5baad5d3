"""Embedded job runner: an in-process thread that fires due timers, writes due-date reminders and
escalations, delivers the outbox (notifications, e-mail), sends the daily digest, closes ballots
whose deadline passed and deletes expired contact data (the database is the truth).

The distributed mode (Celery workers and beat) drives the same ``fire_due_timers`` use case.
"""

from __future__ import annotations

import logging
import threading

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
        """One round; any failure is logged and the next round tries again (the thread never dies)."""
        try:
            fired = self.hilfenetz.fire_due_timers()
            self.hilfenetz.send_due_reminders()  # before delivering, so they go out in this round
            self.hilfenetz.deliver_outbox()
            self.hilfenetz.send_digests()  # decides by the engine's injected clock (digest hour, Berlin)
            self.hilfenetz.purge_contact_data()
            self.hilfenetz.close_due_ballots()
            # TODO(notifications): remind electors who have not voted before a ballot's deadline
            return fired
        except HilfenetzError as exc:
            log.warning("Zeitgeber konnte nicht ausgeführt werden: %s", exc.message)
        except Exception:  # e.g. the database is restarting
            log.exception("Job-Runner: Runde fehlgeschlagen, nächster Versuch folgt")
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)
