"""P6 Netzwerktreffen und Fachtag: the system steps of the process and the yearly check.

System steps (``serviceTask`` with ``camunda:property aktion``, see engine/actions.py):

``einladung_versenden``
    checks the date the Koordination entered (an end after the beginning; the meeting at least
    the Frist ``netzwerktreffen.einladungsvorlauf`` after today, so the invitation keeps its lead
    time), records the meeting in ``network_meeting`` (one ``UID`` for the meeting's life, a new
    date raises the ``SEQUENCE``) and writes one outbox row ``termin_einladung`` that carries the
    calendar entry, so the delivery can rebuild the ``.ics`` file. A wrong date refuses the whole
    step with a German message; nothing is saved.
``netzwerktreffen_status``
    property ``status`` = ``durchgefuehrt`` or ``abgesagt``; a cancelled meeting sends a
    ``METHOD:CANCEL`` to the invited organisations so their calendars drop the entry.

The yearly check (:func:`warn_second_meeting`) runs in the job runner: from the configured day
(``netzwerktreffen.zweites_bis``, ``MM-TT``, Europe/Berlin) it warns the Koordination once per
year if fewer than two Netzwerktreffen (planned or held, not cancelled) fall into the year.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.actions import ActionContext, ActionHandler
from engine.errors import InvalidSubmissionError, ScriptError
from engine.meeting_calendar import Termin
from engine.parameters import Fristen
from engine.persistence.models import NetworkMeeting, NetworkMeetingWarning, Outbox, ProcessInstance
from engine.projection import parse_iso_duration
from engine.read_models import MeetingView
from engine.runtime import audit

BERLIN = ZoneInfo("Europe/Berlin")
LEAD_TIME = "netzwerktreffen.einladungsvorlauf"
SECOND_MEETING_BY = "netzwerktreffen.zweites_bis"
INVITATION_KIND = "termin_einladung"
WARNING_KIND = "netzwerktreffen_warnung"
KINDS = ("netzwerktreffen", "fachtag")
COUNTED = ("geplant", "durchgefuehrt")
STATUSES = ("durchgefuehrt", "abgesagt")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


def _when(ctx: ActionContext, key: str) -> datetime:
    raw = ctx.value(key)
    try:
        value = datetime.fromisoformat(str(raw))
    except ValueError:
        raise InvalidSubmissionError(
            "Bitte prüfen Sie den Termin.", {key: "Bitte geben Sie Datum und Uhrzeit an."}
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=BERLIN)
    return value


def _berlin_day(moment: datetime) -> str:
    return moment.astimezone(BERLIN).strftime("%d.%m.%Y")


def check_date(ctx: ActionContext) -> tuple[datetime, datetime]:
    """Beginning and end of the meeting, or InvalidSubmissionError naming the field."""
    start, end = _when(ctx, "termin_beginn"), _when(ctx, "termin_ende")
    earliest = ctx.now + parse_iso_duration(ctx.fristen.value(LEAD_TIME))
    errors = {}
    if start < earliest:
        errors["termin_beginn"] = (
            "Die Einladung braucht ihren Vorlauf: der Termin kann frühestens am "
            f"{_berlin_day(earliest)} liegen."
        )
    if end <= start:
        errors["termin_ende"] = "Das Ende muss nach dem Beginn liegen."
    elif end - start > timedelta(hours=24):
        errors["termin_ende"] = "Ein Treffen dauert höchstens einen Tag; bitte prüfen Sie das Ende."
    if errors:
        raise InvalidSubmissionError("Bitte prüfen Sie den Termin.", errors)
    return start, end


def send_invitation(ctx: ActionContext) -> dict[str, Any]:
    """``aktion=einladung_versenden``: record the meeting and queue the invitations with ``.ics``."""
    start, end = check_date(ctx)
    kind = str(ctx.value("art"))
    if kind not in KINDS:
        raise ScriptError(f"Unbekannte Art des Treffens „{kind}“.", element=ctx.element_id)
    organisations = sorted({str(o) for o in ctx.value("eingeladene_organisationen")})
    meeting = meeting_of_instance(ctx.session, ctx.instance_id)
    if meeting is None:
        meeting = NetworkMeeting(
            instance_id=ctx.instance_id,
            uid=f"{uuid.uuid4()}@hilfenetz.invalid",
            sequence=0,
        )
        ctx.session.add(meeting)
    else:
        meeting.sequence += 1
    meeting.kind, meeting.title = kind, str(ctx.value("titel"))[:200]
    meeting.location = str(ctx.value("ort"))[:200]
    meeting.starts_at, meeting.ends_at = start, end
    meeting.status, meeting.organisations, meeting.updated_at = "geplant", organisations, ctx.now
    ctx.session.flush()
    _queue(ctx.session, ctx.now, meeting, "REQUEST")
    audit(
        ctx.session,
        ctx.now,
        ctx.actor,
        "einladung_versendet",
        ctx.instance_id,
        element_id=ctx.element_id,
        detail={
            "termin": start.isoformat(),
            "organisationen": len(organisations),
            "sequenz": meeting.sequence,
        },
    )
    return {"termin_uid": meeting.uid, "termin_sequenz": meeting.sequence}


def set_status(ctx: ActionContext) -> dict[str, Any]:
    """``aktion=netzwerktreffen_status``: held, or cancelled (the calendars drop the entry)."""
    status = ctx.prop("status")
    if status not in STATUSES:
        raise ScriptError(f"Unbekannter Status „{status}“ im Systemschritt.", element=ctx.element_id)
    meeting = meeting_of_instance(ctx.session, ctx.instance_id)
    if meeting is None:
        return {"termin_status": status}
    meeting.status, meeting.updated_at = status, ctx.now
    if status == "abgesagt":
        meeting.sequence += 1
        _queue(ctx.session, ctx.now, meeting, "CANCEL")
    ctx.session.flush()
    return {"termin_status": status}


def meeting_of_instance(session: Session, instance_id: int) -> NetworkMeeting | None:
    return session.scalars(
        select(NetworkMeeting).where(NetworkMeeting.instance_id == instance_id)
    ).one_or_none()


def meeting_view(meeting: NetworkMeeting) -> MeetingView:
    return MeetingView(
        meeting.instance_id,
        meeting.kind,
        meeting.title,
        meeting.location,
        meeting.starts_at,
        meeting.ends_at,
        meeting.status,
    )


def termin_of(meeting: NetworkMeeting, method: str, stamp: datetime) -> Termin:
    return Termin(
        uid=meeting.uid,
        sequence=meeting.sequence,
        start=meeting.starts_at,
        end=meeting.ends_at,
        title=meeting.title,
        location=meeting.location,
        method=method,
        stamp=stamp,
    )


def _queue(session: Session, now: datetime, meeting: NetworkMeeting, method: str) -> None:
    session.add(
        Outbox(
            created_at=now,
            kind=INVITATION_KIND,
            status="pending",
            attempts=0,
            payload={
                "instance_id": meeting.instance_id,
                "art": meeting.kind,
                "organisationen": list(meeting.organisations),
                "termin": termin_of(meeting, method, now).as_payload(),
            },
        )
    )


def second_meeting_day(fristen: Fristen, year: int) -> date:
    """The configured day (``MM-TT``) by which the year's second Netzwerktreffen must have a date."""
    value = fristen.value(SECOND_MEETING_BY).strip()
    match = _MONTH_DAY.match(value)
    try:
        if match is None:
            raise ValueError(value)
        return date(year, int(match.group(1)), int(match.group(2)))
    except ValueError:
        raise ScriptError(
            f"„{SECOND_MEETING_BY}“ muss ein Tag im Format MM-TT sein (z. B. 09-30), nicht „{value}“."
        ) from None


