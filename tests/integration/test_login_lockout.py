"""The lock-out of local logins under parallel attempts (real threads, SQLite and PostgreSQL), and
that a locked account costs a password hash like every other refusal (no timing tells which names
exist). Counts hasher calls instead of measuring time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine import accounts
from engine.errors import LoginRefusedError
from engine.service import Hilfenetz
from tests.conftest import build_engine
from tests.integration.test_concurrency import race
from tests.integration.test_webapp_auth import PASSWORD

KNOWN, UNKNOWN, WRONG = "fachkraft.frauenberatung", "niemand.unbekannt", "ganz-falsches-Passwort"


@pytest.fixture
def hn(tmp_path, any_db_url, clock, definitions) -> Iterator[Hilfenetz]:
    engine = build_engine(tmp_path, any_db_url, clock, definitions, login_max_attempts=5)
    yield engine
    engine.db.dispose()


def reasons(results: list[Any]) -> dict[str, int]:
    assert all(isinstance(r, LoginRefusedError) for r in results), results
    counted: dict[str, int] = {}
    for r in results:
        counted[r.reason] = counted.get(r.reason, 0) + 1
    return counted


def refusal(hn: Hilfenetz, username: str, password: str) -> LoginRefusedError:
    with pytest.raises(LoginRefusedError) as refused:
        hn.login(username, password)
    return refused.value


def test_parallel_wrong_passwords_lock_the_account(hn):
    results = race([lambda: hn.login(KNOWN, WRONG) for _ in range(12)])
    # Counted one after the other: four plain failures, the fifth locks, the rest meet the lock.
    assert reasons(results) == {"passwort": 4, "sperre": 1, "gesperrt": 7}
    assert refusal(hn, KNOWN, PASSWORD).reason == "gesperrt"


def test_parallel_first_attempts_with_an_unknown_name_are_all_counted(hn):
    results = race([lambda: hn.login(UNKNOWN, WRONG) for _ in range(12)])
    # No duplicate key (500): one row, counted like an account, locked after the fifth attempt.
    assert reasons(results) == {"unbekannt": 5, "gesperrt": 7}
    assert "gesperrt" in refusal(hn, UNKNOWN, WRONG).message


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """Every password check ``authenticate`` makes (the real argon2 check still runs)."""
    calls: list[str] = []
    verify = accounts._verify

    def counting(stored: str, password: str) -> bool:
        calls.append("dummy" if stored == accounts._DUMMY_HASH else "account")
        return verify(stored, password)

    monkeypatch.setattr(accounts, "_verify", counting)
    return calls


@pytest.mark.parametrize("any_db_url", ["sqlite"], indirect=True)
def test_a_locked_account_is_hashed_like_a_locked_unknown_name(hn, hashed):
    for username in (KNOWN, UNKNOWN):
        for _ in range(5):
            refusal(hn, username, WRONG)
    hashed.clear()
    known = refusal(hn, KNOWN, PASSWORD)
    assert known.reason == "gesperrt" and hashed == ["account"]
    unknown = refusal(hn, UNKNOWN, PASSWORD)
    assert unknown.reason == "gesperrt" and hashed == ["account", "dummy"]
    assert known.message == unknown.message
