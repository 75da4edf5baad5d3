"""The hash-chained audit trail on SQLite: sealing, verification, tampering, append-only triggers,
login entries, and the search for the Koordination and the data-protection officer."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DatabaseError

from engine.audit_chain import chain_hash, find_break
from engine.audit_search import AuditQuery
from engine.audit_trail import ACTIONS_KEPT, LOGIN_ACTIONS
from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.persistence.models import AuditChainHead, AuditEvent
from engine.service import Hilfenetz

PASSWORD = "Hilfenetz-Demo-2026"


def _rows(hn: Hilfenetz) -> list[Any]:
    with hn.db.read() as session:
        return list(session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)))


def _some_history(hn: Hilfenetz, actor) -> int:
    user = actor("fachkraft.frauenberatung")
    hn.login("fachkraft.frauenberatung", PASSWORD)
    instance_id = hn.start(user, "kette", {})
    hn.instance_detail(user, instance_id)
    hn.instance_detail(user, instance_id)
    hn.logout(user)
    return instance_id


def _tamper(hn: Hilfenetz, sql: str, **params: object) -> None:
    """What someone with write access to the database file can do: drop the triggers first."""
    with hn.db.write_engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_event_seal_once"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        conn.execute(text(sql), params)


def test_every_entry_is_sealed_right_after_its_commit_and_the_chain_verifies(hn, actor):
    _some_history(hn, actor)
    rows = _rows(hn)
    assert len(rows) >= 5 and all(r.chain_seq is not None for r in rows)
    assert sorted(r.chain_seq for r in rows) == list(range(1, len(rows) + 1))
    report = hn.verify_audit_trail()
    assert report.intact and report.sealed == len(rows) and report.unsealed == 0
    assert "intakt" in report.summary and report.head_hash == max(rows, key=lambda r: r.chain_seq).chain_hash


def test_the_hash_covers_the_previous_hash_and_the_entry(hn, actor):
    _some_history(hn, actor)
    rows = sorted(_rows(hn), key=lambda r: r.chain_seq)
    assert rows[1].chain_hash == chain_hash(rows[0].chain_hash, rows[1], 2)
    assert rows[0].chain_hash == chain_hash("0" * 64, rows[0], 1)


def test_an_edited_past_entry_is_found(hn, actor):
    _some_history(hn, actor)
    victim = sorted(_rows(hn), key=lambda r: r.chain_seq)[2]
    _tamper(hn, "UPDATE audit_event SET detail = :d WHERE id = :id", d='{"x": 1}', id=victim.id)
    report = hn.verify_audit_trail()
    assert not report.intact
    assert (report.broken.kind, report.broken.seq, report.broken.event_id) == ("changed", 3, victim.id)
    assert f"Eintrag Nr. {victim.id}" in report.summary and "verändert" in report.summary


def test_a_deleted_entry_is_found(hn, actor):
    _some_history(hn, actor)
    rows = sorted(_rows(hn), key=lambda r: r.chain_seq)
    _tamper(hn, "DELETE FROM audit_event WHERE id = :id", id=rows[1].id)
    report = hn.verify_audit_trail()
    assert (report.broken.kind, report.broken.seq, report.broken.event_id) == ("deleted", 2, rows[2].id)
    assert "gelöscht" in report.summary


def test_a_deleted_last_entry_is_found_even_after_new_entries_were_sealed(hn, actor):
    _some_history(hn, actor)
    last = max(_rows(hn), key=lambda r: r.chain_seq)
    _tamper(hn, "DELETE FROM audit_event WHERE id = :id", id=last.id)
    assert hn.verify_audit_trail().broken.kind == "deleted"
    hn.login("fachkraft.polizei", PASSWORD)  # sealed after the gap, not into it
    report = hn.verify_audit_trail()
    assert (report.broken.kind, report.broken.seq) == ("deleted", last.chain_seq)


def test_an_edited_last_entry_is_found_also_when_its_hash_was_recomputed(hn, actor):
    _some_history(hn, actor)
    rows = sorted(_rows(hn), key=lambda r: r.chain_seq)
    last = rows[-1]
    _tamper(hn, "UPDATE audit_event SET actor_name = 'Jemand' WHERE id = :id", id=last.id)
    report = hn.verify_audit_trail()
    assert (report.broken.kind, report.broken.event_id) == ("changed", last.id)
    # recompute the hash too: the stored head still tells
    forged = next(r for r in _rows(hn) if r.id == last.id)
    new_hash = chain_hash(rows[-2].chain_hash, forged, last.chain_seq)
    _tamper(hn, "UPDATE audit_event SET chain_hash = :h WHERE id = :id", h=new_hash, id=last.id)
    report = hn.verify_audit_trail()
    assert report.broken is not None and report.broken.kind == "changed"


def test_an_exported_anchor_catches_a_recomputed_chain(hn, actor):
    _some_history(hn, actor)
    anchor = {"seq": hn.verify_audit_trail().head_seq, "hash": hn.verify_audit_trail().head_hash}
    rows = sorted(_rows(hn), key=lambda r: r.chain_seq)
    # rewrite entry 2 and recompute every later hash and the head: the chain alone looks intact
    _tamper(hn, "UPDATE audit_event SET actor_name = 'Jemand' WHERE id = :id", id=rows[1].id)
    previous = rows[0].chain_hash
    fresh = {r.id: r for r in _rows(hn)}
    for row in rows[1:]:
        previous = chain_hash(previous, fresh[row.id], row.chain_seq)
        _tamper(hn, "UPDATE audit_event SET chain_hash = :h WHERE id = :id", h=previous, id=row.id)
    _tamper(hn, "UPDATE audit_chain_head SET hash = :h", h=previous)
    assert hn.verify_audit_trail().intact
    report = hn.verify_audit_trail(anchor)
    assert (report.broken.kind, report.broken.seq) == ("anchor", anchor["seq"])


def test_swapped_entries_are_reported_as_reordered(hn, actor):
    _some_history(hn, actor)
    rows = sorted(_rows(hn), key=lambda r: r.chain_seq)
    a, b = rows[1], rows[2]
    _tamper(hn, "UPDATE audit_event SET chain_seq = -1 WHERE id = :id", id=a.id)
    _tamper(hn, "UPDATE audit_event SET chain_seq = :s WHERE id = :id", s=a.chain_seq, id=b.id)
    _tamper(hn, "UPDATE audit_event SET chain_seq = :s WHERE id = :id", s=b.chain_seq, id=a.id)
    report = hn.verify_audit_trail()
    assert (report.broken.kind, report.broken.event_id) == ("reordered", b.id)


def test_an_inserted_forged_entry_is_found(hn, actor):
    _some_history(hn, actor)
    rows = sorted(_rows(hn), key=lambda r: r.chain_seq)
    _tamper(hn, "UPDATE audit_event SET chain_seq = chain_seq + 1000 WHERE chain_seq >= 3")
    _tamper(hn, "UPDATE audit_event SET chain_seq = chain_seq - 999 WHERE chain_seq >= 1000")
    _tamper(
        hn,
        "INSERT INTO audit_event (id, at, actor_name, actor_org, action, detail, chain_seq, chain_hash) "
        "VALUES (9999, :at, 'Jemand', '', 'login', '{}', 3, :h)",
        at=rows[0].at.replace(tzinfo=None),
        h="f" * 64,
    )
    report = hn.verify_audit_trail()
    assert (report.broken.kind, report.broken.event_id) == ("inserted", 9999)


def test_the_database_refuses_to_change_or_delete_entries(hn, actor):
    _some_history(hn, actor)
    row = _rows(hn)[0]
    for sql in (
        "UPDATE audit_event SET detail = '{}' WHERE id = :id",
        "UPDATE audit_event SET chain_hash = 'x' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
    ):
        with pytest.raises(DatabaseError, match="unveränderlich"), hn.db.write_engine.begin() as conn:
            conn.execute(text(sql), {"id": row.id})
    assert hn.verify_audit_trail().intact


def test_unsealed_rows_are_sealed_by_the_job_in_id_order(hn, actor):
    user = actor("fachkraft.frauenberatung")
    with hn.db.write_engine.begin() as conn:  # written behind the engine's back: no after-commit seal
        for n in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_event (at, actor_name, actor_org, action, detail) "
                    "VALUES ('2026-01-01 00:00:00', :name, '', 'test', '{}')"
                ),
                {"name": f"{user.display_name} {n}"},
            )
    assert [r.chain_seq for r in _rows(hn)][-3:] == [None, None, None]
    assert hn.seal_audit_trail() == 3
    assert hn.seal_audit_trail() == 0
    sealed = _rows(hn)
    assert [r.chain_seq for r in sealed] == sorted(r.chain_seq for r in sealed)
    with hn.db.read() as session:
        assert session.get(AuditChainHead, 1).seq == len(sealed)


def test_logins_failures_lockouts_and_logouts_are_logged(hn, actor):
    assert hn.settings.login_max_attempts == 5
    with pytest.raises(NotPermittedError):
        hn.login("niemand", "falsch")
    for _ in range(5):
        with pytest.raises(NotPermittedError):
            hn.login("fachkraft.polizei", "falsch-falsch")
    with pytest.raises(NotPermittedError, match="gesperrt"):
        hn.login("fachkraft.polizei", PASSWORD)
    user = actor("fachkraft.frauenberatung")
    hn.login("fachkraft.frauenberatung", PASSWORD)
    hn.logout(user)
    logins = [r for r in _rows(hn) if r.action in LOGIN_ACTIONS]
    entries = [(r.action, r.actor_name, r.detail.get("grund")) for r in logins]
    assert entries == [
        ("login_fehlgeschlagen", "System", "unbekannt"),
        *[("login_fehlgeschlagen", "Tom Einsatz", "passwort")] * 4,
        ("konto_gesperrt", "Tom Einsatz", "sperre"),
        ("login_gesperrt", "Tom Einsatz", "gesperrt"),
        ("login", "Lena Probe", None),
        ("logout", "Lena Probe", None),
    ]
    assert all("falsch" not in json.dumps(r.detail) for r in _rows(hn))  # no password ever
    assert hn.verify_audit_trail().intact


def test_only_coordination_and_the_data_protection_officer_may_search(hn, actor):
    instance_id = _some_history(hn, actor)
    with pytest.raises(NotPermittedError):
        hn.audit_search(actor("fachkraft.frauenberatung"), AuditQuery())
    with pytest.raises(NotPermittedError):
        hn.audit_export(actor("leitung.polizei"), AuditQuery(), "csv")
    officer = actor("datenschutz.kreis")
    page = hn.audit_search(officer, AuditQuery(instance_id=instance_id, action="instance_viewed"))
    assert page.total == 2 and all(e.instance_id == instance_id for e in page.entries)
    page = hn.audit_search(actor("koordination.jugendamt"), AuditQuery(organisation="frauenberatung-soest"))
    assert page.total >= 4 and {e.actor_org for e in page.entries} == {"frauenberatung-soest"}
    searches = [r for r in _rows(hn) if r.action == "audit_durchsucht"]
    assert [r.actor_name for r in searches] == ["Dora Schutzrecht", "Jana Beispiel"]
    assert searches[0].detail == {"instance_id": instance_id, "action": "instance_viewed"}


def test_search_pages_and_filters_by_actor_and_period(hn, actor, clock):
    _some_history(hn, actor)
    officer = actor("datenschutz.kreis")
    page = hn.audit_search(officer, AuditQuery(actor="lena", per_page=2, page=2))
    assert page.total >= 4 and len(page.entries) == 2 and page.pages >= 2
    day = clock.now().date()
    assert hn.audit_search(officer, AuditQuery(date_from=day, date_to=day, actor="lena")).total == page.total
    assert hn.audit_search(officer, AuditQuery(date_to=day.replace(year=day.year - 1))).total == 0


@pytest.mark.parametrize(
    ("field", "day"),
    [("date_from", date(1, 1, 1)), ("date_to", date(9999, 12, 31)), ("date_to", date(1999, 12, 31))],
)
def test_a_day_outside_2000_to_2100_is_refused_with_a_german_message(hn, actor, field, day):
    """The Berlin bounds of 0001-01-01 and of the day after 9999-12-31 overflow (was a 500)."""
    _some_history(hn, actor)
    officer = actor("datenschutz.kreis")
    for call in (lambda q: hn.audit_search(officer, q), lambda q: hn.audit_export(officer, q, "csv")):
        with pytest.raises(InvalidSubmissionError) as refused:
            call(AuditQuery(**{field: day}))
        assert refused.value.field_errors == {field: "Bitte ein Datum zwischen 2000 und 2100 angeben."}
    edge = hn.audit_search(officer, AuditQuery(date_from=date(2000, 1, 1), date_to=date(2100, 12, 31)))
    assert edge.total > 0


def test_the_action_filter_is_read_once_per_interval_not_on_every_search(hn, actor, clock):
    """``SELECT DISTINCT action`` scans the whole trail: it runs at most every ACTIONS_KEPT."""
    _some_history(hn, actor)
    officer = actor("datenschutz.kreis")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(hn.db.write_engine, "before_cursor_execute", count)
    try:
        first = hn.audit_search(officer, AuditQuery())
        assert "instance_viewed" in first.actions and "audit_durchsucht" not in first.actions
        second = hn.audit_search(officer, AuditQuery(action="noch_nie_geschrieben"))
        assert second.actions == tuple(sorted({*first.actions, "noch_nie_geschrieben"}))
        assert sum("DISTINCT" in s for s in statements) == 1
        clock.advance(ACTIONS_KEPT)
        third = hn.audit_search(officer, AuditQuery())
        assert "audit_durchsucht" in third.actions  # read again: the searches are now known
        assert sum("DISTINCT" in s for s in statements) == 2
    finally:
        event.remove(hn.db.write_engine, "before_cursor_execute", count)


def test_export_as_csv_and_json_is_audited(hn, actor):
    instance_id = _some_history(hn, actor)
    officer = actor("datenschutz.kreis")
    csv_text = hn.audit_export(officer, AuditQuery(instance_id=instance_id), "csv")
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("id;chain_seq;at;actor_name") and len(lines) >= 4
    data = json.loads(hn.audit_export(officer, AuditQuery(instance_id=instance_id), "json"))
    assert {d["instance_id"] for d in data} == {instance_id}
    with pytest.raises(InvalidSubmissionError):
        hn.audit_export(officer, AuditQuery(), "xlsx")
    exports = [r.detail for r in _rows(hn) if r.action == "audit_exportiert"]
    assert [e["format"] for e in exports] == ["csv", "json"] and exports[0]["anzahl"] == len(lines) - 1


def test_rows_sealed_after_the_head_was_read_do_not_count_as_a_break(hn, actor):
    """verify reads the head first; on PostgreSQL the rows query may already see newer seals."""
    _some_history(hn, actor)
    rows = sorted(_rows(hn), key=lambda r: r.chain_seq)
    older_head = (rows[-2].chain_seq, rows[-2].chain_hash)
    assert find_break(rows, older_head)[0] is None
    broken = find_break(rows, (rows[-2].chain_seq, "e" * 64))[0]
    assert (broken.kind, broken.event_id) == ("changed", rows[-2].id)
    broken = find_break(rows[:-1], (rows[-1].chain_seq, rows[-1].chain_hash))[0]
    assert (broken.kind, broken.seq, broken.event_id) == ("deleted", rows[-1].chain_seq, None)
