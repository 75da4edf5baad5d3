"""The server-side guard for form fields marked ``properties.anonym = "true"``.

One :class:`AnonymityGuard` lives for one submission. Each marked text value is checked; with
findings the field gets a German error naming every finding, unless the user typed a reason in
the reserved submission key ``_anonymitaet_begruendung`` (:data:`REASON_KEY`). Then the value
passes and the guard remembers which fields and kinds were let through, for the audit entry
``anonymitaet_ausnahme`` (who, which field, which kinds, the reason — never the text itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.anonymity import Finding, describe, find_personal_data

__all__ = ["AUDIT_ACTION", "MIN_REASON_LENGTH", "REASON_KEY", "AnonymityGuard", "reason_of"]

REASON_KEY = "_anonymitaet_begruendung"
AUDIT_ACTION = "anonymitaet_ausnahme"
MIN_REASON_LENGTH = 10
MAX_REASON_LENGTH = 1000
REASON_TOO_SHORT = (
    f"Die Begründung für die Ausnahme ist zu kurz (mindestens {MIN_REASON_LENGTH} Zeichen). "
    "Bitte erklären Sie, warum die Angaben hier ausnahmsweise nötig sind."
)
REASON_WITH_PERSONAL_DATA = (
    "Die Begründung wird protokolliert und darf selbst keine personenbezogenen Daten enthalten; "
    "bitte formulieren Sie sie ohne Namen, Nummern oder Orte."
)


def reason_of(data: Mapping[str, Any]) -> str:
    """The typed override reason of a submission ("" when there is none)."""
    value = data.get(REASON_KEY) if isinstance(data, Mapping) else None
    return value.strip()[:MAX_REASON_LENGTH] if isinstance(value, str) else ""


@dataclass
class AnonymityGuard:
    reason: str = ""
    overridden: dict[str, list[str]] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)

    @classmethod
    def for_submission(cls, data: Mapping[str, Any]) -> AnonymityGuard:
        return cls(reason=reason_of(data))

    @property
    def may_override(self) -> bool:
        return len(self.reason) >= MIN_REASON_LENGTH and not self.reason_findings

    def __post_init__(self) -> None:
        # The reason goes into the audit trail, so it must not carry personal data itself.
        self.reason_findings = find_personal_data(self.reason) if self.reason else []

    def check(self, key: str, value: Any) -> str | None:
        """The field error for ``value`` at ``key``, or None (clean, or let through with a reason)."""
        if not isinstance(value, str) or not value.strip():
            return None
        found = find_personal_data(value)
        if not found:
            return None
        self.findings[key] = found
        if self.may_override:
            self.overridden[key] = sorted({f.kind for f in found})
            return None
        message = describe(found)
        if self.reason_findings:
            message += " " + REASON_WITH_PERSONAL_DATA
        elif self.reason:
            message += " " + REASON_TOO_SHORT
        return message

    @property
    def refused(self) -> bool:
        return bool(self.findings) and not self.may_override

    def audit_detail(self) -> dict[str, Any]:
        return {"felder": dict(sorted(self.overridden.items())), "begruendung": self.reason}

    def finding_details(self) -> dict[str, list[dict[str, object]]]:
        return {
            key: [{**f.as_dict(), "erklaerung": f.explanation} for f in found]
            for key, found in self.findings.items()
        }
