"""Ballot documents (Antrag / Unterlagen) and the minutes as Markdown and PDF (engine, no Flask)."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from engine.errors import InvalidSubmissionError
from engine.persistence.models import Ballot
from engine.read_models import BallotDocument
from engine.voting_pdf import PdfFont, find_font, minutes_pdf
from tests.conftest import need_service

SUBJECT = "Förderantrag „Präventionsprojekt Schule“ – 2027"
DOCUMENTS = [
    {"label": "Projekt", "value": "Präventionsprojekt „Schule“ – Gewaltschutz an Grundschulen …"},
    {"label": "Kosten- und Finanzierungsplan", "value": "Personal: 12.000 €\nSachkosten: 3.000 €"},
    {"label": "Beantragte Summe (Euro)", "value": 15000},
]


def open_ballot(hn, actor, documents=DOCUMENTS, *, secret=False, instance_id=None):
    return hn.open_ballot(
        SUBJECT,
        "kreispolizei",
        None,
        hn.clock.now() + timedelta(days=7),
        secret,
        actor("koordination.jugendamt"),
        instance_id=instance_id,
        documents=documents,
    )


def ballot_count(hn) -> int:
    with hn.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Ballot)) or 0)


def closed_minutes(hn, actor, **kwargs):
    ballot = open_ballot(hn, actor, **kwargs)
    hn.cast_vote(actor("fachkraft.gleichstellung"), ballot, "nein")
    for member in ("koordination.jugendamt", "koordination.frauenberatung", "fachkraft.gesundheitsamt"):
        hn.cast_vote(actor(member), ballot, "ja")
    minutes = hn.ballot_minutes(actor("admin"), ballot)
    assert minutes.status == "geschlossen"
    return minutes


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages).split())


def test_documents_are_copied_into_the_ballot_and_the_minutes(hn, actor):
    documents = [dict(d) for d in DOCUMENTS]
    ballot = open_ballot(hn, actor, documents)
    documents[0]["value"] = "später geändert"  # the caller's data changing later changes nothing
    m = hn.ballot_minutes(actor("leitung.polizei"), ballot)
    assert m.documents == (
        BallotDocument("Projekt", DOCUMENTS[0]["value"]),
        BallotDocument("Kosten- und Finanzierungsplan", "Personal: 12.000 €\nSachkosten: 3.000 €"),
        BallotDocument("Beantragte Summe (Euro)", "15000"),
    )
    assert m.instance_id is None


def test_a_ballot_opened_without_documents_has_none(hn, actor):
    m = hn.ballot_minutes(actor("admin"), open_ballot(hn, actor, None))
    assert m.documents == ()
    assert "Antrag / Unterlagen" not in hn.ballot_minutes_text(actor("admin"), m.id)


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        ([{"label": "Projekt"}], "Unterlage Nr. 1 braucht eine Bezeichnung und einen Text"),
        ([{"label": " ", "value": "x"}], "Unterlage Nr. 1 braucht eine Bezeichnung"),
        ([{"label": "Projekt", "value": "x"}, {"label": "Plan", "value": ["a"]}], "Unterlage Nr. 2"),
        ([{"label": "Zusage", "value": True}], "Unterlage Nr. 1 braucht"),
        (["Projekt: x"], "Unterlage Nr. 1 braucht"),
        ([{"label": "L" * 201, "value": "x"}], "Unterlage Nr. 1 ist zu lang"),
        ([{"label": "Plan", "value": "x" * 20_001}], "höchstens 20000 Zeichen"),
        ([{"label": f"U{i}", "value": "x"} for i in range(51)], "höchstens 50 Unterlagen"),
    ],
)
def test_bad_documents_are_refused_in_german_and_nothing_is_stored(hn, actor, documents, message):
    with pytest.raises(InvalidSubmissionError, match=message) as err:
        open_ballot(hn, actor, documents)
    assert set(err.value.field_errors) == {"documents"}
    assert ballot_count(hn) == 0


def test_markdown_minutes_include_documents_and_instance(hn, actor):
    instance = hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    m = closed_minutes(hn, actor, instance_id=instance)
    text = hn.ballot_minutes_text(actor("admin"), m.id)
    assert f"- Vorgang: Nr. {instance}\n" in text
    assert (
        "## Antrag / Unterlagen\n\n"
        f"- Projekt: {DOCUMENTS[0]['value']}\n"
        "- Kosten- und Finanzierungsplan: Personal: 12.000 €\n"
        "  Sachkosten: 3.000 €\n"
        "- Beantragte Summe (Euro): 15000\n\n"
        "## Stimmberechtigte"
    ) in text
    assert "**Beschluss: angenommen**" in text


def test_pdf_has_the_content_of_the_markdown_minutes(hn, actor):
    if not find_font().unicode:
        need_service("DejaVu Sans fehlt (make setup installiert fonts-dejavu-core)")
    instance = hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    m = closed_minutes(hn, actor, instance_id=instance)
    pdf = minutes_pdf(m, created_at=hn.clock.now())
    assert pdf.startswith(b"%PDF-") and b"DejaVuSans" in pdf  # the Unicode font is embedded
    reader = PdfReader(BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == f"Protokoll der Abstimmung Nr. {m.id}: {SUBJECT}"
    text = text_of(pdf)
    for expected in (
        f"Protokoll der Abstimmung Nr. {m.id}",
        SUBJECT,
        "Antragstellende Organisation Kreispolizeibehörde Soest",
        "Art offene Abstimmung",
        "Beschlussfähigkeit mehr als 1/2 der stimmberechtigten Mitglieder nehmen teil",
        "Entscheidungsregel einfache Mehrheit",
        f"Vorgang Nr. {instance}",
        "Präventionsprojekt „Schule“ – Gewaltschutz an Grundschulen …",
        "Personal: 12.000 € Sachkosten: 3.000 €",
        "Beantragte Summe (Euro) 15000",
        "Stimmberechtigte (festgelegt bei Eröffnung)",
        "ausgeschlossen — Mitglied der antragstellenden Organisation",
        "Stimme: Nein",
        "keine Stimme abgegeben",
        "Geschlossen",
        "vorzeitig, das Ergebnis stand fest",
        "Stimmberechtigt 5, ausgeschlossen: 1, befangen: 0",
        "Beteiligung 4 von 5",
        "Stimmen Ja: 3, Nein: 1, Enthaltung: 0, Befangen: 0",
        "Beschlussfähig ja",
        "Stimmengleichheit angewandt nein",
        "Beschluss angenommen",
    ):
        assert expected in text, expected


def test_secret_ballot_pdf_shows_who_voted_not_how(hn, actor):
    m = closed_minutes(hn, actor, secret=True)
    text = text_of(minutes_pdf(m, created_at=hn.clock.now()))
    assert "hat abgestimmt (geheim)" in text and "Stimme: Ja" not in text and "Stimme: Nein" not in text
    assert "Stimmen Ja: 3, Nein: 1" in text  # the tally, once closed


def test_running_ballot_pdf_says_it_is_still_open(hn, actor):
    ballot = open_ballot(hn, actor, secret=True)
    hn.cast_vote(actor("fachkraft.gesundheitsamt"), ballot, "ja")
    text = text_of(hn.ballot_minutes_pdf(actor("admin"), ballot))
    assert "Die Abstimmung läuft noch (1 von 5 Stimmen abgegeben)." in text
    assert "Stimmen Ja" not in text


def test_without_the_font_the_pdf_falls_back_to_helvetica_and_keeps_german_text(hn, actor, tmp_path):
    assert find_font([tmp_path]) == PdfFont(None, None)
    m = closed_minutes(hn, actor)
    pdf = minutes_pdf(m, created_at=hn.clock.now(), font=find_font([tmp_path]))
    assert pdf.startswith(b"%PDF-") and b"DejaVu" not in pdf and b"Helvetica" in pdf
    text = text_of(pdf)
    assert SUBJECT in text and "Beschlussfähigkeit" in text and "Präventionsprojekt „Schule“" in text
    assert "Kreispolizeibehörde Soest" in text and "Beschluss angenommen" in text


def test_helvetica_replaces_what_windows_1252_cannot_hold(hn, actor, tmp_path):
    ballot = hn.open_ballot(
        "Antrag für Łódź-Partnerschaft → 2027",
        None,
        None,
        hn.clock.now() + timedelta(days=3),
        False,
        actor("koordination.jugendamt"),
    )
    m = hn.ballot_minutes(actor("admin"), ballot)
    text = text_of(minutes_pdf(m, created_at=hn.clock.now(), font=PdfFont(None, None)))
    assert "Antrag für ?ód?-Partnerschaft ? 2027" in text


def test_font_lookup_takes_the_first_directory_with_both_files(tmp_path: Path):
    only_regular, both = tmp_path / "a", tmp_path / "b"
    only_regular.mkdir()
    both.mkdir()
    (only_regular / "DejaVuSans.ttf").write_bytes(b"")
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        (both / name).write_bytes(b"")
    assert find_font([only_regular, both]) == PdfFont(both / "DejaVuSans.ttf", both / "DejaVuSans-Bold.ttf")
