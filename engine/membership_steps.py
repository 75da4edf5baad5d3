"""System steps (``aktion``) of P7 Steuerungsgruppe and P12 Partnerschaft (engine/actions.py).

=============================  ==================================================================
aktion                         what it does
=============================  ==================================================================
``nominierung_erfassen``       stores one partner's nomination as it is given (audit trail), so an
                               interrupting deadline on the nomination round loses none
``nominierungen_einsammeln``   reads every nomination of the instance back: ``nominierte``
``steuerungsgruppe_ausscheiden``  member ``ausscheidend`` leaves (``anlass``), tasks to ``nachfolge``
``steuerungsgruppe_konstituieren``  ``mitglieder`` + ``koordination_gewaehlt``; refused outside the limits
``steuerungsgruppe_vakanz``    vacancy alert to the coordinators
``partner_aufnehmen``          creates organisation and first accounts (``kurzname``, ``name`` …)
``partner_austritt``           reassigns every open task of ``organisation``, disables its accounts
=============================  ==================================================================
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine import network_membership as nm
from engine import partners
from engine.actions import ActionContext, ActionHandler
from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.persistence.models import AuditEvent
from engine.runtime import audit

NOMINATION = "steuerungsgruppe_nominierung"


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str) and v.strip()]
    return []


def record_nomination(ctx: ActionContext) -> dict[str, Any]:
    nominees = _names(ctx.data.get("nominierte_personen"))
    audit(
        ctx.session,
        ctx.now,
        ctx.actor,
        NOMINATION,
        ctx.instance_id,
        task_id=ctx.task_id,
        element_id=ctx.element_id,
        detail={"organisation": str(ctx.value("nominierende_organisation")), "nominierte": nominees},
    )
    return {}


def collect_nominations(ctx: ActionContext) -> dict[str, Any]:
    rows = ctx.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id == ctx.instance_id, AuditEvent.action == NOMINATION)
        .order_by(AuditEvent.id)
    ).all()
    nominees: list[str] = []
    lines = []
    for row in rows:
        names = _names((row.detail or {}).get("nominierte"))
        nominees.extend(n for n in names if n not in nominees)
        lines.append(f"{(row.detail or {}).get('organisation')}: {', '.join(names) or 'keine Nominierung'}")
    return {
        "nominierte": nominees,
        "nominierungen_uebersicht": "\n".join(lines) or "Es sind keine Nominierungen eingegangen.",
        "nominierungen_anzahl": len(nominees),
    }


def member_leaves(ctx: ActionContext) -> dict[str, Any]:
    leaving = str(ctx.value("ausscheidend"))
    if ctx.actor is not None and ctx.actor.username != leaving and not ctx.actor.has_role(nm.COORDINATION):
        raise NotPermittedError(
            "Den Rücktritt erklärt das Mitglied selbst; "
            "für ein anderes Mitglied trägt ihn die Koordination ein."
        )
    limits = nm.load_limits(ctx.processes_dir)
    successor = ctx.data.get("nachfolge") or None
    return nm.remove_member(
        ctx.session,
        ctx.now,
        ctx.actor,
        leaving,
        str(ctx.data.get("anlass", "")),
        limits,
        successor=str(successor) if successor else None,
        instance_id=ctx.instance_id,
    )


def constitute(ctx: ActionContext) -> dict[str, Any]:
    limits = nm.load_limits(ctx.processes_dir)
    result = nm.constitute_steering_group(
        ctx.session,
        ctx.now,
        ctx.actor,
        _names(ctx.value("mitglieder")),
        _names(ctx.value("koordination_gewaehlt")),
        limits,
        instance_id=ctx.instance_id,
    )
    return {"konstituiert": True, "uebergebene_aufgaben": result["uebergebene_aufgaben"]}


def vacancy(ctx: ActionContext) -> dict[str, Any]:
    limits = nm.load_limits(ctx.processes_dir)
    size = len(nm.steering_group(ctx.session))
    told = nm.vacancy_alert(ctx.session, ctx.now, ctx.actor, size, limits, instance_id=ctx.instance_id)
    return {"vakanz_gemeldet": True, "vakanz_benachrichtigt": told}


def admit_partner(ctx: ActionContext) -> dict[str, Any]:
    accounts = ctx.value("erste_konten")
    if not isinstance(accounts, list):
        raise InvalidSubmissionError("Bitte die ersten Konten angeben.", {"erste_konten": "Fehlt."})
    result = partners.create_organisation(
        ctx.session,
        ctx.now,
        ctx.actor,
        str(ctx.value("kurzname")),
        str(ctx.value("organisation_name")),
        bool(ctx.data.get("ehrenamtlich")),
        accounts,
        instance_id=ctx.instance_id,
    )
    return {"aufgenommen": True, "verzeichnis": result["verzeichnis"]}


def partner_leaves(ctx: ActionContext) -> dict[str, Any]:
    limits = nm.load_limits(ctx.processes_dir)
    successor = ctx.data.get("nachfolge_organisation") or None
    result = partners.organisation_leaves(
        ctx.session,
        ctx.now,
        ctx.actor,
        str(ctx.value("austretende_organisation")),
        str(successor) if successor else None,
        limits,
        instance_id=ctx.instance_id,
    )
    return {
        "uebergebene_aufgaben": result["uebergebene_aufgaben"],
        "deaktivierte_konten": result["deaktivierte_konten"],
        "steuerungsgruppe_vakanz": result["steuerungsgruppe_vakanz"],
        "verzeichnis": result["verzeichnis"],
    }


HANDLERS: dict[str, ActionHandler] = {
    "nominierung_erfassen": record_nomination,
    "nominierungen_einsammeln": collect_nominations,
    "steuerungsgruppe_ausscheiden": member_leaves,
    "steuerungsgruppe_konstituieren": constitute,
    "steuerungsgruppe_vakanz": vacancy,
    "partner_aufnehmen": admit_partner,
    "partner_austritt": partner_leaves,
}
