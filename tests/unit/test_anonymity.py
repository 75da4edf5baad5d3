"""The anonymity guard: the detector per kind, the corpus quality gate, form validation with the
audited override, drafts, and the ``hilfenetz anonymity-check`` command."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.anonymity import KINDS, find_personal_data
from engine.anonymity.guard import AUDIT_ACTION, REASON_KEY
from engine.errors import InvalidDefinitionError, InvalidSubmissionError, PersonalDataError
from engine.forms import anonymity_check, check_draft, check_submission, load_form, validate_submission
from engine.persistence.models import AuditEvent, ProcessInstance, UserTask
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import chain_bpmn
from webapp.cli import main

CORPUS = REPO_ROOT / "tests" / "data" / "anonymity_corpus.jsonl"


def kinds(text: str) -> list[str]:
    return [finding.kind for finding in find_personal_data(text)]


# ----------------------------------------------------------------------------- detector per kind

POSITIVE = [
    ("name", "Frau Yılmaz kommt morgen.", "Yılmaz"),
    ("name", "Die Kindesmutter Ayşe Demir hat angerufen.", "Ayşe Demir"),
    ("name", "Herr Humpert wurde verwiesen.", "Humpert"),  # in no name list: the title decides
    ("name", "Der Sohn Kerem wird gemobbt.", "Kerem"),
    ("name", "Familie Krasniqi lebt im Kreis.", "Krasniqi"),
    ("name", "Olena Kovalenko ist geflüchtet.", "Olena Kovalenko"),
    ("name", "Frau Dr. Wolf bestätigt den Befund.", "Wolf"),
    ("name", "Frauenberatung, Frau Sauerland und Frau Batzik", "Batzik"),
    ("adresse", "Sie wohnt in der Brüderstraße 14 in Soest.", "Brüderstraße 14"),
    ("adresse", "Anschrift: Am Vreithof 7.", "Am Vreithof 7"),
    ("plz", "Die Adresse endet auf 59494 Soest.", "59494"),
    ("geburtsdatum", "Sohn, geb. 03.04.2015, zeigt Auffälligkeiten.", "geb. 03.04.2015"),
    ("geburtsdatum", "Die Mutter ist Jahrgang 1991.", "Jahrgang 1991"),
    ("alter", "Die 7-jährige Tochter war dabei.", "7-jährige"),
    ("alter", "Die Mutter ist 29 Jahre alt.", "29 Jahre alt"),
    ("alter", "Der Sohn (12) schützt die Geschwister.", "(12)"),
    ("telefon", "Erreichbar unter 0171 2345678.", "0171 2345678"),
    ("telefon", "Sichere Nummer: +49 160 98765432.", "+49 160 98765432"),
    ("email", "Mail an a.yilmaz87@gmx.de bitte.", "a.yilmaz87@gmx.de"),
    ("iban", "Konto DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
    ("aktenzeichen", "Das Verfahren läuft unter Az. 12 F 345/24.", "Az. 12 F 345/24"),
    ("aktenzeichen", "Staatsanwaltschaft, 410 Js 1234/24.", "410 Js 1234/24"),
    ("kennzeichen", "Er fährt SO-AB 123.", "SO-AB 123"),
    ("einrichtung", "Sie besucht die Grundschule am Ardey.", "Grundschule am Ardey"),
    ("einrichtung", "Er geht in die Kita Sonnenschein.", "Kita Sonnenschein"),
    ("einrichtung", "Der Vater arbeitet bei Firma Müller GmbH.", "arbeitet bei Firma Müller GmbH"),
    ("ort", "Die Familie lebt in Kallenhardt.", "Kallenhardt"),
    ("ort", "Die Mutter ist nach Horn gezogen.", "Horn"),
]

NEGATIVE = [
    ("name", "Die betroffene Frau braucht Unterstützung; Frau Bürgermeisterin eröffnet den Fachtag."),
    ("name", "Die Mutter hat Angst. Der Kindesvater ist polizeibekannt. Das Frauenhaus Soest hilft."),
    ("name", "Sommer 2024: erster Einsatz. Nur die Polizei war vor Ort."),
    ("adresse", "Die Familie wohnt an einer Hauptstraße im Stadtgebiet."),
    ("plz", "Der Kreis stellt 20000 Euro bereit."),
    ("geburtsdatum", "Die Fallkonferenz findet am 03.04.2025 statt, Frist 15.05.2025."),
    (
        "alter",
        "Kinder zwischen 3 und 6 Jahren, Grundschulalter; die Mutter ist zwischen 30 und 40 Jahre alt.",
    ),
    ("alter", "Ein 5-jähriges Projekt; seit 3 Jahren verheiratet; Kinder im Alter von 3 bis 10 Jahren."),
    ("telefon", "Hilfetelefon 116 016 und Notruf 110; Termin am 12.03.2025 um 10 Uhr."),
    ("email", "Kontakt über die Koordination im Kreishaus."),
    ("iban", "Der Förderantrag beim Land NRW wurde bewilligt."),
    ("aktenzeichen", "Die Gefährdungseinschätzung nach § 8a SGB VIII ist erfolgt."),
    ("kennzeichen", "Die U3-Betreuung und das Programm P4 laufen."),
    ("einrichtung", "Ein Kind besucht eine Kita, das andere eine Grundschule im Stadtgebiet."),
    ("einrichtung", "Die Mutter arbeitet in Teilzeit im Einzelhandel; der Vater arbeitet bei der Polizei."),
    ("ort", "Die Familie lebt in Lippstadt; die Beratung ist in Bad Sassendorf. Ein Horn lag dort."),
]


@pytest.mark.parametrize(("kind", "text", "found"), POSITIVE)
def test_detector_finds_each_kind(kind: str, text: str, found: str) -> None:
    findings = find_personal_data(text)
    assert any(f.kind == kind and f.text == found for f in findings), findings
    for finding in findings:
        assert text[finding.start : finding.end] == finding.text


@pytest.mark.parametrize(("kind", "text"), NEGATIVE)
def test_detector_leaves_coarse_facts_alone(kind: str, text: str) -> None:
    assert kind not in kinds(text), find_personal_data(text)


def test_every_kind_has_positive_and_negative_examples() -> None:
    assert {kind for kind, _, _ in POSITIVE} == set(KINDS) == {kind for kind, _ in NEGATIVE}


def test_the_projects_own_form_and_process_texts_raise_no_alarm() -> None:
    """About 1,900 German texts (form labels, hints, BPMN documentation) written for the network."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "label", "description") and isinstance(value, str):
                    texts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in (REPO_ROOT / "forms").glob("*.form"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    for path in (REPO_ROOT / "processes").glob("*.bpmn"):
        xml = path.read_text(encoding="utf-8")
        texts += re.findall(r"<bpmn:documentation>(.*?)</bpmn:documentation>", xml, re.S)
        texts += re.findall(r' name="([^"]+)"', xml)
    assert len(texts) > 1000
    assert [(t, find_personal_data(t)) for t in texts if find_personal_data(t)] == []


def test_a_name_after_a_title_with_an_article_needs_a_name_list() -> None:
    assert kinds("Die Frau Unterstützung braucht.") == []
    assert kinds("die Frau Yılmaz") == ["name"]


@pytest.mark.parametrize("surname", ["Schulze", "Krüger", "Krämer", "Busch", "Hartung", "Wolf"])
def test_a_surname_that_is_also_a_noun_is_a_name_directly_after_a_title(surname: str) -> None:
    for text in (
        f"Gespräch mit Frau {surname}.",
        f"Herr {surname} hat angerufen.",
        f"Familie {surname} zog um.",
    ):
        assert [(f.kind, f.text) for f in find_personal_data(text)] == [("name", surname)], text


@pytest.mark.parametrize(
    "text",
    [
        "Gestern sagte Frau Schulze, dass sie umzieht.",
        "Dann hatte Frau Krüger angerufen.",
        "Wir haben Herrn Busch informiert.",
        "Sehr geehrte Frau Krämer,",
    ],
)
def test_a_verb_or_salutation_before_the_title_is_no_article(text: str) -> None:
    assert kinds(text) == ["name"]
    assert kinds("Die junge Frau Angst hat.") == kinds("Die betroffene Frau Unterstützung.") == []


def test_a_family_name_that_is_also_a_noun_joins_the_first_name_before_it() -> None:
    for text, name in [
        ("Frau Sabine Schulze kam.", "Sabine Schulze"),
        ("Sabine Schulze kam.", "Sabine Schulze"),
        ("Die Mutter Sabine Krämer kam.", "Sabine Krämer"),
    ]:
        assert [f.text for f in find_personal_data(text)] == [name]
    assert [f.text for f in find_personal_data("Sabine Dr. Wolf")] == ["Sabine", "Wolf"]  # a title is no name


@pytest.mark.parametrize(
    "text",
    [
        "Frau Bürgermeisterin eröffnet den Fachtag.",
        "Herr Bürgermeister begrüßt die Gäste.",
        "Danke, Frau Kollegin, für den Hinweis.",
        "Frau Richterin hat die Anhörung vertagt.",
        "Herr Staatsanwalt beantragt eine Frist.",
        "Frau Vorsitzende schließt die Sitzung.",
    ],
)
def test_a_role_or_office_after_a_title_is_no_name(text: str) -> None:
    assert kinds(text) == []


OBFUSCATED = [
    ("name", "Teilnehmende: MÜLLER, SABINE und das Jugendamt.", "SABINE"),
    ("name", "Gespräch mit FRAU SCHULZE.", "SCHULZE"),
    ("name", "Gespräch mit Frau Ｓｃｈｕｌｚｅ.", "Ｓｃｈｕｌｚｅ"),  # fullwidth letters
    ("name", "Die Mutter Mu\u0308ller war da.", "Mu\u0308ller"),  # combining diaeresis
    ("telefon", "Tel. ０１７１ ２３４５６７８ (abends)", "０１７１ ２３４５６７８"),
    ("telefon", "Rückruf unter 0 1 7 1 2 3 4 5 6 7 8.", "0 1 7 1 2 3 4 5 6 7 8"),
    ("telefon", "Sichere Nummer: + 4 9 1 6 0 9 8 7 6 5 4 3 2", "+ 4 9 1 6 0 9 8 7 6 5 4 3 2"),
    ("email", "Mail an max.mueller(at)gmx.de bitte.", "max.mueller(at)gmx.de"),
    ("email", "Mail an max [at] web [dot] de bitte.", "max [at] web [dot] de"),
    ("email", "Mail an s.yilmaz at gmx punkt de.", "s.yilmaz at gmx punkt de"),
]


@pytest.mark.parametrize(("kind", "text", "found"), OBFUSCATED)
def test_obfuscated_personal_data_is_found_at_its_original_offsets(kind: str, text: str, found: str) -> None:
    findings = find_personal_data(text)
    assert any(f.kind == kind and f.text == found for f in findings), findings
    for finding in findings:
        assert text[finding.start : finding.end] == finding.text


@pytest.mark.parametrize(
    "text",
    [
        "TOP 3: Die AWO, der ASD und die KITA berichten; SGB VIII gilt.",
        "HILFE FÜR FRAUEN IN NOT – POLIZEI SOEST INFORMIERT",
        "Termin am 03.04.2025 um 10 Uhr, Raum 1 0 1; Hilfetelefon 116 016.",
        "Wir treffen uns at home office; Protokoll (dot) folgt.",
    ],
)
def test_capitals_acronyms_and_spaced_numbers_that_are_no_personal_data_pass(text: str) -> None:
    assert find_personal_data(text) == []


def test_hostile_input_does_not_break_the_detector() -> None:
    for text in ("", " ", "\x00" * 10, "Frau " * 2000, "😀 Frau 😀", "0" * 5000, "A-" * 3000):
        find_personal_data(text)


# ----------------------------------------------------------------------------- corpus quality gate


def test_corpus_meets_the_recall_and_false_alarm_targets() -> None:
    from bench.anonymity import load_corpus, score

    entries = load_corpus(CORPUS)
    assert len(entries) >= 300
    assert sum(bool(e["findings"]) for e in entries) >= 100 and sum(not e["findings"] for e in entries) >= 100
    for entry in entries:
        for label in entry["findings"]:
            assert entry["text"][label["start"] : label["end"]] == label["text"], entry["id"]
            assert label["kind"] in KINDS
    for split in (entries, [e for e in entries if e["split"] == "zurueckgehalten"]):
        scores = score(split)
        assert scores.snippet_recall >= 0.95, scores.misses
        assert scores.finding_recall >= 0.95, scores.misses
        assert scores.false_alarm_rate <= 0.05, scores.alarms


# ----------------------------------------------------------------------------- forms


def form(properties: dict[str, Any] | None = None, ftype: str = "textarea") -> Any:
    field: dict[str, Any] = {"type": ftype, "key": "notiz", "label": "Notiz"}
    if properties is not None:
        field["properties"] = properties
    rows = {
        "type": "dynamiclist",
        "path": "massnahmen",
        "components": [
            {
                "type": "textfield",
                "key": "beschreibung",
                "label": "Maßnahme",
                "properties": {"anonym": "true"},
            }
        ],
    }
    return load_form(
        json.dumps({"id": "f", "type": "default", "components": [field, rows]}), filename="f.form"
    )


def test_marker_is_read_and_wrong_markers_are_definition_errors() -> None:
    assert form({"anonym": "true"}).fields[0].anonymous
    assert not form({"anonym": "false"}).fields[0].anonymous
    assert not form().fields[0].anonymous
    with pytest.raises(InvalidDefinitionError) as wrong:
        form({"anonym": "ja"})
    assert "„true“ oder „false“" in str(wrong.value.problems[0])
    with pytest.raises(InvalidDefinitionError) as not_text:
        load_form(
            json.dumps(
                {
                    "id": "f",
                    "components": [
                        {"type": "number", "key": "n", "properties": {"anonym": "true"}},
                    ],
                }
            ),
            filename="f.form",
        )
    assert "Nur Textfelder" in str(not_text.value.problems[0])


def test_submission_with_personal_data_is_refused_with_every_finding() -> None:
    definition = form({"anonym": "true"})
    data = {
        "notiz": "Frau Yılmaz, Tel. 0171 2345678",
        "massnahmen": [{"beschreibung": "Kita Sonnenschein anrufen"}],
    }
    with pytest.raises(PersonalDataError) as refused:
        check_submission(definition, data)
    errors = refused.value.field_errors
    assert set(errors) == {"notiz", "massnahmen.0.beschreibung"}
    assert "Name „Yılmaz“" in errors["notiz"] and "Telefonnummer „0171 2345678“" in errors["notiz"]
    assert "benannte Einrichtung „Kita Sonnenschein“" in errors["massnahmen.0.beschreibung"]
    assert [f["kind"] for f in refused.value.findings["notiz"]] == ["name", "telefon"]
    assert refused.value.reason_key == REASON_KEY
    assert isinstance(refused.value, InvalidSubmissionError)  # the webapp answers 422


def test_unmarked_fields_and_clean_text_pass() -> None:
    assert validate_submission(form(), {"notiz": "Frau Yılmaz"}) == {"notiz": "Frau Yılmaz", "massnahmen": []}
    checked = check_submission(form({"anonym": "true"}), {"notiz": "Die Mutter im Grundschulalter"})
    assert checked.data["notiz"] == "Die Mutter im Grundschulalter" and not checked.guard.overridden


def test_a_typed_reason_lets_findings_through_and_records_fields_and_kinds() -> None:
    reason = "Identifizierte Konferenz, Einwilligung liegt vor"
    checked = check_submission(
        form({"anonym": "true"}), {"notiz": "Frau Yılmaz, SO-AB 123", REASON_KEY: reason}
    )
    assert checked.data == {"notiz": "Frau Yılmaz, SO-AB 123", "massnahmen": []}  # reason is not task data
    assert checked.guard.audit_detail() == {
        "felder": {"notiz": ["kennzeichen", "name"]},
        "begruendung": reason,
    }


def test_a_too_short_reason_is_no_override() -> None:
    with pytest.raises(PersonalDataError, match="markierten") as refused:
        check_submission(form({"anonym": "true"}), {"notiz": "Frau Yılmaz", REASON_KEY: "weil"})
    assert "zu kurz" in refused.value.field_errors["notiz"]


def test_a_reason_naming_a_person_is_no_override_and_the_findings_explain_themselves() -> None:
    reason = "Frau Yılmaz hat schriftlich eingewilligt"
    with pytest.raises(PersonalDataError) as refused:
        check_submission(form({"anonym": "true"}), {"notiz": "Frau Yılmaz", REASON_KEY: reason})
    assert "Begründung wird protokolliert" in refused.value.field_errors["notiz"]
    assert refused.value.findings["notiz"][0]["erklaerung"].startswith("Namen von Personen")


def test_drafts_pass_the_same_guard() -> None:
    definition = form({"anonym": "true"})
    with pytest.raises(PersonalDataError):
        anonymity_check(definition, {"notiz": 5, "massnahmen": [{"beschreibung": "Herrn Kowalski anrufen"}]})
    guard = anonymity_check(definition, {"massnahmen": "kaputt", "notiz": None})
    assert not guard.findings


def test_shipped_forms_mark_exactly_the_anonymous_free_texts() -> None:
    marked = {}
    for path in sorted((REPO_ROOT / "forms").glob("*.form")):
        definition = load_form(path.read_bytes(), filename=path.name)
        keys = [f.key for f in definition.fields if f.anonymous]
        keys += [f"{f.key}.{r.key}" for f in definition.fields for r in f.row_fields if r.anonymous]
        if keys:
            marked[path.stem] = sorted(keys)
    assert marked == {
        "fallkonferenz_anfrage": ["anlass", "fragestellung"],
        "fallkonferenz_massnahme": ["massnahme_kommentar"],
        "fallkonferenz_nachbereitung": ["eskalation_grund", "nachbereitung_bewertung"],
        "fallkonferenz_organisation": ["rueckzugsgrund"],
        "fallkonferenz_protokoll": ["empfehlungen", "massnahmen.beschreibung", "protokoll"],
        "fallkonferenz_pruefung": ["ablehnungsgrund", "pruefung_anmerkung", "rechtsgrundlage_begruendung"],
        "fallkonferenz_teilnahme": ["absagegrund"],
        "netzwerktreffen_durchfuehrung": ["verschiebungsgrund"],
        "netzwerktreffen_einladung": ["tagesordnung", "titel"],
        "netzwerktreffen_massnahme": ["massnahme_kommentar"],
        "netzwerktreffen_protokoll": ["massnahmen.beschreibung", "protokoll"],
        "netzwerktreffen_start": ["themenaufruf", "titel"],
        "netzwerktreffen_themen": ["themen"],
        "netzwerktreffen_vorbereitung": ["hinweise_vorbereitung", "tagesordnung"],
    }


#: Text fields of the anonymous processes P4 (Fallkonferenz) and P6 (Netzwerktreffen) that are
#: deliberately not checked, each with the reason. Every other textfield/textarea there is marked.
UNMARKED_TEXT_FIELDS = {
    # The venue of the meeting (a service building and room, e.g. "Kreishaus, Hoher Weg 1-3,
    # Raum E.124"): an office address, no data about the case; the guard would refuse it.
    ("fallkonferenz_organisation", "ort_format"),
    ("netzwerktreffen_einladung", "ort"),
}


def test_every_free_text_of_the_anonymous_processes_is_marked() -> None:
    unmarked = set()
    text_fields = 0
    for path in sorted((REPO_ROOT / "forms").glob("*.form")):
        if not path.stem.startswith(("fallkonferenz_", "netzwerktreffen_")):
            continue
        definition = load_form(path.read_bytes(), filename=path.name)
        for spec in definition.fields:
            for field_spec in (spec, *spec.row_fields):
                if field_spec.type in {"textfield", "textarea"}:
                    text_fields += 1
                    if not field_spec.anonymous:
                        unmarked.add((path.stem, field_spec.key))
    assert text_fields > 20  # the glob found the forms
    assert unmarked == UNMARKED_TEXT_FIELDS


# ----------------------------------------------------------------------------- engine use cases

REQUEST = {
    "anlass": "Wiederholte Gewalt, Kontaktverbot missachtet",
    "fragestellung": "Wie sichern wir Schutz und Begleitung ab?",
    "gefaehrdungsstufe": "hoch",
    "altersgruppe": "30_bis_44",
    "anzahl_kinder": 2,
    "gewaltform": ["koerperlich"],
    "modus": "anonym",
}


@pytest.fixture
def p4(tmp_path: Path, sqlite_url: str, clock: Any) -> Iterator[Any]:
    engine = build_engine(tmp_path, sqlite_url, clock, (REPO_ROOT / "processes", REPO_ROOT / "forms"))
    yield engine
    engine.db.dispose()


def count(hn: Any, model: Any, *where: Any) -> int:
    with hn.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_request_naming_a_person_is_refused_and_nothing_is_stored(p4: Any) -> None:
    lena = actor_lookup(p4)("fachkraft.frauenberatung")
    before = count(p4, ProcessInstance), count(p4, AuditEvent)
    with pytest.raises(PersonalDataError) as refused:
        p4.start(lena, "fallkonferenz", {**REQUEST, "anlass": "Herr Kowalski bedroht Frau Nowak in Körbecke"})
    assert "Name „Kowalski“" in refused.value.field_errors["anlass"]
    assert "kleiner Ort „Körbecke“" in refused.value.field_errors["anlass"]
    assert (count(p4, ProcessInstance), count(p4, AuditEvent)) == before


def test_override_with_a_reason_is_audited_without_the_text(p4: Any) -> None:
    lena = actor_lookup(p4)("fachkraft.frauenberatung")
    reason = "Schweigepflichtentbindung liegt vor, identifizierte Konferenz"
    data = {**REQUEST, "anlass": "Frau Nowak, Tel. 0171 2345678", REASON_KEY: reason}
    instance_id = p4.start(lena, "fallkonferenz", data)
    with p4.db.read() as session:
        events = session.execute(
            select(AuditEvent.actor_id, AuditEvent.detail).where(
                AuditEvent.instance_id == instance_id, AuditEvent.action == AUDIT_ACTION
            )
        ).all()
    assert len(events) == 1
    assert events[0].actor_id == lena.id
    assert events[0].detail == {"felder": {"anlass": ["name", "telefon"]}, "begruendung": reason}
    assert "Nowak" not in json.dumps(events[0].detail)


PROTOKOLL_FORM = {
    "id": "protokoll_anonym",
    "type": "default",
    "components": [
        {"type": "textarea", "key": "protokoll", "label": "Protokoll", "properties": {"anonym": "true"}},
    ],
}


def test_completing_a_task_and_saving_a_draft_are_guarded(engine_for: Any) -> None:
    hn = engine_for({"kette": chain_bpmn(tasks=1, form="protokoll_anonym")}, {"p": PROTOKOLL_FORM})
    lena = actor_lookup(hn)("fachkraft.frauenberatung")
    instance_id = hn.start(lena, "kette", {})
    task_id = hn.worklist(lena, WorklistQuery(view="alle")).tasks[0].id
    named = {"protokoll": "Die Mutter Svetlana Iwanowa war anwesend."}
    with pytest.raises(PersonalDataError):
        hn.save_draft(lena, task_id, named)
    with pytest.raises(PersonalDataError):
        hn.complete_task(lena, task_id, named)
    assert hn.task_detail(lena, task_id).form_data.get("protokoll") is None  # no draft was kept
    reason = "Name steht im Protokoll, weil die Betroffene es ausdrücklich wünscht"
    hn.save_draft(lena, task_id, {**named, REASON_KEY: reason})
    hn.complete_task(lena, task_id, {**named, REASON_KEY: reason})
    with hn.db.read() as session:
        details = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.instance_id == instance_id, AuditEvent.action == AUDIT_ACTION
            )
        ).all()
    assert details == [
        {"felder": {"protokoll": ["name"]}, "begruendung": reason, "entwurf": True},
        {"felder": {"protokoll": ["name"]}, "begruendung": reason},
    ]


