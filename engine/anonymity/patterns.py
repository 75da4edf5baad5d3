"""Rule-based finders: contact data, numbers, addresses, dates of birth, exact ages, facilities.

Each finder takes the text and yields ``(kind, start, end)``. The rules aim at what identifies a
person in an anonymous case record; coarse facts (age bands, towns, organisation types, dates of
meetings and deadlines) must stay clean.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from engine.anonymity.names import name_lists
from engine.anonymity.places import AMBIGUOUS_VILLAGES, TOWNS, VILLAGES

__all__ = ["RULE_FINDERS", "Span"]

Span = tuple[str, int, int]

_L = r"[^\W\d_]"  # a letter, any script
_UP = r"[A-ZÄÖÜ]"
_WORD = rf"{_L}+(?:[-'’]{_L}+)*"
_CAP = rf"{_UP}{_L}*(?:-{_L}+)*"

EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# German numbers: 0 or +49/0049, area code and number with spaces, slashes or dashes; 7+ digits.
PHONE = re.compile(
    r"(?<![\w.,])(?:\+|00)\d{2}[\s/()-]*(?:\d[\s/()-]?){6,14}\d|(?<![\w.,])0\d{2,5}\s?[/-]?\s?\d[\d\s-]{3,12}\d"
)
# Written to dodge a filter: "max.mueller(at)gmx.de", "name [at] web [dot] de", "name at gmx punkt de".
_AT = r"\s*(?:\(at\)|\[at\]|\{at\}|\(ät\)|\s(?:at|ät|AT)\s)\s*"
_DOT = r"(?:\s*(?:\(dot\)|\[dot\]|\{dot\}|\(punkt\)|\[punkt\])\s*|\s(?:dot|punkt|DOT|PUNKT)\s|\.)"
EMAIL_OBFUSCATED = re.compile(rf"[\w.+%-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[A-Za-z]{{2,}}\b")
# Digits spread out by spaces, slashes or dashes: "0 1 7 1 - 2 3 4 5 6 7 8", "+4 9 1 6 0 …".
PHONE_SPACED = re.compile(r"(?<![\w.,])(?:\+\s?4\s?9|0)(?:[ \t/-]{0,3}\d){7,14}(?!\w)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}(?:\s?[A-Z0-9]{1,4})?\b")
FILE_NUMBER = re.compile(
    r"(?:\b(?:Az|Aktenzeichen|AZ|Gz|Geschäftszeichen|Vorgangsnummer|Vorgangs-Nr|Vorgang-Nr|Vorgangsnr"
    r"|Tagebuchnummer|Tgb\.-Nr|Aktennummer|Akten-Nr|Fallnummer|Fall-Nr|Kassenzeichen|Personenkennziffer)"
    r"\.?:?\s*(?:Nr\.?\s*)?[A-Z0-9][\w/.-]*(?:\s[A-Z0-9]{1,5}(?=[\s/])?[\w/.-]*)*)"
    r"|\b\d{1,4}\s?(?:F|UF|WF|Js|UJs|Ds|Cs|Ls|Gs|Ks|XVII|C|O|Ca|IK|VI|IV|III|II|I)\s\d{1,6}/\d{2,4}\b"
)
PLATE = re.compile(
    r"\b(?!(?:SGB|GmbH|StGB)\b)[A-ZÄÖÜ]{1,3}-[A-Z]{1,2}\s?\d{1,4}[EH]?\b|\b[A-ZÄÖÜ]{1,3}\s[A-Z]{1,2}\s\d{1,4}[EH]?\b"
)
_STREET_SUFFIX = (
    r"(?:straße|strasse|str\.|gasse|allee|weg|platz|ring|damm|ufer|pfad|wall|graben|chaussee|stieg"
    r"|markt|feld|hof|kamp|busch|heide|wiese|garten)"
)
STREET = re.compile(
    rf"\b{_CAP}{_STREET_SUFFIX}\s+\d{{1,4}}\s?[a-z]?\b"
    rf"|\b{_UP}{_L}+-?(?:straße|strasse|Straße|Strasse|gasse|Gasse|allee|Allee)\b"
    rf"|\b{_UP}{_L}+\s(?:Straße|Str\.|Weg|Platz|Ring|Allee|Gasse|Damm)\s+\d{{1,4}}\s?[a-z]?\b"
    r"|\b(?:Am|An der|An den|Auf der|Auf dem|Im|In der|In den|Zum|Zur|Hinter der|Unter den)"
    rf"\s{_CAP}\s+\d{{1,4}}\s?[a-z]?\b"
)
_GENERIC_STREETS = re.compile(
    r"(?i)^(?:haupt|land|bundes|kreis|neben|seiten|quer|einbahn|dorf|durchgangs)stra(?:ß|ss)e$"
)
POSTCODE = re.compile(rf"\b(?:PLZ:?\s*)\d{{5}}\b|\b\d{{5}}(?=\s{_UP}{_L}+)|\b59[4-6]\d{{2}}\b")
_NOT_PLACES = {
    "Euro",
    "EUR",
    "Teilnehmende",
    "Stunden",
    "Fälle",
    "Einwohner",
    "Personen",
    "Menschen",
    "Kinder",
}
_MONTHS = (
    r"(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
    r"|Jan\.|Feb\.|Mär\.|Apr\.|Jun\.|Jul\.|Aug\.|Sep\.|Sept\.|Okt\.|Nov\.|Dez\.)"
)
_DATE = (
    r"(?:\d{1,2}\.\s?\d{1,2}\.\s?(?:\d{4}|\d{2})\b"
    rf"|\d{{1,2}}\.\s?{_MONTHS}\s\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})"
)
BIRTH = re.compile(
    r"(?:\bgeb(?:\.|oren)?(?:\s+am)?|\bGeb\.|\bGeburtsdatum:?|\bGeburtstag:?|\*)\s*"
    rf"(?:{_DATE}|\d{{4}}\b|(?:im\s)?{_MONTHS}\s\d{{4}})"
    rf"|(?<!blatt\s)\bJahrgang\s\d{{4}}\b(?!\s(?:Teil|Nr|Heft|Band))|\bGeburtsjahr:?\s\d{{4}}\b"
)
_NUMBER_WORDS = (
    "ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|dreizehn|vierzehn|fünfzehn|"
    "sechzehn|siebzehn|achtzehn|neunzehn|zwanzig|dreißig|vierzig|fünfzig|sechzig|siebzig|achtzig"
)
AGE_ADJECTIVE = re.compile(
    rf"\b(?:\d{{1,3}}\s?-?\s?|(?i:(?:{_NUMBER_WORDS})(?:und(?:zwanzig|dreißig|vierzig|fünfzig|sechzig|siebzig|achtzig))?))"
    rf"(?:[jJ]ährige[nrms]?|[jJ]ähriger?)\b"
)
PERSON_NOUNS = frozenset(
    [
        "Tochter",
        "Sohn",
        "Kind",
        "Kinder",
        "Mädchen",
        "Junge",
        "Jungen",
        "Mutter",
        "Vater",
        "Frau",
        "Mann",
        "Bruder",
        "Schwester",
        "Enkel",
        "Enkelin",
        "Säugling",
        "Baby",
        "Betroffene",
        "Betroffener",
        "Klientin",
        "Klient",
        "Jugendliche",
        "Jugendlicher",
        "Schülerin",
        "Schüler",
        "Zwillinge",
        "Geschwister",
        "Kindesmutter",
        "Kindesvater",
        "Kindsmutter",
        "Kindsvater",
        "Partner",
        "Partnerin",
        "Ehemann",
        "Ehefrau",
        "Lebensgefährte",
        "Lebensgefährtin",
        "Täter",
        "Opfer",
        "Beschuldigte",
        "Beschuldigter",
        "Großmutter",
        "Großvater",
        "Oma",
        "Opa",
        "Stiefvater",
        "Stiefmutter",
        "Nachbarin",
        "Nachbar",
        "Pflegekind",
        "Frauen",
        "Männer",
        "Töchter",
        "Söhne",
        "Person",
        "Bewohnerin",
        "Bewohner",
        "Geschädigte",
        "Geschädigter",
        "Halbbruder",
        "Halbschwester",
    ]
)
AGE_PHRASE = re.compile(
    r"\b\d{1,3}\s(?:Jahre|Monate|Wochen)\salt\b"
    r"|\bim\sAlter\svon\s\d{1,3}(?:\s(?:und|,)\s\d{1,3})*(?!\s?(?:bis|-|–)\s?\d)\s(?:Jahren|Monaten)\b"
    r"|\bAlter:?\s\d{1,3}\b(?!\s?(?:bis|-|–))"
    r"|\b\d{1,3}\s?J\.(?=[\s,;)])"
    r"|\bwird\s(?:im\s\w+\s)?\d{1,3}\b(?=\s|[.,])"
)
_AGE_BAND_BEFORE = re.compile(
    r"(?:\b(?:und|bis|oder|über|unter|etwa|ca\.|circa|rund|knapp|fast|mindestens|höchstens|Mitte|Anfang|Ende)"
    r"|\d\s?[-–])\s*$"
)
AGE_IN_BRACKETS = re.compile(
    rf"\b(?:{'|'.join(sorted(PERSON_NOUNS))})(?:\s{_CAP})?\s?(?P<age>\(\d{{1,2}}(?:\s?J\.?)?\)|,\s\d{{1,2}}(?:\sJ\.)?(?=,))"
)
_FACILITY_TYPES = (
    r"Grundschule|Hauptschule|Realschule|Gesamtschule|Sekundarschule|Gymnasium|Förderschule|"
    r"Berufskolleg|Berufsschule|Kita|KiTa|Kindertagesstätte|Kindergarten|Familienzentrum|"
    r"Kinderhaus|Hort|Montessorischule|Waldorfschule|Grundschulverbund|OGS|Schule|Tagespflege"
)
FACILITY_NAMED = re.compile(
    rf"\b(?:{_FACILITY_TYPES})\s(?:(?:am|an\sder|an\sden|im|in\sder|auf\sder|auf\sdem|zum|zur|St\.|Sankt)\s{_CAP}"
    rf"|„[^“”\"]{{2,40}}[“”\"]|\"[^\"]{{2,40}}\"|{_CAP}(?:\s{_CAP})?)"
    rf"|\b{_CAP}-(?:Gymnasium|Schule|Realschule|Gesamtschule|Grundschule|Kolleg|Kita|Kindergarten)\b"
    rf"|\b{_CAP}(?:grundschule|schule|gymnasium|kindergarten|kita)\b"
)
_FACILITY_NEXT_OK = {
    "Soest", "Lippstadt", "Werl", "Warstein", "Geseke", "Erwitte", "Rüthen", "Ense", "Lippetal",
    "Möhnesee", "Welver", "Wickede", "Anröchte", "Bad",
}  # fmt: skip
_NOUN_SUFFIX = re.compile(
    r"(?:ung|ungen|heit|heiten|keit|keiten|schaft|schaften|tion|tionen|tät|nis|nisse|ismus|ment|ik|ien|enz|anz|ität)$"
)
_FACILITY_OBJECTS = frozenset(
    [
        "Kontakt",
        "Bescheid",
        "Auffälligkeiten",
        "Hinweise",
        "Sorgen",
        "Bedenken",
        "Verletzungen",
        "Fehlzeiten",
        "Hilfe",
        "Angebote",
        "Probleme",
        "Gespräche",
        "Eltern",
        "Kinder",
        "Mitarbeitende",
        "Fachkräfte",
        "Leitung",
        "Lehrkräfte",
        "Personal",
        "Termine",
        "Ferien",
        "Plätze",
        "Zeit",
        "Anzeige",
        "Mitteilung",
        "Unterstützung",
        "Rückmeldung",
        "Informationen",
        "Sozialarbeit",
        "Schulsozialarbeit",
        "Jugendamt",
        "Polizei",
        "Blutergüsse",
        "Spuren",
        "Anzeichen",
        "Signale",
        "Verdacht",
        "Alarm",
        "Schutzkonzept",
        "Gefährdung",
        "Ganztag",
        "Nachmittag",
        "Vormittag",
        "Morgen",
        "Mittag",
        "Essen",
        "Förderbedarf",
        "Integrationshilfe",
        "Schulbegleitung",
        "Kinderschutzfachkraft",
        "Insoweit",
        "Fachkraft",
        "Beratung",
        "Meldung",
        "Daten",
        "Woche",
        "Wochen",
        "Monate",
        "Jahre",
        "Tage",
        "Aufsicht",
        "Einrichtung",
        "Träger",
        "Gruppe",
        "Gruppen",
        "Klasse",
        "Klassen",
        "Stufe",
    ]
)
_GENERIC_SCHOOL_WORDS = re.compile(
    r"^(?:Grund|Haupt|Real|Gesamt|Sekundar|Förder|Berufs|Ganztags|Regel|Schwerpunkt|Privat|Abend|Volks|"
    r"Hoch|Fach|Sonder|Musik|Tanz|Fahr|Sprach|Bildungs|Kranken|Pflege|Elter|Gast|Heim|Grundschul|Vor|"
    r"Schwimm|Ober|Mittel|Unter|Ersatz|Tages|Koch|Erzieher|Haus|Familien|Volkshoch|Kinder|Wald|Gemeinschafts|Montessori|Waldorf)"
    r"(?:schule|gymnasium|kindergarten|kita)$"
)
WORKPLACE = re.compile(
    r"\b(?:(?:arbeitet|arbeitete|beschäftigt|angestellt|tätig|jobbt)\s(?:bei|beim|für)|Arbeitgeber(?:in)?:|"
    r"Arbeitgeber(?:in)?\sist)\s"
    rf"(?:der\sFirma\s|dem\s|der\s|Firma\s)?{_CAP}(?:\s(?:{_CAP}|&|und|GmbH|AG|KG|OHG|UG|e\.K\.))*"
    rf"|\bFirma\s{_CAP}(?:\s(?:{_CAP}|&|GmbH|AG|KG))*"
    rf"|\b{_CAP}(?:\s{_CAP})*\s(?:GmbH|AG|KG|OHG|UG|e\.K\.|GbR|Co\.\sKG)(?=\W|$)"
)
_WORKPLACE_GENERIC = re.compile(
    r"(?:Jugendamt|Polizei|Kreis|Stadt|Gemeinde|Jobcenter|Caritas|Diakonie|AWO|Frauenhaus|Frauenberatung|"
    r"Beratungsstelle|Netzwerk|Schule|Kita|Klinik|Krankenhaus|Praxis|Gericht|Amt|Zeitarbeitsfirma|"
    r"Reinigungsfirma|Pflegedienst|Spedition|Supermarkt|Discounter|Bäckerei|Gastronomie|Handel|Region)\b"
)
_PLACE_PREPOSITION = re.compile(r"(?:\bin|\baus|\bnach|\bbei|\bvon|\bOrtsteil|\bOT|\bDorf|\bim\sOrtsteil)\s$")


def _iter(pattern: re.Pattern[str], kind: str, text: str) -> Iterator[Span]:
    for match in pattern.finditer(text):
        yield kind, match.start(), match.end()


def find_contact(text: str) -> Iterator[Span]:
    yield from _iter(EMAIL, "email", text)
    yield from _iter(EMAIL_OBFUSCATED, "email", text)
    yield from _iter(PHONE_SPACED, "telefon", text)
    yield from _iter(IBAN, "iban", text)
    for match in PHONE.finditer(text):
        digits = sum(ch.isdigit() for ch in match.group())
        if digits >= 7:
            yield "telefon", match.start(), match.end()


def find_numbers(text: str) -> Iterator[Span]:
    for match in FILE_NUMBER.finditer(text):
        yield (
            "aktenzeichen",
            match.start(),
            match.end() - (len(match.group()) - len(match.group().rstrip(".,;:"))),
        )
    for match in PLATE.finditer(text):
        if not re.fullmatch(r"[A-ZÄÖÜ]{1,3}[- ](?:[A-Z]{1,2})[ -]?\d{1,4}[EH]?", match.group()):
            continue
        yield "kennzeichen", match.start(), match.end()


def find_addresses(text: str) -> Iterator[Span]:
    for match in STREET.finditer(text):
        if not _GENERIC_STREETS.match(match.group()):
            yield "adresse", match.start(), match.end()
    for match in POSTCODE.finditer(text):
        following = text[match.end() :].split(maxsplit=1)
        if match.group().startswith(("PLZ", "59")) or (following and following[0] not in _NOT_PLACES):
            yield "plz", match.start(), match.end()


def find_birth_and_age(text: str) -> Iterator[Span]:
    yield from _iter(BIRTH, "geburtsdatum", text)
    for match in AGE_PHRASE.finditer(text):
        if not _AGE_BAND_BEFORE.search(text[max(0, match.start() - 24) : match.start()]):
            yield "alter", match.start(), match.end()
    for match in AGE_IN_BRACKETS.finditer(text):
        start, end = match.span("age")
        yield "alter", start + (2 if text[start] == "," else 0), end
    for match in AGE_ADJECTIVE.finditer(text):
        nominal = match.group()[-8:].lstrip("0123456789 -")[:1] == "J"
        rest = text[match.end() :].lstrip()
        following = re.match(_WORD, rest)
        word = following.group() if following else ""
        if nominal or word in PERSON_NOUNS or (word and not word[0].isupper()):
            yield "alter", match.start(), match.end()


def find_facilities(text: str) -> Iterator[Span]:
    for match in FACILITY_NAMED.finditer(text):
        if _is_named_facility(match.group()):
            yield "einrichtung", match.start(), match.end()
    for match in WORKPLACE.finditer(text):
        named = match.group()
        last = named.split()[-1]
        company = re.search(r"\b(?:GmbH|AG|KG|OHG|UG|e\.K\.|GbR)$", named)
        if not company and (_WORKPLACE_GENERIC.fullmatch(last) or last in TOWNS):
            continue
        yield "einrichtung", match.start(), match.end()


def _is_named_facility(found: str) -> bool:
    words = found.split()
    if len(words) == 1:
        return not _GENERIC_SCHOOL_WORDS.match(found)
    if words[1] in {"im", "am", "an"} and name_lists().is_noun(words[-1]):
        return False  # "eine Grundschule im Stadtgebiet", "die Kita am Park"
    if words[1] in {"am", "an", "im", "in", "auf", "zum", "zur", "St.", "Sankt"} or words[1][:1] in '„"':
        return True
    name = words[1]
    if name in _FACILITY_NEXT_OK or name in TOWNS:
        return False
    if words[0] in {"Schule", "Hort", "OGS", "Tagespflege"} or name in _FACILITY_OBJECTS:
        return False
    return not _NOUN_SUFFIX.search(name)


def find_places(text: str) -> Iterator[Span]:
    for match in re.finditer(rf"\b(?=({_CAP}(?:\s{_CAP})?))", text):
        pair = match.group(1)
        for candidate in (pair, pair.split()[0]):
            if candidate in AMBIGUOUS_VILLAGES:
                if _PLACE_PREPOSITION.search(text[max(0, match.start() - 14) : match.start()]):
                    yield "ort", match.start(), match.start() + len(candidate)
                break
            if candidate in VILLAGES:
                yield "ort", match.start(), match.start() + len(candidate)
                break


RULE_FINDERS: tuple[Callable[[str], Iterator[Span]], ...] = (
    find_contact,
    find_numbers,
    find_addresses,
    find_birth_and_age,
    find_facilities,
    find_places,
)
