"""System steps (``aktion``) of the network's upkeep processes: P9 Verzeichnispflege writes the
directory, P11 Vereinbarungsüberprüfung records signatures and the version in force.

P9 (variable ``organisation`` = the reviewed organisation):

``verzeichnis_laden``
    registers the running review (one per organisation) and puts the current entry into the
    data, so the review form opens prefilled; refuses a partner who starts a change notice for
    another organisation;
``verzeichnis_bestaetigen`` / ``verzeichnis_aktualisieren``
    confirm the entry unchanged / write the submitted entry (validated: offers, topics,
    municipalities, contact persons with the office's phone or e-mail, reachability, access
    routes); the review ends;
``verzeichnis_veraltet``
    flags the entry ``veraltet`` (a timer: nobody confirmed it in time);
``verzeichnis_entfernen`` / ``verzeichnis_belassen``
    the Koordination removes the entry / leaves it flagged; the review ends.

P11:

``vereinbarung_partner``
    lists the active partner organisations (``partner``), each asked for proposals;
``vereinbarung_vorschlag``
    stores an organisation's proposal as soon as it is submitted (a table, not process data:
    the proposal deadline interrupts the multi-instance and would drop collected data);
``vereinbarung_vorschlaege_laden``
    puts every stored proposal into ``vorschlaege`` for the draft;
``vereinbarung_unterschriften``
    stores the signatures (``unterschrieben``) and the exceptions (``ausnahmen`` with
    ``ausnahme_begruendung``) and answers ``unterschriften_vollstaendig`` and
    ``fehlende_unterschriften`` (active partners neither signed nor excepted);
``vereinbarung_in_kraft``
    records the version (property ``art``: ``ueberarbeitet`` or ``bestaetigt``) valid from the
    day in the variable named by property ``datum_feld``; its date becomes the "last version".
"""

from __future__ import annotations

from typing import Any

from engine import verzeichnis
from engine.actions import ActionContext, ActionHandler
from engine.errors import InvalidSubmissionError, ScriptError
from engine.vereinbarung import (
    CONFIRMED,
    REVISED,
    active_partners,
    parse_day,
    proposals,
    record_proposal,
    record_signatures,
    record_version,
)


def _organisation(ctx: ActionContext) -> str:
    return str(ctx.value("organisation"))


def load_entry(ctx: ActionContext) -> dict[str, Any]:
    organisation = _organisation(ctx)
    if not verzeichnis.may_edit(ctx.actor, organisation):
        raise InvalidSubmissionError(
            "Sie können eine Änderung nur für den Eintrag Ihrer eigenen Organisation melden.",
            {"organisation": "Bitte wählen Sie Ihre eigene Organisation."},
        )
    verzeichnis.begin_review(ctx.session, ctx.now, organisation, ctx.instance_id)
    values = verzeichnis.entry_values(ctx.session, organisation)
    return {**values, "organisation_name": verzeichnis.organisation_name(ctx.session, organisation)}


def confirm(ctx: ActionContext) -> dict[str, Any]:
    organisation = _organisation(ctx)
    _refuse_changes(ctx, organisation)
    verzeichnis.confirm_entry(ctx.session, ctx.now, ctx.actor, organisation, instance_id=ctx.instance_id)
    verzeichnis.end_review(ctx.session, organisation, ctx.instance_id)
    return {"verzeichnis_status": verzeichnis.AKTUELL}


def _refuse_changes(ctx: ActionContext, organisation: str) -> None:
    """Confirming while the form shows changed values would silently drop them: refuse."""
    current = verzeichnis.entry_values(ctx.session, organisation)
    try:
        submitted = verzeichnis.validate_entry(ctx.data)
    except InvalidSubmissionError:
        submitted = {k: ctx.data.get(k) for k in verzeichnis.ENTRY_KEYS}
    if any(submitted[k] != current[k] for k in verzeichnis.ENTRY_KEYS):
        raise InvalidSubmissionError(
            "Sie haben Angaben geändert: bitte „aktualisiert“ wählen, damit die Änderungen gespeichert "
            "werden.",
            {"ergebnis": "Bei geänderten Angaben „aktualisiert“ wählen."},
        )


