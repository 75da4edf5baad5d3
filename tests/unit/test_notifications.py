"""Outbox delivery: in-app notifications and e-mails to a real SMTP sink, each exactly once.

The process "kette" has five user tasks for Fachkraft@frauenberatung-soest: four demo users.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.errors import InvalidSubmissionError
from engine.jobs import EmbeddedJobRunner
from engine.mail import DELIVERY_HEADER
from engine.notifications import MAX_ATTEMPTS
from engine.persistence.models import EmailDelivery, Notification, Outbox, User
from engine.settings import Settings
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.support.smtp_sink import free_port

TEAM = sorted(
    f"{u}@hilfenetz.invalid"
    for u in (
        "fachkraft.frauenberatung",
        "fachkraft2.frauenberatung",
        "koordination.frauenberatung",
        "leitung.frauenberatung",
    )
)
SECRET = "Frau Geheim-Müller, Hauptstraße 5"


@pytest.fixture
def mail_hn(tmp_path, sqlite_url, clock, definitions, smtp):
    engine = build_engine(
        tmp_path, sqlite_url, clock, definitions, smtp_host="127.0.0.1", smtp_port=smtp.port
    )
    yield engine
    engine.db.dispose()


def outbox_rows(hn) -> list:
    with hn.db.read() as session:
        return list(
            session.execute(select(Outbox.status, Outbox.attempts, Outbox.last_error).order_by(Outbox.id))
        )


def second_task(hn) -> str:
    """Start "kette", deliver, and complete its first task with a sensitive note: the second task is new.

    (A task that is already done when the outbox is delivered notifies nobody.)
    """
    user = actor_lookup(hn)("fachkraft.frauenberatung")
    hn.start(user, "kette", {})
    assert hn.deliver_outbox() == 1
    first = hn.worklist(user, WorklistQuery(view="alle")).tasks[0]
    return hn.complete_task(user, first.id, {"notiz": SECRET}).new_task_ids[0]


def test_each_outbox_row_gives_one_notification_and_one_mail_per_recipient(mail_hn, smtp):
    second_task(mail_hn)
    assert mail_hn.deliver_outbox() == 1
    assert mail_hn.deliver_outbox() == 0  # delivering again finds nothing
    assert smtp.sink.recipients() == sorted(TEAM * 2)
    assert [r.status for r in outbox_rows(mail_hn)] == ["sent", "sent"]
    lena = actor_lookup(mail_hn)("fachkraft.frauenberatung")
    assert [n.title for n in mail_hn.notifications_of(lena)] == ["Aufgabe 2", "Aufgabe 1"]
    assert mail_hn.unread_notification_count(lena) == 2


def test_mail_carries_no_case_data_only_a_neutral_subject_and_link(mail_hn, smtp):
    task_id = second_task(mail_hn)
    mail_hn.deliver_outbox()
    message = smtp.sink.messages[-1]
    body = message.get_payload(decode=True).decode("utf-8")
    assert message["Subject"] == "Neue Aufgabe in Hilfenetz"
    assert f"http://127.0.0.1:5000/aufgaben/{task_id}" in body
    for text in (body, str(message["Subject"])):
        assert "Geheim" not in text and "Hauptstraße" not in text
        assert "Aufgabe 2" not in text and "Kette" not in text  # neither task name nor instance title


def test_each_mail_names_its_delivery_row_in_a_header(mail_hn, smtp):
    """``X-Hilfenetz-Zustellung`` is the ``email_delivery`` id: a received message can be tied to
    its log row (the crash test counts receptions per row with it)."""
    mail_hn.start(actor_lookup(mail_hn)("fachkraft.frauenberatung"), "kette", {})
    mail_hn.deliver_outbox()
    with mail_hn.db.read() as session:
        rows = {str(d.id): d.user_id for d in session.scalars(select(EmailDelivery))}
        emails = {u.id: u.email for u in session.scalars(select(User).where(User.id.in_(rows.values())))}
    received = {str(m[DELIVERY_HEADER]): str(m["X-Envelope-To"]) for m in smtp.sink.messages}
    assert len(smtp.sink.messages) == len(rows) == 4
    assert received == {delivery: emails[user] for delivery, user in rows.items()}


def test_preference_aus_and_taeglich_send_no_immediate_mail(mail_hn, smtp):
    lookup = actor_lookup(mail_hn)
    mail_hn.set_notification_preference(lookup("fachkraft.frauenberatung"), "aus")
    mail_hn.set_notification_preference(lookup("fachkraft2.frauenberatung"), "taeglich")
    mail_hn.start(lookup("leitung.frauenberatung"), "kette", {})
    mail_hn.deliver_outbox()
    assert smtp.sink.recipients() == [TEAM[2], TEAM[3]]  # koordination, leitung
    assert mail_hn.unread_notification_count(lookup("fachkraft.frauenberatung")) == 1  # in-app stays


def test_wrong_preference_is_refused_in_german(mail_hn):
    with pytest.raises(InvalidSubmissionError) as caught:
        mail_hn.set_notification_preference(actor_lookup(mail_hn)("fachkraft.frauenberatung"), "stündlich")
    assert "Bitte wählen Sie" in caught.value.message


def test_smtp_down_retries_later_without_loss_or_duplicate(tmp_path, sqlite_url, clock, definitions, smtp):
    down = build_engine(
        tmp_path, sqlite_url, clock, definitions, smtp_host="127.0.0.1", smtp_port=free_port()
    )
    down.start(actor_lookup(down)("fachkraft.frauenberatung"), "kette", {})
    down.deliver_outbox()
    (row,) = outbox_rows(down)
    assert (row.status, row.attempts) == ("failed", 1) and "nicht erreichbar" in (row.last_error or "")
    assert down.deliver_outbox() == 0  # not before the back-off
    down.db.dispose()
    up = build_engine(tmp_path, sqlite_url, clock, definitions, smtp_host="127.0.0.1", smtp_port=smtp.port)
    clock.advance(timedelta(minutes=2))
    assert up.deliver_outbox() == 1
    assert smtp.sink.recipients() == TEAM
    assert [(r.status, r.attempts) for r in outbox_rows(up)] == [("sent", 2)]
    with up.db.read() as session:
        assert len(session.scalars(select(Notification)).all()) == 4
    up.db.dispose()


def test_refused_mail_is_retried_and_gives_up_as_dead(mail_hn, smtp, clock):
    smtp.sink.refuse = True
    mail_hn.start(actor_lookup(mail_hn)("fachkraft.frauenberatung"), "kette", {})
    for _ in range(MAX_ATTEMPTS):
        mail_hn.deliver_outbox()
        clock.advance(timedelta(hours=2))
    (row,) = outbox_rows(mail_hn)
    assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)
    assert mail_hn.deliver_outbox() == 0 and smtp.sink.messages == []


def test_crash_after_sending_is_not_sent_twice(mail_hn, smtp, clock):
    """A claim whose runner died during the first hand-over is taken over after the lease: that
    e-mail (``sending``) is ``unsicher`` and never repeated, the three never handed over
    (``queued``) are sent now — each recipient gets exactly one."""
    mail_hn.start(actor_lookup(mail_hn)("fachkraft.frauenberatung"), "kette", {})
    claims = mail_hn.notifications._claim(10)  # the runner claims, hands over one mail … and dies
    first = claims[0].mails[0]
    assert mail_hn.notifications._mark_sending(first.delivery_id)
    mail_hn.notifications.mailer.send(first.mail)
    clock.advance(timedelta(minutes=11))  # the lease ends
    assert mail_hn.deliver_outbox() == 1
    assert smtp.sink.recipients() == TEAM
    with mail_hn.db.read() as session:
        statuses = {d.id: d.status for d in session.scalars(select(EmailDelivery))}
        assert statuses.pop(first.delivery_id) == "unsicher"
        assert sorted(statuses.values()) == ["sent"] * 3
        assert len(session.scalars(select(Notification)).all()) == 4
    assert mail_hn.deliver_outbox() == 0 and len(smtp.sink.messages) == 4


def test_crash_before_any_hand_over_loses_no_mail(mail_hn, smtp, clock):
    """The runner died right after its claim: nothing was handed over, so the next claim sends
    all four e-mails (none ``unsicher``)."""
    mail_hn.start(actor_lookup(mail_hn)("fachkraft.frauenberatung"), "kette", {})
    assert len(mail_hn.notifications._claim(10)[0].mails) == 4
    assert mail_hn.deliver_outbox() == 0  # the lease still runs
    clock.advance(timedelta(minutes=11))
    assert mail_hn.deliver_outbox() == 1
    assert smtp.sink.recipients() == TEAM
    with mail_hn.db.read() as session:
        assert sorted(d.status for d in session.scalars(select(EmailDelivery))) == ["sent"] * 4


def test_mails_a_dead_claim_never_sent_are_dropped_when_the_task_is_done_meanwhile(mail_hn, smtp, clock):
    """Found by bench/crash_test.py: the runner died after its claim, the task was completed
    before the lease ended — the take-over sends nothing and no e-mail stays ``queued``."""
    user = actor_lookup(mail_hn)("fachkraft.frauenberatung")
    mail_hn.start(user, "kette", {})
    assert len(mail_hn.notifications._claim(10)[0].mails) == 4  # … and the runner dies
    task = mail_hn.worklist(user, WorklistQuery(view="alle")).tasks[0]
    mail_hn.complete_task(user, task.id, {"notiz": "erledigt"})
    clock.advance(timedelta(minutes=11))
    mail_hn.deliver_outbox()  # takes over the first row, delivers the second task's row
    assert [r.status for r in outbox_rows(mail_hn)] == ["sent", "sent"]
    with mail_hn.db.read() as session:
        first, second = session.scalars(select(Outbox.id).order_by(Outbox.id)).all()
        deliveries = session.execute(select(EmailDelivery.id, EmailDelivery.outbox_id, EmailDelivery.status))
        by_row: dict[int, list[tuple[str, str]]] = {first: [], second: []}
        for delivery_id, outbox_id, status in deliveries:
            by_row[outbox_id].append((str(delivery_id), status))
    assert sorted(status for _, status in by_row[first]) == ["entfallen"] * 4
    assert sorted(status for _, status in by_row[second]) == ["sent"] * 4
    received = sorted(str(m[DELIVERY_HEADER]) for m in smtp.sink.messages)
    assert received == sorted(delivery_id for delivery_id, _ in by_row[second])


def test_a_claim_that_outlived_its_lease_sends_nothing_the_next_claim_sent(mail_hn, smtp, clock):
    mail_hn.start(actor_lookup(mail_hn)("fachkraft.frauenberatung"), "kette", {})
    stale = mail_hn.notifications._claim(10)[0]  # a slow runner …
    clock.advance(timedelta(minutes=11))
    assert mail_hn.deliver_outbox() == 1  # … is overtaken after the lease
    for sending in stale.mails:  # and then wakes up
        assert mail_hn.notifications._send(sending) is None
    assert smtp.sink.recipients() == TEAM


def test_substitute_is_notified_too(mail_hn, smtp, clock):
    lookup = actor_lookup(mail_hn)
    polizei = lookup("fachkraft.polizei")
    lena = lookup("fachkraft.frauenberatung")
    mail_hn.add_absence(lena, "fachkraft2.frauenberatung", clock.now(), clock.now() + timedelta(days=1))
    mail_hn.start(lena, "kette", {})
    mail_hn.deliver_outbox()
    task = mail_hn.worklist(lena, WorklistQuery(view="alle")).tasks[0]
    mail_hn.claim(lena, task.id)
    mail_hn.complete(lena, task.id, {"notiz": "x"})  # second task: a group task again
    mail_hn.deliver_outbox()
    assert mail_hn.unread_notification_count(polizei) == 0
    assert mail_hn.unread_notification_count(lookup("fachkraft2.frauenberatung")) == 2


def test_digest_once_a_day_with_only_the_number(mail_hn, smtp, clock):
    lookup = actor_lookup(mail_hn)
    lena = lookup("fachkraft.frauenberatung")
    mail_hn.set_notification_preference(lena, "taeglich")
    mail_hn.set_notification_preference(lookup("fachkraft2.frauenberatung"), "aus")
    second_task(mail_hn)
    mail_hn.deliver_outbox()
    before = len(smtp.sink.messages)
    clock.set(datetime(2026, 1, 6, 5, 30, tzinfo=UTC))  # 06:30 in Berlin: before the digest hour
    assert mail_hn.send_digests() == 0
    clock.set(datetime(2026, 1, 6, 6, 5, tzinfo=UTC))  # 07:05 in Berlin
    assert mail_hn.send_digests() == 1
    assert mail_hn.send_digests() == 0  # once a day
    (digest,) = smtp.sink.messages[before:]
    body = digest.get_payload(decode=True).decode("utf-8")
    assert digest["X-Envelope-To"] == TEAM[0] and digest["Subject"] == "Neue Aufgaben in Hilfenetz"
    assert "2 neue Aufgaben" in body and "http://127.0.0.1:5000/aufgaben" in body.splitlines()
    assert "Geheim" not in body and "Aufgabe 2" not in body
    clock.advance(timedelta(days=1))
    assert mail_hn.send_digests() == 0  # nothing new since yesterday's digest


def test_runner_delivers_the_outbox(mail_hn, smtp):
    mail_hn.start(actor_lookup(mail_hn)("fachkraft.frauenberatung"), "kette", {})
    EmbeddedJobRunner(mail_hn, interval_seconds=1).run_once()
    assert smtp.sink.recipients() == TEAM


def test_without_smtp_host_notifications_are_in_app_only(hn):
    hn.start(actor_lookup(hn)("fachkraft.frauenberatung"), "kette", {})
    assert hn.deliver_outbox() == 1
    assert [r.status for r in outbox_rows(hn)] == ["sent"]
    with hn.db.read() as session:
        assert session.scalars(select(EmailDelivery)).all() == []


def test_smtp_settings_are_checked():
    env = {"HILFENETZ_DEV": "1", "HILFENETZ_SMTP_HOST": "mail.example", "HILFENETZ_SMTP_TLS": "starttls"}
    settings = Settings.from_env({**env, "HILFENETZ_SMTP_PORT": "587"})
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls, settings.digest_hour) == (
        "mail.example",
        587,
        "starttls",
        7,
    )
    with pytest.raises(Exception, match="HILFENETZ_SMTP_TLS"):
        Settings.from_env({**env, "HILFENETZ_SMTP_TLS": "tls13"})
    with pytest.raises(Exception, match="HILFENETZ_DIGEST_HOUR"):
        Settings.from_env({**env, "HILFENETZ_DIGEST_HOUR": "24"})


def test_the_digest_counts_new_tasks_not_reminders(mail_hn, smtp, clock):
    lookup = actor_lookup(mail_hn)
    lena = lookup("fachkraft.frauenberatung")
    mail_hn.set_notification_preference(lena, "taeglich")
    second_task(mail_hn)
    mail_hn.deliver_outbox()
    clock.set(datetime(2026, 1, 6, 6, 5, tzinfo=UTC))  # 07:05 in Berlin
    assert mail_hn.send_digests() == 1
    clock.advance(timedelta(hours=2))
    with mail_hn.db.write() as session:
        task_id = session.scalars(select(Notification.task_id)).first()
        for kind in ("task_reminder", "task_escalated"):
            session.add(
                Notification(user_id=lena.id, created_at=clock.now(), kind=kind, task_id=task_id, title="x")
            )
        session.commit()
    clock.advance(timedelta(days=1))
    assert mail_hn.send_digests() == 0  # only reminders since yesterday: no "neue Aufgaben" digest
