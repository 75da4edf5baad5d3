"""Permission matrix: every route of ``app.url_map`` × every seeded role × own / other organisation.

Organisation A's data are real cases of the shipped processes: a Kinderschutz report (started by the
Frauenhaus, handled by the Jugendamt Warstein) with a consent and its document, a Netzwerktreffen
with a meeting date, and a ballot. Organisation B (``suchtpraevention``) takes part in none of them;
it gets one account for every seeded role. The matrix proves:

* anonymous requests to every non-public route go to the login page (POST ones change nothing);
* B never sees A's task, instance, vote or personal record: the page answers 403/404, or it is a
  page of B's own (a list, a form) whose body contains none of A's marker strings;
* every POST from B to A's objects is refused and changes no table (audit entries aside);
* the positive control: A's people do see the markers (otherwise the check could not fail).

The world also holds two process drafts of A's coordinator (modelling is the Koordination's,
network-wide), an accessibility report with its sender's name and an access token of A's Fachkraft.
Rows under ``/api/v1`` run with a bearer token (every scope) of the user in question, never with
the session: anonymous requests, and a signed-in browser without a token, get 401 JSON there.

Roles whose rights span the whole network by design (the Koordination sees non-confidential cases,
the Steuerungsgruppe reads ballots, the data-protection officer searches the audit trail, ...) are
named per row in ``network``; docs/security.md explains each.

Every endpoint must have a row in :data:`MATRIX` (``test_every_endpoint_has_a_row``); a new route is
added by one line: its URL with ``{placeholders}`` from :class:`World`, its kind and marker set.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pprint import pformat
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select, text

from engine.access_tokens import SCOPES
from engine.accessibility_feedback import FeedbackInput
from engine.accounts import hash_password
from engine.clock import ManualClock
from engine.consent import ConsentInput, Upload
from engine.model_drafts import new_process_xml
from engine.persistence.models import (
    Absence,
    Notification,
    Organisation,
    ProcessInstance,
    User,
    UserRole,
    UserTask,
)
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_webapp_auth import PASSWORD, csrf, login, make_app
from tests.unit.test_netzwerktreffen import invite, to_invitation
from webapp.api.auth import API_PREFIX
from webapp.security import HEADERS as SECURITY_HEADERS

ORG_B = "suchtpraevention"
ROLES = (
    "Fachkraft",
    "Leitung",
    "Koordination",
    "Steuerungsgruppe",
    "Pressestelle",
    "Kinderschutzfachkraft",
    "Administration",
    "Datenschutzbeauftragte",
)
ANLASS = "Marker-Anlass-7Q: Kind hat Gewalt zwischen den Eltern miterlebt."
PSEUDONYM = "Marker-Fall-W7Q"
BALLOT = "Marker-Abstimmung-7Q über den Förderantrag"
CONSENT_SUBJECT = "Marker-Einwilligung-7Q"
#: A's marker strings per kind of record; a page shown to B must contain none of them.
#: The case's label on pages and in lists (its data are loaded by the form as JSON).
CASE_LABEL = "Kinderschutz (§ 8a SGB VIII) #{instance_id}"
CASE_MARKERS = (ANLASS, PSEUDONYM, CONSENT_SUBJECT, CASE_LABEL)
VOTE_MARKERS = (BALLOT,)
MEETING_MARKERS = (
    "Kreishaus Soest",
    "Vertraulicher Punkt zur Fallarbeit",
    "Netzwerktreffen und Fachtag #{meeting_instance_id}",
)
#: A's coordinator's process drafts (the key is in the file name and the content).
MODEL_MARKERS = ("marker_modell_7q", "marker_freigabe_7q")
#: A personal record: the name and message of an accessibility report, an access token's name.
FEEDBACK_MARKERS = ("Marker-Rückmeldung-7Q", "Marker-Absenderin-7Q")
TOKEN_MARKERS = ("Marker-Token-7Q",)
ALL_MARKERS = CASE_MARKERS + VOTE_MARKERS + MEETING_MARKERS + MODEL_MARKERS + FEEDBACK_MARKERS + TOKEN_MARKERS


@dataclass(frozen=True)
class World:
    """The ids of organisation A's objects, filled into the URL templates."""

    instance_id: int
    task_id: str
    ballot_id: int
    consent_id: int
    meeting_instance_id: int
    definition_id: int
    absence_id: int
    notification_id: int
    draft_id: int
    review_draft_id: int
    feedback_id: int
    token_id: int
    process_key: str = "kinderschutz"
    organisation: str = "jugendamt-warstein"
    username: str = "fachkraft.jugendamt-warstein"
    jahr: int = 2026


PUBLIC, OWN, CASE = "public", "own", "case"
#: The whole matrix runs on SQLite and on PostgreSQL (skipped locally, failing in CI, when unreachable).
pytestmark = pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
    scope="module",
)


