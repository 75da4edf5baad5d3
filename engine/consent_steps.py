"""P4: the engine decides whether a case conference may be identified (system step ``fallkonferenz_modus``).

An identified case conference needs either a consent record that is not withdrawn and covers the
case data (``falldaten``) for **every** participating organisation, or a named legal basis chosen
from ``processes/rechtsgrundlagen.json``. Otherwise the conference is switched to anonymous and the
reason is written to ``modus_hinweis`` (shown to the requesting member) and to the audit trail.

The step runs after the coordinators' check (participants: the requesting organisation and the
requested partners) and again after the invitations are chosen (the invited organisations); the
property ``teilnehmer`` names the process variable with the participant list, ``modus`` the one
with the requested mode (``pruefung_ergebnis`` at the check, ``konferenz_modus`` afterwards).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actions import ActionContext, ActionHandler
from engine.consent import chain, covers, org_names
from engine.errors import InvalidDefinitionError
from engine.persistence.models import ConsentRecord
from engine.runtime import audit

LEGAL_BASES_FILE = "rechtsgrundlagen.json"
#: The category an identified case conference hands to the participants.
CONFERENCE_CATEGORIES = ("falldaten",)
IDENTIFIED, ANONYMOUS = "identifiziert", "anonym"


@dataclass(frozen=True)
class LegalBasis:
    id: str
    label: str
    explanation: str
    needs_consent: bool


@lru_cache(maxsize=4)
def _read_legal_bases(path: Path, mtime: float) -> tuple[LegalBasis, ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(
            LegalBasis(
                str(e["id"]),
                str(e["bezeichnung"]),
                str(e["erlaeuterung"]),
                bool(e["einwilligung_erforderlich"]),
            )
            for e in data["rechtsgrundlagen"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidDefinitionError(
            f"{path.name} ist nicht lesbar oder unvollständig ({exc}). Bitte die Datei prüfen."
        ) from exc


def legal_bases(processes_dir: Path) -> tuple[LegalBasis, ...]:
    """The named legal bases the coordinators may choose from (re-read when the file changes)."""
    path = processes_dir / LEGAL_BASES_FILE
    if not path.exists():
        return ()  # without the list no legal basis can be chosen: identified only with consent
    return _read_legal_bases(path, path.stat().st_mtime)


def legal_basis_options(processes_dir: Path) -> list[dict[str, str]]:
    """Form-js select values (``valuesKey: rechtsgrundlage_options``)."""
    return [{"label": b.label, "value": b.id} for b in legal_bases(processes_dir)]


@dataclass(frozen=True)
class Decision:
    mode: str
    basis: str
    note: str
    consent_id: int | None = None


def decide_mode(
    session: Session,
    instance_id: int,
    participants: set[str],
    basis: LegalBasis | None,
    consent_number: int | None,
    holder: str,
) -> Decision:
    """Identified only with a listed legal basis or one consent covering every participant."""
    if basis is not None and not basis.needs_consent:
        return Decision(IDENTIFIED, basis.label, "")
    candidates = _candidate_consents(session, instance_id, consent_number, holder)
    for record in candidates:
        if all(covers(record, org, CONFERENCE_CATEGORIES) for org in participants):
            label = f"Einwilligung Nr. {record.id}" + (f" ({basis.label})" if basis else "")
            return Decision(IDENTIFIED, label, "", record.id)
    return Decision(ANONYMOUS, "", _why_anonymous(session, candidates, participants))


def _candidate_consents(
    session: Session, instance_id: int, consent_number: int | None, holder: str
) -> list[ConsentRecord]:
    """Consents recorded in this case, plus one named by number that the requesting member holds."""
    rows = list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.instance_id.in_(chain(session, instance_id)))
            .order_by(ConsentRecord.id)
        )
    )
    if consent_number is not None:
        named = session.get(ConsentRecord, consent_number)
        if named is not None and holder in (named.given_to_org, named.recorded_by_org) and named not in rows:
            rows.append(named)
    return rows


def _why_anonymous(session: Session, candidates: list[ConsentRecord], participants: set[str]) -> str:
    active = [r for r in candidates if r.withdrawn_at is None]
    if not active:
        reason = (
            "Es liegt keine (nicht widerrufene) Einwilligung vor und keine Rechtsgrundlage wurde gewählt."
        )
    else:
        best = max(active, key=lambda r: sum(covers(r, o, CONFERENCE_CATEGORIES) for o in participants))
        missing = sorted(o for o in participants if not covers(best, o, CONFERENCE_CATEGORIES))
        names = org_names(session)
        reason = (
            f"Die Einwilligung Nr. {best.id} deckt die Falldaten nicht für alle Beteiligten ab "
            f"(nicht abgedeckt: {', '.join(names.get(o, o) for o in missing)})."
        )
    return f"{reason} Die Fallkonferenz wird deshalb anonym durchgeführt."


def _participants(ctx: ActionContext) -> set[str]:
    listed = ctx.data.get(ctx.prop("teilnehmer")) or []
    orgs = {str(o) for o in (listed if isinstance(listed, list) else [listed]) if o}
    return orgs | {str(ctx.value("initiator_org"))}


def _consent_number(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def fallkonferenz_modus(ctx: ActionContext) -> dict[str, Any]:
    """System step: keep, confirm or switch the conference mode; say why when it becomes anonymous."""
    mode_field = ctx.prop("modus")
    if ctx.data.get(mode_field) != IDENTIFIED:
        return {"konferenz_modus": ANONYMOUS, "modus_grundlage": "", "modus_hinweis": ""}
    bases = {b.id: b for b in legal_bases(ctx.processes_dir)}
    basis = bases.get(str(ctx.data.get("rechtsgrundlage") or ""))
    decision = decide_mode(
        ctx.session,
        ctx.instance_id,
        _participants(ctx),
        basis,
        _consent_number(ctx.data.get("einwilligung_nummer")),
        str(ctx.value("initiator_org")),
    )
    audit(
        ctx.session,
        ctx.now,
        ctx.actor,
        "fallkonferenz_modus",
        ctx.instance_id,
        element_id=ctx.element_id,
        detail={"modus": decision.mode, "grundlage": decision.basis, "einwilligung": decision.consent_id},
    )
    result: dict[str, Any] = {
        "konferenz_modus": decision.mode,
        "modus_grundlage": decision.basis,
        "modus_hinweis": decision.note,
        "einwilligung_liegt_vor": decision.consent_id is not None,
    }
    if decision.mode == ANONYMOUS:
        result[mode_field] = ANONYMOUS
    return result


HANDLERS: dict[str, ActionHandler] = {"fallkonferenz_modus": fallkonferenz_modus}
