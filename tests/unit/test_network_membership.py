"""P7/P12 engine operations: constitution limits, hand-over, vacancy, partners joining and leaving."""

from __future__ import annotations

from collections.abc import Callable
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import network_membership as nm
from engine import partners as pt
from engine.clock import ManualClock
from engine.errors import InvalidSubmissionError, NotPermittedError
from engine.persistence.models import AuditEvent, DirectoryEntry, Notification, Organisation, User, UserTask
from engine.read_models import Actor
from engine.service import Hilfenetz
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.support.bpmn_factory import (
    FOOTER,
    HEADER,
    _flow,
    chain_bpmn,
    parallel_bpmn,
    user_task,
    write_definitions,
)

LIMITS = nm.load_limits(REPO_ROOT / "processes")
SIX = [
    "koordination.jugendamt",
    "koordination.frauenberatung",
    "leitung.polizei",
    "fachkraft.gesundheitsamt",
    "fachkraft.gleichstellung",
    "fachkraft.beratungsstelle",
]
ELEVEN = [*SIX, "fachkraft.polizei", "fachkraft.jugendamt", "leitung.jugendamt", "fachkraft.jobcenter"]
ELEVEN.append("fachkraft.frauenhaus")
PASSWORD = "Hilfenetz-Demo-2026"


def multi_candidate_bpmn(pid: str = "mehrere") -> str:
    """One task that two organisations may both take, then a task named for one user."""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        + user_task(
            "gemeinsam", "Gemeinsam", "Fachkraft@frauenberatung-soest,Fachkraft@kreispolizei", "notiz"
        )
        + user_task(
            "persoenlich",
            "Persönlich",
            "Leitung@kreisjugendamt",
            "notiz",
            extra=' camunda:candidateUsers="fachkraft2.frauenberatung"',
        )
        + '<bpmn:endEvent id="ende"/>\n'
        + _flow("f1", "start", "gemeinsam")
        + _flow("f2", "gemeinsam", "persoenlich")
        + _flow("f3", "persoenlich", "ende")
    )
    return HEADER.format(pid=pid, name='"Mehrere"') + body + FOOTER


@pytest.fixture
def hn(tmp_path: Path, clock: ManualClock) -> Hilfenetz:
    defs = write_definitions(
        tmp_path / "defs",
        {
            "kette": chain_bpmn(tasks=2),
            "parallel": parallel_bpmn(),
            "mehrere": multi_candidate_bpmn(),
            "leitung": chain_bpmn("leitung", tasks=1, groups="Leitung@frauenberatung-soest"),
        },
    )
    engine = build_engine(tmp_path, f"sqlite:///{tmp_path / 'netz.db'}", clock, defs)
    yield engine
    engine.db.dispose()


@pytest.fixture
def actor(hn: Hilfenetz) -> Callable[[str], Actor]:
    return actor_lookup(hn)


def in_write(hn: Hilfenetz, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with hn.db.write() as session:
        result = fn(session, hn.clock.now(), *args, **kwargs)
        session.commit()
        return result


def roles_of(hn: Hilfenetz, username: str) -> set[str]:
    with hn.db.read() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return {r.role for r in user.roles}


def open_ids(hn: Hilfenetz, who: Actor) -> set[str]:
    page = hn.worklist(who, WorklistQuery(view="alle", per_page=100))
    return {t.id for t in page.tasks if t.status == "open"}


# --- constitution --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("members", "chosen", "field", "text"),
    [
        (SIX[:4], SIX[:2], "mitglieder", "5 bis 10 Mitglieder haben; gewählt sind 4"),
        (
            ELEVEN,
            SIX[:2],
            "mitglieder",
            "gewählt sind 11",
        ),
        (SIX, SIX[:1], "koordination", "genau 2 verschiedene"),
        (SIX, SIX[:3], "koordination", "genau 2 verschiedene"),
        (SIX, [SIX[0], SIX[0]], "koordination", "genau 2 verschiedene"),
        (SIX, [SIX[0], "fachkraft.polizei"], "koordination", "nicht Mitglied: fachkraft.polizei"),
        ([*SIX[:5], "niemand.bekannt"], SIX[:2], "mitglieder", "Unbekannte Benutzer: niemand.bekannt"),
        ([*SIX[:5], SIX[0]], SIX[:2], "mitglieder", "mehrfach"),
    ],
)
def test_constitution_outside_the_rules_is_refused_in_german_and_changes_nothing(
    hn: Hilfenetz, actor: Callable[[str], Actor], members: list[str], chosen: list[str], field: str, text: str
) -> None:
    before = {u: roles_of(hn, u) for u in SIX}
    with pytest.raises(InvalidSubmissionError) as refused:
        in_write(hn, nm.constitute_steering_group, actor("admin"), members, chosen, LIMITS)
    assert text in refused.value.field_errors[field]
    assert refused.value.message.startswith("Die Steuerungsgruppe kann so nicht konstituiert werden")
    assert {u: roles_of(hn, u) for u in SIX} == before


