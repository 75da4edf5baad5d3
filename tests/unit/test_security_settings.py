"""Security settings are checked at start-up with German messages."""

from __future__ import annotations

import pytest

from engine.errors import ConfigurationError
from engine.settings import Settings

BASE = {"HILFENETZ_DEV": "1"}


def test_defaults_single_sign_on_off_and_ten_hour_sessions():
    settings = Settings.from_env(BASE)
    assert settings.oidc_issuer == "" and settings.session_max_hours == 10


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HILFENETZ_OIDC_ISSUER": "http://idp.kreis.example"}, "muss mit https:// beginnen"),
        ({"HILFENETZ_OIDC_ISSUER": "https://idp.kreis.example"}, "HILFENETZ_OIDC_CLIENT_ID fehlt"),
        (
            {"HILFENETZ_OIDC_ISSUER": "https://idp.kreis.example", "HILFENETZ_OIDC_CLIENT_ID": "hn"},
            "HILFENETZ_OIDC_MAPPING muss auf eine JSON-Datei",
        ),
        ({"HILFENETZ_SESSION_MAX_HOURS": "0"}, "muss größer als 0 sein"),
        ({"HILFENETZ_SESSION_MAX_HOURS": "zehn"}, "ist keine Zahl"),
    ],
)
def test_bad_security_settings_are_refused_in_german(env, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({**BASE, **env})


def test_a_complete_provider_configuration_is_accepted(tmp_path):
    mapping = tmp_path / "zuordnung.json"
    mapping.write_text('{"organisationen": {}, "rollen": {}}', encoding="utf-8")
    env = {
        **BASE,
        "HILFENETZ_OIDC_ISSUER": "https://idp.kreis.example/realms/kreis/",
        "HILFENETZ_OIDC_CLIENT_ID": "hilfenetz",
        "HILFENETZ_OIDC_MAPPING": str(mapping),
    }
    settings = Settings.from_env(env)
    assert settings.oidc_issuer == "https://idp.kreis.example/realms/kreis"  # no trailing slash


@pytest.mark.parametrize(
    "content", ["kein json", '{"organisationen": {}}', '{"organisationen": {"a": 1}, "rollen": {}}', "[]"]
)
def test_a_broken_mapping_file_is_named_in_german(tmp_path, content):
    from engine.single_sign_on import load_mapping

    path = tmp_path / "zuordnung.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="ist keine gültige Zuordnungsdatei"):
        load_mapping(str(path))
