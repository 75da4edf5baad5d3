"""Tables. Alembic migrations in ``engine/migrations`` create them; keep both in step.

Projection tables (``user_task``, ``task_candidate``, ``audit_event``, ``outbox``) are written in
the same transaction as the instance state they describe, so the worklist never deserializes a
workflow and never disagrees with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Organisation(Base):
    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    volunteer: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Role(Base):
    __tablename__ = "role"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(5), default="de")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    email: Mapped[str | None] = mapped_column(String(254))
    notification_preference: Mapped[str] = mapped_column(
        String(10), default="sofort", server_default="sofort"
    )
    """E-mail for new tasks: ``sofort`` (each), ``taeglich`` (one digest a day) or ``aus`` (in-app only)."""
    organisation: Mapped[Organisation] = relationship(lazy="joined")
    roles: Mapped[list[UserRole]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class UserRole(Base):
    __tablename__ = "user_role"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    role: Mapped[str] = mapped_column(ForeignKey("role.name"), primary_key=True)


class Absence(Base):
    """Abwesenheit mit Vertretung: while active, the substitute sees the absent user's tasks."""

    __tablename__ = "absence"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    substitute_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(200), default="")


class ProcessDefinition(Base):
    """One deployed version of a process: stored once, keyed by the hash of all its files."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("process_key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    spec_json: Mapped[str] = mapped_column(Text)
    forms_json: Mapped[str] = mapped_column(Text)
    start_form: Mapped[str | None] = mapped_column(String(100))
    starter_groups: Mapped[str | None] = mapped_column(Text)  # camunda:candidateStarterGroups
    start_message: Mapped[str | None] = mapped_column(String(200), index=True)
    """Name of the message its start event waits for: other processes start it by throwing it."""
    confidential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Case data (camunda:property vertraulich=ja): only the involved see instances, not all coordinators."""
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(80))


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), index=True)  # running|completed|stuck|error
    status_reason: Mapped[str | None] = mapped_column(Text)
    end_event: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    state_format: Mapped[int] = mapped_column(Integer)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    initiator_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    ended_at: Mapped[datetime | None]
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    parent_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    """The instance whose message started this one (e.g. P1 → P1a per youth office)."""
    message_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Message starts between this instance and a person's start (bounded, see runtime)."""
    timer_dispatched_for: Mapped[datetime | None]
    """Distributed mode: the ``next_timer_at`` for which ``fire_timer`` was last published …"""
    timer_dispatched_at: Mapped[datetime | None]
    """… and when (published again after ``HILFENETZ_REDISPATCH_SECONDS`` if still due)."""
    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 (SQLAlchemy reads it as is)


class UserTask(Base):
    """Worklist projection of one user-task instance (id = SpiffWorkflow task UUID)."""

    __tablename__ = "user_task"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    element_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    form_id: Mapped[str | None] = mapped_column(String(100))
    candidates: Mapped[str] = mapped_column(Text, default="")  # normalised, comma separated
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[str] = mapped_column(String(20))  # open|completed|cancelled
    priority: Mapped[int] = mapped_column(Integer, default=50)
    due_at: Mapped[datetime | None]
    follow_up_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    draft: Mapped[dict[str, Any] | None]
    context_label: Mapped[str] = mapped_column(String(200), default="")
    reminded_at: Mapped[datetime | None]
    """When the reminder before the due date was written (engine/reminders.py); at most once."""
    escalated_at: Mapped[datetime | None]
    """When the escalation after the due date was written; at most once."""
    __table_args__ = (
        Index("ix_user_task_assignee_open", "assignee_id", "status", "due_at"),
        Index("ix_user_task_completed_by", "completed_by_id", "completed_at"),
        Index("ix_user_task_instance_status", "instance_id", "status"),
    )


class TaskCandidate(Base):
    """One row per open, unclaimed task and candidate key (``Rolle@org``, ``Rolle@*``, ``*@org``).

    Rows exist only while the task is open and unassigned, so the group worklist reads a small
    index instead of filtering a million historic tasks.
    """

    __tablename__ = "task_candidate"
    task_id: Mapped[str] = mapped_column(ForeignKey("user_task.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(140), primary_key=True)
    due_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=50)
    created_at: Mapped[datetime]
    process_key: Mapped[str] = mapped_column(String(100))
    multi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """True when the task has more than one candidate key (counts need DISTINCT only then)."""
    __table_args__ = (
        # covering: the group worklist's page and counts are answered from the index alone
        Index("ix_task_candidate_key_due", "key", "due_at", "priority", "created_at", "task_id", "multi"),
        Index("ix_task_candidate_key_created", "key", "created_at"),
        Index("ix_task_candidate_key_priority", "key", "priority"),
    )


class AuditEvent(Base):
    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(60))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_org: Mapped[str] = mapped_column(String(80), default="", server_default="")
    """The actor's organisation (slug) when the entry was written; empty for the system."""
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    """Position in the hash chain, assigned once by the sealer (``engine/audit_chain.py``)."""
    chain_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 (hex) over the previous entry's hash and this entry's canonical form."""
    __table_args__ = (Index("ux_audit_event_chain_seq", "chain_seq", unique=True),)


class AuditChainHead(Base):
    """The last sealed position and hash (one row): a deleted last entry leaves a gap before it."""

    __tablename__ = "audit_chain_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime]


class Outbox(Base):
    """Notifications and jobs, written with the state change; a runner publishes after commit."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    """Not before this instant: the retry after a failure, or the end of a claim (``processing``)."""
    dispatched_at: Mapped[datetime | None]
    """Distributed mode: when the scheduler published this row's id (cleared by the claim)."""


