"""iCalendar invitations (RFC 5545 with the iTIP methods of RFC 5546) for network meetings and
expert days (P6).

An invitation carries only what any partner may know about a network meeting — title, time,
place and a link to Hilfenetz —, never case data. Each meeting keeps one ``UID`` for its whole
life; a new date is the same event with a higher ``SEQUENCE``, a cancellation is ``METHOD:CANCEL``,
so calendar programs update the entry instead of adding a second one. Times are written with
``TZID=Europe/Berlin`` and the matching ``VTIMEZONE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from engine.mail import Attachment

BERLIN = ZoneInfo("Europe/Berlin")
PRODID = "-//Hilfenetz Kreis Soest//Netzwerktreffen//DE"
METHODS = ("REQUEST", "CANCEL")
FILENAME = "termin.ics"
CONTENT_TYPE = "text/calendar"


@dataclass(frozen=True)
class Termin:
    """One version of a meeting's calendar entry; the outbox row stores it to rebuild the file."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    title: str
    location: str
    method: str
    stamp: datetime

    def as_payload(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "sequence": self.sequence,
            "beginn": self.start.isoformat(),
            "ende": self.end.isoformat(),
            "titel": self.title,
            "ort": self.location,
            "methode": self.method,
            "erstellt": self.stamp.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Termin:
        return cls(
            uid=str(payload["uid"]),
            sequence=int(payload["sequence"]),
            start=datetime.fromisoformat(str(payload["beginn"])),
            end=datetime.fromisoformat(str(payload["ende"])),
            title=str(payload["titel"]),
            location=str(payload["ort"]),
            method=str(payload["methode"]),
            stamp=datetime.fromisoformat(str(payload["erstellt"])),
        )


def calendar_bytes(termin: Termin, organizer: str, link: str) -> bytes:
    """The ``.ics`` file of one invitation (or cancellation)."""
    if termin.method not in METHODS:
        raise ValueError(f"unbekannte iTIP-Methode {termin.method}")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", termin.method)
    event = Event()
    event.add("uid", termin.uid)
    event.add("sequence", termin.sequence)
    event.add("dtstamp", termin.stamp)
    event.add("dtstart", termin.start.astimezone(BERLIN))
    event.add("dtend", termin.end.astimezone(BERLIN))
    event.add("summary", termin.title)
    event.add("location", termin.location)
    event.add("url", link)
    event.add("description", vText(f"Einladung über Hilfenetz: {link}"))
    event.add("status", "CANCELLED" if termin.method == "CANCEL" else "CONFIRMED")
    if organizer:
        address = vCalAddress(f"mailto:{organizer}")
        address.params["cn"] = vText("Netzwerkkoordination Hilfenetz")
        event.add("organizer", address)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def calendar_attachment(termin: Termin, organizer: str, link: str) -> Attachment:
    return Attachment(FILENAME, CONTENT_TYPE, calendar_bytes(termin, organizer, link), termin.method)