def test_cli_prints_one_json_line_per_finding_and_exit_status(monkeypatch, capsys) -> None:
    monkeypatch.setattr(
        "sys.stdin", io.TextIOWrapper(io.BytesIO("Frau Yılmaz, Tel. 0171 2345678\n".encode()))
    )
    assert main(["anonymity-check"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"kind": "name", "start": 5, "end": 11, "text": "Yılmaz"},
        {"kind": "telefon", "start": 18, "end": 30, "text": "0171 2345678"},
    ]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Die Mutter im Grundschulalter\xff\n")))
    assert main(["anonymity-check"]) == 0
    assert capsys.readouterr().out == ""


# ----------------------------------------------------------------------------- shape tricks

NAMED = "Frau Sabine Müller, geb. 12.03.1985"

NESTED_FORM = {
    "id": "protokoll_verschachtelt",
    "type": "default",
    "components": [
        {"type": "textarea", "key": "protokoll", "label": "Protokoll", "properties": {"anonym": "true"}},
        {"type": "textfield", "key": "ort_frei", "label": "Frei"},
        {
            "type": "dynamiclist",
            "path": "massnahmen",
            "components": [
                {"type": "textfield", "key": "beschreibung", "label": "M", "properties": {"anonym": "true"}},
                {
                    "type": "dynamiclist",
                    "path": "schritte",
                    "components": [
                        {"type": "textfield", "key": "text", "label": "S", "properties": {"anonym": "true"}}
                    ],
                },
            ],
        },
    ],
}

