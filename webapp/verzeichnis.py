"""Netzwerkverzeichnis: every partner searches it; the own organisation or the Koordination edit an
entry; the Koordination removes entries and starts the review (P9) for all organisations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine.errors import InvalidSubmissionError
from engine.verzeichnis import (
    GEMEINDEN,
    KOORDINATION,
    KREISWEIT,
    MAX_CONTACTS,
    STATUS_LABELS,
    THEMEN,
    ZUGANGSWEGE,
    DirectoryQuery,
)
from webapp.facade import current_actor, hilfenetz
from webapp.i18n import _

bp = Blueprint("directory", __name__, url_prefix="/verzeichnis")

#: The review rounds the Koordination starts (the engine refuses any other value).
ROUNDS = (("netzwerktreffen", "vor dem nächsten Netzwerktreffen"), ("jaehrlich", "jährliche Überprüfung"))
CONTACT_FIELDS = ("funktion", "name", "telefon", "email")


@bp.get("")
def index() -> str:
    """Search the directory: words over name, offers, topics and access routes; municipality, topic."""
    actor = current_actor()
    query = DirectoryQuery(
        text=request.args.get("q", "").strip()[:200],
        gemeinde=request.args.get("gemeinde", ""),
        thema=request.args.get("thema", ""),
        include_removed=request.args.get("entfernte") == "ja",
    )
    coordinator = actor.has_role(KOORDINATION)
    entries = hilfenetz().directory(actor, query)
    return render_template(
        "verzeichnis/index.html",
        entries=entries,
        own_missing=hilfenetz().directory_entry_missing(actor),
        query=query,
        searched=bool(request.args),
        coordinator=coordinator,
        agreement=hilfenetz().agreement_status() if coordinator else None,
        **_choices(),
    )


def _choices() -> dict[str, Any]:
    return {
        "themen": THEMEN,
        "zugangswege": ZUGANGSWEGE,
        "gemeinden": (KREISWEIT, *GEMEINDEN),
        "status_labels": STATUS_LABELS,
        "rounds": ROUNDS,
    }


@bp.get("/<organisation>")
def show(organisation: str) -> str:
    """One entry (e.g. as the link target from a search result)."""
    entry = hilfenetz().directory_entry(current_actor(), organisation)
    return render_template("verzeichnis/show.html", entry=entry, **_choices())


def _edit_page(
    organisation: str, values: dict[str, Any], errors: dict[str, str], status: int
) -> tuple[str, int]:
    name = hilfenetz().directory_organisation_name(organisation)
    contacts = list(values.get("kontakte") or [])
    contacts += [dict.fromkeys(CONTACT_FIELDS, "")] * max(0, MAX_CONTACTS // 2 - len(contacts))
    html = render_template(
        "verzeichnis/edit.html",
        organisation=organisation,
        name=name,
        is_new=values.get("verzeichnis_status") == "neu",
        values=values,
        contacts=contacts,
        errors=errors,
        **_choices(),
    )
    return html, status


@bp.get("/<organisation>/bearbeiten")
def edit(organisation: str) -> tuple[str, int]:
    """The edit form, prefilled (only the organisation's Leitung/Fachkraft or the Koordination)."""
    values = hilfenetz().directory_entry_values(current_actor(), organisation)
    return _edit_page(organisation, values, {}, 200)


def submitted_entry(form: MultiDict[str, str]) -> dict[str, Any]:
    """The edit form's fields as entry values; empty contact rows are dropped."""
    contacts = []
    for number in range(MAX_CONTACTS):
        row = {f: form.get(f"kontakt-{number}-{f}", "").strip() for f in CONTACT_FIELDS}
        if any(row.values()):
            contacts.append(row)
    return {
        "angebote": form.get("angebote", ""),
        "themen": form.getlist("themen"),
        "gemeinden": form.getlist("gemeinden"),
        "kontakte": contacts,
        "erreichbarkeit": form.get("erreichbarkeit", ""),
        "zugangswege": form.getlist("zugangswege"),
        "sprachen": form.get("sprachen", ""),
    }


@bp.post("/<organisation>/bearbeiten")
def save(organisation: str) -> Response | tuple[str, int]:
    """Save the entry (validated in the engine; a refused entry keeps what was typed)."""
    values = submitted_entry(request.form)
    try:
        hilfenetz().save_directory_entry(current_actor(), organisation, values)
    except InvalidSubmissionError as exc:
        return _edit_page(organisation, values, {k: _(v) for k, v in exc.field_errors.items()}, 422)
    flash(_("Der Verzeichniseintrag wurde gespeichert und als aktuell bestätigt."), "success")
    return redirect(url_for("directory.show", organisation=organisation))


@bp.post("/<organisation>/entfernen")
def remove(organisation: str) -> Response:
    """The Koordination removes an entry (e.g. when the partner has left the network)."""
    hilfenetz().remove_directory_entry(current_actor(), organisation)
    flash(_("Der Eintrag wurde aus dem Verzeichnis entfernt."), "success")
    return redirect(url_for("directory.index"))


@bp.post("/ueberpruefung")
def start_reviews() -> Response:
    """The Koordination starts the review (P9) for every active organisation without a running one."""
    try:
        started = hilfenetz().start_directory_reviews(current_actor(), request.form.get("anlass", ""))
    except InvalidSubmissionError as exc:
        flash(_(exc.message), "error")
        return redirect(url_for("directory.index"))
    flash(_("Überprüfung gestartet für {count} Organisationen.", count=len(started)), "success")
    return redirect(url_for("directory.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
