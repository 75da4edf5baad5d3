"""Message starts and Kontaktdaten on SQLite and on the real PostgreSQL (JSON columns, links)."""

from __future__ import annotations

from collections.abc import Callable

from engine.read_models import Actor
from engine.service import Hilfenetz
from tests.conftest import actor_lookup
from tests.unit.test_intervention_engine import (
    CONSENT,
    CONTACT,
    RECEIVER,
    RECEIVER_FORM,
    REFERRAL,
    REFERRAL_FORM,
    SENDER,
    SENDER_FORM,
    _instances,
    _open,
    _record_call_out,
    _state,
    _with_route,
)


def test_message_starts_and_contact_data(engine_for: Callable[..., Hilfenetz], any_db_url: str) -> None:
    hn = engine_for(
        {"sender": SENDER, "empfaenger": _with_route(RECEIVER), "vermittlung": REFERRAL},
        {"sender_start": SENDER_FORM, "empfaenger_start": RECEIVER_FORM, "vermittlung": REFERRAL_FORM},
        url=any_db_url,
    )
    actor: Callable[[str], Actor] = actor_lookup(hn)
    sender = hn.start(actor("fachkraft.polizei"), "sender", {"gemeinden": ["Lippstadt", "Rüthen"]})
    assert [c.parent_instance_id for c in _instances(hn, "empfaenger")] == [sender, sender]
    assert len(_open(hn, actor("fachkraft.jugendamt-lippstadt"), "Aufnehmen")) == 1

    instance_id = _record_call_out(hn, actor, {**CONSENT, **CONTACT})
    assert "Erika" not in _state(hn, instance_id)
    counsellor = actor("fachkraft.frauenberatung")
    (record,) = hn.task_detail(counsellor, _open(hn, counsellor, "Kontakt")[0]).contact_records
    assert ("Name", "Erika Beispiel") in record.entries
