"""Name lists for the anonymity guard, loaded once and offline.

First and family names come from Faker's person providers (``faker.providers.person.<locale>``
class attributes, no Faker instance, no network): German plus the languages of the county's
larger migrant communities. Cyrillic lists (Russian, Ukrainian, Bulgarian, Macedonian) are
transliterated into both the German (``w``, ``sch``) and the English/scholarly (``v``, ``sh``)
spelling. ``data/extra_names.txt`` adds names Faker lacks (Albanian, Kurdish, Arabic in Latin
transcription, Afghan, Eritrean, Syrian …).

A name that is also an ordinary German noun or a sentence-initial function word (``Wolf``,
``Sommer``, ``Bauer``, ``Nur``) is *ambiguous*: the detector reports it only with context
(a title, a role, a second name). ``data/ambiguous_names.txt`` lists those collisions; it was
derived once with ``scripts/anonymity_wordlists.py`` from the German Wiktionary noun list of the
``german-nouns`` package (CC BY-SA 4.0) and extended by hand; ``data/german_nouns.txt.gz``
(same source) holds German noun lemmas and plurals, so that an unlisted word after a title or role
("Frau Bürgermeisterin", "die Mutter Angst") is not taken for a name.
"""

from __future__ import annotations

import gzip
import importlib
from functools import cache
from pathlib import Path

__all__ = ["NameLists", "name_lists"]

DATA = Path(__file__).with_name("data")

#: Faker person providers with names in Latin script.
LATIN_LOCALES = (
    "de_DE", "de_AT", "de_CH", "tr_TR", "pl_PL", "ro_RO", "hr_HR", "sl_SI", "cs_CZ", "sk_SK",
    "hu_HU", "it_IT", "az_AZ", "uz_UZ", "fr_DZ", "en_PK", "lt_LT", "lv_LV", "yo_NG", "ha_NG",
    "es_ES", "pt_PT", "nl_NL", "fr_FR", "en_US",
)  # fmt: skip
#: Faker person providers in Cyrillic script, transliterated.
CYRILLIC_LOCALES = ("ru_RU", "uk_UA", "bg_BG", "mk_MK")

_FIRST = ("first_names", "first_names_male", "first_names_female")
_LAST = ("last_names", "last_names_male", "last_names_female")

_CYR_GERMAN = {
    "а": "a", "б": "b", "в": "w", "г": "g", "д": "d", "е": "e", "ё": "jo", "ж": "sch", "з": "s",
    "и": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "ch", "ц": "z", "ч": "tsch", "ш": "sch",
    "щ": "schtsch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "ju", "я": "ja", "і": "i",
    "ї": "ji", "є": "je", "ґ": "g", "ѓ": "gj", "ќ": "kj", "ѕ": "dz", "ј": "j", "љ": "lj",
    "њ": "nj", "џ": "dsch",
}  # fmt: skip
_CYR_LATIN = {
    **_CYR_GERMAN,
    "в": "v", "ж": "zh", "з": "z", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ю": "yu", "я": "ya", "й": "y", "ё": "yo", "џ": "dzh",
}  # fmt: skip


def _transliterate(word: str, table: dict[str, str]) -> str:
    out = "".join(table.get(ch, table.get(ch.lower(), ch)) for ch in word.lower())
    return out[:1].upper() + out[1:]


class NameLists:
    """First names, family names and the ambiguous ones (all as written, capitalised)."""

    def __init__(self, first: set[str], last: set[str], ambiguous: set[str], nouns: set[str]) -> None:
        self.first = frozenset(first)
        self.last = frozenset(last)
        self.all = self.first | self.last
        self.ambiguous = frozenset(ambiguous)
        self.nouns = frozenset(nouns)

    def is_noun(self, token: str) -> bool:
        """A German common noun (lemma or plural) — not a name unless a name list says so."""
        return token in self.nouns

    def is_name(self, token: str) -> bool:
        return token in self.all

    def is_unambiguous_name(self, token: str) -> bool:
        return token in self.all and token not in self.ambiguous


def _provider_names(locale: str, attributes: tuple[str, ...]) -> set[str]:
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    names: set[str] = set()
    for attribute in attributes:
        values = getattr(provider, attribute, None) or ()
        names.update(values.keys() if isinstance(values, dict) else values)
    return names


def _split(names: set[str]) -> set[str]:
    """Single tokens of multi-part names ("Al-Hassan" stays whole, "De Luca" gives both)."""
    tokens: set[str] = set()
    for name in names:
        for part in name.split():
            if len(part) >= 3 and part[:1].isupper():
                tokens.add(part)
    return tokens


def _read_list(name: str) -> set[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


@cache
def name_lists() -> NameLists:
    """Load every list once per process (about 0.1 s)."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in LATIN_LOCALES:
        first |= _provider_names(locale, _FIRST)
        last |= _provider_names(locale, _LAST)
    for locale in CYRILLIC_LOCALES:
        for table in (_CYR_GERMAN, _CYR_LATIN):
            first |= {_transliterate(n, table) for n in _provider_names(locale, _FIRST)}
            last |= {_transliterate(n, table) for n in _provider_names(locale, _LAST)}
    extra = _read_list("extra_names.txt")
    with gzip.open(DATA / "german_nouns.txt.gz", "rt", encoding="utf-8") as handle:
        nouns = set(handle.read().split())
    return NameLists(_split(first | extra), _split(last | extra), _read_list("ambiguous_names.txt"), nouns)
