"""The system step ``aktion=abstimmung``: the Steuerungsgruppe votes in the flow (domain.md §5).

Reaching the step opens a ballot linked to the instance and the waiting task; the step waits
until the ballot closes (early or at its deadline) and then continues with the result. Votes
live in their own tables as they are cast, never in process data, so neither an interrupting
timer nor a stale completion condition (design.md §7) can lose one.

Properties of the service task:

``gegenstand``
    the ballot's subject, with ``{variable}`` fields from the process data;
``frist``
    the Frist (processes/fristen.json) from opening to the deadline;
``antragsteller_feld`` (optional)
    the variable holding the applying organisation (its members are excluded);
``geheim_feld`` (optional)
    a variable that is true for a secret ballot;
``unterlagen`` (optional)
    ``variable:Bezeichnung, …`` — the documents the electors see, copied when the ballot opens.

When the ballot closes the step continues with ``abstimmung_ergebnis`` (angenommen, abgelehnt,
nicht_beschlussfaehig), ``abstimmung_id``, ``abstimmung_beschlussfaehig`` and the counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine import voting
from engine.actions import ActionContext, ActionHandler
from engine.errors import ScriptError
from engine.persistence.models import Ballot
from engine.projection import parse_iso_duration
from engine.voting_rules import load_rules

PREFIX = "abstimmung"


def open_ballot_step(ctx: ActionContext) -> dict[str, Any] | None:
    frist = ctx.prop("frist")
    try:
        deadline: datetime = ctx.now + parse_iso_duration(ctx.fristen.value(frist))
    except ValueError:
        raise ScriptError(
            f"Die Frist „{frist}“ des Systemschritts „{ctx.element_id}“ ist keine ISO-Dauer.",
            element=ctx.element_id,
        ) from None
    applying = (
        ctx.value(ctx.properties["antragsteller_feld"]) if "antragsteller_feld" in ctx.properties else None
    )
    secret = bool(ctx.data.get(ctx.properties["geheim_feld"])) if "geheim_feld" in ctx.properties else False
    ballot = voting.open_ballot(
        ctx.session,
        ctx.now,
        subject=ctx.fill(ctx.prop("gegenstand")),
        applying_org=str(applying) if applying else None,
        rules=load_rules(ctx.processes_dir),
        deadline=deadline,
        secret=secret,
        opened_by=None,
        instance_id=ctx.instance_id,
        documents=documents(ctx),
    )
    ballot.task_id = ctx.task_id
    ctx.session.flush()
    if ballot.status != voting.OFFEN:  # decided at once (e.g. nobody eligible)
        return ballot_result(ctx.session, ballot)
    return None


def documents(ctx: ActionContext) -> list[dict[str, str]]:
    """``unterlagen="projekt_titel:Projekt, kosten_gesamt:Kosten"`` → label/value pairs."""
    found = []
    for item in ctx.properties.get("unterlagen", "").split(","):
        if not item.strip():
            continue
        key, _, label = item.partition(":")
        found.append({"label": label.strip() or key.strip(), "value": display(ctx.data.get(key.strip()))})
    return found


def display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, list):
        return ", ".join(display(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {display(v)}" for k, v in value.items())
    return str(value)


def ballot_result(session: Session, ballot: Ballot) -> dict[str, Any]:
    """The variables a closed ballot hands back to its process."""
    counts = voting.counts_of(session, ballot.id)
    prefix = PREFIX
    return {
        f"{prefix}_id": ballot.id,
        f"{prefix}_ergebnis": ballot.outcome,
        f"{prefix}_beschlussfaehig": bool(ballot.quorum_reached),
        f"{prefix}_ja": counts.ja,
        f"{prefix}_nein": counts.nein,
        f"{prefix}_enthaltung": counts.enthaltung,
        f"{prefix}_befangen": counts.befangen,
        f"{prefix}_ausgeschlossen": counts.excluded,
    }


HANDLERS: dict[str, ActionHandler] = {"abstimmung": open_ballot_step}