class Notification(Base):
    """In-app notification: one per outbox row and recipient (the unique pair makes delivery idempotent).

    ``title`` is the task's name from the diagram, never case data.
    """

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    title: Mapped[str] = mapped_column(String(200))
    read_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("outbox_id", "user_id", name="uq_notification_outbox_user"),
        Index("ix_notification_user_read", "user_id", "read_at"),
        Index("ix_notification_user_created", "user_id", "created_at"),
    )


class EmailDelivery(Base):
    """E-mail log: recorded and committed as ``queued`` with the claim, ``sending`` right before
    the SMTP server gets the message.

    ``sent`` after the server accepted it; ``failed`` when it certainly did not (retried);
    ``unsicher`` when a crash or a broken connection leaves it open whether it arrived — such a
    row is never sent again (at most once). One row per (outbox row, user) and per (user, digest day).
    """

    __tablename__ = "email_delivery"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    digest_day: Mapped[str | None] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))  # aufgabe|tagesuebersicht
    status: Mapped[str] = mapped_column(String(20))  # queued|sending|sent|failed|unsicher|entfallen|leer
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("outbox_id", "user_id", name="uq_email_delivery_outbox_user"),
        UniqueConstraint("user_id", "digest_day", name="uq_email_delivery_user_day"),
        Index("ix_email_delivery_status", "status"),
    )


class Kontaktdaten(Base):
    """Referral contact data (name, address, safe phone, safe times): never in process data.

    Stored only with recorded consent; readable only by the recording organisation and the
    organisations the consent names; every read is audited; emptied after ``retention_until``.
    """

    __tablename__ = "kontaktdaten"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_by_org: Mapped[str] = mapped_column(String(80))
    consent_date: Mapped[str] = mapped_column(String(10))
    consent_scope: Mapped[str] = mapped_column(Text, default="", server_default="")
    recipients: Mapped[list[str]] = mapped_column(JSON)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    retention_until: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_kontaktdaten_instance", "instance_id"),
        Index("ix_kontaktdaten_retention", "deleted_at", "retention_until"),
    )


class ProcessParameter(Base):
    """Configured durations (Fristen) that override the defaults in ``processes/fristen.json``."""

    __tablename__ = "process_parameter"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("CURRENT_TIMESTAMP"))


class Ballot(Base):
    """A steering-group vote (Abstimmung der Steuerungsgruppe); rules are copied in when it opens."""

    __tablename__ = "ballot"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    applying_org: Mapped[str | None] = mapped_column(String(80))
    """Slug of the applying organisation; its members are excluded automatically."""
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    """The process instance (e.g. P5 Förderantrag) that opened the ballot, if any."""
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)  # offen|geschlossen
    opened_at: Mapped[datetime]
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    deadline: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    closed_how: Mapped[str | None] = mapped_column(String(20))  # vorzeitig|frist
    outcome: Mapped[str | None] = mapped_column(String(30))  # angenommen|abgelehnt|nicht_beschlussfaehig
    quorum_reached: Mapped[bool | None] = mapped_column(Boolean)
    tie_applied: Mapped[bool | None] = mapped_column(Boolean)
    task_id: Mapped[str | None] = mapped_column(String(36))
    """The waiting system step (SpiffWorkflow task id) of ``instance_id`` that the result resumes."""
    documents: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    """The application as the electors saw it (Unterlagen): ``[{"label": …, "value": …}]``,
    copied from the process data when the ballot opened, so later edits cannot change it."""
    reminded_at: Mapped[datetime | None]
    """When electors who had not yet voted were reminded of the deadline (at most once)."""


