"""The password policy on its own: the shipped list is complete and read offline; length counts
characters, not bytes; no composition rules; user name and common passwords refused."""

from __future__ import annotations

import hashlib

import pytest

from engine import password_policy as policy
from engine.errors import InvalidSubmissionError


def test_the_shipped_list_is_the_documented_file():
    digest = hashlib.sha256((policy.DATA / "common-passwords.txt.gz").read_bytes()).hexdigest()
    readme = (policy.DATA / "README.md").read_text(encoding="utf-8")
    assert digest in readme and "BSD 3-Clause" in readme
    words = policy.common_passwords()
    assert len(words) > 19_000 and {"password", "123456", "passwort", "hilfenetz"} <= words


@pytest.mark.parametrize(
    "password",
    ["iloveyou1234", "PASSWORD1234", "Passwort2026!", "hilfenetz-2026", "qwertzuiop1!"],
)
def test_common_passwords_and_their_numbered_variants_are_refused(password):
    assert policy.COMMON in policy.problems(password, "someone")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # spaces and only lower case: no composition rules
        "zwölf Zeichen",  # 13 characters, umlaut
        "ä" * 12,  # twelve characters, 24 bytes
        "🌧️" * 6,  # emoji are characters too
        "x" * policy.MAX_LENGTH,
    ],
)
def test_long_passphrases_of_any_characters_pass(password):
    assert policy.problems(password, "someone") == []


def test_length_counts_normalised_characters():
    decomposed = "a\u0308" * 11  # eleven "ä" written as a + combining diaeresis: 22 code points
    assert policy.TOO_SHORT in policy.problems(decomposed, "someone")


def test_the_user_name_may_not_be_part_of_it():
    assert policy.problems("Mein.FACHKRAFT.polizei-Passwort", "fachkraft.polizei") == [policy.HAS_USERNAME]


def test_check_password_raises_with_the_field():
    with pytest.raises(InvalidSubmissionError) as raised:
        policy.check_password("kurz", "someone")
    assert raised.value.field_errors == {"new_password": policy.TOO_SHORT}
    assert policy.MAX_LENGTH >= 64 and policy.MIN_LENGTH == 12