def test_constitution_sets_roles_and_hands_over_tasks_of_who_leaves(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    # a coordinator holds a task only a coordinator may do
    defs_task = hn.start(actor("fachkraft.frauenberatung"), "kette", {})
    assert defs_task
    new = ["koordination.jugendamt", "leitung.polizei", "fachkraft.gesundheitsamt", "fachkraft.polizei"]
    new += ["fachkraft.jobcenter"]
    result = in_write(
        hn,
        nm.constitute_steering_group,
        actor("admin"),
        new,
        ["leitung.polizei", "fachkraft.jobcenter"],
        LIMITS,
    )
    assert result["ausgeschieden"] == [
        "fachkraft.beratungsstelle",
        "fachkraft.gleichstellung",
        "koordination.frauenberatung",
    ]
    with hn.db.read() as session:
        assert nm.steering_group(session) == sorted(new)
        assert nm.coordinators(session) == ["fachkraft.jobcenter", "leitung.polizei"]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "steuerungsgruppe_konstituiert")
        ).one()
        assert event.detail["koordination"] == ["fachkraft.jobcenter", "leitung.polizei"]
    assert "Koordination" not in roles_of(hn, "koordination.jugendamt")
    assert "Steuerungsgruppe" not in roles_of(hn, "koordination.frauenberatung")
    assert roles_of(hn, "fachkraft.jobcenter") >= {"Koordination", "Steuerungsgruppe", "Fachkraft"}


def test_a_leaving_coordinator_hands_over_claimed_and_personal_tasks(
    tmp_path: Path, clock: ManualClock
) -> None:
    bpmn = (
        '<bpmn:startEvent id="start"/>\n<bpmn:parallelGateway id="teilen"/>\n'
        + user_task("pruefen", "Prüfen", "Koordination", "notiz")
        + user_task(
            "nur_sie", "Nur sie", "", "notiz", extra=' camunda:candidateUsers="koordination.jugendamt"'
        )
        + '<bpmn:parallelGateway id="zusammen"/>\n<bpmn:endEvent id="ende"/>\n'
        + _flow("f1", "start", "teilen")
        + _flow("f2", "teilen", "pruefen")
        + _flow("f3", "teilen", "nur_sie")
        + _flow("f4", "pruefen", "zusammen")
        + _flow("f5", "nur_sie", "zusammen")
        + _flow("f6", "zusammen", "ende")
    )
    defs = write_definitions(
        tmp_path / "d", {"koord": HEADER.format(pid="koord", name='"K"') + bpmn + FOOTER}
    )
    hn = build_engine(tmp_path, f"sqlite:///{tmp_path / 'k.db'}", clock, defs)
    look = actor_lookup(hn)
    leaving = look("koordination.jugendamt")
    instance = hn.start(leaving, "koord", {})
    tasks = {t.element_id: t.id for t in hn.worklist(leaving, WorklistQuery(per_page=50)).tasks}
    hn.claim(leaving, tasks["pruefen"])
    result = in_write(hn, nm.remove_member, look("admin"), "koordination.jugendamt", "ruecktritt", LIMITS)
    assert result == {"mitglieder_verbleibend": 5, "vakanz": False, "uebergebene_aufgaben": 2}
    other = look("koordination.frauenberatung")
    assert {tasks["pruefen"], tasks["nur_sie"]} <= open_ids(hn, other)
    assert not open_ids(hn, look("koordination.jugendamt"))
    for task_id in tasks.values():
        hn.complete(other, task_id, {"notiz": "übernommen"})
    with hn.db.read() as session:
        assert session.get(UserTask, tasks["nur_sie"]).completed_by_id == other.id
    assert hn.instance_detail(other, instance).status == "completed"
    hn.db.dispose()


