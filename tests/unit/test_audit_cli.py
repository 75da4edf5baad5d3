"""``hilfenetz audit verify``: exit 0 and a German summary when intact, exit 1 and the first broken
entry when not; ``--write-anchor`` / ``--anchor`` compare the head with an exported anchor."""

from __future__ import annotations

import json

from sqlalchemy import text

from webapp.cli import main

PASSWORD = "Hilfenetz-Demo-2026"


def _env(monkeypatch, hn) -> None:
    monkeypatch.setenv("HILFENETZ_DEV", "1")
    monkeypatch.setenv("HILFENETZ_DATABASE_URL", hn.settings.database_url)
    monkeypatch.setenv("HILFENETZ_PROCESSES_DIR", str(hn.settings.processes_dir))
    monkeypatch.setenv("HILFENETZ_FORMS_DIR", str(hn.settings.forms_dir))


def test_verify_intact_then_tampered(hn, actor, monkeypatch, capsys, tmp_path):
    _env(monkeypatch, hn)
    hn.login("fachkraft.frauenberatung", PASSWORD)
    hn.logout(actor("fachkraft.frauenberatung"))
    anchor = tmp_path / "anker.json"
    assert main(["audit", "verify", "--write-anchor", str(anchor)]) == 0
    out = capsys.readouterr().out
    assert "Audit-Kette intakt" in out and "Anker geschrieben" in out
    assert json.loads(anchor.read_text())["seq"] >= 2
    assert main(["audit", "verify", "--anchor", str(anchor)]) == 0
    assert "Anker bestätigt" in capsys.readouterr().out

    with hn.db.write_engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_event_seal_once"))
        victim = conn.execute(text("SELECT id FROM audit_event WHERE chain_seq = 1")).scalar_one()
        conn.execute(text("UPDATE audit_event SET action = 'nichts' WHERE id = :id"), {"id": victim})
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"Position 1: Eintrag Nr. {victim} wurde verändert" in out


def test_a_broken_anchor_file_is_a_clear_error(hn, monkeypatch, capsys, tmp_path):
    _env(monkeypatch, hn)
    bad = tmp_path / "anker.json"
    bad.write_text("kein json")
    assert main(["audit", "verify", "--anchor", str(bad)]) == 2
    assert "Ankerdatei" in capsys.readouterr().err
