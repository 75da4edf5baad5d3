"""Personal names in German text: name lists combined with context rules.

German capitalises every noun, so a capitalised word is no evidence by itself. A word counts
as a name when

* it follows a title or form of address (``Frau``, ``Herr``, ``Dr.``, ``Familie``) directly and
  is no role, office or function word (``TITLE_NOUNS``: "Frau Bürgermeisterin"), even when it is
  also a noun ("Frau Schulze", "Herr Busch"); after a comma it must not look like a noun
  (``-ung``, ``-heit`` …); after an article + title only a listed name counts ("die Frau
  Unterstützung …" stays clean);
* it follows a family role (``Mutter``, ``Kindesvater``, ``Tochter``) and is a listed name or
  has a foreign name's shape;
* it is a listed first or family name that is not also a German word (``Ayşe``, ``Kowalski``); a
  listed name that is also a word (``Wolf``, ``Sommer``) counts only next to another name;
* it has the shape of a name from the county's migrant languages: letters such as ş, ğ, ı, ć, č,
  ł, ș, or endings such as -ović, -ski, -oğlu, -escu, -enko, -shvili.

Neighbouring name words merge into one finding ("Ayşe Demir", "Frau Dr. Wolf").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.anonymity.names import name_lists
from engine.anonymity.patterns import Span

__all__ = ["find_names"]

_TOKEN = re.compile(r"(?:[ae]l-|[AE]l-)?[A-ZÄÖÜÇŞİĆČŽŠĐŁŚŹŻĂȘȚÂÎÉ][^\W\d_]*(?:[-'’][^\W\d_]+)*\.?")
TITLES = frozenset({"Frau", "Herr", "Herrn", "Hr.", "Fr.", "Familie", "Fam.", "Eheleute", "Geschwister"})
ACADEMIC = frozenset({"Dr.", "Prof.", "Dipl.", "Dres."})
ROLES = frozenset(
    """Betroffene Betroffenen Geschädigte Beschuldigte Täter Täterin Bewohnerin Patientin Patient
    Mutter Vater Kindesmutter Kindesvater Kindsmutter Kindsvater KM KV Tochter Sohn Kind Oma Opa
    Großmutter Großvater Tante Onkel Bruder Schwester Ehemann Ehefrau Partner Partnerin
    Lebensgefährte Lebensgefährtin Ex-Partner Ex-Mann Ex-Frau Nachbarin Nachbar Klientin Klient
    Schülerin Schüler Stiefvater Stiefmutter Cousin Cousine Neffe Nichte Enkel Enkelin Baby
    Säugling Mädchen Junge""".split()  # noqa: SIM905
)
#: Role and office nouns that follow a form of address without being a name ("Frau Richterin",
#: "Herr Bürgermeister", "Frau Kollegin"). Directly after a title every other capitalised word
#: is taken for a family name, even when it is also a noun ("Frau Schulze", "Herr Busch").
TITLE_NOUNS = frozenset(
    """Bürgermeister Bürgermeisterin Oberbürgermeister Oberbürgermeisterin Landrat Landrätin
    Richter Richterin Familienrichter Familienrichterin Vorsitzende Vorsitzender Kollege Kollegin
    Kolleginnen Kollegen Doktor Doktorin Professor Professorin Pfarrer Pfarrerin Pastor Pastorin
    Minister Ministerin Präsident Präsidentin Direktor Direktorin Rektor Rektorin Dekan Dekanin
    Staatsanwalt Staatsanwältin Rechtsanwalt Rechtsanwältin Anwalt Anwältin Notar Notarin
    Kommissar Kommissarin Hauptkommissar Hauptkommissarin Polizeihauptkommissar
    Polizeihauptkommissarin Abgeordnete Abgeordneter Beigeordnete Beigeordneter Dezernent
    Dezernentin Amtsleiter Amtsleiterin Leiter Leiterin Sachbearbeiter Sachbearbeiterin Ärztin
    Arzt Lehrer Lehrerin Konrektor Konrektorin Referent Referentin Senator Senatorin Kanzler
    Kanzlerin Botschafter Botschafterin Generalsekretär Generalsekretärin Geschäftsführer
    Geschäftsführerin Gleichstellungsbeauftragte Beauftragte Beauftragter Ortsvorsteher
    Ortsvorsteherin Kreisdirektor Kreisdirektorin Oberstaatsanwalt Oberstaatsanwältin
    Magister Ingenieur Ingenieurin Hauptmann Oberst Major Meister Meisterin""".split()  # noqa: SIM905
)
_FUNCTION_WORDS = frozenset(
    """Und Oder Aber Sie Er Es Ihr Ihre Ihren Ihrem Ihrer Sein Seine Der Die Das Den Dem Des Ein Eine
    Einer Einem Wir Man Mit Von Vom Zu Zum Zur Im In Am An Auf Aus Bei Nach Für Über Unter Vor Wegen
    Als Wie Wenn Dass Noch Nur Auch Schon Bitte Danke Hallo Guten Liebe Lieber Sehr Alle Beide""".split()  # noqa: SIM905
)
_ARTICLES = re.compile(
    r"(?:\b(?i:die|der|den|dem|des|eine|einer|einem|ein|jede|diese|dieser|keine)|\b[a-zäöüß]+(?:e|en|er))\s+$"
)
_NOUN_SUFFIX = re.compile(
    r"(?:ung|ungen|heit|heiten|keit|keiten|schaft|tion|tät|nis|ismus|ment|enz|anz|ität|ie|ien|ei|ling|chen|tum|sal|"
    r"amt|haus|stelle|beratung|hilfe|dienst|kraft|team|rat|bund|verein|recht|gericht|schutz|"
    r"gespräch|termin|kontakt|tag|zeit|plan|punkt|frage|fall|bericht|arbeit|ort|weise)$"
)
_NOT_NAMES = TITLES | ACADEMIC | ROLES
_FOREIGN_LETTERS = re.compile(r"[şğıİŞĞćčžšđłńśźżășțőűøåñêûîçë]")
_FOREIGN_ENDINGS = re.compile(
    r"(?:ović|ovic|ević|evic|[^aeiou]ić|ski|ska|sky|cki|cka|wicz|czyk|czak|oğlu|oglu|escu|eanu|enko|chuk|"
    r"shvili|adze|yan|jan|yev|yeva|ov|ova|ev|eva|zadeh|ullah|uddin)$"
)
_FOREIGN_NOT = frozenset({"Kiew", "Iwan", "Plan", "Kaplan", "Bahn", "Fan", "Tarifplan", "Lev", "Konzept"})


def _looks_foreign(word: str) -> bool:
    if len(word) < 4 or word in _FOREIGN_NOT:
        return False
    return bool(_FOREIGN_LETTERS.search(word) or (len(word) >= 5 and _FOREIGN_ENDINGS.search(word)))


def find_names(text: str) -> Iterator[Span]:
    lists = name_lists()
    tokens = [(m.group().rstrip("."), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    marked = [False] * len(tokens)
    for index, (word, start, end) in enumerate(tokens):
        if text[start:end] in ACADEMIC or word in TITLES or len(word) < 2:
            continue  # an initial ("Frau S.") is how the network writes pseudonyms
        if lists.is_unambiguous_name(word) or _looks_foreign(word) or _first_and_family(text, tokens, index):
            marked[index] = True
            continue
        prev = tokens[index - 1] if index else None
        if prev is None or text[prev[2] : start].strip(" ,") != "":
            continue
        previous_word = text[prev[1] : prev[2]]
        if _after_title(text, tokens, index, previous_word, word) or (
            previous_word in ROLES and _could_be_name(word)
        ):
            marked[index] = True
    _spread(tokens, marked, text)
    yield from _merge(tokens, marked)


def _first_and_family(text: str, tokens: list[tuple[str, int, int]], index: int) -> bool:
    """A listed first name directly followed by a listed family name ("Anna Schulte")."""
    if index + 1 >= len(tokens):
        return False
    lists = name_lists()
    word, _start, end = tokens[index]
    following, next_start, _next_end = tokens[index + 1]
    if text[end:next_start].strip() or word in _NOT_NAMES or following in _NOT_NAMES:
        return False
    return word in lists.first and following in lists.last


def _could_be_name(word: str) -> bool:
    """After a role or title: a listed name, a foreign-looking word, or a word that is no noun."""
    lists = name_lists()
    if lists.is_name(word) or _looks_foreign(word):
        return True
    return not (lists.is_noun(word) or _NOUN_SUFFIX.search(word) or word in TITLES or word in ROLES)


#: Words ending like an article or adjective ("-e", "-en", "-er") that introduce a person, not a
#: noun phrase: "sagte Frau Schulze", "Sehr geehrte Frau Krüger", "haben Herrn Busch informiert".
_NOT_ARTICLES = frozenset(
    """habe hatte hätte haben hatten hätten sagte sagten fragte fragten meldete meldeten berichtete
    berichteten erklärte erklärten schilderte schilderten teilte teilten wollte wollten konnte
    konnten sollte sollten musste mussten möchte möchten durfte bestätigte bestätigten äußerte
    wünschte betonte ergänzte stellte erzählte informierte kontaktierte begleitete unterstützte
    besuchte wurde wurden würde würden werde werden bitte bitten geehrte geehrter liebe lieber
    rufe riefe traf trafen sprachen baten nannte nannten""".split()  # noqa: SIM905
)


def _after_article(before: str) -> bool:
    match = _ARTICLES.search(before)
    return match is not None and match.group().strip().lower() not in _NOT_ARTICLES


def _after_title(text: str, tokens: list[tuple[str, int, int]], index: int, previous: str, word: str) -> bool:
    if previous not in TITLES and previous not in ACADEMIC:
        return False
    title_start = tokens[index - 1][1]
    if previous in TITLES and _after_article(text[max(0, title_start - 20) : title_start]):
        return name_lists().is_name(word) or _looks_foreign(word)
    if text[tokens[index - 1][2] : tokens[index][1]].isspace():
        return _could_be_family_name(word)
    return _could_be_name(word)


def _could_be_family_name(word: str) -> bool:
    """Directly after a title: any capitalised word that is no role, office or function word."""
    return word not in _NOT_NAMES and word not in TITLE_NOUNS and word not in _FUNCTION_WORDS


def _spread(tokens: list[tuple[str, int, int]], marked: list[bool], text: str) -> None:
    """A listed name (even an ambiguous one) right next to a found name is part of it."""
    lists = name_lists()
    changed = True
    while changed:
        changed = False
        for index, (word, start, end) in enumerate(tokens):
            if marked[index] or not _could_be_name(word) or text[start:end] in ACADEMIC:
                continue
            left = index > 0 and marked[index - 1] and text[tokens[index - 1][2] : start].strip() == ""
            right = (
                index + 1 < len(tokens)
                and marked[index + 1]
                and text[tokens[index][2] : tokens[index + 1][1]].strip() == ""
            )
            if left or (right and (lists.is_name(word) or _looks_foreign(word))):
                marked[index] = changed = True
        changed = _spread_family_names(tokens, marked, text) or changed


def _spread_family_names(tokens: list[tuple[str, int, int]], marked: list[bool], text: str) -> bool:
    """A found first name's right neighbour is the family name even when it is also a noun
    ("Sabine Schulze"), unless it is a role, office or function word or looks like a noun."""
    first = name_lists().first
    changed = False
    for index in range(1, len(tokens)):
        word, start, end = tokens[index]
        previous, _previous_start, previous_end = tokens[index - 1]
        if marked[index] or not marked[index - 1] or previous not in first or text[previous_end:start] != " ":
            continue
        if _could_be_family_name(word) and not _NOUN_SUFFIX.search(word) and text[start:end] not in ACADEMIC:
            marked[index] = changed = True
    return changed


def _merge(tokens: list[tuple[str, int, int]], marked: list[bool]) -> Iterator[Span]:
    start = end = -1
    for (word, token_start, _token_end), is_name in zip(tokens, marked, strict=True):
        if not is_name:
            continue
        token_end = token_start + len(word)
        if start >= 0 and token_start - end <= 1:
            end = token_end
            continue
        if start >= 0:
            yield "name", start, end
        start, end = token_start, token_end
    if start >= 0:
        yield "name", start, end
