"""P9 Netzwerkverzeichnis and Verzeichnispflege, P11 agreement versions, signatures and review job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select, update

from engine.clock import ManualClock
from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.persistence.models import AuditEvent, DirectoryEntry, ProcessInstance, UserTask
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from engine.vereinbarung import missing_signatures, record_signatures, record_version, signatures
from engine.verzeichnis import DirectoryQuery, entry_values
from tests.conftest import actor_lookup, build_engine

SEED = json.loads((REPO_ROOT / "engine" / "seed" / "verzeichnis.json").read_text(encoding="utf-8"))


@pytest.fixture
def hn(tmp_path: Path, clock: ManualClock) -> Iterator[Hilfenetz]:
    url = f"sqlite:///{tmp_path / 'netz.db'}"
    engine = build_engine(tmp_path, url, clock, (REPO_ROOT / "processes", REPO_ROOT / "forms"))
    yield engine
    engine.db.dispose()


def seed_values(organisation: str) -> dict[str, Any]:
    item = next(e for e in SEED["eintraege"] if e["organisation"] == organisation)
    return {k: v for k, v in item.items() if k != "organisation"}


def found(hn: Hilfenetz, username: str, **query: Any) -> list[str]:
    actor = actor_lookup(hn)(username)
    return [e.organisation for e in hn.directory(actor, DirectoryQuery(**query))]


def instance_count(hn: Hilfenetz, key: str) -> int:
    with hn.db.read() as session:
        return int(session.scalar(select(func.count()).where(ProcessInstance.process_key == key)) or 0)


def open_task(hn: Hilfenetz, instance_id: int) -> tuple[str, str]:
    with hn.db.read() as session:
        row = session.execute(
            select(UserTask.id, UserTask.element_id).where(
                UserTask.instance_id == instance_id, UserTask.status == "open"
            )
        ).one()
        return str(row[0]), str(row[1])


# --- directory: search, permissions, validation ------------------------------------------------
def test_search_over_name_offers_access_routes_municipality_and_topic(hn: Hilfenetz) -> None:
    assert found(hn, "fachkraft.jobcenter", text="gebärdensprache") == ["hoerbehindertenberatung"]
    assert found(hn, "fachkraft.jobcenter", text="Frauenhaus Unterkunft") == ["frauenhaus-soest"]
    assert found(hn, "fachkraft.jobcenter", text="Frauenhaus Steuerrecht") == []
    warstein = found(hn, "fachkraft.jobcenter", gemeinde="Warstein", thema="kinderschutz")
    assert "jugendamt-warstein" in warstein and "beratung-eltern-jugendliche" in warstein  # kreisweit
    assert "jugendamt-soest" not in warstein and "kreisjugendamt" not in warstein
    assert len(found(hn, "presse.kreis")) == len(SEED["eintraege"])


def test_own_organisation_or_koordination_edit_and_every_change_is_audited(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)
    values = {**seed_values("kreispolizei"), "erreichbarkeit": "Notruf 110; Opferschutz Mo–Do 8–15 Uhr."}
    hn.save_directory_entry(actor("fachkraft.polizei"), "kreispolizei", values)
    entry = hn.directory_entry(actor("fachkraft.jobcenter"), "kreispolizei")
    assert entry.erreichbarkeit == "Notruf 110; Opferschutz Mo–Do 8–15 Uhr."
    assert entry.confirmed_by == actor("fachkraft.polizei").display_name and entry.status == "aktuell"
    hn.save_directory_entry(actor("koordination.jugendamt"), "kreispolizei", seed_values("kreispolizei"))
    for username, organisation in [
        ("fachkraft.polizei", "frauenberatung-soest"),
        ("presse.kreis", "kreisverwaltung-pressestelle"),  # Pressestelle is neither Leitung nor Fachkraft
    ]:
        with pytest.raises(NotPermittedError):
            hn.save_directory_entry(actor(username), organisation, seed_values("kreispolizei"))
    with hn.db.read() as session:
        details = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "verzeichnis_aktualisiert")
        ).all()
    assert [d["geaendert"] for d in details] == [["erreichbarkeit"], ["erreichbarkeit"]]


def test_invalid_entry_is_refused_with_german_field_errors_and_nothing_changes(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)("leitung.frauenberatung")
    before = hn.directory_entry(actor, "frauenberatung-soest")
    bad = {
        **seed_values("frauenberatung-soest"),
        "angebote": "  ",
        "themen": ["beratung", "astrologie"],
        "kontakte": [{"funktion": "", "telefon": "bitte anrufen", "email": "kein-at-zeichen"}],
    }
    with pytest.raises(InvalidSubmissionError) as caught:
        hn.save_directory_entry(actor, "frauenberatung-soest", bad)
    errors = caught.value.field_errors
    assert set(errors) == {"angebote", "themen", "kontakte"}
    assert "astrologie" in errors["themen"]
    assert "Funktion fehlt" in errors["kontakte"] and "keine Telefonnummer" in errors["kontakte"]
    assert "keine E-Mail-Adresse" in errors["kontakte"]
    assert hn.directory_entry(actor, "frauenberatung-soest") == before


def test_only_the_koordination_removes_and_sees_removed_entries(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)
    with pytest.raises(NotPermittedError):
        hn.remove_directory_entry(actor("leitung.polizei"), "kreispolizei")
    hn.remove_directory_entry(actor("koordination.jugendamt"), "kreispolizei")
    assert "kreispolizei" not in found(hn, "fachkraft.polizei", include_removed=True)
    assert "kreispolizei" not in found(hn, "koordination.jugendamt")
    assert "kreispolizei" in found(hn, "koordination.jugendamt", include_removed=True)


# --- P9 system steps ---------------------------------------------------------------------------
def test_change_notice_for_another_organisation_is_refused_and_nothing_is_saved(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)("fachkraft.polizei")
    with pytest.raises(InvalidSubmissionError) as caught:
        hn.start(actor, "verzeichnispflege", {"organisation": "frauenberatung-soest", "anlass": "aenderung"})
    assert "eigenen Organisation" in caught.value.message
    assert instance_count(hn, "verzeichnispflege") == 0


def test_a_second_review_of_the_same_organisation_is_refused(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)
    first = hn.start(
        actor("fachkraft.polizei"),
        "verzeichnispflege",
        {"organisation": "kreispolizei", "anlass": "aenderung"},
    )
    with pytest.raises(InvalidSubmissionError) as caught:
        hn.start(
            actor("koordination.jugendamt"),
            "verzeichnispflege",
            {"organisation": "kreispolizei", "anlass": "jaehrlich"},
        )
    assert f"Vorgang #{first}" in caught.value.message
    assert instance_count(hn, "verzeichnispflege") == 1


def test_review_form_is_prefilled_and_confirming_changed_values_is_refused(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)("fachkraft.polizei")
    instance = hn.start(actor, "verzeichnispflege", {"organisation": "kreispolizei", "anlass": "aenderung"})
    task_id, element = open_task(hn, instance)
    assert element == "Task_EintragPruefen"
    detail = hn.task_detail(actor, task_id)
    assert detail.form_data["angebote"] == seed_values("kreispolizei")["angebote"]
    assert detail.form_data["kontakte"] == seed_values("kreispolizei")["kontakte"]
    changed = {
        **seed_values("kreispolizei"),
        "sprachen": "Deutsch, Englisch, Polnisch",
        "ergebnis": "bestaetigt",
    }
    with pytest.raises(InvalidSubmissionError) as caught:
        hn.complete(actor, task_id, changed)
    assert "aktualisiert" in caught.value.message
    assert open_task(hn, instance) == (task_id, element)  # nothing saved
    hn.complete(actor, task_id, {**changed, "ergebnis": "aktualisiert"})
    assert hn.directory_entry(actor, "kreispolizei").sprachen == "Deutsch, Englisch, Polnisch"


def test_update_with_a_bad_phone_number_is_refused_by_the_system_step(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)("leitung.frauenberatung")
    instance = hn.start(
        actor, "verzeichnispflege", {"organisation": "frauenberatung-soest", "anlass": "aenderung"}
    )
    task_id, _ = open_task(hn, instance)
    bad = {**seed_values("frauenberatung-soest"), "ergebnis": "aktualisiert"}
    bad["kontakte"] = [{"funktion": "Beratung", "name": "", "telefon": "ruf mich an", "email": ""}]
    with pytest.raises(InvalidSubmissionError) as caught:
        hn.complete(actor, task_id, bad)
    assert "keine Telefonnummer" in caught.value.field_errors["kontakte"]
    with hn.db.read() as session:
        assert (
            entry_values(session, "frauenberatung-soest")["kontakte"]
            == seed_values("frauenberatung-soest")["kontakte"]
        )


def test_unconfirmed_entry_is_shown_as_stale(hn: Hilfenetz, clock: ManualClock) -> None:
    actor = actor_lookup(hn)
    hn.start(
        actor("koordination.jugendamt"), "verzeichnispflege", {"organisation": "tamar", "anlass": "jaehrlich"}
    )
    for _ in range(2):
        clock.advance(timedelta(days=29))
        hn.fire_due_timers()
    assert hn.directory_entry(actor("fachkraft.jobcenter"), "tamar").status == "veraltet"


def test_start_for_all_is_for_the_koordination_and_skips_running_reviews(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)
    with pytest.raises(NotPermittedError):
        hn.start_directory_reviews(actor("leitung.polizei"), "netzwerktreffen")
    with pytest.raises(InvalidSubmissionError):
        hn.start_directory_reviews(actor("koordination.jugendamt"), "irgendwann")
    hn.start(
        actor("fachkraft.polizei"),
        "verzeichnispflege",
        {"organisation": "kreispolizei", "anlass": "aenderung"},
    )
    hn.remove_directory_entry(actor("koordination.jugendamt"), "tamar")
    started = hn.start_directory_reviews(actor("koordination.jugendamt"), "netzwerktreffen")
    with hn.db.read() as session:
        active = session.scalar(select(func.count()).select_from(DirectoryEntry)) or 0
    assert len(started) == 34 - 2  # every organisation but the running review and the removed entry
    assert active == len(SEED["eintraege"])
    assert hn.start_directory_reviews(actor("koordination.jugendamt"), "netzwerktreffen") == []


def test_yearly_round_starts_once_on_or_after_the_stichtag(hn: Hilfenetz, clock: ManualClock) -> None:
    assert hn.start_yearly_directory_reviews() == 0  # 5 January, Stichtag 15 January
    clock.advance(timedelta(days=11))
    assert hn.start_yearly_directory_reviews() == 34
    assert hn.start_yearly_directory_reviews() == 0
    assert instance_count(hn, "verzeichnispflege") == 34
    with hn.db.read() as session:
        tasks = session.scalar(select(func.count()).where(UserTask.element_id == "Task_EintragPruefen")) or 0
    assert tasks == 34


# --- P11 ----------------------------------------------------------------------------------------
def test_agreement_review_job_starts_once_when_due_and_not_while_one_runs(
    hn: Hilfenetz, clock: ManualClock
) -> None:
    status = hn.agreement_status()
    assert (status.last_version, status.review_due) == (date(2024, 11, 1), date(2026, 11, 1))
    assert hn.start_due_agreement_review() == 0
    clock.advance(timedelta(days=301))  # 2 November 2026
    assert hn.start_due_agreement_review() == 1
    assert hn.start_due_agreement_review() == 0  # running
    with hn.db.write() as session:
        session.execute(update(ProcessInstance).values(status="error"))
        session.commit()
    assert hn.start_due_agreement_review() == 0  # at most once per version
    assert instance_count(hn, "vereinbarungsueberpruefung") == 1


def test_a_confirmed_review_resets_the_period(hn: Hilfenetz, clock: ManualClock) -> None:
    actor = actor_lookup(hn)("koordination.jugendamt")
    clock.advance(timedelta(days=301))
    assert hn.start_due_agreement_review() == 1
    with hn.db.read() as session:
        instance = session.scalar(select(ProcessInstance.id))
    clock.advance(timedelta(days=43))  # nobody proposed anything before the deadline
    hn.fire_due_timers()
    for data in (
        {"entwurf_art": "unveraendert"},
        {"sitzungsdatum": "2026-11-20", "beratung": "Kein Änderungsbedarf.", "beschluss": "bestaetigt"},
    ):
        hn.complete(actor, open_task(hn, instance)[0], data)
    status = hn.agreement_status()
    assert (status.last_version, status.last_kind, status.review_due) == (
        date(2026, 11, 20),
        "bestaetigt",
        date(2028, 11, 20),
    )
    assert hn.start_due_agreement_review() == 0


def test_signatures_need_reasons_for_exceptions_and_report_who_is_missing(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)("koordination.jugendamt")
    instance = hn.start(
        actor, "vereinbarungsueberpruefung", {"anlass": "gesetzesaenderung", "gesetzesaenderung": "GewSchG"}
    )
    with hn.db.write() as session:
        now = hn.clock.now()
        with pytest.raises(InvalidSubmissionError) as caught:
            record_signatures(
                session, now, actor, instance, ["kreispolizei", "gibt-es-nicht"], ["tamar"], " "
            )
        assert set(caught.value.field_errors) == {"unterschrieben", "ausnahme_begruendung"}
        with pytest.raises(InvalidSubmissionError):
            record_signatures(session, now, actor, instance, ["tamar"], ["tamar"], "Austritt")
        missing = record_signatures(
            session, now, actor, instance, ["kreispolizei"], ["tamar"], "Austritt erklärt"
        )
        assert "kreispolizei" not in missing and "tamar" not in missing and len(missing) == 32
        # a recorded signature is never turned into an exception later
        record_signatures(session, now, actor, instance, [], ["kreispolizei"], "Versehen")
        assert signatures(session, instance) == {"kreispolizei": "unterschrieben", "tamar": "ausnahme"}
        assert missing_signatures(session, instance) == missing


def open_tasks_of(hn: Hilfenetz, instance_id: int, element: str) -> dict[str, str]:
    """Open tasks of ``element``: task id -> the organisation in the task's data."""
    with hn.db.read() as session:
        ids = session.scalars(
            select(UserTask.id).where(
                UserTask.instance_id == instance_id, UserTask.status == "open", UserTask.element_id == element
            )
        ).all()
        row = session.get(ProcessInstance, instance_id)
        workflow = hn.runtime.peek(session, row)
        return {str(i): str(workflow.get_task_from_id(UUID(str(i))).data.get("organisation")) for i in ids}