def test_falling_below_the_minimum_alerts_every_coordinator(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    admin = actor("admin")
    in_write(hn, nm.remove_member, admin, "fachkraft.beratungsstelle", "amtszeitende", LIMITS)
    assert not hn.notifications_of(actor("koordination.jugendamt"))
    result = in_write(hn, nm.remove_member, admin, "fachkraft.gleichstellung", "ruecktritt", LIMITS)
    assert result["vakanz"] is True and result["mitglieder_verbleibend"] == 4
    assert not hn.notifications_of(actor("koordination.jugendamt"))  # the outbox delivers it
    assert hn.deliver_outbox() == 1 and hn.deliver_outbox() == 0
    assert not hn.notifications_of(actor("fachkraft.polizei"))
    for name in ("koordination.jugendamt", "koordination.frauenberatung"):
        titles = [n.title for n in hn.notifications_of(actor(name))]
        assert titles == [nm.VACANCY_TITLE]
    with pytest.raises(InvalidSubmissionError, match="kein Mitglied der Steuerungsgruppe"):
        in_write(hn, nm.remove_member, admin, "fachkraft.polizei", "ruecktritt", LIMITS)


def test_disabling_a_member_account_ends_login_and_may_open_a_vacancy(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    admin = actor("admin")
    in_write(hn, nm.remove_member, admin, "fachkraft.beratungsstelle", "amtszeitende", LIMITS)
    gone = actor("fachkraft.gleichstellung")
    result = in_write(hn, nm.disable_account, admin, "fachkraft.gleichstellung", LIMITS)
    assert result["vakanz"] is True
    assert hn.actor(gone.id) is None
    with pytest.raises(NotPermittedError):
        hn.login("fachkraft.gleichstellung", PASSWORD)


# --- joining -------------------------------------------------------------------------------------
def test_a_joining_partner_gets_organisation_and_accounts_that_need_a_start_password(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    koord = actor("koordination.jugendamt")
    konten = [{"benutzername": "leitung.tamar-neu", "anzeigename": "Leitung Neu", "email": "l@neu.invalid"}]
    result = in_write(hn, pt.create_organisation, koord, "neuer-partner", "Neuer Partner e. V.", True, konten)
    assert result["konten"] == ["leitung.tamar-neu"]
    with pytest.raises(NotPermittedError):
        hn.login("leitung.tamar-neu", "")
    password = in_write(hn, pt.issue_start_password, koord, "leitung.tamar-neu")
    me = hn.login("leitung.tamar-neu", password)
    assert me.organisation == "neuer-partner" and set(me.roles) == {"Leitung", "Fachkraft"}
    with hn.db.read() as session:
        org = session.scalars(select(Organisation).where(Organisation.slug == "neuer-partner")).one()
        assert org.volunteer and org.active
        assert "Passwort" not in str(
            session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "startpasswort_erteilt")
            ).one()
        )


@pytest.mark.parametrize(
    ("slug", "name", "konten", "field"),
    [
        ("frauenberatung-soest", "Doppelt", [{"benutzername": "neu.konto"}], "kurzname"),
        ("Gross Geschrieben", "X", [{"benutzername": "neu.konto"}], "kurzname"),
        ("neu-org", "", [{"benutzername": "neu.konto"}], "name"),
        ("neu-org", "Neu", [], "konten"),
        ("neu-org", "Neu", [{"benutzername": "admin"}], "konten"),
        ("neu-org", "Neu", [{"benutzername": "a.b"}, {"benutzername": "a.b"}], "konten"),
    ],
)
def test_invalid_admission_is_refused_and_creates_nothing(
    hn: Hilfenetz, actor: Callable[[str], Actor], slug: str, name: str, konten: list[Any], field: str
) -> None:
    with pytest.raises(InvalidSubmissionError) as refused:
        in_write(hn, pt.create_organisation, actor("koordination.jugendamt"), slug, name, False, konten)
    assert field in refused.value.field_errors
    with hn.db.read() as session:
        assert session.scalars(select(Organisation).where(Organisation.slug == "neu-org")).first() is None


# --- leaving: nothing that was open may be lost --------------------------------------------------
def open_tasks_of_frauenberatung(hn: Hilfenetz, actor: Callable[[str], Actor]) -> dict[str, str]:
    """Open tasks of several processes for the Frauenberatung: claimed, unclaimed, multi-candidate,
    parallel, Leitung-only and one named for a single user."""
    fb, fb2 = actor("fachkraft.frauenberatung"), actor("fachkraft2.frauenberatung")
    tasks: dict[str, str] = {}
    hn.start(fb, "kette", {})
    hn.start(fb, "kette", {})
    chain = [t.id for t in hn.worklist(fb, WorklistQuery(per_page=50)).tasks if t.process_key == "kette"]
    hn.claim(fb, chain[0])
    tasks["beansprucht"], tasks["offen"] = chain
    hn.start(fb, "parallel", {})
    mine = hn.worklist(fb, WorklistQuery(per_page=50)).tasks
    tasks["parallel"] = next(t.id for t in mine if t.element_id == "beratung")
    polizei = next(t.id for t in hn.worklist(actor("fachkraft.polizei"), WorklistQuery()).tasks)
    multi = hn.start(fb, "mehrere", {})
    tasks["mehrere"] = next(
        t.id for t in hn.worklist(fb, WorklistQuery(per_page=50)).tasks if t.element_id == "gemeinsam"
    )
    hn.start(actor("leitung.frauenberatung"), "leitung", {})
    tasks["leitung"] = next(
        t.id
        for t in hn.worklist(actor("leitung.frauenberatung"), WorklistQuery(view="gruppe")).tasks
        if t.process_key == "leitung"
    )
    # the multi-candidate task is done by the police; the next one names one Frauenberatung user
    hn.complete(actor("fachkraft.polizei"), tasks.pop("mehrere"), {"notiz": "erledigt"})
    tasks["persoenlich"] = next(
        t.id for t in hn.worklist(fb2, WorklistQuery(per_page=50)).tasks if t.instance_id == multi
    )
    hn.start(fb, "mehrere", {})
    tasks["mehrere"] = next(
        t.id
        for t in hn.worklist(fb, WorklistQuery(per_page=50)).tasks
        if t.element_id == "gemeinsam" and t.id not in tasks.values()
    )
    hn.claim(fb2, tasks["persoenlich"])
    tasks["polizei_unberuehrt"] = polizei
    return tasks


@pytest.mark.parametrize("successor", ["frauenhaus-soest", None])
def test_every_open_task_of_a_leaving_partner_is_reachable_and_can_be_completed(
    hn: Hilfenetz, actor: Callable[[str], Actor], successor: str | None
) -> None:
    tasks = open_tasks_of_frauenberatung(hn, actor)
    with hn.db.read() as session:
        before = {t.id for t in session.scalars(select(UserTask).where(UserTask.status == "open"))}
    assert set(tasks.values()) <= before
    result = in_write(
        hn,
        pt.organisation_leaves,
        actor("koordination.jugendamt"),
        "frauenberatung-soest",
        successor,
        LIMITS,
    )
    assert result["uebergebene_aufgaben"] == 6 and result["deaktivierte_konten"] == 4
    assert result["steuerungsgruppe_vakanz"] is False  # six members before, five after
    heir = actor("fachkraft.frauenhaus") if successor else actor("koordination.jugendamt")
    reachable = open_ids(hn, heir)
    moved = {k: v for k, v in tasks.items() if k != "polizei_unberuehrt"}
    assert set(moved.values()) <= reachable, {k for k, v in moved.items() if v not in reachable}
    with hn.db.read() as session:
        now_open = {t.id for t in session.scalars(select(UserTask).where(UserTask.status == "open"))}
    assert before == now_open  # nothing was closed or lost
    assert tasks["polizei_unberuehrt"] in open_ids(hn, actor("fachkraft.polizei"))
    for name, task_id in moved.items():
        hn.complete(heir, task_id, {"notiz": f"übernommen ({name})"})
    with hn.db.read() as session:
        done = {t.id: t for t in session.scalars(select(UserTask).where(UserTask.id.in_(moved.values())))}
        assert {t.status for t in done.values()} == {"completed"}
        assert {t.completed_by_id for t in done.values()} == {heir.id}


def test_a_leaving_partner_keeps_its_records_and_its_people_can_no_longer_log_in(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    fb = actor("fachkraft.frauenberatung")
    hn.start(fb, "kette", {})
    in_write(hn, pt.organisation_leaves, actor("admin"), "frauenberatung-soest", None, LIMITS)
    assert hn.actor(fb.id) is None  # the running session ends at its next request
    with pytest.raises(NotPermittedError):
        hn.login("fachkraft.frauenberatung", PASSWORD)
    with hn.db.read() as session:
        org = session.scalars(select(Organisation).where(Organisation.slug == "frauenberatung-soest")).one()
        assert org.active is False
        assert len(session.scalars(select(User).where(User.organisation_id == org.id)).all()) == 4
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "organisation_ausgetreten")
        ).one()
        assert event.detail["verzeichnis"] == "aktualisiert"  # P9: the entry is removed, not deleted
        entry = session.scalars(select(DirectoryEntry).where(DirectoryEntry.organisation_id == org.id)).one()
        assert entry.status == "entfernt"
    hn.refresh_caches()
    assert "frauenberatung-soest" not in {o.slug for o in hn.ballot_organisations()}
    with pytest.raises(InvalidSubmissionError, match="kein aktiver Partner"):
        in_write(hn, pt.organisation_leaves, actor("admin"), "frauenberatung-soest", None, LIMITS)


