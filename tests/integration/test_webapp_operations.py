"""Web app: /betrieb for administrators only (404 for everyone else), the retry button (twice,
CSRF), and editing one's own e-mail address on /benachrichtigungen."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from engine import operations
from engine.dispatch import PERIODIC_JOBS
from engine.persistence.models import AuditEvent, Outbox, ProcessInstance, User
from engine.service import Hilfenetz
from tests.integration.test_webapp_auth import login, make_app


@pytest.fixture
def dead_job(hn, actor) -> int:
    """A notification job that failed for good (five attempts)."""
    hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    with hn.db.write() as session:
        outbox_id = session.scalars(select(Outbox.id)).one()
        session.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id)
            .values(status="dead", attempts=5, last_error="SMTP: Verbindung abgelehnt")
        )
        session.commit()
    return int(outbox_id)


def email_of(hn, username: str) -> str | None:
    with hn.db.read() as session:
        return session.scalars(select(User.email).where(User.username == username)).one()


@pytest.mark.parametrize("username", ["fachkraft.frauenberatung", "koordination.jugendamt"])
def test_not_an_administrator_gets_404(client, dead_job, username):
    token = login(client, username)
    assert client.get("/betrieb").status_code == 404
    response = client.post(f"/betrieb/auftraege/{dead_job}/wiederholen", data={"csrf_token": token})
    assert response.status_code == 404
    assert 'href="/betrieb"' not in client.get("/aufgaben").get_data(as_text=True)


def test_anonymous_is_sent_to_login(client):
    response = client.get("/betrieb")
    assert response.status_code == 302 and "/anmelden" in response.headers["Location"]


def test_admin_sees_the_page_and_retries_twice(client, hn, dead_job):
    token = login(client, "admin")
    assert 'href="/betrieb"' in client.get("/aufgaben").get_data(as_text=True)
    page = client.get("/betrieb").get_data(as_text=True)
    assert "<h1>Betrieb</h1>" in page and "Betriebsart: eingebettet" in page
    assert '<caption id="auftraege-fehlgeschlagen">Endgültig fehlgeschlagene Aufträge</caption>' in page
    assert '<th scope="col">Letzter Fehler</th>' in page and "SMTP: Verbindung abgelehnt" in page
    assert "Endgültig fehlgeschlagen: 1" in page and "Keine überfälligen Timer." in page
    assert "Keine hängenden oder fehlerhaften Vorgänge." in page
    assert f'action="/betrieb/auftraege/{dead_job}/wiederholen"' in page
    response = client.post(f"/betrieb/auftraege/{dead_job}/wiederholen", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get("/betrieb").get_data(as_text=True)
    assert f"Auftrag {dead_job} wird erneut zugestellt." in page
    assert "Keine fehlgeschlagenen Aufträge." in page and "Wartend: 1" in page
    response = client.post(f"/betrieb/auftraege/{dead_job}/wiederholen", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get("/betrieb").get_data(as_text=True)
    assert f"Auftrag {dead_job} war bereits wieder eingeplant; nichts geändert." in page
    with hn.db.read() as session:
        assert session.get(Outbox, dead_job).status == "pending"
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action == "outbox_retried"))
        assert len(list(actions)) == 1
    assert client.post("/betrieb/auftraege/999999/wiederholen", data={"csrf_token": token}).status_code == 404


def test_retry_without_csrf_is_refused(client, hn, dead_job):
    login(client, "admin")
    response = client.post(f"/betrieb/auftraege/{dead_job}/wiederholen", data={})
    assert response.status_code == 400
    with hn.db.read() as session:
        assert session.get(Outbox, dead_job).status == "dead"


def test_stuck_instance_is_listed_with_reason_and_link(client, hn, actor):
    instance = hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    with hn.db.write() as session:
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance)
            .values(status="error", status_reason="Skriptfehler in „Prüfen“.")
        )
        session.commit()
    login(client, "admin")
    page = client.get("/betrieb").get_data(as_text=True)
    assert f'href="/vorgaenge/{instance}"' in page
    assert "Skriptfehler in „Prüfen“." in page and ">Fehler</td>" in page


def test_set_change_and_clear_own_email(client, hn):
    token = login(client, "fachkraft.frauenberatung")
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert '<label for="email">Ihre E-Mail-Adresse</label>' in page
    assert 'value="fachkraft.frauenberatung@hilfenetz.invalid"' in page
    form = {"csrf_token": token, "email": " lena@beispiel.de "}
    assert client.post("/benachrichtigungen/email", data=form).status_code == 302
    assert email_of(hn, "fachkraft.frauenberatung") == "lena@beispiel.de"
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "Ihre E-Mail-Adresse wurde gespeichert." in page
    response = client.post("/benachrichtigungen/email", data={"csrf_token": token, "email": ""})
    assert response.status_code == 302 and email_of(hn, "fachkraft.frauenberatung") is None
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "Ihre E-Mail-Adresse wurde entfernt" in page
    assert "Für Ihr Konto ist keine E-Mail-Adresse hinterlegt." in page
    with hn.db.read() as session:
        query = select(AuditEvent.detail).where(AuditEvent.action == "email_changed").order_by(AuditEvent.id)
        details = list(session.scalars(query))
    assert details == [{"vorher": "gesetzt", "jetzt": "gesetzt"}, {"vorher": "gesetzt", "jetzt": "leer"}]
    assert "beispiel" not in repr(details) and "hilfenetz.invalid" not in repr(details)


@pytest.mark.parametrize(
    "bad",
    [
        "a@beispiel.de, b@beispiel.de",
        "a@beispiel.de b@beispiel.de",
        "keine-adresse",
        "name@",
        "Lena <lena@beispiel.de>",
        "x" * 250 + "@beispiel.de",
    ],
)
def test_bad_email_is_refused_in_german_and_nothing_changes(client, hn, bad):
    token = login(client, "fachkraft.frauenberatung")
    response = client.post("/benachrichtigungen/email", data={"csrf_token": token, "email": bad})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Bitte geben Sie genau eine gültige E-Mail-Adresse mit höchstens 254 Zeichen ein" in page
    assert 'aria-invalid="true"' in page and 'id="email-fehler"' in page
    assert re.search(r'name="email" value="[^"]*"', page).group(0) == f'name="email" value="{bad}"'.replace(
        "<", "&lt;"
    ).replace(">", "&gt;")
    assert email_of(hn, "fachkraft.frauenberatung") == "fachkraft.frauenberatung@hilfenetz.invalid"
    with hn.db.read() as session:
        assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "email_changed")) is None


def test_email_without_csrf_is_refused(client, hn):
    login(client, "fachkraft.frauenberatung")
    response = client.post("/benachrichtigungen/email", data={"email": "neu@beispiel.de"})
    assert response.status_code == 400
    assert email_of(hn, "fachkraft.frauenberatung") == "fachkraft.frauenberatung@hilfenetz.invalid"


def test_distributed_mode_is_named_and_the_scheduler_jobs_listed(tmp_path, hn, clock):
    distributed = Hilfenetz(
        replace(hn.settings, broker_url="redis://127.0.0.1:6379/0"), clock=clock, database=hn.db
    )
    with make_app(distributed).test_client() as client:
        login(client, "admin")
        page = client.get("/betrieb").get_data(as_text=True)
        assert "Betriebsart: verteilt" in page and "Der Scheduler hat noch keinen Job gestartet." in page
        distributed.dispatch_due()
        distributed.run_job("send_digests")
        page = client.get("/betrieb").get_data(as_text=True)
    assert '<caption id="periodische-jobs-titel">Periodische Jobs des Schedulers</caption>' in page
    assert (
        page.count(">läuft</td>") == len(PERIODIC_JOBS) - 1
        and page.count(">wartet auf den nächsten Lauf</td>") == 1
    )
    assert ">Tägliche E-Mail-Übersicht</td>" in page


def test_long_lists_say_how_many_are_shown(client, hn, actor, monkeypatch):
    for _ in range(3):
        hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    monkeypatch.setattr(operations, "ROW_LIMIT", 2)
    login(client, "admin")
    page = client.get("/betrieb").get_data(as_text=True)
    assert "Wartend: 3" in page and "Angezeigt werden die ersten 2 von 3." in page
    assert page.count('<td data-label="Nr.">') == 2


def test_every_periodic_job_has_a_german_name():
    from engine.dispatch import PERIODIC_JOBS
    from webapp.operations import JOB_LABELS

    assert set(JOB_LABELS) == set(PERIODIC_JOBS)


def test_a_delivery_whose_claim_ran_out_is_named(client, hn, actor, clock):
    hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    with hn.db.write() as session:
        session.execute(update(Outbox).values(status="processing", attempts=1, next_attempt_at=clock.now()))
        session.commit()
    login(client, "admin")
    page = client.get("/betrieb").get_data(as_text=True)
    assert "In Zustellung: 1" in page and ">in Zustellung – abgebrochen, wird erneut versucht</td>" in page