def test_partners_propose_and_the_draft_lists_every_stored_proposal(
    hn: Hilfenetz, clock: ManualClock
) -> None:
    actor = actor_lookup(hn)
    instance = hn.start(
        actor("koordination.jugendamt"),
        "vereinbarungsueberpruefung",
        {"anlass": "gesetzesaenderung", "gesetzesaenderung": "GewSchG"},
    )
    tasks = {org: task for task, org in open_tasks_of(hn, instance, "Task_VorschlagEinreichen").items()}
    assert len(tasks) == 34
    with pytest.raises(InvalidSubmissionError):  # "we propose" without a proposal
        hn.complete(
            actor("fachkraft.polizei"), tasks["kreispolizei"], {"vorschlag_art": "vorschlag", "vorschlag": ""}
        )
    with pytest.raises(NotPermittedError):  # another organisation's task
        hn.complete(actor("fachkraft.polizei"), tasks["frauenberatung-soest"], {"vorschlag_art": "keine"})
    hn.complete(
        actor("fachkraft.polizei"),
        tasks["kreispolizei"],
        {"vorschlag_art": "vorschlag", "vorschlag": "§ 3 anpassen"},
    )
    hn.complete(actor("leitung.frauenberatung"), tasks["frauenberatung-soest"], {"vorschlag_art": "keine"})
    hn.complete(
        actor("fachkraft.jobcenter"),
        tasks["jobcenter"],
        {"vorschlag_art": "vorschlag", "vorschlag": "§ 5 ergänzen"},
    )
    clock.advance(timedelta(days=43))
    hn.fire_due_timers()
    assert open_tasks_of(hn, instance, "Task_VorschlagEinreichen") == {}
    task_id, element = open_task(hn, instance)
    assert element == "Task_Entwurf"
    detail = hn.task_detail(actor("koordination.frauenberatung"), task_id)
    assert detail.form_data["vorschlaege"] == [
        {"organisation": "Kreispolizeibehörde Soest", "vorschlag": "§ 3 anpassen"},
        {"organisation": "Jobcenter/AHA Kreis Soest", "vorschlag": "§ 5 ergänzen"},
    ]


def test_the_same_version_day_cannot_be_recorded_twice(hn: Hilfenetz) -> None:
    actor = actor_lookup(hn)("koordination.jugendamt")
    with hn.db.write() as session:
        record_version(session, hn.clock.now(), actor, "ueberarbeitet", date(2026, 5, 1), "", None)
        with pytest.raises(InvalidSubmissionError) as caught:
            record_version(session, hn.clock.now(), actor, "ueberarbeitet", date(2026, 5, 1), "", None)
        assert "01.05.2026" in caught.value.message


def test_p12_leave_removes_the_entry_and_a_rejoin_brings_it_back_as_stale(hn: Hilfenetz) -> None:
    from engine import partners

    with hn.db.write() as session:
        partners.DIRECTORY_HOOKS.on_leave(session, hn.clock.now(), "tamar")  # type: ignore[misc]
        session.commit()
    assert "tamar" not in found(hn, "fachkraft.jobcenter")
    with hn.db.write() as session:
        partners.DIRECTORY_HOOKS.on_join(session, hn.clock.now(), "tamar")  # type: ignore[misc]
        session.commit()
    assert hn.directory_entry(actor_lookup(hn)("fachkraft.jobcenter"), "tamar").status == "veraltet"
