"""Auswertung (engine/dashboard.py): each figure from generated rows with known answers, small
numbers suppressed (also shares, medians and differences), the access rule, the annual report as
PDF (read back with pypdf) and CSV, and the runtime's per-strand end-event audit."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from engine.annual_report import report_csv, report_pdf
from engine.dashboard import Auswertung, Tabelle
from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.persistence.models import AuditEvent, Organisation
from engine.small_numbers import Fallzahlen, Zelle, anteil, einzeln, median_von
from tests.support.analytics_data import AnalyticsData
from tests.unit.test_instances import first_task

P1 = "polizeieinsatz"
CONTACT = "Task_Kontaktaufnahme"
BERATUNG = "Fachkraft@frauenberatung-soest"
NOW = datetime(2026, 12, 15, 9, 0, tzinfo=UTC)


def at(month: int, day: int = 10, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def column(table: Tabelle, index: int) -> dict[str, str]:
    return {row.label: row.zellen[index].text for row in table.zeilen}


def referral(
    data: AnalyticsData, when: datetime, *, outcome: str | None = None, contact_after: timedelta | None = None
) -> int:
    instance = data.instance(P1, when - timedelta(hours=2), org="kreispolizei")
    data.task(
        instance,
        P1,
        CONTACT,
        when,
        due_at=when + timedelta(days=3),
        completed_at=when + contact_after if contact_after is not None else None,
        candidates=BERATUNG,
    )
    if outcome:
        data.end(instance, outcome, when + timedelta(days=4))
        data.end(instance, "Ende_KeinHohesRisiko", when)  # another strand: not an outcome of the referral
    return instance


@pytest.fixture
def data(hn, clock) -> AnalyticsData:
    clock.set(NOW)
    return AnalyticsData(hn)


@pytest.fixture
def coordinator(actor):
    return actor("koordination.jugendamt")


def report(hn, coordinator, **filters) -> Auswertung:
    return hn.auswertung(
        coordinator, filters.pop("von", "2026-01-01"), filters.pop("bis", "2026-12-31"), **filters
    )


# --- suppression ----------------------------------------------------------------------------
def test_counts_from_one_to_four_show_as_less_than_five_and_zero_as_zero():
    assert [einzeln(n).text for n in (0, 1, 4, 5, 17)] == ["0", "< 5", "< 5", "5", "17"]
    hidden = einzeln(3)
    assert hidden.wert is None and hidden.unterdrueckt  # the value never leaves the engine


def test_a_lone_small_part_hides_another_so_the_total_cannot_give_it_away():
    counts = Fallzahlen([[12, 3, 9, 0]])
    counts.zeilensumme(0, 0, [1, 2, 3])
    assert [c.text for c in counts.zellen()[0]] == ["12", "< 5", "x", "0"]


def test_two_small_parts_that_add_up_to_two_hide_a_third():
    counts = Fallzahlen([[10, 1, 1, 8]])
    counts.zeilensumme(0, 0, [1, 2, 3])
    assert [c.text for c in counts.zellen()[0]] == ["10", "< 5", "< 5", "x"]


def test_a_small_total_shows_all_its_outcomes_with_one_mark_zeros_included():
    # "< 5" beside "x" would tell: no part can be 5 or more, so every "x" is 0 — one outcome for all
    for row in ([3, 3, 0, 0], [3, 1, 2, 0], [4, 0, 0, 4]):
        counts = Fallzahlen([row])
        counts.zeilensumme(0, 0, [1, 2, 3])
        cells = counts.zellen()[0]
        assert {c.text for c in cells} == {"< 5"}
        assert anteil(cells[1], cells[0]).text == "x"


def test_complementary_suppression_runs_through_rows_and_columns():
    # rows: total, a, b; the last row is the column sum
    counts = Fallzahlen([[8, 2, 6], [9, 5, 4], [17, 7, 10]])
    for row in range(3):
        counts.zeilensumme(row, 0, [1, 2])
    for col in range(3):
        counts.spaltensumme(col, 2, [0, 1], merkmal=False)
    shown = [[c.text for c in row] for row in counts.zellen()]
    # every visible total minus its visible parts never yields a single hidden cell
    assert shown == [["8", "< 5", "x"], ["9", "x", "< 5"], ["17", "7", "10"]]


def test_shares_and_medians_of_hidden_cells_are_withheld():
    assert anteil(einzeln(3), einzeln(10)).text == "x"
    assert anteil(einzeln(5), einzeln(10)).text == "50 %"
    assert anteil(einzeln(0), einzeln(0)).text == "–"
    assert median_von([1, 2, 3], einzeln(3), "Stunden").text == "x"
    assert median_von([1, 2, 3, 4, 50], einzeln(5), "Stunden").text == "3,0 Stunden"
    assert median_von([], einzeln(0), "Stunden").text == "–"
    assert isinstance(median_von([1.0] * 4, Zelle("x", None, True), "h"), Zelle)


# --- figures --------------------------------------------------------------------------------
def test_referrals_per_month_and_how_many_were_accepted(hn, data, coordinator):
    for outcome in ["Ende_BeratungAngenommen"] * 6 + ["Ende_BeratungAbgelehnt"] * 6:
        referral(data, at(3), outcome=outcome, contact_after=timedelta(hours=20))
    for outcome in ["Ende_BeratungAngenommen"] * 5 + ["Ende_NichtErreichbar"] * 5 + [None] * 5:
        referral(data, at(4, 30, 21), outcome=outcome)  # 30 April 23:00 in Berlin: still April
    for _ in range(5):  # ended before the per-strand audit existed: the instance's end event counts
        declined = data.instance(P1, at(5), end_event="Ende_BeratungAbgelehnt")
        data.task(declined, P1, CONTACT, at(5), due_at=at(5, 13), completed_at=at(5, 11))
    referral(data, datetime(2025, 12, 31, 9, tzinfo=UTC), outcome="Ende_BeratungAngenommen")  # other year
    data.task(data.instance(P1, at(3)), P1, "Task_Gefaehrdungseinschaetzung", at(3))  # no referral

    table = report(hn, coordinator).tabelle("vermittlungen")
    assert table.kopf == (
        "Monat", "Vermittlungen", "Beratung angenommen", "Beratung abgelehnt", "nicht erreichbar", "offen",
        "Annahmequote",
    )  # fmt: skip
    rows = {row.label: [c.text for c in row.zellen] for row in table.zeilen}
    assert len(table.zeilen) == 13  # twelve months and the sum
    assert rows["Jan 2026"] == ["0", "0", "0", "0", "0", "–"]
    assert rows["Mär 2026"] == ["12", "6", "6", "0", "0", "50 %"]
    assert rows["Apr 2026"] == ["15", "5", "0", "5", "5", "33 %"]
    assert rows["Mai 2026"] == ["5", "0", "5", "0", "0", "0 %"]
    assert rows["Summe"] == ["32", "11", "11", "5", "5", "34 %"]
    assert table.diagramm is not None and table.diagramm.art == "gestapelt"
    assert table.diagramm.zeilen == tuple(range(12))  # the sum row is not drawn


def test_small_months_are_suppressed_with_everything_that_would_reveal_them(hn, data, coordinator):
    for outcome in ["Ende_BeratungAngenommen"] * 6 + ["Ende_BeratungAbgelehnt"] * 6:
        referral(data, at(3), outcome=outcome)
    for outcome in ["Ende_BeratungAngenommen"] * 5 + [None] * 2:
        referral(data, at(2), outcome=outcome)
    referral(data, at(5), outcome="Ende_BeratungAbgelehnt")
    rows = {
        row.label: [c.text for c in row.zellen]
        for row in report(hn, coordinator).tabelle("vermittlungen").zeilen
    }
    # May: one case; all its outcomes show one mark, zeros too (else they would tell how it ended)
    assert rows["Mai 2026"] == ["< 5", "< 5", "< 5", "< 5", "< 5", "x"]
    # February's total and its 5 accepted would give May's case and the two open ones away
    assert rows["Feb 2026"] == ["x", "x", "0", "0", "< 5", "x"]
    assert rows["Mär 2026"] == ["12", "6", "6", "0", "0", "50 %"]
    assert rows["Summe"] == ["20", "11", "x", "0", "< 5", "55 %"]
    hidden = {
        (label, i) for label, cells in rows.items() for i, text in enumerate(cells) if text in ("x", "< 5")
    }
    assert ("Jan 2026", 0) not in hidden


def test_first_contact_against_the_deadline_and_its_median(hn, data, coordinator):
    for hours in (10, 20, 30, 40, 50):
        referral(data, at(4), contact_after=timedelta(hours=hours))  # due after 72 hours: in time
    for _ in range(5):
        referral(data, at(6), contact_after=timedelta(days=4))  # late
    for _ in range(5):
        referral(data, at(12, 14))  # no contact yet, due on 17 December: still running
    report_ = report(hn, coordinator)
    states = column(report_.tabelle("erstkontakt"), 0)
    assert states == {
        "erster Kontakt innerhalb der Frist": "5",
        "erster Kontakt nach Ablauf der Frist": "5",
        "noch kein Kontakt, Frist abgelaufen": "0",
        "noch kein Kontakt, Frist läuft": "5",
        "Vermittlungen": "15",
    }
    assert column(report_.tabelle("erstkontakt"), 1)["erster Kontakt innerhalb der Frist"] == "33 %"
    durations = column(report_.tabelle("kontakt_dauer"), 0)
    assert durations["Vermittlungen mit erstem Kontakt"] == "10"
    assert durations["Median bis zum ersten Kontakt"] == "73,0 Stunden"  # (50 h + 96 h) / 2


def test_moving_the_clock_past_the_deadline_turns_waiting_referrals_late(hn, data, coordinator, clock):
    for _ in range(5):
        referral(data, at(12, 14))  # due on 17 December
    data.task(data.instance("fallkonferenz", at(12, 1)), "fallkonferenz", "Task_Organisieren", at(12, 1),
              due_at=at(12, 16), candidates=BERATUNG)  # fmt: skip
    before = column(report(hn, coordinator).tabelle("erstkontakt"), 0)
    assert (before["noch kein Kontakt, Frist läuft"], before["noch kein Kontakt, Frist abgelaufen"]) == (
        "5",
        "0",
    )
    assert column(report(hn, coordinator).tabelle("ueberfaellig"), 0) == {"Summe der Zeilen": "0"}
    clock.advance(timedelta(days=3))
    after = column(report(hn, coordinator).tabelle("erstkontakt"), 0)
    assert (after["noch kein Kontakt, Frist läuft"], after["noch kein Kontakt, Frist abgelaufen"]) == (
        "0",
        "5",
    )
    overdue = column(report(hn, coordinator).tabelle("ueberfaellig"), 0)
    assert overdue == {"Frauenberatung Soest": "6", "Summe der Zeilen": "6"}  # five contact tasks, one other


def test_median_is_withheld_for_fewer_than_five_contacts(hn, data, coordinator):
    for hours in (1, 2, 3):
        referral(data, at(4), contact_after=timedelta(hours=hours))
    durations = column(report(hn, coordinator).tabelle("kontakt_dauer"), 0)
    assert durations["Vermittlungen mit erstem Kontakt"] == "< 5"
    assert durations["Median bis zum ersten Kontakt"] == "x"


def test_overdue_tasks_per_organisation(hn, data, coordinator):
    case = data.instance("fallkonferenz", at(11))
    for _ in range(6):
        data.task(
            case,
            "fallkonferenz",
            "Task_AnfragePruefen",
            at(11),
            due_at=at(12, 1),
            candidates="Koordination@*",
        )
    for _ in range(5):
        data.task(case, "fallkonferenz", "Task_Organisieren", at(11), due_at=at(12, 1), candidates=BERATUNG)
    data.task(
        case, "fallkonferenz", "Task_Organisieren", at(11), due_at=at(12, 1), assignee="fachkraft.polizei"
    )
    data.task(
        case, "fallkonferenz", "Task_Organisieren", at(11), due_at=at(12, 20), candidates=BERATUNG
    )  # not due
    data.task(
        case,
        "fallkonferenz",
        "Task_Organisieren",
        at(11),
        due_at=at(12, 1),
        completed_at=at(12, 2),
        candidates=BERATUNG,
    )
    table = report(hn, coordinator).tabelle("ueberfaellig")
    assert column(table, 0) == {
        "alle Organisationen (nach Rolle)": "6",
        "Frauenberatung Soest": "x",  # 5, withheld so the sum cannot reveal the police's single task
        "Kreispolizeibehörde Soest": "< 5",
        "Summe der Zeilen": "12",
    }


def test_case_conferences_requested_held_and_closed(hn, data, coordinator):
    for end in ["Ende_Abgeschlossen"] * 5 + ["Ende_Zurueckgezogen"] * 5 + [None] * 5:
        case = data.instance("fallkonferenz", at(3), end_event=end, org="frauenberatung-soest")
        if end != "Ende_Zurueckgezogen":
            data.task(case, "fallkonferenz", "Task_DurchfuehrenProtokollieren", at(4), completed_at=at(4, 12))
    data.instance("fallkonferenz", datetime(2025, 6, 1, tzinfo=UTC), end_event="Ende_Abgeschlossen")
    table = report(hn, coordinator).tabelle("fallkonferenzen")
    assert column(table, 0) == {
        "angefragt": "15",
        "durchgeführt": "10",
        "(noch) nicht durchgeführt": "5",
        "abgeschlossen (Plan umgesetzt)": "5",
        "an die Polizei eskaliert": "0",
        "zurückgezogen / abgelehnt": "5",
        "laufend": "5",
    }


def test_an_organisation_filter_keeps_the_cases_it_took_part_in(hn, data, coordinator):
    for _ in range(5):
        data.instance("fallkonferenz", at(3), org="frauenberatung-soest")
    for _ in range(6):
        data.instance("fallkonferenz", at(3), org="kreispolizei")
    police_case = data.instance("fallkonferenz", at(3), org="kreispolizei")
    data.task(police_case, "fallkonferenz", "Task_TeilnahmeBeantworten", at(3), candidates=BERATUNG)
    filtered = report(hn, coordinator, organisation="frauenberatung-soest")
    assert filtered.organisation_name == "Frauenberatung Soest"
    assert column(filtered.tabelle("fallkonferenzen"), 0)["angefragt"] == "6"
    assert column(report(hn, coordinator).tabelle("fallkonferenzen"), 0)["angefragt"] == "12"


def test_network_meetings_against_the_twice_a_year_rule(hn, data, coordinator):
    data.meeting("netzwerktreffen", "durchgefuehrt", at(3))
    data.meeting("netzwerktreffen", "abgesagt", at(6))
    data.meeting("netzwerktreffen", "geplant", at(12, 20))
    data.meeting("fachtag", "durchgefuehrt", at(9))
    data.meeting("netzwerktreffen", "durchgefuehrt", datetime(2025, 10, 1, tzinfo=UTC))
    table = report(hn, coordinator).tabelle("netzwerktreffen")
    rows = column(table, 0)
    assert rows["Netzwerktreffen: durchgeführt"] == "1"  # meetings are not cases: not suppressed
    assert rows["Netzwerktreffen: abgesagt"] == "1" and rows["Fachtag: durchgeführt"] == "1"
    assert rows["Regel: mindestens 2 Netzwerktreffen im Jahr"] == "noch offen: 1 durchgeführt, 1 geplant"
    data.meeting("netzwerktreffen", "durchgefuehrt", at(11))
    rows = column(report(hn, coordinator).tabelle("netzwerktreffen"), 0)
    assert rows["Regel: mindestens 2 Netzwerktreffen im Jahr"] == "erfüllt (2 durchgeführt)"


def test_funding_applications_by_state(hn, data, coordinator):
    data.instance("foerderantrag", at(2), end_event="End_Abgerechnet")
    data.instance("foerderantrag", at(2), end_event="End_InternAbgelehnt")
    running = data.instance("foerderantrag", at(5))
    data.task(running, "foerderantrag", "Task_Bescheid", at(6))
    data.instance("foerderantrag", at(7))  # waiting for the steering group's ballot: no open task
    rows = column(report(hn, coordinator).tabelle("foerderantraege"), 0)
    assert rows["bewilligt und abgerechnet"] == "1" and rows["intern abgelehnt"] == "1"
    assert rows["beim Land eingereicht, Bescheid offen"] == "1"
    assert rows["Abstimmung der Steuerungsgruppe"] == "1"
    assert rows["Summe"] == "4"


def test_directory_entries_out_of_date(hn, data, coordinator):
    data.directory("kreispolizei", "aktuell", at(10))
    data.directory("frauenberatung-soest", "aktuell", datetime(2025, 9, 1, tzinfo=UTC))  # over a year
    data.directory("frauenhaus-soest", "veraltet", datetime(2025, 1, 1, tzinfo=UTC))
    data.directory("gleichstellung-kreis", "entfernt", None)
    report_ = report(hn, coordinator)
    assert column(report_.tabelle("verzeichnis"), 0) == {
        "aktuell": "1",
        "aktuell, seit über 12 Monaten unbestätigt": "1",
        "veraltet": "1",
        "entfernt": "1",
        "Summe": "4",
    }
    stale = report_.tabelle("verzeichnis_veraltet")
    assert [(r.label, r.zellen[1].text) for r in stale.zeilen] == [
        ("Frauenberatung Soest", "01.09.2025"),
        ("Frauenhaus Soest", "01.01.2025"),
    ]


# --- access and input -----------------------------------------------------------------------
@pytest.mark.parametrize("username", ["fachkraft.frauenberatung", "admin", "leitung.jugendamt"])
def test_only_coordination_and_steering_group_may_see_it(hn, actor, username):
    with pytest.raises(NotPermittedError, match="Koordination und die Steuerungsgruppe"):
        hn.auswertung(actor(username))
    with pytest.raises(NotPermittedError):
        hn.jahresbericht_pdf(actor(username), 2026)


def test_the_steering_group_may_see_it(hn, actor):
    assert hn.auswertung(actor("leitung.polizei")).tabellen  # Steuerungsgruppe, not Koordination


@pytest.mark.parametrize(
    ("von", "bis", "field"),
    [
        ("gestern", None, "von"),
        ("2026-05-01", "2026-04-01", "bis"),
        ("2019-01-01", "2026-01-01", "von"),
        ("9999-12-30", "9999-12-31", "bis"),
        ("0001-01-01", "0001-01-02", "von"),
    ],
)
def test_a_bad_period_is_refused_with_a_german_message(hn, coordinator, von, bis, field):
    with pytest.raises(InvalidSubmissionError) as caught:
        hn.auswertung(coordinator, von, bis)
    assert field in caught.value.field_errors


def test_unknown_organisation_and_year_are_refused(hn, coordinator, clock):
    clock.set(NOW)
    with pytest.raises(InvalidSubmissionError, match="Filter"):
        hn.auswertung(coordinator, organisation="gibt-es-nicht")
    with pytest.raises(InvalidSubmissionError, match="Jahresbericht"):
        hn.jahresbericht(coordinator, 2027)


# --- annual report --------------------------------------------------------------------------
def test_the_annual_report_pdf_holds_the_tables(hn, data, coordinator):
    for _ in range(6):
        referral(data, at(3), outcome="Ende_BeratungAngenommen", contact_after=timedelta(hours=5))
    referral(data, at(3))
    pdf = hn.jahresbericht_pdf(coordinator, 2026)
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Jahresbericht 2026" in text
    for title in (
        "Vermittlungen an die Beratungsstelle (P1) je Monat",
        "Überfällige Aufgaben je Organisation",
        "Fallkonferenzen (P4)",
        "Netzwerktreffen und Fachtage (P6) im Jahr 2026",
        "Förderanträge (P5) nach Stand",
        "Netzwerkverzeichnis (P9): Einträge nach Stand",
    ):
        assert title in text
    assert "Mär 2026" in text and "< 5" in text
    assert reader.metadata is not None and "Jahresbericht 2026" in str(reader.metadata.title)


def test_the_annual_report_csv_holds_the_same_cells(hn, data, coordinator):
    for _ in range(6):
        referral(data, at(3), outcome="Ende_BeratungAngenommen")
    referral(data, at(3))
    raw = hn.jahresbericht_csv(coordinator, 2026)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Tabelle", "Zeile", "Spalte", "Wert"]
    march = {r[2]: r[3] for r in rows if r[1] == "Mär 2026" and r[0].startswith("Vermittlungen")}
    assert march == {
        "Vermittlungen": "7",
        "Beratung angenommen": "x",
        "Beratung abgelehnt": "0",
        "nicht erreichbar": "0",
        "offen": "< 5",
        "Annahmequote": "x",
    }
    assert not any(
        r[3] in {"1", "2", "3", "4"} for r in rows if r[0].startswith(("Vermittlungen", "Zeit von"))
    )


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "\tTab", "\rCR"])
def test_the_annual_report_csv_never_starts_a_cell_with_a_formula(hn, data, coordinator, name):
    with hn.db.write() as session:
        org = session.scalars(select(Organisation).where(Organisation.slug == "frauenhaus-soest")).one()
        org.name = name
        session.commit()
    data.directory("frauenhaus-soest", "veraltet", datetime(2025, 1, 1, tzinfo=UTC))
    raw = hn.jahresbericht_csv(coordinator, 2026)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    labels = [r[1] for r in rows if r[0] == "Veraltete Einträge im Netzwerkverzeichnis"]
    assert labels and all(label == "'" + name for label in labels)
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for r in rows for cell in r)


def test_report_writers_only_read_suppressed_cells(hn, data, coordinator):
    referral(data, at(3), outcome="Ende_BeratungAngenommen")
    report_ = hn.jahresbericht(coordinator, 2026)
    assert b"%PDF" in report_pdf(report_)[:8] and "< 5" in report_csv(report_).decode("utf-8-sig")


# --- outcomes come from the element trail ------------------------------------------------------
def test_each_end_event_is_in_the_audit_once_as_the_element_trail_leaving_it(hn, actor):
    user = actor("fachkraft.frauenberatung")
    instance_id = hn.start(user, "kette", {})
    for _ in range(5):
        hn.complete(user, first_task(hn, user).id, {"notiz": "ok"})
    with hn.db.read() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.element_id).where(AuditEvent.instance_id == instance_id)
        ).all()
    assert [a for a, element in rows if element == "ende"] == ["element_entered", "element_left"]
    assert "end_event_reached" not in [a for a, _ in rows]  # no third row per end event


def test_the_latest_outcome_of_a_referral_wins_whatever_order_the_rows_were_written(hn, data, coordinator):
    for _ in range(5):
        case = referral(data, at(3))
        data.end(case, "Ende_BeratungAngenommen", at(3, 20))  # later
        data.end(case, "Ende_NichtErreichbar", at(3, 12))  # earlier, written after it
    assert column(report(hn, coordinator).tabelle("vermittlungen"), 1)["Mär 2026"] == "5"