SHAPE_TRICKS = [
    {"protokoll": [NAMED]},
    {"protokoll": {"x": NAMED}},
    {"protokoll": {"x": {"y": [NAMED]}}},
    {"massnahmen.0.beschreibung": NAMED},
    {"protokoll.x": NAMED},
    {"massnahmen": {"0": {"beschreibung": NAMED}}},
    {"massnahmen": [{"beschreibung": [NAMED]}]},
    {"massnahmen": [{"beschreibung": {"x": NAMED}}]},
    {"massnahmen": [{"anders": NAMED}]},
    {"massnahmen": [[{"beschreibung": NAMED}]]},
    {"massnahmen": [{"schritte": [{"text": NAMED}]}]},
    {"massnahmen": [{"schritte": [{"text": [NAMED]}]}]},
    {"massnahmen": [{"schritte": [[NAMED]]}]},
    {"ort_frei": {"x": NAMED}},
    {"ort_frei": [[NAMED]]},
    {"fremd": NAMED},
]


@pytest.mark.parametrize("data", SHAPE_TRICKS)
def test_a_draft_keeps_only_what_the_guard_has_seen(data: dict[str, Any]) -> None:
    definition = load_form(json.dumps(NESTED_FORM), filename="f.form")
    try:
        draft, _ = check_draft(definition, data)
    except PersonalDataError:
        return  # refused: nothing is stored
    assert "Müller" not in json.dumps(draft, ensure_ascii=False)


