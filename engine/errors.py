"""One error tree for the engine.

Every error the engine raises on purpose derives from :class:`HilfenetzError`
and carries structured fields. ``message`` is German and safe to show to a user;
the webapp maps the subclasses to HTTP status codes in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


class HilfenetzError(Exception):
    """Base of every deliberate engine error."""

    def __init__(
        self,
        message: str,
        *,
        process: str | None = None,
        element: str | None = None,
        task: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.process = process
        self.element = element
        self.task = task


class NotFoundError(HilfenetzError):
    """The object does not exist or is not visible to the actor (HTTP 404)."""


class NotPermittedError(HilfenetzError):
    """The actor may not do this, e.g. is not a candidate of the task (HTTP 403)."""


class ConflictError(HilfenetzError):
    """Already completed or changed meanwhile (HTTP 409)."""


class InvalidSubmissionError(HilfenetzError):
    """Form data failed validation (HTTP 422); ``field_errors`` maps key -> German message."""

    def __init__(self, message: str, field_errors: Mapping[str, str], **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.field_errors: dict[str, str] = dict(field_errors)


class PersonalDataError(InvalidSubmissionError):
    """A field of an anonymous record looks like it holds personal data (HTTP 422).

    ``findings`` maps the field key to its findings (``kind``, ``start``, ``end``, ``text``);
    ``reason_key`` names the submission key that carries a typed reason for an audited override.
    """

    def __init__(
        self,
        message: str,
        field_errors: Mapping[str, str],
        findings: Mapping[str, list[dict[str, object]]],
        reason_key: str,
        **kwargs: str | None,
    ) -> None:
        super().__init__(message, field_errors, **kwargs)
        self.findings = dict(findings)
        self.reason_key = reason_key


@dataclass(frozen=True)
class Problem:
    """One finding about a definition file: where and why, in German."""

    file: str
    element: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element or '-'}: {self.reason}"


class InvalidDefinitionError(HilfenetzError):
    """A BPMN, DMN or form file is unsafe, malformed or cannot run (HTTP 422)."""

    def __init__(self, message: str, problems: Sequence[Problem] = (), **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.problems: list[Problem] = list(problems)


class TooManyRequestsError(HilfenetzError):
    """A limit on how often something may be sent was reached (HTTP 429); try again later."""


class ScriptError(HilfenetzError):
    """A diagram expression or script failed, was refused, or ran too long."""


class ConfigurationError(HilfenetzError):
    """A HILFENETZ_* setting is missing or malformed (checked at start-up)."""


class LoginRefusedError(NotPermittedError):
    """A refused login (HTTP 403 / the login form's message); ``reason`` goes into the audit trail:
    ``unbekannt`` (no such active account), ``passwort``, ``gesperrt`` (locked) or ``sperre``
    (this failure locked the account). ``user_id`` is the account's id when it exists."""

    def __init__(
        self, message: str, *, reason: str, user_id: int | None, locked_until: datetime | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.user_id = user_id
        self.locked_until = locked_until  # set while the account (or the unknown name) is locked