@dataclass(frozen=True)
class Row:
    """One endpoint: how to call it and what B may get.

    ``kind``: PUBLIC (no login), OWN (B's own page or list: any status below 500, none of A's
    markers), CASE (an object of A: B gets 403/404 and nothing changes).
    ``reader``: an account of A that sees ``markers`` on this page (the positive control).
    ``network``: roles that, by design, reach A's object from any organisation.
    ``own_tables``: tables a POST of B may change because they hold B's own data.
    ``network_markers``: when set, the ``network`` roles are not skipped: they may open the page,
    but it must show none of A's markers except these (a ballot reader sees the ballot, not the case).
    ``json``: send ``data`` as a JSON body (with the CSRF token as a header). Rows under ``/api/v1``
    always send JSON and authenticate with a bearer token of the user instead of the session.
    """

    url: str
    kind: str
    method: str = "GET"
    data: dict[str, Any] = field(default_factory=dict)
    reader: str | None = None
    markers: tuple[str, ...] = ()
    network: frozenset[str] = frozenset()
    own_tables: frozenset[str] = frozenset()
    network_markers: tuple[str, ...] | None = None
    json: bool = False

    @property
    def api(self) -> bool:
        return self.url.startswith(API_PREFIX + "/")


COORDINATION = frozenset({"Koordination", "Administration"})
BALLOT_READERS = frozenset({"Koordination", "Steuerungsgruppe", "Administration"})
DSB = frozenset({"Datenschutzbeauftragte"})
AUDIT_READERS = frozenset({"Koordination", "Datenschutzbeauftragte"})
JA = "fachkraft.jugendamt-warstein"
COORD_A = "koordination.jugendamt"
#: Modelling is the Koordination's, network-wide (engine/modeling_facade.py ``require_modeler``);
#: so is the inbox of accessibility reports.
MODELERS = frozenset({"Koordination"})
DRAFT = "/modellierung/entwurf/{draft_id}"
#: What B would save into A's draft: a valid process (it has no braces, so formatting keeps it).
B_PROCESS = new_process_xml(MODEL_MARKERS[0], "Von B geändert")
REVIEW = "/modellierung/entwurf/{review_draft_id}"