def test_a_draft_keeps_the_fields_in_their_shapes() -> None:
    definition = load_form(json.dumps(NESTED_FORM), filename="f.form")
    data = {
        "protokoll": "Die Mutter war anwesend.",
        "ort_frei": "Text",
        "massnahmen": [{"beschreibung": "Beratung", "schritte": [{"text": "Termin", "x": 1}]}, "kaputt"],
        "fremd": 1,
    }
    draft, guard = check_draft(definition, data, leave_out={"ort_frei"})
    assert draft == {
        "protokoll": "Die Mutter war anwesend.",
        "massnahmen": [{"beschreibung": "Beratung", "schritte": [{"text": "Termin"}]}, {}],
    }
    assert not guard.findings
    with pytest.raises(PersonalDataError) as refused:
        check_draft(definition, {"massnahmen": [{"schritte": [{"text": NAMED}]}]})
    assert set(refused.value.field_errors) == {"massnahmen.0.schritte.0.text"}


@pytest.mark.parametrize("data", SHAPE_TRICKS)
def test_a_submission_keeps_only_what_the_guard_has_seen(data: dict[str, Any]) -> None:
    definition = load_form(json.dumps(NESTED_FORM), filename="f.form")
    try:
        checked = check_submission(definition, data)
    except InvalidSubmissionError:  # refused (PersonalDataError is one): nothing is stored
        return
    assert "Müller" not in json.dumps(checked.data, ensure_ascii=False)


