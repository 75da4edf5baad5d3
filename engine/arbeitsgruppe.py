"""P8 Arbeitsgruppe: the system step that checks an end date and fixes the moment it takes effect.

``aktion=arbeitsgruppe_enddatum`` with the property ``feld`` (the date field of the form that led
here: ``enddatum`` at the mandate, ``neues_enddatum`` at an extension). A date that is not after
today (Europe/Berlin) refuses the whole step with a German message on that field, so nothing is
saved and the form can be corrected. Otherwise the step returns ``enddatum`` and
``ende_zeitpunkt`` — 9:00 Berlin time on that day, with its offset, for the end-date timer.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from engine.actions import ActionContext, ActionHandler
from engine.errors import InvalidSubmissionError

BERLIN = ZoneInfo("Europe/Berlin")
TAKES_EFFECT = time(9, 0)
MESSAGE = "Bitte prüfen Sie das Enddatum."


def check_end_date(ctx: ActionContext) -> dict[str, Any]:
    field = ctx.prop("feld")
    raw = ctx.data.get(field)
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        raise InvalidSubmissionError(MESSAGE, {field: "Bitte geben Sie ein Datum an (TT.MM.JJJJ)."}) from None
    today = ctx.now.astimezone(BERLIN).date()
    if day <= today:
        raise InvalidSubmissionError(
            MESSAGE, {field: f"Das Enddatum muss nach dem heutigen Tag ({today:%d.%m.%Y}) liegen."}
        )
    moment = datetime.combine(day, TAKES_EFFECT, tzinfo=BERLIN)
    return {"enddatum": day.isoformat(), "ende_zeitpunkt": moment.isoformat()}


HANDLERS: dict[str, ActionHandler] = {"arbeitsgruppe_enddatum": check_end_date}
