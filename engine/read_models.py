"""Plain, frozen read models handed to the webapp (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OrganisationView:
    slug: str
    name: str
    volunteer: bool


@dataclass(frozen=True)
class PartnerView:
    """A partner organisation for the Koordination's list (P12): active or left."""

    slug: str
    name: str
    volunteer: bool
    active: bool
    accounts: int
    steering_members: int


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the engine sees them for one request."""

    id: int
    username: str
    display_name: str
    organisation: str
    organisation_name: str
    roles: tuple[str, ...]
    locale: str = "de"

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    organisation: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class TaskSummary:
    id: str
    instance_id: int
    process_key: str
    process_name: str
    element_id: str
    name: str
    context_label: str
    status: str
    assignee: str | None
    assignee_name: str | None
    priority: int
    due_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class WorklistPage:
    view: str
    tasks: tuple[TaskSummary, ...]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor_name: str
    action: str
    element_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class TaskDetail:
    summary: TaskSummary
    instructions: str
    form_id: str | None
    form_schema: dict[str, Any] | None
    form_data: dict[str, Any]
    candidates: tuple[str, ...]
    definition_id: int
    version: int
    may_complete: bool
    may_claim: bool
    may_release: bool
    may_reassign: bool
    completed_elements: tuple[str, ...]
    active_elements: tuple[str, ...]
    history: tuple[HistoryEntry, ...]
    contact_records: tuple[ContactRecordView, ...] = ()
    contact_consent_withdrawn: bool = False
    """A consent that named the actor's organisation for this case's contact data was withdrawn."""


@dataclass(frozen=True)
class ContactRecordView:
    """Kontaktdaten one organisation may read (label, value pairs; no raw field names)."""

    id: int
    entries: tuple[tuple[str, str], ...]
    recorded_by: str
    recipients: tuple[str, ...]
    consent_date: str
    scope: str
    retention_until: datetime


@dataclass(frozen=True)
class InstanceDetail:
    id: int
    process_key: str
    process_name: str
    title: str
    status: str
    status_reason: str | None
    end_event: str | None
    definition_id: int
    version: int
    started_at: datetime
    started_by: str | None
    ended_at: datetime | None
    completed_elements: tuple[str, ...]
    active_elements: tuple[str, ...]
    open_tasks: tuple[TaskSummary, ...]
    history: tuple[HistoryEntry, ...]
    waiting_messages: tuple[str, ...]
    linked: tuple[LinkedCase, ...] = ()
    """Cases this one was started by or started, as far as the viewer may see them."""
    ballots: tuple[BallotLink, ...] = ()
    """Steering-group ballots the case's system steps opened, as far as the viewer may read them."""


@dataclass(frozen=True)
class BallotLink:
    id: int
    subject: str
    status: str
    outcome_label: str | None
    deadline: datetime


@dataclass(frozen=True)
class LinkedCase:
    id: int
    title: str
    relation: str  # "ausgeloest_durch" | "ausgeloest"
    status: str


@dataclass(frozen=True)
class InstanceSummary:
    id: int
    title: str
    process_name: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    open_task_count: int


@dataclass(frozen=True)
class ProcessView:
    key: str
    name: str
    version: int
    definition_id: int
    start_form: str | None
    may_start: bool
    deployed_at: datetime


@dataclass(frozen=True)
class StartForm:
    process: ProcessView
    form_schema: dict[str, Any] | None
    form_data: dict[str, Any]


@dataclass(frozen=True)
class AbsenceView:
    id: int
    user: str
    substitute: str
    substitute_name: str
    starts_at: datetime
    ends_at: datetime
    note: str


@dataclass(frozen=True)
class ElectorView:
    """One member of a ballot's electorate as fixed at opening."""

    member: str
    member_name: str
    organisation: str
    voter: str | None
    """Username of who votes: the member, the substitute (Vertretung), or None when excluded."""
    voter_name: str | None
    exclusion_reason: str | None
    voted: bool
    choice: str | None
    """Open ballot: the choice; secret ballot: only ``befangen`` (a declared conflict is public)."""

    @property
    def substituted(self) -> bool:
        return self.voter is not None and self.voter != self.member


@dataclass(frozen=True)
class BallotDocument:
    """One item of the application as the electors saw it (Antrag / Unterlagen)."""

    label: str
    value: str


@dataclass(frozen=True)
class BallotMinutes:
    """Structured minutes (Protokoll) of a steering-group ballot; running state while it is open."""

    id: int
    subject: str
    applying_org: str | None
    secret: bool
    status: str  # offen|geschlossen
    quorum_rule: str
    decision_rule: str
    tie_rule: str
    opened_at: datetime
    opened_by: str
    deadline: datetime
    closed_at: datetime | None
    closed_how: str | None  # vorzeitig|frist
    electorate: tuple[ElectorView, ...]
    eligible: int
    participation: int
    outstanding: int
    tally: dict[str, int] | None
    """Counts per choice; None while a secret ballot is still open (a running tally would link)."""
    quorum_reached: bool | None
    outcome: str | None  # angenommen|abgelehnt|nicht_beschlussfaehig
    outcome_label: str | None
    tie_applied: bool | None
    instance_id: int | None = None
    """The process instance (Vorgang) that opened the ballot, if any."""
    documents: tuple[BallotDocument, ...] = ()
    """The application as copied when the ballot opened; empty for a ballot opened by hand."""

    @property
    def excluded(self) -> tuple[ElectorView, ...]:
        return tuple(e for e in self.electorate if e.exclusion_reason)

    @property
    def befangen(self) -> tuple[ElectorView, ...]:
        return tuple(e for e in self.electorate if e.choice == "befangen")


@dataclass(frozen=True)
class NotificationView:
    """An in-app notification: the task's name from the diagram and a link, never case data."""

    id: int
    created_at: datetime
    kind: str
    task_id: str | None
    instance_id: int | None
    title: str
    read_at: datetime | None
    ballot_id: int | None = None
    """For ballot notifications (opened, reminder): the ballot the link leads to."""


@dataclass(frozen=True)
class NotificationSettings:
    preference: str  # sofort|taeglich|aus
    email: str | None


@dataclass(frozen=True)
class BallotSummary:
    """One line of the ballot list (Abstimmungen) for one user."""

    id: int
    subject: str
    secret: bool
    status: str  # offen|geschlossen
    deadline: datetime
    outcome: str | None
    outcome_label: str | None
    must_vote: bool
    """True when this user still has to vote (own seat or as Vertretung) in an open ballot."""


@dataclass(frozen=True)
class MeetingView:
    """A scheduled network meeting or expert day (P6) as the invited see it."""

    instance_id: int
    kind: str  # netzwerktreffen|fachtag
    title: str
    location: str
    starts_at: datetime
    ends_at: datetime
    status: str  # geplant|durchgefuehrt|abgesagt


@dataclass(frozen=True)
class ConsentView:
    """An Einwilligung as the involved organisations see it (never the signed form's content)."""

    id: int
    subject: str
    instance_id: int | None
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    purpose: str
    given_to: str
    given_to_person: str | None
    given_on: str
    form: str
    witness: str | None
    recorded_at: datetime
    recorded_by: str
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawal_recorded_by: str | None
    document_name: str | None
    document_size: int | None
    may_withdraw: bool


@dataclass(frozen=True)
class ConsentDocumentFile:
    filename: str
    media_type: str
    content: bytes
