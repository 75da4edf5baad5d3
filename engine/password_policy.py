"""Password policy after BSI IT-Grundschutz (ORP.4.A8, ORP.4.A22), the BSI's current guidance and
OWASP ASVS 4 chapter 2.1: length over composition.

* at least 12 characters, at most 128 (ASVS 2.1.1/2.1.2: ≥ 12, ≥ 64 permitted);
* every Unicode character is allowed, spaces included (2.1.4); no rules such as "one digit, one
  capital" (2.1.9) and no forced periodic change (2.1.10);
* refused: passwords from a shipped list of common and breached passwords (2.1.7, see
  ``engine/data/README.md``; no network), also with trailing digits/punctuation removed, and
  passwords that contain the user name (ORP.4.A8: not derived from the identity).

Length counts characters after NFC normalisation (a decomposed "ä" is one character).
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import lru_cache
from pathlib import Path

from engine.errors import InvalidSubmissionError

MIN_LENGTH = 12
MAX_LENGTH = 128
DATA = Path(__file__).resolve().parent / "data"
TOO_SHORT = f"Das Passwort muss mindestens {MIN_LENGTH} Zeichen lang sein."
TOO_LONG = f"Das Passwort darf höchstens {MAX_LENGTH} Zeichen lang sein."
COMMON = (
    "Dieses Passwort ist zu bekannt: Es steht auf einer Liste häufig verwendeter oder bei Datenlecks "
    "veröffentlichter Passwörter. Bitte wählen Sie ein anderes, z. B. einen Satz aus mehreren Wörtern."
)
HAS_USERNAME = "Das Passwort darf Ihren Benutzernamen nicht enthalten."
SAME_AS_BEFORE = "Das neue Passwort muss sich vom bisherigen unterscheiden."
#: Every sentence :func:`problems` may return (the web app translates each one).
RULES = (TOO_SHORT, TOO_LONG, COMMON, HAS_USERNAME, SAME_AS_BEFORE)
#: Characters stripped from the end before the list is asked again ("Passwort2026!" → "passwort").
_TRAILING = "0123456789!?.,;:-_+*#/ "


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list (Django's 19,646 common passwords and the German supplement), lower case."""
    with gzip.open(DATA / "common-passwords.txt.gz", "rt", encoding="utf-8") as handle:
        words = {line.strip().lower() for line in handle if line.strip()}
    supplement = (DATA / "common-passwords-de.txt").read_text(encoding="utf-8").splitlines()
    words |= {w.strip().lower() for w in supplement if w.strip() and not w.startswith("#")}
    return frozenset(words)


def is_common(password: str) -> bool:
    lowered = unicodedata.normalize("NFC", password).strip().lower()
    stripped = lowered.rstrip(_TRAILING)
    words = common_passwords()
    return lowered in words or (len(stripped) >= 4 and stripped in words)


def problems(password: str, username: str) -> list[str]:
    """Every rule the password breaks, as fixed German sentences (empty = acceptable); the web app
    translates each one."""
    text = unicodedata.normalize("NFC", password)
    found = []
    if len(text) < MIN_LENGTH:
        found.append(TOO_SHORT)
    if len(text) > MAX_LENGTH:
        found.append(TOO_LONG)
    name = username.strip().lower()
    if name and name in text.lower():
        found.append(HAS_USERNAME)
    if is_common(text):
        found.append(COMMON)
    return found


def check_password(password: str, username: str, field: str = "new_password") -> None:
    """Raise :class:`InvalidSubmissionError` with the first broken rule at ``field``."""
    found = problems(password, username)
    if found:
        raise InvalidSubmissionError(found[0], {field: found[0]})