MATRIX: dict[str, Row] = {
    # --- public and own pages ---
    "static": Row("/static/css/app.css", PUBLIC),
    "pages.index": Row("/", OWN),
    "pages.healthz": Row("/healthz", PUBLIC),
    "pages.accessibility": Row("/barrierefreiheit", PUBLIC),
    "pages.imprint": Row("/impressum", PUBLIC),
    "auth.login": Row("/anmelden", PUBLIC),
    # a failed login counts against the typed name (as a keyed digest), whoever sends it
    "auth.login POST": Row(
        "/anmelden",
        PUBLIC,
        "POST",
        {"username": "niemand", "password": "falsch-falsch"},
        own_tables=frozenset({"unknown_login_name"}),
    ),
    "auth.logout": Row("/abmelden", OWN, "POST"),
    # single sign-on is not configured in the matrix: both answer 404 to everybody
    "oidc.start": Row("/anmelden/kreis", PUBLIC),
    "oidc.callback": Row("/anmelden/kreis/zurueck?code=x&state=y", PUBLIC),
    "account.change_password": Row("/passwort-aendern", OWN),
    "account.change_password POST": Row(
        "/passwort-aendern",
        OWN,
        "POST",
        {"current_password": "falsch", "new_password": "Ein ganz neues Passwort", "new_password_repeat": "x"},
    ),
    "i18n.choose_language": Row(
        "/sprache", PUBLIC, "POST", {"lang": "de"}, own_tables=frozenset({"app_user"})
    ),
    # the Koordination is a candidate of the Netzwerktreffen's steps, whichever organisation it is in
    "worklist.index": Row(
        "/aufgaben?view=alle",
        OWN,
        reader=JA,
        markers=(CASE_LABEL,),
        network=frozenset({"Koordination"}),
        network_markers=MEETING_MARKERS,
    ),
    "instances.index": Row("/vorgaenge", OWN, reader="fachkraft.frauenhaus", markers=(CASE_LABEL,)),
    "ballots.index": Row(
        "/abstimmungen",
        OWN,
        reader=COORD_A,
        markers=VOTE_MARKERS,
        network=BALLOT_READERS,
        network_markers=VOTE_MARKERS,
    ),
    "ballots.new": Row("/abstimmungen/neu", OWN),
    "absences.index": Row("/abwesenheit", OWN),
    "absences.add": Row("/abwesenheit", OWN, "POST", {}, own_tables=frozenset({"absence"})),
    "absences.end": Row("/abwesenheit/{absence_id}/beenden", CASE, "POST"),
    "notifications.index": Row("/benachrichtigungen", OWN),
    "notifications.email": Row("/benachrichtigungen/email", OWN, "POST", own_tables=frozenset({"app_user"})),
    "notifications.mark_all_read": Row(
        "/benachrichtigungen/alle-gelesen", OWN, "POST", own_tables=frozenset({"notification"})
    ),
    "notifications.mark_read": Row("/benachrichtigungen/{notification_id}/gelesen", CASE, "POST"),
    "notifications.preference": Row(
        "/benachrichtigungen/einstellung",
        OWN,
        "POST",
        {"preference": "aus"},
        own_tables=frozenset({"app_user"}),
    ),
    "processes.index": Row("/prozesse", OWN),
    "processes.start_page": Row("/prozesse/{process_key}/starten", OWN),
    "processes.start_form_json": Row("/prozesse/{process_key}/startformular.json", OWN),
    "processes.diagram": Row("/prozesse/versionen/{definition_id}/diagramm.bpmn", OWN),
    "processes.start": Row("/prozesse/{process_key}/starten", OWN, "POST", {}),
    "directory.index": Row("/verzeichnis", OWN),
    "directory.show": Row("/verzeichnis/{organisation}", OWN),
    "directory.edit": Row("/verzeichnis/{organisation}/bearbeiten", CASE, network=COORDINATION),
    "directory.save": Row("/verzeichnis/{organisation}/bearbeiten", CASE, "POST", {}, network=COORDINATION),
    "directory.remove": Row("/verzeichnis/{organisation}/entfernen", CASE, "POST", network=COORDINATION),
    "directory.start_reviews": Row("/verzeichnis/ueberpruefung", CASE, "POST", network=COORDINATION),
    "datenschutz.my_data": Row("/meine-daten", OWN),
    "datenschutz.my_export": Row("/meine-daten/auskunft.json", OWN),
    "dashboard.index": Row("/auswertung", OWN),
    "dashboard.annual_pdf": Row("/auswertung/jahresbericht/{jahr}.pdf", OWN),
    "dashboard.annual_csv": Row("/auswertung/jahresbericht/{jahr}.csv", OWN),
    "process_analytics.index": Row("/auswertung/prozess", OWN),
    "process_analytics.show": Row("/auswertung/prozess/{process_key}", OWN),
    # --- A's case, task, consent and meeting ---
    "instances.show": Row("/vorgaenge/{instance_id}", CASE, reader=JA, markers=(CASE_LABEL,)),
    "instances.send_message": Row(
        "/vorgaenge/{instance_id}/nachricht", CASE, "POST", {"name": "Neuer Vorfall"}
    ),
    "tasks.show": Row("/aufgaben/{task_id}", CASE, reader=JA, markers=(CASE_LABEL,)),
    "tasks.form_json": Row(
        "/aufgaben/{task_id}/formular.json",
        CASE,
        reader=JA,
        markers=(PSEUDONYM, ANLASS),
    ),
    "tasks.complete": Row("/aufgaben/{task_id}/abschliessen", CASE, "POST", {}),
    "tasks.save_draft": Row("/aufgaben/{task_id}/entwurf", CASE, "POST", {}),
    "tasks.claim": Row("/aufgaben/{task_id}/uebernehmen", CASE, "POST"),
    "tasks.release": Row("/aufgaben/{task_id}/zurueckgeben", CASE, "POST"),
    "tasks.reassign": Row("/aufgaben/{task_id}/zuweisen", CASE, "POST", {"username": "fachkraft.polizei"}),
    "consents.index": Row(
        "/vorgaenge/{instance_id}/einwilligungen",
        CASE,
        reader=JA,
        markers=(CONSENT_SUBJECT,),
    ),
    "consents.new": Row("/vorgaenge/{instance_id}/einwilligungen/neu", CASE),
    "consents.create": Row("/vorgaenge/{instance_id}/einwilligungen/neu", CASE, "POST", {}),
    "consents.confirm_withdrawal": Row(
        "/einwilligungen/{consent_id}/widerrufen",
        CASE,
        reader=JA,
        markers=(CONSENT_SUBJECT,),
    ),
    "consents.withdraw": Row(
        "/einwilligungen/{consent_id}/widerrufen",
        CASE,
        "POST",
        {"withdrawn_by": "Marker"},
    ),
    "consents.document": Row(
        "/einwilligungen/{consent_id}/dokument",
        CASE,
        reader=JA,
        markers=(CONSENT_SUBJECT,),  # written into the stored PDF
    ),
    "meetings.calendar": Row(
        "/netzwerktreffen/{meeting_instance_id}/termin.ics",
        CASE,
        reader="fachkraft.gesundheitsamt",
        markers=MEETING_MARKERS[:1],
        network=COORDINATION | {"Steuerungsgruppe"},
        network_markers=MEETING_MARKERS,
    ),
    # --- A's ballot ---
    "ballots.show": Row(
        "/abstimmungen/{ballot_id}",
        CASE,
        reader=COORD_A,
        markers=VOTE_MARKERS,
        network=BALLOT_READERS,
        network_markers=VOTE_MARKERS,
    ),
    "ballots.minutes": Row(
        "/abstimmungen/{ballot_id}/protokoll",
        CASE,
        reader=COORD_A,
        markers=VOTE_MARKERS,
        network=BALLOT_READERS,
        network_markers=VOTE_MARKERS,
    ),
    "ballots.minutes_text": Row(
        "/abstimmungen/{ballot_id}/protokoll.md",
        CASE,
        reader=COORD_A,
        markers=VOTE_MARKERS,
        network=BALLOT_READERS,
        network_markers=VOTE_MARKERS,
    ),
    "ballots.minutes_pdf": Row("/abstimmungen/{ballot_id}/protokoll.pdf", CASE, network=BALLOT_READERS),
    "ballots.vote": Row("/abstimmungen/{ballot_id}/stimme", CASE, "POST", {"choice": "ja"}),
    "ballots.create": Row("/abstimmungen/neu", CASE, "POST", {}, network=BALLOT_READERS),
    # --- administration: role-bound, network-wide by design ---
    "audit.index": Row("/audit-protokoll", CASE, network=AUDIT_READERS),
    "audit.export": Row("/audit-protokoll/export.csv", CASE, network=AUDIT_READERS),
    "operations.index": Row("/betrieb", CASE, network=frozenset({"Administration"})),
    "operations.retry": Row(
        "/betrieb/auftraege/1/wiederholen", CASE, "POST", network=frozenset({"Administration"})
    ),
    "partners.index": Row("/partner", CASE, network=COORDINATION),
    "partners.disable_account": Row(
        "/partner/konto-deaktivieren", CASE, "POST", {"disable_username": JA}, network=COORDINATION
    ),
    "partners.start_password": Row(
        "/partner/startpasswort", CASE, "POST", {"username": JA}, network=COORDINATION
    ),
    "datenschutz.index": Row("/datenschutz", CASE, network=DSB | COORDINATION),
    # the Koordination's page shows the deletion preview; its search box answers only the officer
    "datenschutz.index POST": Row("/datenschutz", CASE, "POST", {"q": PSEUDONYM}, network=DSB | COORDINATION),
    "datenschutz.account_export": Row("/datenschutz/konto/{username}/auskunft.json", CASE, network=DSB),
    "datenschutz.account_erasure": Row(
        "/datenschutz/konto/{username}/loeschen", CASE, "POST", {}, network=DSB
    ),
    "datenschutz.subject_export": Row(
        "/datenschutz/betroffene/auskunft.json",
        CASE,
        "POST",
        {"q": PSEUDONYM, "bestaetigt": "ja"},
        network=DSB,
    ),
    "datenschutz.subject_erasure": Row(
        "/datenschutz/betroffene/loeschen", CASE, "POST", {"q": PSEUDONYM, "bestaetigt": "ja"}, network=DSB
    ),
    # --- personal access tokens: B's own; A's token is A's ---
    "access_tokens.index": Row("/konto/zugangstoken", OWN, reader=JA, markers=TOKEN_MARKERS),
    "access_tokens.create": Row(
        "/konto/zugangstoken",
        OWN,
        "POST",
        {"name": "B-Token", "scopes": "lesen"},
        own_tables=frozenset({"access_token"}),
    ),
    "access_tokens.revoke": Row("/konto/zugangstoken/{token_id}/widerrufen", CASE, "POST"),
    # --- accessibility reports: anybody sends (an empty one is refused), the Koordination reads ---
    "accessibility.send": Row("/barrierefreiheit/rueckmeldung", PUBLIC, "POST", {"message": ""}),
    "accessibility.inbox": Row(
        "/barrierefreiheit/rueckmeldungen", CASE, reader=COORD_A, markers=FEEDBACK_MARKERS, network=MODELERS
    ),
    "accessibility.answered": Row(
        "/barrierefreiheit/rueckmeldungen/{feedback_id}/beantwortet", CASE, "POST", network=MODELERS
    ),
    # --- modelling: A's coordinator's drafts (one in work, one submitted for approval) ---
    "modellierung.index": Row(
        "/modellierung/", CASE, reader=COORD_A, markers=MODEL_MARKERS, network=MODELERS
    ),
    "modellierung.new": Row("/modellierung/neu", CASE, network=MODELERS),
    "modellierung.create": Row(
        "/modellierung/neu", CASE, "POST", {"kind": "bpmn", "key": "b_prozess"}, network=MODELERS
    ),
    "modellierung.upload": Row("/modellierung/hochladen", CASE, "POST", {}, network=MODELERS),
    "modellierung.version_file": Row("/modellierung/versionen/{definition_id}/datei", CASE, network=MODELERS),
    "modellierung.from_version": Row(
        "/modellierung/versionen/{definition_id}/entwurf", CASE, "POST", network=MODELERS
    ),
    "modellierung.draft": Row(DRAFT, CASE, reader=COORD_A, markers=MODEL_MARKERS[:1], network=MODELERS),
    "modellierung.content": Row(
        DRAFT + "/inhalt", CASE, reader=COORD_A, markers=MODEL_MARKERS[:1], network=MODELERS
    ),
    "modellierung.download": Row(
        DRAFT + "/datei", CASE, reader=COORD_A, markers=MODEL_MARKERS[:1], network=MODELERS
    ),
    "modellierung.current": Row(DRAFT + "/bisher", CASE, network=MODELERS),
    # a valid process: were the role check missing, the save would go through
    "modellierung.save": Row(
        DRAFT + "/speichern", CASE, "POST", {"content": B_PROCESS}, network=MODELERS, json=True
    ),
    "modellierung.check": Row(
        DRAFT + "/pruefen", CASE, "POST", {"content": "<x/>"}, network=MODELERS, json=True
    ),
    "modellierung.add_form": Row(DRAFT + "/formular", CASE, "POST", {"key": "b_formular"}, network=MODELERS),
    "modellierung.submit": Row(DRAFT + "/vorlegen", CASE, "POST", network=MODELERS),
    "modellierung.discard": Row(DRAFT + "/verwerfen", CASE, "POST", network=MODELERS),
    "modellierung.review": Row(
        REVIEW + "/freigabe", CASE, reader=COORD_A, markers=MODEL_MARKERS[1:], network=MODELERS
    ),
    "modellierung.approve": Row(REVIEW + "/freigeben", CASE, "POST", {"kommentar": "B"}, network=MODELERS),
    "modellierung.reject": Row(REVIEW + "/ablehnen", CASE, "POST", {"kommentar": "B"}, network=MODELERS),
    "modellierung_tabelle.table": Row(
        DRAFT + "/tabelle", CASE, reader=COORD_A, markers=MODEL_MARKERS[:1], network=MODELERS
    ),
    "modellierung_tabelle.save_table": Row(DRAFT + "/tabelle", CASE, "POST", {}, network=MODELERS),
    "modell_migration.page": Row("/modellierung/migration/{process_key}", CASE, network=MODELERS),
    "modell_migration.dry_run": Row(
        "/modellierung/migration/{process_key}/probelauf",
        CASE,
        "POST",
        {"vorgang": "{instance_id}", "ziel": "{definition_id}"},
        network=MODELERS,
    ),
    "modell_migration.migrate": Row(
        "/modellierung/migration/{process_key}/migrieren",
        CASE,
        "POST",
        {"vorgang": "{instance_id}", "ziel": "{definition_id}"},
        network=MODELERS,
    ),
    # --- the REST API (bearer token of the user; anonymous: 401 JSON) ---
    "api-docs.openapi_json": Row("/api/v1/openapi.json", PUBLIC),
    "api-processes.index": Row("/api/v1/processes", OWN),
    "api-processes.versions": Row("/api/v1/processes/{process_key}/versions", OWN),
    "api-processes.start_form": Row("/api/v1/processes/{process_key}/start-form", OWN),
    "api-processes.start": Row("/api/v1/processes/{process_key}/instances", OWN, "POST", {"data": {}}),
    "api-directory.index": Row("/api/v1/directory", OWN),
    "api-directory.show": Row("/api/v1/directory/{organisation}", OWN),
    "api-tasks.index": Row(
        "/api/v1/tasks?view=alle",
        OWN,
        reader=JA,
        markers=(CASE_LABEL,),
        network=frozenset({"Koordination"}),
        network_markers=MEETING_MARKERS,
    ),
    "api-tasks.index gruppe": Row(
        "/api/v1/tasks?view=gruppe",
        OWN,
        network=frozenset({"Koordination"}),
        network_markers=MEETING_MARKERS,
    ),
    "api-tasks.index erledigt": Row("/api/v1/tasks?view=erledigt", OWN, reader=JA, markers=(CASE_LABEL,)),
    "api-tasks.show": Row("/api/v1/tasks/{task_id}", CASE, reader=JA, markers=(PSEUDONYM, ANLASS)),
    "api-tasks.claim": Row("/api/v1/tasks/{task_id}/claim", CASE, "POST"),
    "api-tasks.release": Row("/api/v1/tasks/{task_id}/release", CASE, "POST"),
    "api-tasks.complete": Row("/api/v1/tasks/{task_id}/complete", CASE, "POST", {"data": {}}),
    # cases are listed by the rule of instances.show: the confidential Kinderschutz case only for the
    # people involved (not its reporter); the Netzwerktreffen also for the Koordination, the
    # Administration (not confidential) and the Steuerungsgruppe (candidate of its preparation)
    "api-instances.index": Row(
        "/api/v1/instances",
        OWN,
        reader=JA,
        markers=(CASE_LABEL,),
        network=COORDINATION | {"Steuerungsgruppe"},
        network_markers=MEETING_MARKERS[2:],
    ),
    "api-instances.show": Row("/api/v1/instances/{instance_id}", CASE, reader=JA, markers=(CASE_LABEL,)),
    "api-ballots.index": Row(
        "/api/v1/ballots",
        OWN,
        reader=COORD_A,
        markers=VOTE_MARKERS,
        network=BALLOT_READERS,
        network_markers=VOTE_MARKERS,
    ),
    "api-ballots.show": Row(
        "/api/v1/ballots/{ballot_id}",
        CASE,
        reader=COORD_A,
        markers=VOTE_MARKERS,
        network=BALLOT_READERS,
        network_markers=VOTE_MARKERS,
    ),
    "api-ballots.vote": Row("/api/v1/ballots/{ballot_id}/votes", CASE, "POST", {"choice": "ja"}),
}