class BallotElector(Base):
    """The electorate, fixed when the ballot opens and never changed afterwards.

    ``voter_id`` is who actually votes: the member, or the substitute named in an absence that was
    running at opening time; ``None`` when the member is excluded (``exclusion_reason``).
    """

    __tablename__ = "ballot_elector"
    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    voter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    organisation: Mapped[str] = mapped_column(String(80))
    exclusion_reason: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("ballot_id", "member_id", name="uq_ballot_elector_member"),)


class BallotVote(Base):
    """One row per member who voted, written as the vote is cast (never only in process data).

    In a secret ballot ``choice`` stays empty for ja/nein/enthaltung (only ``ballot_tally`` knows
    them, without a voter); a declared conflict of interest (``befangen``) is always recorded.
    """

    __tablename__ = "ballot_vote"
    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    cast_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    cast_at: Mapped[datetime]
    choice: Mapped[str | None] = mapped_column(String(12))
    __table_args__ = (UniqueConstraint("ballot_id", "member_id", name="uq_ballot_vote_member"),)


class BallotTally(Base):
    """Count per choice, updated in the vote's transaction; holds no voter and no time."""

    __tablename__ = "ballot_tally"
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id"), primary_key=True)
    choice: Mapped[str] = mapped_column(String(12), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class NetworkMeeting(Base):
    """A network meeting or expert day (P6) as scheduled, written by its system steps in the
    step's transaction: the calendar file and the yearly check of the second meeting read it.

    ``uid`` stays the same for the meeting's whole life (a new date raises ``sequence``), so
    calendar programs update their entry. ``status``: geplant, durchgefuehrt, abgesagt.
    """

    __tablename__ = "network_meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # netzwerktreffen|fachtag
    title: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    uid: Mapped[str] = mapped_column(String(120), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    organisations: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]
    __table_args__ = (Index("ix_network_meeting_kind_start", "kind", "starts_at"),)


class NetworkMeetingWarning(Base):
    """The coordinators were warned that the year's second network meeting has no date: one row
    per year (the primary key keeps it to one warning even with two job runners)."""

    __tablename__ = "network_meeting_warning"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime]
    meetings: Mapped[int] = mapped_column(Integer)


# --- P9 Netzwerkverzeichnis, P11 Kooperationsvereinbarung ------------------------------------


class DirectoryEntry(Base):
    """One partner organisation's entry in the network directory (Netzwerkverzeichnis).

    Holds only the organisation's own office data: offers, contact persons by function with the
    office's phone and e-mail, reachability and access routes — never client data.
    ``status``: aktuell | veraltet (not confirmed in time) | entfernt (removed by the Koordination).
    """

    __tablename__ = "directory_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), unique=True)
    angebote: Mapped[str] = mapped_column(Text, default="")
    themen: Mapped[list[str]] = mapped_column(JSON, default=list)
    gemeinden: Mapped[list[str]] = mapped_column(JSON, default=list)
    kontakte: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    erreichbarkeit: Mapped[str] = mapped_column(Text, default="")
    zugangswege: Mapped[list[str]] = mapped_column(JSON, default=list)
    sprachen: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(12), index=True)
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    """Display name of who last confirmed or updated the entry ("System" for a seed)."""
    updated_at: Mapped[datetime]


class DirectoryReview(Base):
    """The running P9 review of an organisation's entry: at most one per organisation."""

    __tablename__ = "directory_review"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    started_at: Mapped[datetime]


class AgreementVersion(Base):
    """A version of the Kooperationsvereinbarung in force, or a review that confirmed it unchanged.

    The newest ``valid_from`` is the "last version" the two-year review period runs from;
    ``review_started_at`` marks that the job has started the due review for it (at most once).
    """

    __tablename__ = "agreement_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))  # ausgangsfassung|ueberarbeitet|bestaetigt
    summary: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    recorded_at: Mapped[datetime]
    review_started_at: Mapped[datetime | None]
    __table_args__ = (UniqueConstraint("valid_from", "kind", name="uq_agreement_version_day_kind"),)


class AgreementSignature(Base):
    """A partner's signature under a revised agreement (or the exception the Koordination recorded)."""

    __tablename__ = "agreement_signature"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(12))  # unterschrieben|ausnahme
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("instance_id", "organisation_id", name="uq_agreement_signature_org"),)


class AgreementProposal(Base):
    """A partner's proposal to change the agreement, stored when submitted (the proposal deadline
    may end the other partners' tasks, and with them the multi-instance data)."""

    __tablename__ = "agreement_proposal"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    text: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime]
    submitted_by: Mapped[str] = mapped_column(String(200))