def meetings_in_year(session: Session, year: int) -> int:
    """Netzwerktreffen (not Fachtage) planned or held with a date in ``year`` (Europe/Berlin)."""
    start = datetime(year, 1, 1, tzinfo=BERLIN)
    end = datetime(year + 1, 1, 1, tzinfo=BERLIN)
    return int(
        session.scalar(
            select(func.count())
            .select_from(NetworkMeeting)
            .join(ProcessInstance, ProcessInstance.id == NetworkMeeting.instance_id)
            .where(
                NetworkMeeting.kind == "netzwerktreffen",
                NetworkMeeting.status.in_(COUNTED),
                NetworkMeeting.starts_at >= start,
                NetworkMeeting.starts_at < end,
                ProcessInstance.status.in_(("running", "completed")),
            )
        )
        or 0
    )


def warn_second_meeting(session: Session, now: datetime, fristen: Fristen) -> int:
    """From the configured day on: warn the Koordination (outbox) once per year when fewer than two
    Netzwerktreffen of the year have a date. Returns 1 when this call wrote the warning."""
    local = now.astimezone(BERLIN)
    if local.date() < second_meeting_day(fristen, local.year):
        return 0
    if session.get(NetworkMeetingWarning, local.year) is not None:
        return 0
    count = meetings_in_year(session, local.year)
    if count >= 2:
        return 0
    try:
        with session.begin_nested():
            session.add(NetworkMeetingWarning(year=local.year, created_at=now, meetings=count))
    except IntegrityError:  # another runner warned first
        return 0
    session.add(
        Outbox(
            created_at=now,
            kind=WARNING_KIND,
            status="pending",
            attempts=0,
            payload={"jahr": local.year, "anzahl": count},
        )
    )
    audit(session, now, None, "netzwerktreffen_warnung", None, detail={"jahr": local.year, "anzahl": count})
    return 1


HANDLERS: dict[str, ActionHandler] = {
    "einladung_versenden": send_invitation,
    "netzwerktreffen_status": set_status,
}
