"""Personal access tokens in the engine: checks with German field errors, hashing, expiry at the
end of a Berlin day, revocation only by the owner, audit entries, accounts that are disabled or
anonymised."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from engine.errors import InvalidSubmissionError, NotFoundError
from engine.persistence.models import AccessToken, AuditEvent, User


def errors_of(hn, actor, name, scopes, expires=None) -> dict[str, str]:
    with pytest.raises(InvalidSubmissionError) as caught:
        hn.create_access_token(actor, name, scopes, expires)
    return dict(caught.value.field_errors)


def test_every_bad_input_is_named_in_german(hn, actor):
    lena = actor("fachkraft.frauenberatung")
    assert set(errors_of(hn, lena, "", [])) == {"name", "scopes"}
    assert set(errors_of(hn, lena, "x" * 101, ["lesen"])) == {"name"}
    assert set(errors_of(hn, lena, "a\x00b", ["lesen"])) == {"name"}
    assert set(errors_of(hn, lena, None, "lesen")) == {"name", "scopes"}
    assert errors_of(hn, lena, "ok", ["lesen", "admin"]) == {
        "scopes": "Bitte wählen Sie mindestens einen Bereich: lesen, schreiben oder abstimmen."
    }
    today = hn.clock.now().date()
    for expires in (today - timedelta(days=1), today + timedelta(days=400), date(9999, 12, 31)):
        assert errors_of(hn, lena, "ok", ["lesen"], expires) == {
            "expires_on": "Das Ablaufdatum muss in der Zukunft und höchstens ein Jahr entfernt liegen."
        }
    assert hn.access_tokens(lena) == []  # nothing was stored


def test_a_token_lives_through_the_day_it_names(hn, actor, clock):
    lena = actor("fachkraft.frauenberatung")
    created = hn.create_access_token(lena, "Skript", ["lesen", "lesen"], clock.now().date())  # 05.01.2026
    assert created.view.scopes == ("lesen",) and created.view.active
    assert hn.token_grant(created.secret).actor.username == lena.username
    clock.advance(timedelta(hours=14, minutes=59))  # 23:59 in Berlin
    assert hn.token_grant(created.secret) is not None
    clock.advance(timedelta(minutes=1))
    assert hn.token_grant(created.secret) is None
    assert not hn.access_tokens(lena)[0].active


def test_only_the_owner_revokes_and_both_steps_are_audited(hn, actor):
    lena, tom = actor("fachkraft.frauenberatung"), actor("fachkraft.polizei")
    created = hn.create_access_token(lena, "Skript", ["lesen"], None)
    with pytest.raises(NotFoundError):
        hn.revoke_access_token(tom, created.view.id)
    assert hn.token_grant(created.secret) is not None
    hn.revoke_access_token(lena, created.view.id)
    hn.revoke_access_token(lena, created.view.id)  # twice changes nothing
    assert hn.token_grant(created.secret) is None
    with hn.db.read() as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.detail)).all()
    token_rows = [r for r in rows if r.action.startswith("zugangstoken")]
    assert [(r.action, r.actor_id) for r in token_rows] == [
        ("zugangstoken_erstellt", lena.id),
        ("zugangstoken_widerrufen", lena.id),
    ]
    assert created.secret not in str(token_rows)


def test_tokens_of_a_disabled_or_anonymised_account_stop_working(hn, actor):
    tom = actor("fachkraft.polizei")
    created = hn.create_access_token(tom, "Skript", ["lesen"], None)
    assert hn.token_grant(created.secret) is not None
    with hn.db.write() as session:  # as "Partner verwalten" does it (P12 needs gremien.json)
        session.execute(update(User).where(User.id == tom.id).values(active=False))
        session.commit()
    assert hn.token_grant(created.secret) is None
    plan = hn.account_erasure(actor("datenschutz.kreis"), "fachkraft.polizei", confirm=True)
    assert plan.applied and actor(f"geloescht-{tom.id}").display_name.startswith("Gelöschtes Konto")
    assert ("Zugangstoken für die REST-API", 1, "löschen") in [
        (i.what, i.count, i.action) for i in plan.items
    ]
    assert hn.token_grant(created.secret) is None
    with hn.db.read() as session:
        assert session.scalars(select(AccessToken)).all() == []  # the token's name is gone too


def test_the_data_export_lists_tokens_but_never_a_secret(hn, actor):
    lena = actor("fachkraft.frauenberatung")
    created = hn.create_access_token(lena, "Fachverfahren", ["lesen", "abstimmen"], None)
    export = hn.export_account(lena, lena.username).as_json()
    [row] = export["abschnitte"]["zugangstoken"]["eintraege"]
    assert row["Name"] == "Fachverfahren" and row["Bereiche"] == "lesen, abstimmen"
    assert row["Beginnt mit"] == created.secret[:8] and created.secret not in str(export)


def test_at_most_twenty_valid_tokens(hn, actor):
    lena = actor("fachkraft.frauenberatung")
    for number in range(20):
        hn.create_access_token(lena, f"Token {number}", ["lesen"], None)
    assert "name" in errors_of(hn, lena, "Noch eins", ["lesen"])