class ScheduledJob(Base):
    """Distributed mode: one row per periodic job (reminders, digests, …), claimed by ``hilfenetz beat``.

    A job is published again ``interval`` after it was last published once its run has finished,
    or after the redispatch timeout when its run never reported back (a lost task).
    """

    __tablename__ = "scheduled_job"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    dispatched_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class RetentionErasure(Base):
    """The retention job erased one data category of one ended instance (at most once: the key).

    Holds only what, when and under which period — never the data (engine/retention.py).
    """

    __tablename__ = "retention_erasure"
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(30), primary_key=True)
    erased_at: Mapped[datetime]
    period: Mapped[str] = mapped_column(String(20))
    items: Mapped[int] = mapped_column(Integer)


class RetentionRun(Base):
    """One row per calendar day (Berlin) on which the retention job finished all that was due."""

    __tablename__ = "retention_run"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    finished_at: Mapped[datetime]
    erased: Mapped[int] = mapped_column(Integer)


class ConsentRecord(Base):
    """An Einwilligung (release from confidentiality): whose data (a pseudonym, never the clear
    name), which data categories, to which organisations, for what, given to whom and when, how
    (signed form, verbally before a witness, or in the referral form), and its withdrawal.

    Every transfer of personal data between organisations checks it (``engine/consent.py``).
    """

    __tablename__ = "consent_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(100), index=True)
    """Pseudonym or case reference of the person whose data it covers."""
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kontaktdaten_id: Mapped[int | None] = mapped_column(ForeignKey("kontaktdaten.id"), index=True)
    """The referral contact record whose inline consent created this record, if any."""
    categories: Mapped[list[str]] = mapped_column(JSON)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    given_to_org: Mapped[str] = mapped_column(String(80))
    given_to_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    given_on: Mapped[str] = mapped_column(String(10))
    form: Mapped[str] = mapped_column(String(20))  # schriftlich|muendlich|formular
    witness: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_by_org: Mapped[str] = mapped_column(String(80))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    """Who declared the withdrawal (e.g. the person herself, her lawyer)."""
    withdrawal_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    withdrawal_recorded_by_org: Mapped[str | None] = mapped_column(String(80))


class ConsentDocument(Base):
    """The signed consent form (PDF, PNG or JPEG, size-limited); every download is audited."""

    __tablename__ = "consent_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consent_record.id"), unique=True)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ModelDraft(Base):
    """A draft of one BPMN, DMN or form file, edited in the browser or uploaded (issue 5).

    A BPMN draft is the head of a change set: form and DMN drafts with ``change_id`` pointing to it
    are checked and deployed together with it (its state is theirs). A form or DMN draft without a
    head stands alone; approving it deploys new versions of the processes that use the file.
    States: ``entwurf`` → ``zur_freigabe`` → ``freigegeben`` | ``verworfen`` (or back to ``entwurf``).
    """

    __tablename__ = "model_draft"
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("model_draft.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # bpmn|dmn|form
    filename: Mapped[str] = mapped_column(String(120))
    """File name with extension, e.g. ``fallkonferenz.bpmn`` or ``fallkonferenz_neu.form``."""
    content: Mapped[str] = mapped_column(Text)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    """The deployed version this draft started from (None: new, uploaded or from a shipped file)."""
    state: Mapped[str] = mapped_column(String(20), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    editor_ids: Mapped[list[int] | None] = mapped_column(JSON)
    """Everyone who created or saved the content (none of them may approve it: four eyes)."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    submitted_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str | None] = mapped_column(Text)
    deployed_ids: Mapped[list[int] | None] = mapped_column(JSON)
    """The process versions its approval deployed."""
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 (SQLAlchemy reads it as is)


class AccessToken(Base):
    """A personal access token for the REST API (``/api/v1``): only the SHA-256 of its secret is
    stored; the secret itself is shown once, when it is created (``engine/access_tokens.py``)."""

    __tablename__ = "access_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The first characters of the token (``hn_`` and four more), so the owner can recognise it."""
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AccountSecurity(Base):
    """Per-account security state beside ``app_user``: a start password that must be replaced at the
    first login, when the password was last changed, and the single sign-on subject of the account."""

    __tablename__ = "account_security"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None]
    oidc_issuer: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    #: Bumped to end every web session of the account (logout, password change, deactivation).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_account_security_oidc"),)


class UnknownLoginName(Base):
    """Failed logins for names without an (active) account, so that they are locked out exactly like
    real accounts and the login page does not tell which names exist. Only a keyed digest of the
    typed name is kept (it may be a mistyped password)."""

    __tablename__ = "unknown_login_name"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime]


class AccessibilityFeedback(Base):
    """A report about an accessibility barrier, sent with the form on the accessibility statement
    (BITV 2.0 § 7). Name and e-mail are optional; the row is deleted after the retention period
    (``HILFENETZ_BARRIEREFREIHEIT_AUFBEWAHRUNG_TAGE``). No IP address or account is stored."""

    __tablename__ = "accessibility_feedback"
    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    page: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    reply_wanted: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