@pytest.mark.parametrize("data", SHAPE_TRICKS)
def test_the_engine_stores_no_draft_the_guard_has_not_seen(engine_for: Any, data: dict[str, Any]) -> None:
    hn = engine_for({"kette": chain_bpmn(tasks=1, form="protokoll_verschachtelt")}, {"p": NESTED_FORM})
    lena = actor_lookup(hn)("fachkraft.frauenberatung")
    hn.start(lena, "kette", {})
    task_id = hn.worklist(lena, WorklistQuery(view="alle")).tasks[0].id
    with contextlib.suppress(PersonalDataError):
        hn.save_draft(lena, task_id, data)
    assert "Müller" not in json.dumps(
        hn.task_detail(lena, task_id).form_data, ensure_ascii=False, default=str
    )



@pytest.mark.parametrize("data", SHAPE_TRICKS)
def test_a_draft_stored_before_the_shape_check_is_shown_only_in_the_checked_shape(
    engine_for: Any, data: dict[str, Any]
) -> None:
    """Drafts saved before the guard saw every shape may hold text in odd keys or shapes; the task
    page shows only what fits the form's fields, so such text never reaches a candidate's browser."""
    hn = engine_for({"kette": chain_bpmn(tasks=1, form="protokoll_verschachtelt")}, {"p": NESTED_FORM})
    lena = actor_lookup(hn)("fachkraft.frauenberatung")
    hn.start(lena, "kette", {})
    task_id = hn.worklist(lena, WorklistQuery(view="alle")).tasks[0].id
    with hn.db.write() as session:  # as an older version stored it, unchecked
        session.get(UserTask, task_id).draft = data
        session.commit()
    shown = hn.task_detail(lena, task_id).form_data
    if "Müller" in json.dumps(shown, ensure_ascii=False, default=str):
        # fits the form's shape: then today's guard has seen it and refuses to store it
        with pytest.raises(PersonalDataError):
            hn.save_draft(lena, task_id, data)
