"""marshmallow schemas of ``/api/v1``: query arguments, request bodies and responses (they make the
OpenAPI document). Responses are dumped from the engine's read models; nothing here decides who
may see what — the engine facade does."""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

PAGE_ERROR = "Bitte geben Sie eine Seitenzahl von 1 bis 1.000.000 an."
PER_PAGE_ERROR = "Bitte geben Sie eine Seitengröße von 1 bis 100 an."
DATE_ERROR = "Bitte geben Sie ein Datum wie 2026-11-24 an."
DATE_RANGE_ERROR = "Bitte geben Sie ein Datum zwischen dem 01.01.2000 und dem 31.12.2100 ein."
#: Days a filter may name (outside, turning Berlin time into UTC could overflow), as on the web page.
DAYS = validate.Range(date(2000, 1, 1), date(2100, 12, 31), error=DATE_RANGE_ERROR)
DATA_ERROR = "Bitte senden Sie die Formulardaten als JSON-Objekt unter „data“."
CHOICE_ERROR = "Bitte wählen Sie ja, nein, enthaltung oder befangen."
TEXT_ERROR = "Bitte geben Sie einen Text an."
MAX_PAGE = 1_000_000


def _text(*, error_messages: dict[str, str] | None = None, **kwargs: Any) -> fields.String:
    return fields.String(error_messages={"invalid": TEXT_ERROR, **(error_messages or {})}, **kwargs)


class QuerySchema(Schema):
    """Query arguments: unknown parameters are ignored (as on the web pages)."""

    class Meta:
        unknown = EXCLUDE


class BodySchema(Schema):
    """Request bodies: unknown fields are refused (``Unbekanntes Feld.``)."""

    class Meta:
        unknown = RAISE


class PageArgs(QuerySchema):
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(1, MAX_PAGE, error=PAGE_ERROR),
        error_messages={"invalid": PAGE_ERROR},
        metadata={"description": "Seite, ab 1"},
    )
    per_page = fields.Integer(
        load_default=20,
        validate=validate.Range(1, 100, error=PER_PAGE_ERROR),
        error_messages={"invalid": PER_PAGE_ERROR},
        metadata={"description": "Einträge je Seite, 1 bis 100"},
    )


class WorklistArgs(PageArgs):
    view = _text(
        load_default="alle",
        validate=validate.OneOf(("meine", "gruppe", "alle", "erledigt")),
        metadata={"description": "meine, gruppe (zur Übernahme), alle offenen, erledigt"},
    )
    process = _text(load_default="", metadata={"description": "Prozessschlüssel"})
    state = _text(load_default="", validate=validate.OneOf(("", "ueberfaellig", "heute", "ohne_frist")))
    due_from = fields.Date(load_default=None, validate=DAYS, error_messages={"invalid": DATE_ERROR})
    due_to = fields.Date(load_default=None, validate=DAYS, error_messages={"invalid": DATE_ERROR})
    sort = _text(
        load_default="faelligkeit", validate=validate.OneOf(("faelligkeit", "prioritaet", "erstellt"))
    )


class DirectoryArgs(PageArgs):
    q = _text(load_default="", validate=validate.Length(max=200))
    gemeinde = _text(load_default="")
    thema = _text(load_default="")


class FormDataBody(BodySchema):
    data = fields.Dict(
        keys=fields.String(),
        required=True,
        error_messages={"invalid": DATA_ERROR, "required": DATA_ERROR},
        metadata={"description": "Die Formularfelder (serverseitig gegen das Formular geprüft)"},
    )


class VoteBody(BodySchema):
    choice = _text(
        required=True,
        validate=validate.OneOf(("ja", "nein", "enthaltung", "befangen"), error=CHOICE_ERROR),
        error_messages={"required": CHOICE_ERROR, "invalid": CHOICE_ERROR},
    )
    member = _text(
        load_default=None,
        allow_none=True,
        metadata={"description": "Benutzername des Mitglieds, für das Sie als Vertretung abstimmen"},
    )


class ErrorSchema(Schema):
    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class MessageSchema(Schema):
    message = fields.String(required=True)


class ProcessSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    definition_id = fields.Integer(required=True)
    start_form = fields.String(allow_none=True, required=True)
    may_start = fields.Boolean(required=True)
    deployed_at = fields.DateTime(required=True)


class FormSchema(Schema):
    schema = fields.Dict(required=True, metadata={"description": "form-js-Schema"})
    data = fields.Dict(required=True, metadata={"description": "vorbelegte Daten und Auswahllisten"})


class StartedSchema(Schema):
    instance_id = fields.Integer(required=True)
    visible = fields.Boolean(
        required=True,
        metadata={"description": "false: eine vertrauliche Meldung liegt jetzt bei der zuständigen Stelle"},
    )
    message = fields.String(required=True)


class TaskSummarySchema(Schema):
    id = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    process_name = fields.String(required=True)
    element_id = fields.String(required=True)
    name = fields.String(required=True)
    context_label = fields.String(required=True)
    status = fields.String(required=True)
    assignee = fields.String(allow_none=True, required=True)
    assignee_name = fields.String(allow_none=True, required=True)
    priority = fields.Integer(required=True)
    due_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    completed_at = fields.DateTime(allow_none=True, required=True)
    overdue = fields.Boolean(required=True)


class HistorySchema(Schema):
    at = fields.DateTime(required=True)
    actor_name = fields.String(required=True)
    action = fields.String(required=True)
    element_id = fields.String(allow_none=True, required=True)
    detail = fields.Dict(required=True)