def start_kinderschutz(hn: Hilfenetz) -> tuple[int, str]:
    """A Kinderschutz report from the Frauenhaus for Warstein, taken up by the Jugendamt Warstein."""
    look = actor_lookup(hn)
    data = {
        "gemeinde": "Warstein",
        "quelle": "frauenhaus",
        "anzahl_kinder": 1,
        "anlass": ANLASS,
        "risiko_stufe": "mittel",
    }
    instance_id = hn.start(look("fachkraft.frauenhaus"), "kinderschutz", data)
    with hn.db.read() as session:
        first = session.scalars(
            select(UserTask.id).where(UserTask.instance_id == instance_id, UserTask.status == "open")
        ).one()
    done = {"zustaendig": "ja", "pseudonym": PSEUDONYM, "dringlichkeit": "zeitnah", "aufnahme_notiz": ""}
    hn.complete(look(JA), first, done)
    with hn.db.read() as session:
        task_id = session.scalars(
            select(UserTask.id).where(UserTask.instance_id == instance_id, UserTask.status == "open")
        ).one()
    return instance_id, task_id


def add_organisation_b(hn: Hilfenetz) -> dict[str, str]:
    """One account per seeded role in the uninvolved organisation B; role -> username."""
    accounts = {}
    with hn.db.write() as session:
        org = session.scalars(select(Organisation).where(Organisation.slug == ORG_B)).one()
        for role in ROLES:
            username = f"b.{role.lower()}"
            user = User(
                username=username,
                display_name=f"B {role}",
                password_hash=hash_password(PASSWORD),
                organisation_id=org.id,
                created_at=hn.clock.now(),
                email=f"{username}@hilfenetz.invalid",
            )
            user.roles = [UserRole(role=role)]
            session.add(user)
            accounts[role] = username
        session.commit()
    return accounts