def test_leaving_with_an_invalid_successor_is_refused_and_changes_nothing(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    for successor in ("frauenberatung-soest", "gibt-es-nicht"):
        with pytest.raises(InvalidSubmissionError) as refused:
            in_write(hn, pt.organisation_leaves, actor("admin"), "frauenberatung-soest", successor, LIMITS)
        assert "nachfolge_organisation" in refused.value.field_errors
    assert hn.actor(actor("fachkraft.frauenberatung").id) is not None


def test_a_leaving_partner_with_steering_members_can_open_a_vacancy(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    in_write(hn, nm.remove_member, actor("admin"), "fachkraft.beratungsstelle", "amtszeitende", LIMITS)
    result = in_write(hn, pt.organisation_leaves, actor("admin"), "kreispolizei", None, LIMITS)
    assert result["steuerungsgruppe_vakanz"] is True
    hn.deliver_outbox()
    with hn.db.read() as session:
        alerts = session.scalars(
            select(Notification).where(Notification.kind == "steuerungsgruppe_vakanz")
        ).all()
        assert len(alerts) == 2


def test_limits_come_from_the_rules_file(tmp_path: Path) -> None:
    (tmp_path / "gremien.json").write_text(
        '{"steuerungsgruppe_min": {"wert": 3}, "steuerungsgruppe_max": {"wert": 4}, '
        '"koordination_anzahl": {"wert": 2}}',
        encoding="utf-8",
    )
    assert nm.load_limits(tmp_path) == nm.Gremienregeln(3, 4, 2)
    (tmp_path / "gremien.json").write_text('{"steuerungsgruppe_min": {"wert": 5}}', encoding="utf-8")
    with pytest.raises(Exception, match="unvollständig"):
        nm.load_limits(tmp_path)


def test_seeding_again_does_not_bring_back_a_partner_that_left(
    hn: Hilfenetz, actor: Callable[[str], Actor]
) -> None:
    in_write(hn, pt.organisation_leaves, actor("admin"), "tamar", None, LIMITS)
    hn.seed_organisations()
    with hn.db.read() as session:
        org = session.scalars(select(Organisation).where(Organisation.slug == "tamar")).one()
        assert org.active is False


def test_p7_resignation_below_the_minimum_continues_with_nominations(
    tmp_path: Path, clock: ManualClock
) -> None:
    """The real P7 diagram: a second resignation leaves four members, so the case goes on to the
    nomination round and the coordinators have the vacancy alert."""
    hn = build_engine(
        tmp_path,
        f"sqlite:///{tmp_path / 'p7.db'}",
        clock,
        (REPO_ROOT / "processes", REPO_ROOT / "forms"),
    )
    look = actor_lookup(hn)
    koord = look("koordination.jugendamt")
    start = {"anlass": "ruecktritt", "nominierende_organisationen": ["kreispolizei"]}
    first = hn.start(koord, "steuerungsgruppe", {**start, "ausscheidend": "fachkraft.gleichstellung"})
    assert hn.instance_detail(koord, first).end_event == "EndEvent_Ausgeschieden"
    second = hn.start(koord, "steuerungsgruppe", {**start, "ausscheidend": "fachkraft.beratungsstelle"})
    detail = hn.instance_detail(koord, second)
    assert detail.status == "running"
    assert [t.element_id for t in detail.open_tasks] == ["Task_Nominierung"]
    hn.deliver_outbox()
    assert [n.title for n in hn.notifications_of(koord) if n.kind == nm.VACANCY_KIND] == [nm.VACANCY_TITLE]
    with hn.db.read() as session:
        assert len(nm.steering_group(session)) == 4
    hn.db.dispose()


def test_the_vacancy_alert_reaches_the_coordinators_by_e_mail_without_names(
    tmp_path: Path, clock: ManualClock, smtp: Any
) -> None:
    defs = write_definitions(tmp_path / "defs", {"kette": chain_bpmn(tasks=1)})
    hn = build_engine(
        tmp_path, f"sqlite:///{tmp_path / 'm.db'}", clock, defs, smtp_host="127.0.0.1", smtp_port=smtp.port
    )
    admin = actor_lookup(hn)("admin")
    in_write(hn, nm.remove_member, admin, "fachkraft.beratungsstelle", "amtszeitende", LIMITS)
    in_write(hn, nm.remove_member, admin, "fachkraft.gleichstellung", "ruecktritt", LIMITS)
    assert hn.deliver_outbox() == 1
    assert smtp.sink.recipients() == [
        "koordination.frauenberatung@hilfenetz.invalid",
        "koordination.jugendamt@hilfenetz.invalid",
    ]
    message = smtp.sink.messages[-1]
    body = message.get_payload(decode=True).decode("utf-8")
    assert str(make_header(decode_header(message["Subject"]))) == "Steuerungsgruppe: Nachbesetzung nötig"
    assert "http://127.0.0.1:5000/prozesse" in body and "gleichstellung" not in body
    hn.db.dispose()


def test_only_the_member_or_the_koordination_records_a_resignation(
    tmp_path: Path, clock: ManualClock
) -> None:
    hn = build_engine(
        tmp_path, f"sqlite:///{tmp_path / 'r.db'}", clock, (REPO_ROOT / "processes", REPO_ROOT / "forms")
    )
    look = actor_lookup(hn)
    start = {"anlass": "ruecktritt", "nominierende_organisationen": ["kreispolizei"]}
    with pytest.raises(NotPermittedError, match="erklärt das Mitglied selbst"):
        hn.start(
            look("leitung.polizei"), "steuerungsgruppe", {**start, "ausscheidend": "fachkraft.gleichstellung"}
        )
    with hn.db.read() as session:
        assert "fachkraft.gleichstellung" in nm.steering_group(session)
    own = hn.start(
        look("fachkraft.gleichstellung"),
        "steuerungsgruppe",
        {**start, "ausscheidend": "fachkraft.gleichstellung"},
    )
    assert hn.instance_detail(look("koordination.jugendamt"), own).end_event == "EndEvent_Ausgeschieden"
    hn.db.dispose()
