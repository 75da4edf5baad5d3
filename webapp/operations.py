"""Betrieb: the administrators' view of jobs, timers and stuck instances, and the retry of a
dead notification job. Everyone else gets 404 (the page's existence is not advertised)."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from engine.read_models import Actor
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("operations", __name__, url_prefix="/betrieb")

ROLE = "Administration"

#: The periodic jobs by name (engine/dispatch.py PERIODIC_JOBS), in words.
JOB_LABELS = {
    "send_due_reminders": "Erinnerungen und Eskalationen zu Fristen",
    "send_ballot_reminders": "Erinnerungen an offene Abstimmungen",
    "warn_second_meeting": "Warnung: zweites Netzwerktreffen nicht terminiert",
    "send_digests": "Tägliche E-Mail-Übersicht",
    "purge_contact_data": "Löschen abgelaufener Kontaktdaten",
    "close_due_ballots": "Beenden abgelaufener Abstimmungen",
    "start_yearly_directory_reviews": "Jährliche Prüfung des Netzwerkverzeichnisses",
    "start_due_agreement_review": "Überprüfung der Kooperationsvereinbarung",
    "apply_retention": "Täglicher Löschlauf nach den Aufbewahrungsfristen",
    "purge_accessibility_feedback": "Löschen alter Rückmeldungen zur Barrierefreiheit",
    "seal_audit_trail": "Versiegeln des Audit-Protokolls (Hash-Kette)",
}
OUTBOX_STATUS = {
    "pending": "wartet",
    "failed": "fehlgeschlagen, neuer Versuch geplant",
    "processing": "in Zustellung",
    "dead": "endgültig fehlgeschlagen",
}


def shows_navigation(actor: Actor) -> bool:
    return actor.has_role(ROLE)


def _admin() -> Actor:
    actor = current_actor()
    if not shows_navigation(actor):
        abort(404)
    return actor


def job_label(name: str) -> str:
    return _(JOB_LABELS[name]) if name in JOB_LABELS else name


def outbox_status_label(status: str) -> str:
    return _(OUTBOX_STATUS[status]) if status in OUTBOX_STATUS else status


def duration_label(seconds: int) -> str:
    """Lateness in words: „45 Sekunden“, „12 Minuten“, „3 Stunden 5 Minuten“, „2 Tage 4 Stunden“."""
    if seconds < 120:
        return _("{n} Sekunden", n=seconds)
    minutes = seconds // 60
    if minutes < 120:
        return _("{n} Minuten", n=minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return _("{h} Stunden {m} Minuten", h=hours, m=rest)
    days, hours = divmod(hours, 24)
    return _("{d} Tage {h} Stunden", d=days, h=hours)


@bp.get("")
def index() -> str:
    """Jobs (waiting, in delivery, failed), periodic jobs, late timers, stuck and failed instances."""
    overview = hilfenetz().operations_overview(_admin())
    return render_template("operations/index.html", o=overview)


@bp.post("/auftraege/<int:outbox_id>/wiederholen")
def retry(outbox_id: int) -> Response:
    """Put a finally failed notification job back into the queue (a second click changes nothing)."""
    if hilfenetz().retry_outbox(_admin(), outbox_id):
        flash(_("Auftrag {id} wird erneut zugestellt.", id=outbox_id), "success")
    else:
        flash(_("Auftrag {id} war bereits wieder eingeplant; nichts geändert.", id=outbox_id), "info")
    return redirect(url_for("operations.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        shows_operations=shows_navigation,
        job_label=job_label,
        outbox_status_label=outbox_status_label,
        duration_label=duration_label,
    )