def add_model_drafts(hn: Hilfenetz) -> tuple[int, int]:
    """A's coordinator's process drafts: one in work, one submitted for the four-eyes approval."""
    coordinator = actor_lookup(hn)(COORD_A)
    draft_id = hn.create_model_draft(coordinator, "bpmn", MODEL_MARKERS[0], "Marker-Modell")
    review_id = hn.create_model_draft(coordinator, "bpmn", MODEL_MARKERS[1], "Marker-Freigabe")
    hn.submit_model_draft(coordinator, review_id)
    return draft_id, review_id


def add_personal_records(hn: Hilfenetz) -> tuple[int, int]:
    """An accessibility report with its sender's name, and an access token of A's Fachkraft."""
    report = FeedbackInput(
        message=FEEDBACK_MARKERS[0] + ": Das Formular lässt sich nicht vorlesen.",
        name=FEEDBACK_MARKERS[1],
        email="absenderin@hilfenetz.invalid",
        reply="ja",
    )
    feedback_id = hn.send_accessibility_feedback(report)
    token = hn.create_access_token(actor_lookup(hn)(JA), TOKEN_MARKERS[0], ["lesen"], None)
    return feedback_id, token.view.id


@pytest.fixture(scope="module")
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite, and a fresh PostgreSQL database for the whole module (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'hn.db'}"
        return
    from sqlalchemy import create_engine

    admin_url = request.getfixturevalue("postgres_server")
    name = f"hilfenetz_matrix_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, database_url: str
) -> Iterator[tuple[Hilfenetz, World, dict[str, str]]]:
    tmp_path = tmp_path_factory.mktemp("matrix")
    clock = ManualClock()
    hn = build_engine(tmp_path, database_url, clock, (REPO_ROOT / "processes", REPO_ROOT / "forms"))
    look = actor_lookup(hn)
    meeting = to_invitation(hn, clock)
    invite(hn, meeting, "2026-03-12T10:00+01:00", "2026-03-12T13:00+01:00")
    instance_id, task_id = start_kinderschutz(hn)
    ballot_id = hn.open_ballot(BALLOT, None, None, clock.now() + timedelta(days=7), False, look(COORD_A))
    given = ConsentInput(
        subject=CONSENT_SUBJECT,
        categories=["falldaten"],
        recipients=["jugendamt-warstein"],
        purpose="Fallkonferenz",
        given_on="2026-01-05",
        form="schriftlich",
        document=Upload("einwilligung.pdf", b"%PDF-1.4\n% Marker-Einwilligung-7Q\n%%EOF\n"),
    )
    consent_id = hn.record_consent(look(JA), instance_id, given)
    with hn.db.read() as session:
        definition_id = session.get(ProcessInstance, instance_id).definition_id
    hn.deliver_outbox(500)  # the in-app notifications of the new tasks
    substitute = "fachkraft2.jugendamt-warstein"
    hn.add_absence(look(JA), substitute, clock.now() + timedelta(days=1), clock.now() + timedelta(days=9))
    with hn.db.read() as session:
        absence_id = session.scalars(select(Absence.id)).one()
        notification_id = session.scalars(
            select(Notification.id).where(Notification.user_id == look(JA).id, Notification.read_at.is_(None))
        ).first()
    assert notification_id is not None
    accounts = add_organisation_b(hn)
    draft_id, review_draft_id = add_model_drafts(hn)
    feedback_id, token_id = add_personal_records(hn)
    yield (
        hn,
        World(
            instance_id,
            task_id,
            ballot_id,
            consent_id,
            meeting,
            definition_id,
            absence_id,
            notification_id,
            draft_id,
            review_draft_id,
            feedback_id,
            token_id,
        ),
        accounts,
    )
    hn.db.dispose()


