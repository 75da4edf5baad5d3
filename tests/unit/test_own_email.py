"""A user's own e-mail address (engine): set, unchanged, cleared, refused — and the audit never
holds the address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import InvalidSubmissionError
from engine.persistence.models import AuditEvent


def audits(hn) -> list[dict]:
    with hn.db.read() as session:
        return [
            dict(d)
            for d in session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "email_changed").order_by(AuditEvent.id)
            )
        ]


def test_set_same_again_and_clear(hn, actor):
    lena = actor("fachkraft.frauenberatung")
    hn.set_email(lena, "Lena.Neu@Beispiel.de")
    assert hn.notification_settings(lena).email == "Lena.Neu@Beispiel.de"
    hn.set_email(lena, "  Lena.Neu@Beispiel.de\t")  # unchanged: nothing written, nothing audited
    hn.set_email(lena, "   ")  # only blanks: cleared
    assert hn.notification_settings(lena).email is None
    hn.set_email(lena, "")  # already empty: nothing to record
    assert audits(hn) == [{"vorher": "gesetzt", "jetzt": "gesetzt"}, {"vorher": "gesetzt", "jetzt": "leer"}]


@pytest.mark.parametrize(
    "bad", ["a@b.de;c@d.de", "lena@beispiel", "lena@@beispiel.de", "lena@beispiel.de\nBcc: x@y.de", "ä" * 300]
)
def test_refused_with_a_german_message_and_nothing_changes(hn, actor, bad):
    lena = actor("fachkraft.frauenberatung")
    with pytest.raises(InvalidSubmissionError) as refused:
        hn.set_email(lena, bad)
    assert refused.value.field_errors["email"].startswith("Bitte geben Sie genau eine gültige E-Mail-Adresse")
    assert hn.notification_settings(lena).email == "fachkraft.frauenberatung@hilfenetz.invalid"
    assert audits(hn) == []


def test_the_longest_allowed_address_is_kept(hn, actor):
    lena = actor("fachkraft.frauenberatung")
    address = "a" * 65 + "@" + ".".join(["b" * 61] * 3) + ".de"
    assert len(address) == 254
    hn.set_email(lena, address)
    assert hn.notification_settings(lena).email == address
    with pytest.raises(InvalidSubmissionError):
        hn.set_email(lena, "a" + address)
