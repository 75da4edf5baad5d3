"""Composition root: builds the engine from settings and offers every use case the webapp needs.

The webapp talks only to :class:`Hilfenetz` and receives read models (frozen dataclasses).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from dateutil.relativedelta import relativedelta
from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import (
    consent,
    dsgvo,
    netzwerktreffen,
    operations,
    partners,
    retention,
    vereinbarung,
    verzeichnis,
    voting,
)
from engine import network_membership as membership
from engine import process_analytics as analytics
from engine.accounts import hash_password
from engine.action_registry import ACTION_HANDLERS
from engine.actions import SystemSteps
from engine.annual_report import report_csv, report_pdf
from engine.api_facade import ApiFacade
from engine.assignment import may_start
from engine.audit_chain import ChainReport
from engine.audit_search import AuditPage, AuditQuery
from engine.audit_search import may_search as may_search_audit
from engine.audit_trail import READ_ACTIONS, AuditTrail
from engine.checks import unknown_actions
from engine.clock import Clock, SystemClock
from engine.consent_steps import legal_basis_options
from engine.dashboard import (
    CONTACT_FRIST,
    Auswertung,
    Zeitraum,
    auswertung,
    jahreszeitraum,
    organisation_choices,
    require_access,
    zeitraum,
)
from engine.definitions import DefinitionSource, SpecCache, build_bundle
from engine.deployment import deploy_bundle
from engine.directory import (
    actor_of,
    effective_identity,
    ensure_organisations,
    load_seed,
    set_user_roles,
    user_view,
)
from engine.dispatch import (
    PERIODIC_JOBS,
    Dispatch,
    claim_due_jobs,
    claim_due_outbox,
    claim_due_timers,
    job_finished,
    undo_dispatch,
)
from engine.dsgvo_pdf import export_pdf
from engine.errors import (
    InvalidDefinitionError,
    InvalidSubmissionError,
    NotFoundError,
    NotPermittedError,
    ScriptError,
)
from engine.feedback_facade import FeedbackFacade
from engine.forms import draft_shape, referenced_names
from engine.instances import Completion, Instances, latest_definition
from engine.kontaktdaten import (
    contact_consent_withdrawn,
    contact_field_keys,
    purge_expired,
    read_contact_data,
)
from engine.mail import Mailer, SmtpMailer
from engine.meeting_calendar import calendar_bytes
from engine.migration_facade import MigrationFacade
from engine.model_review_facade import ModelReviewFacade
from engine.notifications import Notifications
from engine.parameters import CONTACT_GRACE, CONTACT_RETENTION, OFF, Fristen, Organisations
from engine.persistence.database import Database, exclusive
from engine.persistence.models import (
    Absence,
    AuditEvent,
    Ballot,
    NetworkMeeting,
    Organisation,
    ProcessDefinition,
    ProcessInstance,
    RetentionRun,
    User,
    UserTask,
)
from engine.persistence.schema import upgrade
from engine.process_table_facade import ProcessTableFacade
from engine.projection import BERLIN, parse_iso_duration
from engine.read_models import (
    AbsenceView,
    Actor,
    BallotLink,
    BallotMinutes,
    BallotSummary,
    ConsentDocumentFile,
    ConsentView,
    HistoryEntry,
    InstanceDetail,
    InstanceSummary,
    LinkedCase,
    MeetingView,
    NotificationSettings,
    NotificationView,
    OrganisationView,
    PartnerView,
    ProcessView,
    StartForm,
    TaskDetail,
    UserView,
    WorklistPage,
)
from engine.reminders import send_due_reminders
from engine.runtime import Loaded, Runtime, audit, waiting_messages
from engine.scripting import RestrictedEnvironment
from engine.security_facade import SecurityFacade
from engine.settings import Settings
from engine.timer_bounds import TimerBoundedScriptEngine
from engine.vereinbarung import AgreementStatus
from engine.voting_minutes import minutes_of, render_minutes
from engine.voting_pdf import minutes_pdf
from engine.voting_reminders import send_ballot_reminders
from engine.voting_rules import Abstimmungsregeln, Ergebnis, load_rules
from engine.voting_step import ballot_result
from engine.workflow_state import WorkflowCache
from engine.worklist import WorklistQuery, open_tasks_of_instance, process_names, summary, worklist
from engine.xml_safety import parse_xml

#: P9/P11 process keys, Fristen and the audit mark of the yearly directory round.
DIRECTORY_REVIEW = "verzeichnispflege"
AGREEMENT_REVIEW = "vereinbarungsueberpruefung"
REVIEW_ROUNDS = ("jaehrlich", "netzwerktreffen")
YEARLY_REVIEW_DAY = "verzeichnispflege.jahresstichtag"
YEARLY_ROUND = "verzeichnispflege_jahresrunde"
AGREEMENT_ORIGINAL = "vereinbarung.ausgangsfassung"
AGREEMENT_PERIOD = "vereinbarung.ueberpruefung_nach"

#: Instance categories the retention job erases per transaction, and who sees its preview.
RETENTION_BATCH = 500
RETENTION_VIEWERS = ("Koordination", "Administration", "Datenschutzbeauftragte")

#: Access log entries (and whether contact data exist) are not shown to everyone involved.
HIDDEN_FROM_HISTORY = (
    "element_entered",  # the element trail for process analytics (engine/element_trail.py)
    "element_left",
    "task_viewed",
    "task_data_read",
    "instance_viewed",
    "kontaktdaten_erfasst",
    "kontaktdaten_gelesen",
    "kontaktdaten_geloescht",
    "einwilligung_erfasst",
    "einwilligung_widerrufen",
    "einwilligung_dokument_gelesen",
    "einwilligungen_angesehen",
    "einwilligung_angesehen",
    "weitergabe_verweigert",
    *READ_ACTIONS,
)


#: How old the in-memory organisations and Fristen may be before a step re-reads them.
CACHE_MAX_AGE_SECONDS = 10.0


class Hilfenetz(  # ProcessTableFacade and ModelReviewFacade extend ModelingFacade
    ProcessTableFacade, ModelReviewFacade, MigrationFacade, ApiFacade, SecurityFacade, FeedbackFacade
):
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        database: Database | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = database or Database(settings.database_url)
        self.source = DefinitionSource(settings.processes_dir, settings.forms_dir)
        self.fristen = Fristen(settings.processes_dir)
        self.organisations = Organisations()
        environment = RestrictedEnvironment(
            helpers={
                "frist": self.fristen.value,
                "frist_tage": self.fristen.days,
                "ist_ehrenamtlich": self.organisations.is_volunteer,
            },
            time_limit_seconds=settings.script_time_limit,
        )
        self.script_engine = TimerBoundedScriptEngine(environment=environment)
        self.runtime = Runtime(
            self.clock,
            SpecCache(),
            WorkflowCache(settings.workflow_cache_size),
            self.script_engine,
            known_organisations=self.organisations.slugs,
            contact_grace=lambda: parse_iso_duration(self.fristen.value(CONTACT_GRACE)),
            system_steps=SystemSteps(ACTION_HANDLERS, self.fristen, settings.processes_dir),
        )
        self.instances = Instances(
            self.db, self.runtime, self.clock, self._form_context, contact_retention=self._contact_retention
        )
        if mailer is None and settings.smtp_host:
            mailer = SmtpMailer(settings)
        self.notifications = Notifications(
            self.db, self.clock, mailer, settings.base_url, settings.digest_hour, settings.mail_sender
        )
        self.audit_trail = AuditTrail(self.db, self.clock, seal_after_commit=not settings.broker_url)
        # P12 joins and leaves keep the partner directory (P9) in step
        partners.DIRECTORY_HOOKS.on_join = verzeichnis.on_partner_join
        partners.DIRECTORY_HOOKS.on_leave = verzeichnis.on_partner_leave

    # --- set-up --------------------------------------------------------------------------
    def migrate(self) -> None:
        upgrade(self.db)
        self.refresh_caches()

    def refresh_caches(self) -> None:
        with self.db.read() as session:
            self.organisations.refresh(session)
            self.fristen.refresh(session)
        self._caches_read_at = time.monotonic()

    def _fresh_caches(self) -> None:
        """Other processes (web workers, Celery workers) may have admitted or removed a partner or
        changed a Frist: re-read both before a step that routes, at most every few seconds."""
        if time.monotonic() - getattr(self, "_caches_read_at", 0.0) > CACHE_MAX_AGE_SECONDS:
            self.refresh_caches()

    def seed_organisations(self) -> int:
        with self.db.write() as session:
            count = ensure_organisations(session)
            session.commit()
        self.refresh_caches()
        return count

    def prepare_demo(self, deployed_by: str = "demo") -> tuple[int, list[str], list[ProcessView]]:
        """Schema, the network's organisations, demo accounts and every process in the folder."""
        self.migrate()
        organisations = self.seed_organisations()
        users = self.create_demo_users()
        self.seed_directory()
        return organisations, users, self.deploy_all(deployed_by)

    def create_demo_users(self) -> list[str]:
        seed = load_seed("demo_users.json")
        created = []
        shared_hash = hash_password(seed["password"])  # one password for all demo accounts: hash once
        with self.db.write() as session:
            orgs = {o.slug: o for o in session.scalars(select(Organisation))}
            existing = {u.username for u in session.scalars(select(User))}
            for item in seed["users"]:
                if item["username"] in existing:
                    continue
                user = User(
                    username=item["username"],
                    display_name=item["display_name"],
                    email=item.get("email", f"{item['username']}@hilfenetz.invalid"),
                    password_hash=shared_hash,
                    organisation_id=orgs[item["organisation"]].id,
                    created_at=self.clock.now(),
                )
                set_user_roles(user, item["roles"])
                session.add(user)
                created.append(item["username"])
            session.commit()
        return created

    def deploy_file(self, path: Path, deployed_by: str = "system") -> ProcessView:
        bundle = build_bundle(path, self.source)
        unknown = unknown_actions(bundle)
        if unknown:
            raise InvalidDefinitionError(
                "Die Prozessdefinition enthält Fehler.", unknown, process=bundle.process_key
            )
        with self.db.write() as session:
            definition = deploy_bundle(session, bundle, deployed_by, self.clock.now())
            session.commit()
            return _process_view(definition, True)

    def deploy_decision_file(self, path: Path, deployed_by: str = "system") -> list[ProcessView]:
        """A changed DMN table takes effect through new versions of the processes that use it:
        running cases keep their version, the next case is routed by the new table."""
        root = parse_xml(path.read_text(encoding="utf-8"), filename=path.name)
        decisions = {d.get("id") for d in root.iter() if etree.QName(d).localname == "decision"}
        users = [
            p
            for p in self.source.bpmn_files()
            if any(f'decisionRef="{d}"' in p.read_text(encoding="utf-8") for d in decisions if d)
        ]
        return [self.deploy_file(p, deployed_by) for p in users]

    def deploy_all(self, deployed_by: str = "system") -> list[ProcessView]:
        return self.deploy_with_approved_files(deployed_by)

    # --- accounts ------------------------------------------------------------------------
    def actor(self, user_id: int) -> Actor | None:
        with self.db.read() as session:
            user = session.get(User, user_id)
            return actor_of(user) if user is not None and user.active else None

    def set_locale(self, actor: Actor, locale: str) -> None:
        with self.db.write() as session:
            user = session.get(User, actor.id)
            if user is not None and locale in ("de", "en"):
                user.locale = locale
                session.commit()

    # --- worklist and views --------------------------------------------------------------
    def worklist(self, actor: Actor, query: WorklistQuery) -> WorklistPage:
        with self.db.read() as session:
            return worklist(session, actor, query, self.clock.now(), process_names(session))

    def processes(self, actor: Actor) -> list[ProcessView]:
        with self.db.read() as session:
            latest: dict[str, ProcessDefinition] = {}
            for d in session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.version)):
                latest[d.process_key] = d
            return [
                _process_view(d, may_start(d.starter_groups, actor))
                for d in sorted(latest.values(), key=lambda d: d.name)
            ]

    def start_form(self, actor: Actor, process_key: str) -> StartForm:
        with self.db.read() as session:
            definition = latest_definition(session, process_key)
            version = self.runtime.version(session, definition.id)
            form = version.forms.get(definition.start_form or "")
            return StartForm(
                _process_view(definition, may_start(definition.starter_groups, actor)),
                form.schema if form else None,
                self._form_context(session),
            )

    def may_view_instance(self, actor: Actor, instance_id: int) -> bool:
        with self.db.read() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                return False
            try:
                self.instances.check_may_view(session, actor, row)
            except NotFoundError:
                return False
            return True

    def start(self, actor: Actor, process_key: str, data: Mapping[str, Any]) -> int:
        self._fresh_caches()
        return self.instances.start(actor, process_key, data)

    def complete(self, actor: Actor, task_id: str, data: Mapping[str, Any]) -> int:
        """Complete a task; returns the instance id."""
        return self.complete_task(actor, task_id, data).instance_id

    def complete_task(self, actor: Actor, task_id: str, data: Mapping[str, Any]) -> Completion:
        """Complete a task; returns the instance id and the ids of the tasks it created."""
        self._fresh_caches()
        completion = self.instances.complete(actor, task_id, data)
        self._after_partner_change(completion.instance_id)
        return completion

    def save_draft(self, actor: Actor, task_id: str, data: Mapping[str, Any]) -> None:
        self.instances.save_draft(actor, task_id, data)

    def claim(self, actor: Actor, task_id: str) -> None:
        self.instances.claim(actor, task_id)

    def release(self, actor: Actor, task_id: str) -> None:
        self.instances.release(actor, task_id)

    def reassign(self, actor: Actor, task_id: str, username: str) -> None:
        self.instances.reassign(actor, task_id, username)

    def send_message(self, actor: Actor, instance_id: int, name: str) -> None:
        self._fresh_caches()
        self.instances.send_message(actor, instance_id, name)

    def _contact_retention(self, now: datetime) -> datetime:
        return now + parse_iso_duration(self.fristen.value(CONTACT_RETENTION))

    def purge_contact_data(self) -> int:
        """Empty Kontaktdaten whose retention period ended (each deletion is audited)."""
        with self.db.write() as session:
            count = purge_expired(session, self.clock.now())
            session.commit()
            return count

    def fire_due_timers(self) -> int:
        self._fresh_caches()
        return self.instances.fire_due_timers()

    # --- notifications -------------------------------------------------------------------
    def deliver_outbox(self, limit: int = 50) -> int:
        """In-app notifications and e-mails for new tasks, each exactly once (engine/notifications.py)."""
        return self.notifications.deliver_outbox(limit)

    def send_due_reminders(self) -> int:
        """Reminders before and escalations after user-task due dates, each at most once per task."""
        with self.db.write() as session:
            count = send_due_reminders(session, self.fristen, self.clock.now())
            session.commit()
            return count

    def send_digests(self) -> int:
        """The daily digest e-mails, once per user and day from ``HILFENETZ_DIGEST_HOUR``."""
        return self.notifications.send_digests()

    def notifications_of(self, actor: Actor, limit: int = 100) -> list[NotificationView]:
        return self.notifications.of_user(actor.id, limit)

    def unread_notification_count(self, actor: Actor) -> int:
        return self.notifications.unread_count(actor.id)

    def mark_notification_read(self, actor: Actor, notification_id: int) -> None:
        self.notifications.mark_read(actor.id, notification_id)

    def mark_all_notifications_read(self, actor: Actor) -> int:
        return self.notifications.mark_all_read(actor.id)

    def notification_settings(self, actor: Actor) -> NotificationSettings:
        return self.notifications.settings(actor.id)

    def set_notification_preference(self, actor: Actor, preference: str) -> None:
        self.notifications.set_preference(actor.id, preference)

    def task_detail(
        self, actor: Actor, task_id: str, *, audit_action: str = "task_viewed", with_contacts: bool = True
    ) -> TaskDetail:
        """The task with form, data, diagram markers and history. The read is audited."""
        with self.db.write() as session:
            row = session.get(UserTask, task_id)
            if row is None:
                raise NotFoundError("Aufgabe nicht gefunden.")
            instance = session.get(ProcessInstance, row.instance_id)
            assert instance is not None
            self.instances.check_may_view(session, actor, instance)
            detail = self._task_detail(session, actor, row, instance, with_contacts)
            audit(
                session,
                self.clock.now(),
                actor,
                audit_action,
                row.instance_id,
                task_id=row.id,
                element_id=row.element_id,
            )
            session.commit()
            return detail

    def _task_detail(
        self, session: Session, actor: Actor, row: UserTask, instance: ProcessInstance, with_contacts: bool
    ) -> TaskDetail:
        now = self.clock.now()
        names = process_names(session)
        workflow = self.runtime.peek(session, instance)
        version = self.runtime.version(session, instance.definition_id)
        definition = session.get(ProcessDefinition, instance.definition_id)
        assert definition is not None
        form = version.forms.get(row.form_id or "")
        ids, keys = effective_identity(session, actor, now)
        candidate = bool(keys & set(row.candidates.split(",")))
        assignee = session.get(User, row.assignee_id) if row.assignee_id else None
        is_open = row.status == "open"
        mine = row.assignee_id in ids
        may_work = is_open and (mine or (row.assignee_id is None and candidate))
        task_data: dict[str, Any] = {}
        if may_work and form is not None:  # others involved in the case see the step, not its data
            task = workflow.get_task_from_id(UUID(row.id))
            shown = referenced_names(form)  # only what the form can show goes to the browser
            task_data = {k: v for k, v in (task.data if task else {}).items() if k in shown}
            # the stored draft in the shape the anonymity guard checks (older drafts may hold odd keys)
            task_data.update(draft_shape(form, row.draft or {}, leave_out=contact_field_keys(form)))
        completed, active = _markers(workflow)
        return TaskDetail(
            summary=summary(
                row,
                assignee.username if assignee else None,
                assignee.display_name if assignee else None,
                now,
                names,
            ),
            instructions=row.instructions,
            form_id=row.form_id,
            form_schema=form.schema if form else None,
            form_data={**task_data, **self._form_context(session)},
            candidates=tuple(k for k in row.candidates.split(",") if k),
            definition_id=instance.definition_id,
            version=definition.version,
            may_complete=may_work,
            may_claim=is_open and row.assignee_id is None and candidate,
            may_release=is_open and mine,
            may_reassign=is_open and actor.has_role("Leitung"),
            completed_elements=completed,
            active_elements=active,
            history=tuple(_history(session, instance.id)),
            contact_records=read_contact_data(session, actor, instance.id, now, task_id=row.id)
            if with_contacts and shows_contact_data(version, row.element_id)
            else (),
            contact_consent_withdrawn=with_contacts
            and shows_contact_data(version, row.element_id)
            and contact_consent_withdrawn(session, actor, instance.id),
        )

    def instance_detail(self, actor: Actor, instance_id: int) -> InstanceDetail:
        with self.db.write() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFoundError("Vorgang nicht gefunden.")
            self.instances.check_may_view(session, actor, row)
            definition = session.get(ProcessDefinition, row.definition_id)
            assert definition is not None
            workflow = self.runtime.peek(session, row)
            completed, active = _markers(workflow)
            starter = session.get(User, row.started_by_id) if row.started_by_id else None
            names = process_names(session)
            waiting = tuple(waiting_messages(workflow))
            detail = InstanceDetail(
                id=row.id,
                process_key=row.process_key,
                process_name=definition.name,
                title=row.title,
                status=row.status,
                status_reason=row.status_reason,
                end_event=row.end_event,
                definition_id=definition.id,
                version=definition.version,
                started_at=row.started_at,
                started_by=starter.display_name if starter else None,
                ended_at=row.ended_at,
                completed_elements=completed,
                active_elements=active,
                open_tasks=tuple(open_tasks_of_instance(session, row.id, self.clock.now(), names)),
                history=tuple(_history(session, row.id)),
                waiting_messages=waiting,
                linked=self._linked_cases(session, actor, row),
                ballots=self._ballots_of_case(session, actor, row.id),
            )
            audit(session, self.clock.now(), actor, "instance_viewed", row.id)
            session.commit()
            return detail

    def _linked_cases(self, session: Session, actor: Actor, row: ProcessInstance) -> tuple[LinkedCase, ...]:
        """The sender and the cases this one started — only those the viewer may see anyway."""
        pi = ProcessInstance
        related = [
            *(
                ("ausgeloest_durch", r)
                for r in session.scalars(select(pi).where(pi.id == row.parent_instance_id))
            ),
            *(
                ("ausgeloest", r)
                for r in session.scalars(select(pi).where(pi.parent_instance_id == row.id).order_by(pi.id))
            ),
        ]
        visible = []
        for relation, other in related:
            try:
                self.instances.check_may_view(session, actor, other)
            except NotFoundError:
                continue
            visible.append(LinkedCase(other.id, other.title, relation, other.status))
        return tuple(visible)

    def _ballots_of_case(self, session: Session, actor: Actor, instance_id: int) -> tuple[BallotLink, ...]:
        ballots = session.scalars(select(Ballot).where(Ballot.instance_id == instance_id).order_by(Ballot.id))
        return tuple(
            BallotLink(
                b.id, b.subject, b.status, Ergebnis(b.outcome).label if b.outcome else None, b.deadline
            )
            for b in ballots
            if voting.may_read(session, actor, b.id)
        )

    def definition_xml(self, actor: Actor, definition_id: int) -> str:
        with self.db.read() as session:
            definition = session.get(ProcessDefinition, definition_id)
            if definition is None:
                raise NotFoundError("Prozessversion nicht gefunden.")
            return definition.bpmn_xml

    def my_instances(self, actor: Actor, limit: int = 50) -> list[InstanceSummary]:
        """The instances this actor started, newest first (no workflow is restored)."""
        with self.db.read() as session:
            open_count = (
                select(func.count())
                .where(UserTask.instance_id == ProcessInstance.id, UserTask.status == "open")
                .scalar_subquery()
            )
            rows = session.execute(
                select(ProcessInstance, ProcessDefinition.name, open_count)
                .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                .where(ProcessInstance.started_by_id == actor.id)
                .order_by(ProcessInstance.id.desc())
                .limit(limit)
            ).all()
            return [
                InstanceSummary(i.id, i.title, name, i.status, i.started_at, i.ended_at, int(count or 0))
                for i, name, count in rows
            ]

    # --- directory and absences ----------------------------------------------------------
    def colleagues(self, actor: Actor) -> list[UserView]:
        with self.db.read() as session:
            users = session.scalars(
                select(User)
                .join(Organisation)
                .where(Organisation.slug == actor.organisation, User.active.is_(True))
                .order_by(User.display_name)
            )
            return [user_view(u) for u in users]

    def absences(self, actor: Actor) -> list[AbsenceView]:
        with self.db.read() as session:
            rows = session.execute(
                select(Absence, User)
                .join(User, User.id == Absence.substitute_id)
                .where(Absence.user_id == actor.id, Absence.ends_at > self.clock.now())
                .order_by(Absence.starts_at)
            ).all()
            return [
                AbsenceView(a.id, actor.username, u.username, u.display_name, a.starts_at, a.ends_at, a.note)
                for a, u in rows
            ]

    def add_absence(
        self, actor: Actor, substitute: str, starts_at: datetime, ends_at: datetime, note: str = ""
    ) -> None:
        if ends_at <= starts_at:
            raise InvalidSubmissionError(
                "Bitte prüfen Sie den Zeitraum.", {"ends_at": "Das Ende muss nach dem Beginn liegen."}
            )
        with self.db.write() as session:
            sub = session.scalars(
                select(User).where(User.username == substitute, User.active.is_(True))
            ).first()
            if sub is None or sub.id == actor.id or sub.organisation.slug != actor.organisation:
                raise InvalidSubmissionError(
                    "Bitte wählen Sie eine Vertretung aus Ihrer Organisation.",
                    {"substitute": "Ungültige Vertretung."},
                )
            session.add(
                Absence(
                    user_id=actor.id,
                    substitute_id=sub.id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    note=note[:200],
                )
            )
            audit(
                session,
                self.clock.now(),
                actor,
                "absence_recorded",
                None,
                detail={"substitute": sub.display_name},
            )
            session.commit()

    def end_absence(self, actor: Actor, absence_id: int) -> None:
        with self.db.write() as session:
            absence = session.get(Absence, absence_id)
            if absence is None or absence.user_id != actor.id:
                raise NotFoundError("Abwesenheit nicht gefunden.")
            absence.ends_at = min(absence.ends_at, self.clock.now())
            audit(session, self.clock.now(), actor, "absence_ended", None)
            session.commit()

    # --- steering-group ballots (domain.md §5) -------------------------------------------
    def voting_rules(self) -> Abstimmungsregeln:
        """The configured defaults (``processes/abstimmung.json``), read afresh each time."""
        return load_rules(self.settings.processes_dir)

    def open_ballot(
        self,
        subject: str,
        applying_org: str | None,
        rules: Abstimmungsregeln | None,
        deadline: datetime,
        secret: bool,
        opened_by: Actor | None,
        *,
        instance_id: int | None = None,
        documents: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """Open a ballot and fix its electorate now; ``rules`` None = the configured defaults;
        ``documents`` the application shown to the electors (``[{"label": …, "value": …}]``)."""
        with self.db.write() as session:
            ballot = voting.open_ballot(
                session,
                self.clock.now(),
                subject=subject,
                applying_org=applying_org,
                rules=rules or self.voting_rules(),
                deadline=deadline,
                secret=secret,
                opened_by=opened_by,
                instance_id=instance_id,
                documents=documents,
            )
            session.commit()
            return ballot.id

    def cast_vote(self, actor: Actor, ballot_id: int, choice: str, *, member: str | None = None) -> None:
        """ja / nein / enthaltung / befangen — for oneself or (``member``) as Vertretung."""
        self._fresh_caches()  # the vote that closes a ballot continues its process
        with self.db.write() as session:
            ballot = voting.cast_vote(session, self.clock.now(), actor, ballot_id, choice, member)
            resumed = self._continue_after_ballot(session, ballot, None)  # not in the voter's name
            session.commit()
        if resumed is not None:
            self.runtime.remember(resumed)

    def _continue_after_ballot(self, session: Session, ballot: Ballot, actor: Actor | None) -> Loaded | None:
        """A closed ballot that a process step opened hands its result to that step."""
        if ballot.status == voting.OFFEN or ballot.instance_id is None or ballot.task_id is None:
            return None
        result = ballot_result(session, ballot)
        return self.instances.resume_system_step(session, ballot.instance_id, ballot.task_id, result, actor)

    def close_due_ballots(self) -> int:
        """Close every open ballot whose deadline has passed (the job runner calls this)."""
        self._fresh_caches()
        now = self.clock.now()
        with self.db.read() as session:
            due = voting.due_ballot_ids(session, now)
        closed = 0
        for ballot_id in due:
            resumed = None
            with self.db.write() as session:
                ballot = voting.lock_ballot(session, ballot_id)
                if ballot.status == voting.OFFEN:  # another runner may have closed it meanwhile
                    voting.close_at_deadline(session, now, ballot)
                    resumed = self._continue_after_ballot(session, ballot, None)
                    closed += 1
                session.commit()
            if resumed is not None:
                self.runtime.remember(resumed)
        return closed

    def ballots(self, actor: Actor) -> list[BallotSummary]:
        """Ballots this user may see (coordination, steering group, administration, the electorate)."""
        with self.db.read() as session:
            return voting.ballots_for(session, actor)

    def ballot_organisations(self) -> list[OrganisationView]:
        """Organisations that may apply (their steering-group members are excluded from the vote)."""
        return self.organisations.all()

    def ballot_minutes(self, actor: Actor, ballot_id: int, *, document: str = "seite") -> BallotMinutes:
        """The ballot's minutes (running state while open; a secret ballot's tally only once closed).
        The read is audited (``document``: seite, protokoll, markdown or pdf)."""
        with self.db.write() as session:
            ballot = session.get(Ballot, ballot_id)
            if ballot is None or not voting.may_read(session, actor, ballot_id):
                raise NotFoundError("Abstimmung nicht gefunden.")
            minutes = minutes_of(session, ballot)
            detail = {"abstimmung": ballot_id, "dokument": document}
            audit(session, self.clock.now(), actor, "abstimmung_gelesen", ballot.instance_id, detail=detail)
            session.commit()
            return minutes

    def ballot_minutes_text(self, actor: Actor, ballot_id: int) -> str:
        """German Markdown minutes (the same content as :meth:`ballot_minutes_pdf`)."""
        return render_minutes(self.ballot_minutes(actor, ballot_id, document="markdown"))

    def ballot_minutes_pdf(self, actor: Actor, ballot_id: int) -> bytes:
        """The minutes as a PDF document (same permission as the printable minutes)."""
        minutes = self.ballot_minutes(actor, ballot_id, document="pdf")
        return minutes_pdf(minutes, created_at=self.clock.now())

    def send_ballot_reminders(self) -> int:
        """Remind electors who have not voted before a ballot's deadline, at most once per ballot."""
        with self.db.write() as session:
            count = send_ballot_reminders(session, self.fristen, self.clock.now())
            session.commit()
            return count

    # --- P7 Steuerungsgruppe, P12 Partner (engine/network_membership.py) ----------------------
    def partners(self, actor: Actor) -> list[PartnerView]:
        """Every organisation, active or left, with its number of active accounts (Koordination)."""
        _require_coordination(actor)
        with self.db.read() as session:
            return partners.partner_views(session)

    def steering_group_members(self) -> list[str]:
        with self.db.read() as session:
            return membership.steering_group(session)

    def issue_start_password(self, actor: Actor, username: str) -> str:
        """A new account's start password, returned once (only its hash is stored)."""
        _require_coordination(actor)
        with self.db.write() as session:
            password = partners.issue_start_password(session, self.clock.now(), actor, username)
            session.commit()
            return password

    def disable_account(self, actor: Actor, username: str, successor: str | None = None) -> None:
        """Disable an account; its open tasks go to ``successor`` or back to the group."""
        _require_coordination(actor)
        limits = membership.load_limits(self.settings.processes_dir)
        with self.db.write() as session:
            membership.disable_account(
                session, self.clock.now(), actor, username, limits, successor=successor
            )
            session.commit()

    def _after_partner_change(self, instance_id: int) -> None:
        """A P12 step may have added or removed an organisation: routing and forms must know."""
        with self.db.read() as session:
            key = session.scalar(select(ProcessInstance.process_key).where(ProcessInstance.id == instance_id))
        if key in partners.PARTNER_PROCESSES:
            self.refresh_caches()

    # --- distributed mode: scheduler and Celery tasks (engine/dispatch.py, engine/distributed.py) --
    def fire_timer(self, instance_id: int) -> int:
        """Fire one instance's due timer (the Celery task ``fire_timer``); 0 when not due (any more)."""
        self._fresh_caches()
        return self.instances.fire_timer(instance_id)

    def deliver_outbox_row(self, outbox_id: int) -> int:
        """Deliver one outbox row (the Celery task ``deliver_outbox``); 0 when not due (any more)."""
        return self.notifications.deliver_outbox(1, [outbox_id])

    def run_job(self, name: str) -> int:
        """Run one periodic job by name (the Celery task ``run_job``) and record that it finished,
        also when it failed, so the scheduler publishes it again after its interval."""
        if name not in PERIODIC_JOBS:
            raise NotFoundError(f"Unbekannter Job „{name}“.")
        job: Callable[[], int] = getattr(self, name)
        try:
            return job()
        finally:
            with self.db.write() as session:
                job_finished(session, name, self.clock.now())
                session.commit()

    def dispatch_due(self, limit: int = 500, redispatch_lost: bool = True) -> Dispatch:
        """One scheduler tick: claim (and commit) the due timers, outbox rows and periodic jobs;
        the caller publishes them only after this returned. ``redispatch_lost=False``: nothing
        published before is published again this tick (the queue still holds a backlog)."""
        now = self.clock.now()
        redispatch = timedelta(seconds=self.settings.redispatch_seconds if redispatch_lost else 10**9)
        every = timedelta(seconds=self.settings.job_interval_seconds)
        with self.db.write() as session:
            dispatch = Dispatch(
                timers=claim_due_timers(session, now, limit, redispatch),
                outbox=claim_due_outbox(session, now, limit, redispatch),
                jobs=claim_due_jobs(session, now, dict.fromkeys(PERIODIC_JOBS, every), redispatch),
            )
            session.commit()
        return dispatch

    def undo_dispatch(self, dispatch: Dispatch) -> None:
        """Publishing failed: the claimed rows are published again on the next tick."""
        with self.db.write() as session:
            undo_dispatch(session, dispatch)
            session.commit()

    def _form_context(self, session: Session) -> dict[str, Any]:
        return {
            "organisation_options": self.organisations.options(),
            "user_options": partners.user_options(session),
            "rechtsgrundlage_options": legal_basis_options(self.settings.processes_dir),
        }

    # --- Einwilligungen (engine/consent.py) ----------------------------------------------------
    def consent_choices(self) -> tuple[dict[str, str], list[OrganisationView]]:
        """The data categories and the partner organisations a consent may name."""
        return dict(consent.CATEGORIES), self.organisations.all()

    def consents_of_case(self, actor: Actor, instance_id: int) -> list[ConsentView]:
        """Consents of a case, for the organisations they name (the case must be visible)."""
        with self.db.write() as session:
            row = self._visible_instance(session, actor, instance_id)
            found = consent.consents_of_case(session, actor, row.id)
            audit(session, self.clock.now(), actor, "einwilligungen_angesehen", row.id)
            session.commit()
            return found

    def record_consent(self, actor: Actor, instance_id: int, given: consent.ConsentInput) -> int:
        with self.db.write() as session:
            row = self._visible_instance(session, actor, instance_id)
            consent_id = consent.record_consent(session, actor, row.id, given, self.clock.now())
            session.commit()
            return consent_id

    def consent_detail(self, actor: Actor, consent_id: int) -> ConsentView:
        """One consent (for its withdrawal page); the read is audited like every read of case data."""
        with self.db.write() as session:
            found = consent.consent_of(session, actor, consent_id)
            detail = {"einwilligung": consent_id}
            audit(
                session, self.clock.now(), actor, "einwilligung_angesehen", found.instance_id, detail=detail
            )
            session.commit()
            return found

    def withdraw_consent(self, actor: Actor, consent_id: int, withdrawn_by: str) -> None:
        """Stops every later transfer and tells the recipient organisations."""
        with self.db.write() as session:
            consent.withdraw(session, actor, consent_id, withdrawn_by, self.clock.now())
            session.commit()

    def consent_document(self, actor: Actor, consent_id: int) -> ConsentDocumentFile:
        with self.db.write() as session:
            document = consent.document_of(session, actor, consent_id, self.clock.now())
            session.commit()
            return document

    def _visible_instance(self, session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
        row = session.get(ProcessInstance, instance_id)
        if row is None:
            raise NotFoundError("Vorgang nicht gefunden.")
        self.instances.check_may_view(session, actor, row)
        return row

    # --- P6 Netzwerktreffen: yearly check and calendar file ------------------------------------
    def warn_second_meeting(self) -> int:
        """Job: warn the Koordination once a year if the second Netzwerktreffen has no date."""
        with self.db.write() as session:
            warned = netzwerktreffen.warn_second_meeting(session, self.clock.now(), self.fristen)
            session.commit()
            return warned

    def meeting_of(self, actor: Actor, instance_id: int) -> MeetingView | None:
        """The scheduled meeting of a P6 instance, for the invited organisations and the involved."""
        with self.db.read() as session:
            meeting = netzwerktreffen.meeting_of_instance(session, instance_id)
            if meeting is None or not self._may_see_meeting(session, actor, meeting):
                return None
            return netzwerktreffen.meeting_view(meeting)

    def meeting_calendar(self, actor: Actor, instance_id: int) -> bytes:
        """The meeting's current ``.ics`` file (METHOD:REQUEST, or CANCEL once it is cancelled)."""
        with self.db.write() as session:
            meeting = netzwerktreffen.meeting_of_instance(session, instance_id)
            if meeting is None or not self._may_see_meeting(session, actor, meeting):
                raise NotFoundError("Termin nicht gefunden.")
            method = "CANCEL" if meeting.status == "abgesagt" else "REQUEST"
            termin = netzwerktreffen.termin_of(meeting, method, meeting.updated_at)
            audit(session, self.clock.now(), actor, "termin_heruntergeladen", instance_id)
            session.commit()
            link = f"{self.settings.base_url.rstrip('/')}/benachrichtigungen"
            return calendar_bytes(termin, self.settings.mail_sender, link)

    def _may_see_meeting(self, session: Session, actor: Actor, meeting: NetworkMeeting) -> bool:
        if actor.organisation in meeting.organisations:
            return True
        row = session.get(ProcessInstance, meeting.instance_id)
        try:
            self.instances.check_may_view(session, actor, row)
        except NotFoundError:
            return False
        return True

    # --- P9 Netzwerkverzeichnis, P11 Kooperationsvereinbarung (issue 3) ----------------------
    def seed_directory(self) -> int:
        """The fictitious demo entries of the network directory (missing ones only)."""
        with self.db.write() as session:
            created = verzeichnis.seed_entries(session, self.clock.now())
            session.commit()
        return created

    def directory(
        self, actor: Actor, query: verzeichnis.DirectoryQuery
    ) -> list[verzeichnis.DirectoryEntryView]:
        """Search the directory (every logged-in partner; removed entries only for the Koordination)."""
        with self.db.read() as session:
            return verzeichnis.search(session, actor, query)

    def directory_entry(self, actor: Actor, organisation: str) -> verzeichnis.DirectoryEntryView:
        with self.db.read() as session:
            return verzeichnis.entry_view(session, actor, organisation)

    def directory_entry_values(self, actor: Actor, organisation: str) -> dict[str, Any]:
        """The entry as form values for the edit page (only for those who may edit it)."""
        if not verzeichnis.may_edit(actor, organisation):
            raise NotPermittedError("Diesen Verzeichniseintrag dürfen Sie nicht ändern.")
        with self.db.read() as session:
            return verzeichnis.entry_values(session, organisation)

    def directory_organisation_name(self, organisation: str) -> str:
        for org in self.organisations.all():
            if org.slug == organisation:
                return org.name
        raise NotFoundError("Diese Organisation ist nicht bekannt.")

    def directory_entry_missing(self, actor: Actor) -> bool:
        """True when the actor may create the (not yet existing) entry of their own organisation."""
        if not verzeichnis.may_edit(actor, actor.organisation):
            return False
        with self.db.read() as session:
            return bool(verzeichnis.entry_values(session, actor.organisation)["verzeichnis_status"] == "neu")

    def save_directory_entry(self, actor: Actor, organisation: str, values: Mapping[str, Any]) -> None:
        """The organisation's own Leitung/Fachkraft or the Koordination update an entry (audited)."""
        with self.db.write() as session:
            verzeichnis.save_entry(session, self.clock.now(), actor, organisation, values)
            session.commit()

    def remove_directory_entry(self, actor: Actor, organisation: str) -> None:
        """Only the Koordination removes an entry (audited)."""
        with self.db.write() as session:
            if (
                verzeichnis.set_status(session, self.clock.now(), actor, organisation, verzeichnis.ENTFERNT)
                is None
            ):
                raise NotFoundError("Für diese Organisation gibt es keinen Verzeichniseintrag.")
            session.commit()

    def start_directory_reviews(self, actor: Actor, anlass: str) -> list[int]:
        """Koordination: one P9 review per active organisation that has none running."""
        if not actor.has_role(verzeichnis.KOORDINATION):
            raise NotPermittedError("Nur die Koordination startet die Überprüfung für alle Organisationen.")
        if anlass not in REVIEW_ROUNDS:
            raise InvalidSubmissionError(
                "Bitte wählen Sie den Anlass der Überprüfung.",
                {"anlass": "jährlich oder vor einem Netzwerktreffen"},
            )
        with self.db.read() as session:
            running = verzeichnis.running_reviews(session)
            targets = [o for o in verzeichnis.active_organisations(session) if o not in running]
        started = []
        for organisation in targets:
            try:
                started.append(
                    self.start(actor, DIRECTORY_REVIEW, {"organisation": organisation, "anlass": anlass})
                )
            except InvalidSubmissionError:  # its own review started meanwhile: nothing to add
                continue
        return started

    def start_yearly_directory_reviews(self) -> int:
        """Job: on or after the yearly Stichtag, once a year, one review per active organisation."""
        value = self.fristen.value(YEARLY_REVIEW_DAY).strip()
        if value.lower() == OFF:
            return 0
        now = self.clock.now()
        try:
            month, day = (int(part) for part in value.split("-"))
            due = datetime(now.astimezone(BERLIN).year, month, day, tzinfo=BERLIN)  # the day in Soest
        except ValueError:
            raise ScriptError(
                f"Die Frist „{YEARLY_REVIEW_DAY}“ = „{value}“ ist kein Stichtag (MM-TT)."
            ) from None
        if now < due:
            return 0
        with self.db.write() as session:
            exclusive(session.connection(), YEARLY_ROUND)  # a second copy of the job waits, then sees it done
            done = (
                select(AuditEvent.id).where(AuditEvent.action == YEARLY_ROUND, AuditEvent.at >= due).limit(1)
            )
            if session.scalar(done) is not None:
                return 0
            audit(session, now, None, YEARLY_ROUND, None, detail={"jahr": now.year})
            running = verzeichnis.running_reviews(session)
            started = [
                self._start_as_system(session, DIRECTORY_REVIEW, {"organisation": o, "anlass": "jaehrlich"})
                for o in verzeichnis.active_organisations(session)
                if o not in running
            ]
            session.commit()
        for loaded in started:
            self.runtime.remember(loaded)
        return len(started)

    def agreement_status(self) -> AgreementStatus:
        """Date of the agreement's last version and when its review is due."""
        with self.db.read() as session:
            return vereinbarung.status(session, *self._agreement_config())

    def start_due_agreement_review(self) -> int:
        """Job: start P11 once per version when its review is due and none is running."""
        now = self.clock.now()
        with self.db.write() as session:
            running = select(ProcessInstance.id).where(
                ProcessInstance.process_key == AGREEMENT_REVIEW, ProcessInstance.status == "running"
            )
            if session.scalar(running.limit(1)) is not None:
                return 0
            original, period = self._agreement_config()
            if not vereinbarung.claim_due_review(session, original, period, now):
                session.commit()
                return 0
            last = vereinbarung.status(session, original, period).last_version
            data = {"anlass": "frist", "gesetzesaenderung": "", "letzte_fassung": last.isoformat()}
            loaded = self._start_as_system(session, AGREEMENT_REVIEW, data)
            session.commit()
        self.runtime.remember(loaded)
        return 1

    def _agreement_config(self) -> tuple[str, relativedelta]:
        period = self.fristen.value(AGREEMENT_PERIOD)
        try:
            return self.fristen.value(AGREEMENT_ORIGINAL), parse_iso_duration(period)
        except ValueError:
            raise ScriptError(
                f"Die Frist „{AGREEMENT_PERIOD}“ = „{period}“ ist keine Dauer (z. B. P2Y)."
            ) from None

    def _start_as_system(self, session: Session, process_key: str, data: dict[str, Any]) -> Any:
        """Start a process in the caller's transaction on behalf of a job (no person)."""
        definition = latest_definition(session, process_key)
        version = self.runtime.version(session, definition.id)
        start_data = {**data, "initiator_user": "system", "initiator_org": "", "kontaktdaten_erfasst": False}
        loaded = self.runtime.create(session, version, definition.id, definition.name, None, None, start_data)
        loaded.audit(
            self.clock.now(), None, "instance_started", detail={"version": definition.version, "durch": "Job"}
        )
        self.runtime.save(session, loaded, None)
        return loaded

    # --- Betrieb: operations page for administrators (engine/operations.py, issue 6) -----------
    def operations_overview(self, actor: Actor) -> operations.OperationsOverview:
        """Jobs, timers and stuck instances at a glance (Administration only)."""
        _require_administration(actor)
        with self.db.read() as session:
            return operations.overview(session, self.clock.now(), distributed=bool(self.settings.broker_url))

    def retry_outbox(self, actor: Actor, outbox_id: int) -> bool:
        """Put a dead outbox row back to pending; False when it was not dead (any more)."""
        _require_administration(actor)
        with self.db.write() as session:
            retried = operations.retry_outbox(session, self.clock.now(), actor, outbox_id)
            session.commit()
            return retried

    def set_email(self, actor: Actor, email: str) -> None:
        """Set (or, when empty, clear) the actor's own e-mail address."""
        self.notifications.set_email(actor, email)

    # --- Aufbewahrung (engine/retention.py) -----------------------------------------------------
    def apply_retention(self) -> int:
        """The daily retention job: erase what the processes' periods allow no longer. Runs once
        per Berlin day to completion (a batch that hit the limit continues next round)."""
        now = self.clock.now()
        day = now.astimezone(BERLIN).date().isoformat()
        with self.db.read() as session:
            if session.get(RetentionRun, day) is not None:
                return 0
        with self.db.write() as session:
            count, finished = retention.erase_due(session, now, RETENTION_BATCH)
            if finished and session.get(RetentionRun, day) is None:  # a second runner may have been first
                session.add(RetentionRun(day=day, finished_at=now, erased=count))
            session.commit()
            return count

    def retention_preview(self, actor: Actor, days: int = 30) -> list[retention.DueErasure]:
        """What the retention job will erase within ``days`` (nothing is changed)."""
        if not any(actor.has_role(r) for r in RETENTION_VIEWERS):
            raise NotPermittedError(
                "Nur die Koordination, die Administration und die oder der Datenschutzbeauftragte "
                "dürfen die Löschvorschau sehen."
            )
        with self.db.read() as session:
            return retention.due_erasures(session, self.clock.now() + timedelta(days=days), 1000)

    def retention_gaps(self, actor: Actor) -> list[retention.RetentionGap]:
        """Process versions for which some data category has no retention period at all."""
        if not any(actor.has_role(r) for r in RETENTION_VIEWERS):
            raise NotPermittedError(
                "Nur die Koordination, die Administration und die oder der Datenschutzbeauftragte "
                "dürfen die Löschvorschau sehen."
            )
        with self.db.read() as session:
            return retention.retention_gaps(session)

    # --- Betroffenenrechte, DSGVO Art. 15 und 17 (engine/dsgvo.py) --------------------------------
    def find_people(self, actor: Actor, query: str) -> list[dsgvo.PersonHit]:
        _require_data_protection(actor)
        with self.db.read() as session:
            return dsgvo.find_people(session, query)

    def find_contact_records(self, actor: Actor, query: str) -> list[dsgvo.ContactHit]:
        """The contact records whose names match ``query`` word by word, for the officer to choose."""
        _require_data_protection(actor)
        with self.db.read() as session:
            return dsgvo.contact_hits(session, query)

    def export_account(self, actor: Actor, username: str, fmt: str = "json") -> dsgvo.PersonalDataExport:
        """Everything stored about a staff account: for the Datenschutzbeauftragte, or one's own."""
        if actor.username != username:
            _require_data_protection(actor, "Auskünfte über andere Personen geben")
        now = self.clock.now()
        with self.db.write() as session:
            user = dsgvo.user_by_name(session, username)
            export = dsgvo.account_export(session, user, now, actor.display_name)
            audit(
                session,
                now,
                actor,
                "dsgvo_auskunft",
                None,
                detail={"art": "konto", "konto": user.id, "format": fmt},
            )
            session.commit()
            return export

    def export_subject(
        self, actor: Actor, text: str, records: Sequence[int], fmt: str = "json"
    ) -> dsgvo.PersonalDataExport:
        """Everything stored about a data subject: the contact records the officer chose from the
        search (re-checked) and the consents given with them."""
        _require_data_protection(actor, "Auskünfte über Betroffene geben")
        _require_search_text(text)
        now = self.clock.now()
        with self.db.write() as session:
            export = dsgvo.subject_export(session, text, records, now, actor.display_name)
            exported = [row[0] for row in export.sections[0].rows]
            detail = {"art": "betroffene", "datensaetze": exported, "format": fmt}
            audit(session, now, actor, "dsgvo_auskunft", None, detail=detail)
            session.commit()
            return export

    @staticmethod
    def personal_data_pdf(export: dsgvo.PersonalDataExport) -> bytes:
        return export_pdf(export)

    def account_erasure(self, actor: Actor, username: str, *, confirm: bool = False) -> dsgvo.ErasurePlan:
        """The erasure plan of a staff account (``confirm=False``) or its execution (audited)."""
        _require_data_protection(actor, "Konten löschen")
        now = self.clock.now()
        with self.db.write() as session:
            user = dsgvo.user_by_name(session, username)
            if not confirm:
                return dsgvo.account_erasure_plan(session, user, now)
            plan = dsgvo.erase_account(session, user, now)
            audit(
                session,
                now,
                actor,
                "dsgvo_loeschung",
                None,
                detail={"art": "konto", "konto": user.id, **_outcome(plan)},
            )
            session.commit()
            return plan

    def subject_erasure(
        self, actor: Actor, text: str, records: Sequence[int], *, confirm: bool = False
    ) -> dsgvo.ErasurePlan:
        """The erasure plan of the chosen contact records of a data subject, or its execution
        (audited); exactly the records shown are acted on."""
        _require_data_protection(actor, "Daten Betroffener löschen")
        _require_search_text(text)
        now = self.clock.now()
        with self.db.write() as session:
            if not confirm:
                return dsgvo.subject_erasure_plan(session, text, records)
            plan, erased = dsgvo.erase_subject(session, text, records, now)
            audit(
                session,
                now,
                actor,
                "dsgvo_loeschung",
                None,
                detail={"art": "betroffene", "datensaetze": erased, **_outcome(plan)},
            )
            session.commit()
            return plan

    # --- Prozessauswertung: analytics on the diagram (engine/process_analytics.py, issue 9) -------
    def analytics_processes(self, actor: Actor) -> list[analytics.ProcessChoice]:
        """The processes one can choose on the analytics page (Koordination, Steuerungsgruppe)."""
        analytics.require_access(actor)
        with self.db.read() as session:
            return analytics.process_choices(session)

    def process_analytics(
        self, actor: Actor, process_key: str, von: str | None, bis: str | None, version: str | None
    ) -> analytics.ProcessAnalytics:
        """Runs, median and 90th-percentile time per element of one process in a period."""
        analytics.require_access(actor)
        period = analytics.parse_period(von, bis, self.clock.now())
        chosen = analytics.parse_version(version)
        with self.db.read() as session:
            return analytics.process_analytics(session, process_key, period, chosen)

    # --- Auswertung and Jahresbericht (engine/dashboard.py, engine/annual_report.py, issue 9) ----
    def auswertung(
        self, actor: Actor, von: str | None = None, bis: str | None = None, organisation: str | None = None
    ) -> Auswertung:
        """The network's figures for a period (default: this year so far), suppressed for small numbers."""
        require_access(actor)
        now = self.clock.now()
        return self._auswertung(zeitraum(von, bis, now.astimezone(BERLIN).date()), organisation)

    def auswertung_organisationen(self, actor: Actor) -> list[tuple[str, str]]:
        """(slug, name) of the active organisations, for the filter."""
        require_access(actor)
        with self.db.read() as session:
            return organisation_choices(session)

    def jahresbericht(self, actor: Actor, jahr: int) -> Auswertung:
        """The figures of one calendar year for the whole network."""
        require_access(actor)
        return self._auswertung(jahreszeitraum(jahr, self.clock.now().astimezone(BERLIN).date()), None)

    def jahresbericht_pdf(self, actor: Actor, jahr: int) -> bytes:
        return report_pdf(self.jahresbericht(actor, jahr))

    def jahresbericht_csv(self, actor: Actor, jahr: int) -> bytes:
        return report_csv(self.jahresbericht(actor, jahr))

    def _auswertung(self, period: Zeitraum, organisation: str | None) -> Auswertung:
        try:
            frist = self.fristen.value(CONTACT_FRIST)
        except ScriptError:
            frist = "nicht festgelegt"
        with self.db.read() as session:
            return auswertung(
                session, period, self.clock.now(), organisation=organisation, contact_frist=frist
            )

    # --- audit trail (issue 7) -------------------------------------------------------------
    def login_throttled(self, username: str) -> None:
        """Record a login the web app refused for too many failures from one address."""
        self.audit_trail.login_throttled(username)

    def seal_audit_trail(self) -> int:
        """Seal the committed, still unsealed audit entries (periodic job; also after commits)."""
        return self.audit_trail.seal()

    def verify_audit_trail(self, anchor: Mapping[str, Any] | None = None) -> ChainReport:
        """Seal, then recompute the hash chain (``hilfenetz audit verify``)."""
        return self.audit_trail.verify(anchor)

    def may_search_audit(self, actor: Actor) -> bool:
        return may_search_audit(actor)

    def audit_search(self, actor: Actor, query: AuditQuery) -> AuditPage:
        """One page of audit entries for the Koordination or the data-protection officer (audited)."""
        return self.audit_trail.search(actor, query)

    def audit_export(self, actor: Actor, query: AuditQuery, fmt: str) -> str:
        """All matching entries as CSV or JSON text (audited)."""
        return self.audit_trail.export(actor, query, fmt)


def _require_coordination(actor: Actor) -> None:
    if not (actor.has_role("Koordination") or actor.has_role("Administration")):
        raise NotPermittedError("Nur die Koordination oder die Administration darf Partner verwalten.")


def _require_data_protection(actor: Actor, what: str = "Personen suchen") -> None:
    if not actor.has_role(dsgvo.DSB_ROLE):
        raise NotPermittedError(f"Nur die oder der Datenschutzbeauftragte darf {what}.")


def _require_search_text(text: str) -> None:
    if len(text.strip()) < dsgvo.MIN_QUERY:
        message = f"Bitte mindestens {dsgvo.MIN_QUERY} Zeichen des Namens oder Pseudonyms angeben."
        raise InvalidSubmissionError(message, {"q": message})


def _outcome(plan: dsgvo.ErasurePlan) -> dict[str, Any]:
    """What an erasure did, for the audit trail: categories and counts, never the data."""
    return {
        "ausgefuehrt": {i.what: i.count for i in plan.items if i.action != dsgvo.KEEP},
        "behalten": {i.what: i.reason for i in plan.items if i.action == dsgvo.KEEP},
    }


def _require_administration(actor: Actor) -> None:
    if not actor.has_role("Administration"):
        raise NotPermittedError("Nur die Administration darf die Betriebsübersicht sehen.")


def _outcome_label(outcome: str | None) -> str | None:
    return Ergebnis(outcome).label if outcome else None


def shows_contact_data(version: Any, element_id: str) -> bool:
    """Only tasks that need them show Kontaktdaten:
    ``<camunda:property name="kontaktdaten" value="anzeigen"/>`` (e.g. the proactive contact)."""
    for spec in (version.spec, *version.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) == element_id:
                return (getattr(task_spec, "extensions", None) or {}).get("kontaktdaten") == "anzeigen"
    return False


def _process_view(d: ProcessDefinition, may_start: bool) -> ProcessView:
    return ProcessView(d.process_key, d.name, d.version, d.id, d.start_form, may_start, d.deployed_at)


def _markers(workflow: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    completed: set[str] = set()
    active: set[str] = set()
    for task in workflow.get_tasks():
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        if task.state == TaskState.COMPLETED:
            completed.add(bpmn_id)
        elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
            active.add(bpmn_id)
    return tuple(sorted(completed - active)), tuple(sorted(active))


def _history(session: Session, instance_id: int) -> list[HistoryEntry]:
    rows = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.instance_id == instance_id,
            AuditEvent.action.not_in(HIDDEN_FROM_HISTORY),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return [HistoryEntry(r.at, r.actor_name, r.action, r.element_id, dict(r.detail or {})) for r in rows]