#: Tables whose changes are not a change of data: the audit trail records every refused attempt.
UNWATCHED = {"audit_event", "audit_chain_head"}


def fingerprint(hn: Hilfenetz, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """A digest of every row of every table (but the audit trail and ``skip``)."""
    digests = {}
    with hn.db.read() as session:
        names = [t for t in inspect(session.connection()).get_table_names() if t != "alembic_version"]
        for name in sorted(set(names) - UNWATCHED - skip):
            rows = session.execute(text(f'SELECT * FROM "{name}" ORDER BY 1')).all()
            digests[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def url_of(row: Row, world: World) -> str:
    return row.url.format(**vars(world))


def endpoint_of(key: str) -> str:
    return key.split(" ")[0]


def signed_in(app: Flask, username: str | None) -> tuple[FlaskClient, str]:
    """A client (signed in unless ``username`` is None) and its CSRF token."""
    client = app.test_client()
    token = login(client, username) if username else csrf(client)
    return client, token


def call(client: FlaskClient, row: Row, world: World, token: str, bearer: str | None = None) -> Any:
    """The request of ``row``; API rows with ``bearer`` (None: no token) and a fresh client address
    for anonymous ones (refused tokens count against the address, 429 after ten)."""
    url = url_of(row, world)
    data = {k: v.format(**vars(world)) if isinstance(v, str) else v for k, v in row.data.items()}
    if row.api:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        n = next(ADDRESSES)
        environ = {"REMOTE_ADDR": f"10.7.{n // 250 % 250}.{n % 250 + 1}" if not bearer else "127.0.0.1"}
        if row.method == "GET":
            return client.get(url, headers=headers, environ_base=environ)
        return client.post(url, json=data, headers=headers, environ_base=environ)
    if row.method == "GET":
        return client.get(url)
    if row.json:
        return client.post(url, json=data, headers={"X-CSRFToken": token})
    return client.post(url, data={"csrf_token": token, **data})


ADDRESSES = itertools.count(1)


def body_of(response: Any) -> bytes:
    """The raw body, and for JSON its decoded text (non-ASCII escaped as \\uXXXX there)."""
    raw: bytes = response.get_data()
    if response.is_json and response.get_json(silent=True) is not None:
        raw += json.dumps(response.get_json(), ensure_ascii=False).encode()
    return raw


def leaked(body: bytes, markers: tuple[str, ...], world: World) -> list[str]:
    """The markers found in a response body (raw bytes: PDF and calendar files included)."""
    filled = [m.format(**vars(world)) for m in markers]
    return [m for m in filled if m.encode() in body or m.replace(",", "\\,").encode() in body]


@pytest.fixture(scope="module")
def app(world: tuple[Hilfenetz, World, dict[str, str]]) -> Flask:
    return make_app(world[0])


@pytest.fixture(scope="module")
def bearers(world: tuple[Hilfenetz, World, dict[str, str]]) -> dict[str, str]:
    """A token with every scope for each reader of A and each account of B (username -> secret)."""
    hn, _ids, accounts = world
    look = actor_lookup(hn)
    usernames = {row.reader for row in MATRIX.values() if row.api and row.reader} | set(accounts.values())
    return {
        name: hn.create_access_token(look(name), "Matrix", list(SCOPES), None).secret
        for name in sorted(usernames)
    }


def test_every_endpoint_has_a_row(app):
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    rows = {(endpoint_of(key), row.method) for key, row in MATRIX.items()}
    assert sorted(routes - rows) == [], "Diese Routen fehlen in MATRIX (eine Zeile je Route und Methode)"
    assert sorted(rows - routes) == [], "Diese Zeilen in MATRIX haben keine Route mehr"


def test_the_seeded_roles_are_all_covered(world):
    hn = world[0]
    with hn.db.read() as session:
        seeded = set(session.scalars(text("SELECT name FROM role")))
    assert seeded == set(ROLES)


def test_anonymous_requests_go_to_the_login_page_and_change_nothing(app, world):
    hn, ids, _accounts = world
    client, token = signed_in(app, None)
    failures = []
    for key, row in sorted(MATRIX.items()):
        if row.kind == PUBLIC:
            continue
        before = fingerprint(hn) if row.method == "POST" else {}
        response = call(client, row, ids, token)
        location = response.headers.get("Location", "")
        to_login = response.status_code == 302 and location.startswith("/anmelden")
        json_401 = response.status_code == 401 and response.is_json  # JSON clients get 401, no redirect
        if not (to_login or json_401):
            failures.append((key, response.status_code, location))
        if row.method == "POST" and fingerprint(hn) != before:
            failures.append((key, "Daten geändert"))
        if leaked(body_of(response), ALL_MARKERS, ids):
            failures.append((key, "Falldaten im Körper"))
        missing = [name for name, value in SECURITY_HEADERS.items() if response.headers.get(name) != value]
        if missing:
            failures.append((key, "Kopfzeilen fehlen", missing))
    assert failures == [], pformat(failures)


def test_the_people_of_organisation_a_see_the_markers(app, world, bearers):
    """Positive control: without it a page that shows nothing to anybody would pass the matrix."""
    _hn, ids, _accounts = world
    clients: dict[str, tuple[FlaskClient, str]] = {}
    failures = []
    for key, row in sorted(MATRIX.items()):
        if row.reader is None:
            continue
        if row.reader not in clients:
            clients[row.reader] = signed_in(app, row.reader)
        client, token = clients[row.reader]
        response = call(client, row, ids, token, bearers.get(row.reader) if row.api else None)
        filled = {m.format(**vars(ids)) for m in row.markers}
        missing = filled - set(leaked(body_of(response), row.markers, ids))
        if response.status_code != 200 or missing:
            failures.append((key, row.reader, response.status_code, missing))
    assert failures == [], pformat(failures)


@pytest.mark.parametrize("role", ROLES)
def test_an_uninvolved_organisation_never_sees_nor_changes_data_of_a(app, world, bearers, role):
    hn, ids, accounts = world
    client, token = signed_in(app, accounts[role])
    failures = []
    for key, row in sorted(MATRIX.items()):
        if endpoint_of(key) == "auth.logout":
            continue
        markers, refused = ALL_MARKERS, row.kind == CASE
        if role in row.network:  # reaches A's object by design; at most the row's network markers
            if row.network_markers is None:
                continue
            markers, refused = tuple(m for m in ALL_MARKERS if m not in row.network_markers), False
        # an API request notes its token's last use: that is B's own row
        own = row.own_tables | ({"access_token"} if row.api else set())
        before = fingerprint(hn, own) if row.method == "POST" else {}
        response = call(client, row, ids, token, bearers[accounts[role]])
        if response.status_code >= 500:
            failures.append((key, response.status_code))
        if refused and row.method == "GET" and response.status_code not in (403, 404):
            failures.append((key, response.status_code, "403/404 erwartet"))
        if refused and row.method == "POST" and response.status_code < 400:
            failures.append(
                (key, response.status_code, response.headers.get("Location"), "abgelehnt erwartet")
            )
        if row.method == "POST" and fingerprint(hn, own) != before:
            failures.append((key, "Daten geändert"))
        if found := leaked(body_of(response), markers, ids):
            failures.append((key, response.status_code, found))
        missing = [name for name, value in SECURITY_HEADERS.items() if response.headers.get(name) != value]
        if missing:
            failures.append((key, "Kopfzeilen fehlen", missing))
    assert failures == [], pformat(failures)


def test_the_api_ignores_the_session_cookie(app, world):
    """A signed-in browser without a token gets 401 from every API route: a page of another site
    cannot make the browser call the API with the session (the API has no CSRF token)."""
    _hn, ids, _accounts = world
    client, token = signed_in(app, JA)
    failures = []
    for key, row in sorted(MATRIX.items()):
        if not row.api or row.kind == PUBLIC:
            continue
        response = call(client, row, ids, token)
        if response.status_code != 401 or leaked(body_of(response), ALL_MARKERS, ids):
            failures.append((key, response.status_code))
    assert failures == [], pformat(failures)
