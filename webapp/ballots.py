"""Abstimmungen der Steuerungsgruppe: list, opening form (Koordination), ballot page and vote, minutes."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine.errors import InvalidSubmissionError
from engine.read_models import Actor, BallotMinutes, ElectorView
from webapp.absences import parse_local
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("ballots", __name__, url_prefix="/abstimmungen")

#: Roles that see the ballot list and the navigation link (members of an electorate see their own ballots).
NAV_ROLES = ("Steuerungsgruppe", "Koordination")
LIST_ROLES = ("Steuerungsgruppe", "Koordination", "Administration")
OPENER_ROLE = "Koordination"
CHOICES = (
    ("ja", "Ja"),
    ("nein", "Nein"),
    ("enthaltung", "Enthaltung"),
    ("befangen", "Befangenheit erklären"),
)
TALLY_LABELS = {"ja": "Ja", "nein": "Nein", "enthaltung": "Enthaltung", "befangen": "Befangen"}
STATUS = {"offen": "offen", "geschlossen": "geschlossen"}
CLOSED_HOW = {"vorzeitig": "vorzeitig, das Ergebnis stand fest", "frist": "mit Ablauf der Frist"}
SUBJECT_ERROR = "Bitte geben Sie den Gegenstand der Abstimmung an."
DEADLINE_ERROR = "Bitte geben Sie Datum und Uhrzeit der Frist an, z. B. 01.12.2026 und 18:00."
CHOICE_ERROR = "Bitte wählen Sie Ja, Nein, Enthaltung oder Befangenheit erklären."


def shows_navigation(actor: Actor) -> bool:
    """The "Abstimmungen" link is for the steering group and the coordinators."""
    return any(actor.has_role(r) for r in NAV_ROLES)


def pending_seats(minutes: BallotMinutes, actor: Actor) -> list[ElectorView]:
    """Seats this user still votes for in an open ballot (own seat or as Vertretung)."""
    if minutes.status != "offen":
        return []
    return [e for e in minutes.electorate if e.voter == actor.username and not e.voted]


@bp.get("")
def index() -> str:
    """Ballots I may see, open ones first, with whether I still have to vote."""
    actor = current_actor()
    ballots = hilfenetz().ballots(actor)
    if not ballots and not any(actor.has_role(r) for r in LIST_ROLES):
        abort(403)
    return render_template(
        "ballots/index.html", ballots=ballots, may_open=actor.has_role(OPENER_ROLE), status_labels=STATUS
    )


def _require_opener() -> None:
    if not current_actor().has_role(OPENER_ROLE):
        abort(403)


def _new_page(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    html = render_template(
        "ballots/new.html",
        rules=hilfenetz().voting_rules(),
        organisations=hilfenetz().ballot_organisations(),
        errors=errors or {},
        form=request.form if errors else {},
    )
    return html, status


def _parsed_opening(form: MultiDict[str, str]) -> tuple[datetime | None, dict[str, str]]:
    errors: dict[str, str] = {}
    if not form.get("subject", "").strip():
        errors["subject"] = _(SUBJECT_ERROR)
    deadline = None
    try:
        deadline = parse_local(f"{form.get('deadline_date', '')}T{form.get('deadline_time', '')}")
    except ValueError:
        errors["deadline_date"] = _(DEADLINE_ERROR)
    return deadline, errors


@bp.get("/neu")
def new() -> tuple[str, int]:
    """The form to open a ballot (Koordination only)."""
    _require_opener()
    return _new_page()


@bp.post("/neu")
def create() -> Response | tuple[str, int]:
    """Open a ballot with the configured rules; the electorate is fixed now."""
    _require_opener()
    deadline, errors = _parsed_opening(request.form)
    if errors or deadline is None:
        return _new_page(errors, 422)
    try:
        ballot_id = hilfenetz().open_ballot(
            request.form["subject"],
            request.form.get("applying_org") or None,
            None,
            deadline,
            request.form.get("secret") == "ja",
            current_actor(),
        )
    except InvalidSubmissionError as exc:
        fields = {("deadline_date" if k == "deadline" else k): _(v) for k, v in exc.field_errors.items()}
        return _new_page(fields or {"": _(exc.message)}, 422)
    flash(_("Die Abstimmung wurde eröffnet."), "success")
    return redirect(url_for("ballots.show", ballot_id=ballot_id))


def may_open_instance(minutes: BallotMinutes, actor: Actor) -> bool:
    """Whether the "Zum Vorgang #N" link is shown: only to users who may view that instance."""
    return minutes.instance_id is not None and hilfenetz().may_view_instance(actor, minutes.instance_id)


def _show_page(ballot_id: int, errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    minutes = hilfenetz().ballot_minutes(actor, ballot_id)
    html = render_template(
        "ballots/show.html",
        m=minutes,
        instance_link=may_open_instance(minutes, actor),
        seats=pending_seats(minutes, actor),
        choices=CHOICES,
        tally_labels=TALLY_LABELS,
        status_labels=STATUS,
        closed_how=CLOSED_HOW,
        errors=errors or {},
    )
    return html, status


@bp.get("/<int:ballot_id>")
def show(ballot_id: int) -> tuple[str, int]:
    """The ballot: rules, electorate, running tally (not for secret ones), my vote form, the outcome."""
    return _show_page(ballot_id)


@bp.post("/<int:ballot_id>/stimme")
def vote(ballot_id: int) -> Response | tuple[str, int]:
    """Cast my vote (or the one of the member I stand in for); a second vote answers 409."""
    choice = request.form.get("choice", "")
    if choice not in dict(CHOICES):
        return _show_page(ballot_id, {"choice": _(CHOICE_ERROR)}, 422)
    hilfenetz().cast_vote(current_actor(), ballot_id, choice, member=request.form.get("member") or None)
    flash(_("Ihre Stimme wurde gespeichert."), "success")
    return redirect(url_for("ballots.show", ballot_id=ballot_id))


@bp.get("/<int:ballot_id>/protokoll")
def minutes(ballot_id: int) -> str:
    """Printable minutes (the print stylesheet hides navigation)."""
    actor = current_actor()
    m = hilfenetz().ballot_minutes(actor, ballot_id, document="protokoll")
    return render_template(
        "ballots/minutes.html",
        m=m,
        instance_link=may_open_instance(m, actor),
        tally_labels=TALLY_LABELS,
        status_labels=STATUS,
        closed_how=CLOSED_HOW,
    )


@bp.get("/<int:ballot_id>/protokoll.md")
def minutes_text(ballot_id: int) -> Response:
    """The engine's German Markdown minutes as a download."""
    text = hilfenetz().ballot_minutes_text(current_actor(), ballot_id)
    response = Response(text, mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="abstimmung-{ballot_id}-protokoll.md"'
    return response


@bp.get("/<int:ballot_id>/protokoll.pdf")
def minutes_pdf(ballot_id: int) -> Response:
    """The minutes as a PDF download (same content as the Markdown, plus the documents)."""
    pdf = hilfenetz().ballot_minutes_pdf(current_actor(), ballot_id)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="abstimmung-{ballot_id}-protokoll.pdf"'
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(shows_ballots=shows_navigation)