def update(ctx: ActionContext) -> dict[str, Any]:
    organisation = _organisation(ctx)
    verzeichnis.save_entry(
        ctx.session, ctx.now, ctx.actor, organisation, ctx.data, instance_id=ctx.instance_id
    )
    verzeichnis.end_review(ctx.session, organisation, ctx.instance_id)
    return {"verzeichnis_status": verzeichnis.AKTUELL}


def mark_stale(ctx: ActionContext) -> dict[str, Any]:
    organisation = _organisation(ctx)
    entry = verzeichnis.set_status(
        ctx.session, ctx.now, ctx.actor, organisation, verzeichnis.VERALTET, instance_id=ctx.instance_id
    )
    return {"verzeichnis_status": entry.status if entry else "kein_eintrag"}


def remove(ctx: ActionContext) -> dict[str, Any]:
    organisation = _organisation(ctx)
    verzeichnis.set_status(
        ctx.session, ctx.now, ctx.actor, organisation, verzeichnis.ENTFERNT, instance_id=ctx.instance_id
    )
    verzeichnis.end_review(ctx.session, organisation, ctx.instance_id)
    return {"verzeichnis_status": verzeichnis.ENTFERNT}


def keep_stale(ctx: ActionContext) -> dict[str, Any]:
    verzeichnis.end_review(ctx.session, _organisation(ctx), ctx.instance_id)
    return {}


def _slugs(ctx: ActionContext, key: str) -> list[str]:
    value = ctx.data.get(key) or []
    if not isinstance(value, list):
        raise InvalidSubmissionError("Bitte Organisationen aus der Liste wählen.", {key: "keine Liste"})
    return [str(v) for v in value]


def partners(ctx: ActionContext) -> dict[str, Any]:
    return {"partner": active_partners(ctx.session)}


def proposal(ctx: ActionContext) -> dict[str, Any]:
    if ctx.data.get("vorschlag_art") == "vorschlag":
        text = str(ctx.data.get("vorschlag") or "")
        record_proposal(ctx.session, ctx.now, ctx.actor, ctx.instance_id, _organisation(ctx), text)
    return {}


def collected_proposals(ctx: ActionContext) -> dict[str, Any]:
    return {"vorschlaege": proposals(ctx.session, ctx.instance_id)}


def signatures(ctx: ActionContext) -> dict[str, Any]:
    missing = record_signatures(
        ctx.session,
        ctx.now,
        ctx.actor,
        ctx.instance_id,
        _slugs(ctx, "unterschrieben"),
        _slugs(ctx, "ausnahmen"),
        str(ctx.data.get("ausnahme_begruendung") or ""),
    )
    return {"unterschriften_vollstaendig": not missing, "fehlende_unterschriften": missing}


def in_force(ctx: ActionContext) -> dict[str, Any]:
    kind = ctx.prop("art")
    if kind not in (REVISED, CONFIRMED):
        raise ScriptError(
            f"Die Eigenschaft „art“ von „{ctx.element_id}“ muss „{REVISED}“ oder „{CONFIRMED}“ sein.",
            element=ctx.element_id,
        )
    day = parse_day(ctx.value(ctx.prop("datum_feld")), "Gültig ab")
    summary = str(ctx.data.get("beschluss_zusammenfassung") or "")
    record_version(ctx.session, ctx.now, ctx.actor, kind, day, summary, ctx.instance_id)
    return {"fassung_gueltig_ab": day.isoformat()}


HANDLERS: dict[str, ActionHandler] = {
    "verzeichnis_laden": load_entry,
    "verzeichnis_bestaetigen": confirm,
    "verzeichnis_aktualisieren": update,
    "verzeichnis_veraltet": mark_stale,
    "verzeichnis_entfernen": remove,
    "verzeichnis_belassen": keep_stale,
    "vereinbarung_partner": partners,
    "vereinbarung_vorschlag": proposal,
    "vereinbarung_vorschlaege_laden": collected_proposals,
    "vereinbarung_unterschriften": signatures,
    "vereinbarung_in_kraft": in_force,
}
