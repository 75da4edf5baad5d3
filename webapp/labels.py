"""German labels (translated through ``_``) for engine codes: instance status, history actions, messages."""

from __future__ import annotations

from flask import Flask

from engine.read_models import HistoryEntry
from webapp.i18n import _

STATUS = {"running": "laufend", "completed": "abgeschlossen", "stuck": "hängt fest", "error": "Fehler"}
ACTIONS = {
    "instance_started": "Vorgang gestartet",
    "task_completed": "Aufgabe erledigt: {task}",
    "task_claimed": "übernommen",
    "task_released": "zurückgegeben",
    "task_reassigned": "neu zugewiesen an {to}",
    "draft_saved": "Entwurf gespeichert",
    "timer_fired": "Frist abgelaufen",
    "message_received": "Nachricht: {message}",
    "instance_completed": "Vorgang abgeschlossen",
    "instance_stuck": "Vorgang hängt fest",
    "instance_error": "Fehler im Vorgang",
    "instance_started_by_message": "Gestartet durch Meldung aus Vorgang #{von_vorgang}",
    "message_sent": "Meldung an Vorgang #{an_vorgang} gesendet",
    "routing_fallback": "Zuständigkeit unbekannt, an die Koordination: {task}",
    "task_reminder_sent": "Erinnerung an die Frist gesendet: {task}",
    "task_escalated": "Frist überschritten, an die Leitung gemeldet: {task}",
    "kontaktdaten_erfasst": "Kontaktdaten mit Einwilligung erfasst",
    "kontaktdaten_gelesen": "Kontaktdaten eingesehen",
    "kontaktdaten_geloescht": "Kontaktdaten gelöscht (Aufbewahrungsfrist abgelaufen)",
    "system_step": "Systemschritt: {task}",
    "system_step_resumed": "Systemschritt abgeschlossen: {task}",
    "abstimmung_eroeffnet": "Abstimmung der Steuerungsgruppe eröffnet",
    "abstimmung_geschlossen": "Abstimmung der Steuerungsgruppe beendet",
    "stimme_abgegeben": "Stimme abgegeben",
    "abstimmung_erinnerung": "Stimmberechtigte ohne Stimme an die Frist der Abstimmung erinnert",
    "einladung_versendet": "Einladung mit Kalenderdatei versendet",
    "task_handed_over": "Aufgabe übergeben an {an}: {task}",
    "steuerungsgruppe_nominierung": "Nominierung abgegeben",
    "steuerungsgruppe_konstituiert": "Steuerungsgruppe konstituiert",
    "steuerungsgruppe_ausgeschieden": "Mitglied aus der Steuerungsgruppe ausgeschieden",
    "steuerungsgruppe_vakanz": "Vakanz in der Steuerungsgruppe gemeldet",
    "organisation_aufgenommen": "Partner aufgenommen",
    "organisation_ausgetreten": "Partner ausgetreten",
    # P9 Netzwerkverzeichnis, P11 Kooperationsvereinbarung
    "verzeichnis_bestaetigt": "Verzeichniseintrag bestätigt",
    "verzeichnis_aktualisiert": "Verzeichniseintrag aktualisiert",
    "verzeichnis_veraltet": "Verzeichniseintrag als veraltet gekennzeichnet",
    "verzeichnis_entfernt": "Verzeichniseintrag entfernt",
    "vereinbarung_vorschlag": "Änderungsvorschlag zur Kooperationsvereinbarung eingereicht",
    "vereinbarung_unterschriften": "Unterschriften zur Kooperationsvereinbarung erfasst",
    "vereinbarung_ueberarbeitet": "Neue Fassung der Kooperationsvereinbarung in Kraft",
    "vereinbarung_bestaetigt": "Fortgeltung der Kooperationsvereinbarung festgehalten",
    # Einwilligungen (the access entries are hidden from the history, see engine/service.py)
    "fallkonferenz_modus": "Form der Fallkonferenz geprüft: {modus}",
    "anonymitaet_ausnahme": "Ausnahme von der Anonymität begründet (protokolliert)",
    # issue 9: per strand, for the Auswertung (hidden from the case history, shown in audit views)
    # issue 5: a coordinator moved the case to a newer process version
    "vorgang_migriert": "Auf Version {nach_version} des Prozesses umgestellt (vorher Version {von_version})",
}
PLACEHOLDERS = (
    "task",
    "to",
    "message",
    "von_vorgang",
    "an_vorgang",
    "an",
    "modus",
    "von_version",
    "nach_version",
)
NOTIFICATION_KINDS = {
    "task_created": "Neue Aufgabe",
    "task_reminder": "Erinnerung: Frist läuft bald ab",
    "task_escalated": "Überfällige Aufgabe",
    "ballot_opened": "Abstimmung eröffnet",
    "ballot_reminder": "Erinnerung: Abstimmung endet bald",
    "termin_einladung": "Einladung (Netzwerktreffen)",
    "netzwerktreffen_warnung": "Netzwerktreffen nicht terminiert",
    "steuerungsgruppe_vakanz": "Vakanz in der Steuerungsgruppe",
    "einwilligung_widerrufen": "Einwilligung widerrufen",
    "barrierefreiheit_rueckmeldung": "Rückmeldung zur Barrierefreiheit",
}
MESSAGES = {"neuer_vorfall": "Neuen Vorfall melden (Wiedereröffnung)"}
MESSAGE_NAMES = {"neuer_vorfall": "neuer Vorfall (Wiedereröffnung)"}


def status_label(status: str) -> str:
    """laufend / abgeschlossen / hängt fest (unknown codes are shown as they are)."""
    return _(STATUS[status]) if status in STATUS else status


def history_label(entry: HistoryEntry) -> str:
    """What happened, in words; placeholders come from the entry's detail."""
    template = ACTIONS.get(entry.action)
    if template is None:
        return entry.action
    detail = {**dict.fromkeys(PLACEHOLDERS, ""), "task": entry.element_id or "", **entry.detail}
    if entry.action == "message_received":
        name = str(detail["message"])
        detail["message"] = _(MESSAGE_NAMES[name]) if name in MESSAGE_NAMES else name
    return _(template, **{k: detail[k] for k in PLACEHOLDERS})


def message_label(name: str) -> str:
    """Button text for a message the instance waits for."""
    return _(MESSAGES[name]) if name in MESSAGES else _("Nachricht „{name}“ senden", name=name)


def notification_label(kind: str) -> str:
    """Neue Aufgabe / Erinnerung / Überfällige Aufgabe (unknown kinds are shown as they are)."""
    return _(NOTIFICATION_KINDS[kind]) if kind in NOTIFICATION_KINDS else kind


def priority_label(priority: int) -> str:
    """hoch / normal / niedrig around the engine's default of 50."""
    if priority > 50:
        return _("hoch")
    return _("normal") if priority == 50 else _("niedrig")


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        status_label=status_label,
        history_label=history_label,
        message_label=message_label,
        notification_label=notification_label,
        priority_label=priority_label,
    )