class TaskDetailSchema(Schema):
    summary = fields.Nested(TaskSummarySchema, required=True)
    instructions = fields.String(required=True)
    form_id = fields.String(allow_none=True, required=True)
    form_schema = fields.Dict(allow_none=True, required=True)
    form_data = fields.Dict(required=True)
    definition_id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    may_complete = fields.Boolean(required=True)
    may_claim = fields.Boolean(required=True)
    may_release = fields.Boolean(required=True)
    history = fields.List(fields.Nested(HistorySchema), required=True)


class CompletedSchema(Schema):
    message = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    new_task_ids = fields.List(fields.String(), required=True)


class InstanceSummarySchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    process_name = fields.String(required=True)
    status = fields.String(required=True)
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(allow_none=True, required=True)
    open_task_count = fields.Integer(required=True)


class LinkedCaseSchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    relation = fields.String(required=True)
    status = fields.String(required=True)


class BallotLinkSchema(Schema):
    id = fields.Integer(required=True)
    subject = fields.String(required=True)
    status = fields.String(required=True)
    outcome_label = fields.String(allow_none=True, required=True)
    deadline = fields.DateTime(required=True)


class InstanceDetailSchema(Schema):
    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    process_name = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    status_reason = fields.String(allow_none=True, required=True)
    end_event = fields.String(allow_none=True, required=True)
    definition_id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    started_at = fields.DateTime(required=True)
    started_by = fields.String(allow_none=True, required=True)
    ended_at = fields.DateTime(allow_none=True, required=True)
    open_tasks = fields.List(fields.Nested(TaskSummarySchema), required=True)
    history = fields.List(fields.Nested(HistorySchema), required=True)
    waiting_messages = fields.List(fields.String(), required=True)
    linked = fields.List(fields.Nested(LinkedCaseSchema), required=True)
    ballots = fields.List(fields.Nested(BallotLinkSchema), required=True)


class BallotSummarySchema(Schema):
    id = fields.Integer(required=True)
    subject = fields.String(required=True)
    secret = fields.Boolean(required=True)
    status = fields.String(required=True)
    deadline = fields.DateTime(required=True)
    outcome = fields.String(allow_none=True, required=True)
    outcome_label = fields.String(allow_none=True, required=True)
    must_vote = fields.Boolean(required=True)


class ElectorSchema(Schema):
    member = fields.String(required=True)
    member_name = fields.String(required=True)
    organisation = fields.String(required=True)
    voter = fields.String(allow_none=True, required=True)
    voter_name = fields.String(allow_none=True, required=True)
    exclusion_reason = fields.String(allow_none=True, required=True)
    voted = fields.Boolean(required=True)
    choice = fields.String(allow_none=True, required=True)


class BallotDocumentSchema(Schema):
    label = fields.String(required=True)
    value = fields.String(required=True)


class BallotSchema(Schema):
    id = fields.Integer(required=True)
    subject = fields.String(required=True)
    applying_org = fields.String(allow_none=True, required=True)
    secret = fields.Boolean(required=True)
    status = fields.String(required=True)
    quorum_rule = fields.String(required=True)
    decision_rule = fields.String(required=True)
    tie_rule = fields.String(required=True)
    opened_at = fields.DateTime(required=True)
    opened_by = fields.String(required=True)
    deadline = fields.DateTime(required=True)
    closed_at = fields.DateTime(allow_none=True, required=True)
    closed_how = fields.String(allow_none=True, required=True)
    electorate = fields.List(fields.Nested(ElectorSchema), required=True)
    eligible = fields.Integer(required=True)
    participation = fields.Integer(required=True)
    outstanding = fields.Integer(required=True)
    tally = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True, required=True)
    quorum_reached = fields.Boolean(allow_none=True, required=True)
    outcome = fields.String(allow_none=True, required=True)
    outcome_label = fields.String(allow_none=True, required=True)
    tie_applied = fields.Boolean(allow_none=True, required=True)
    instance_id = fields.Integer(allow_none=True, required=True)
    documents = fields.List(fields.Nested(BallotDocumentSchema), required=True)


class ContactSchema(Schema):
    funktion = fields.String(required=True)
    name = fields.String(required=True)
    telefon = fields.String(required=True)
    email = fields.String(required=True)


class DirectoryEntrySchema(Schema):
    organisation = fields.String(required=True)
    organisation_name = fields.String(required=True)
    angebote = fields.String(required=True)
    themen = fields.List(fields.String(), required=True)
    gemeinden = fields.List(fields.String(), required=True)
    kontakte = fields.List(fields.Nested(ContactSchema), required=True)
    erreichbarkeit = fields.String(required=True)
    zugangswege = fields.List(fields.String(), required=True)
    sprachen = fields.String(required=True)
    status = fields.String(required=True)
    confirmed_at = fields.DateTime(allow_none=True, required=True)
    confirmed_by = fields.String(allow_none=True, required=True)
    may_edit = fields.Boolean(required=True)


def paged(item: type[Schema], name: str, **extra: fields.Field) -> type[Schema]:
    """A page of ``item``: ``items``, ``page``, ``per_page``, ``total`` (and ``extra`` fields)."""
    attributes: dict[str, Any] = {
        "items": fields.List(fields.Nested(item), required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "total": fields.Integer(required=True),
        **extra,
    }
    return Schema.from_dict(attributes, name=name)


ProcessPage = paged(ProcessSchema, "ProcessPage")
TaskPage = paged(
    TaskSummarySchema,
    "TaskPage",
    counts=fields.Dict(keys=fields.String(), values=fields.Integer(), required=True),
)
InstancePageSchema = paged(InstanceSummarySchema, "InstancePage")
BallotPage = paged(BallotSummarySchema, "BallotPage")
DirectoryPage = paged(DirectoryEntrySchema, "DirectoryPage")
