"""Web app: the Koordination's partner list, the one-time start password of a new account, and the
German error of a refused Steuerungsgruppe constitution."""

from __future__ import annotations

import re
import shutil

from engine import network_membership as nm
from engine import partners as pt
from engine.settings import REPO_ROOT
from engine.worklist import WorklistQuery
from tests.conftest import actor_lookup, build_engine
from tests.integration.test_webapp_auth import csrf, login, make_app
from tests.integration.test_webapp_tasks import post_json


def test_partner_page_lists_active_and_left_partners_for_the_koordination_only(hn, actor, client):
    with hn.db.write() as session:
        pt.organisation_leaves(
            session, hn.clock.now(), None, "tamar", None, nm.load_limits(REPO_ROOT / "processes")
        )
        session.commit()
    login(client, "fachkraft.polizei")
    assert 'href="/partner"' not in client.get("/aufgaben").get_data(as_text=True)
    assert client.get("/partner").status_code == 403
    client.post("/abmelden", data={"csrf_token": csrf(client, "/aufgaben")})
    login(client, "koordination.jugendamt")
    page = client.get("/partner").get_data(as_text=True)
    assert 'href="/partner"' in page and "<th" in page
    assert re.search(r"<code>tamar</code></td>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>ausgetreten</td>", page)
    assert re.search(r"<code>kreispolizei</code></td>\s*<td[^>]*>nein</td>\s*<td[^>]*>aktiv</td>", page)


def test_start_password_is_shown_once_and_lets_the_new_account_sign_in(hn, actor, client):
    with hn.db.write() as session:
        accounts = [{"benutzername": "leitung.neu", "anzeigename": "Leitung Neu"}]
        pt.create_organisation(session, hn.clock.now(), None, "neu-partner", "Neu e. V.", False, accounts)
        session.commit()
    token = login(client, "koordination.jugendamt")
    refused = client.post("/partner/startpasswort", data={"csrf_token": token, "username": "gibt.es.nicht"})
    assert refused.status_code == 422 and "Konto nicht gefunden" in refused.get_data(as_text=True)
    assert (
        client.post("/partner/startpasswort", data={"username": "leitung.neu"}).status_code == 400
    )  # no CSRF
    page = client.post("/partner/startpasswort", data={"csrf_token": token, "username": "leitung.neu"})
    found = re.search(r"Startpasswort für leitung\.neu: <code>([^<]+)</code>", page.get_data(as_text=True))
    assert page.status_code == 200 and found
    assert "no-store" in page.headers["Cache-Control"]
    assert hn.login("leitung.neu", found.group(1)).organisation == "neu-partner"
    assert found.group(1) not in client.get("/partner").get_data(as_text=True)


def test_refused_constitution_shows_the_german_error_and_keeps_the_task(tmp_path, clock):
    """Through the web: four confirmed members, the Steuerungsgruppe's choice is refused with 422."""
    hn = build_engine(
        tmp_path, f"sqlite:///{tmp_path / 'p7.db'}", clock, (REPO_ROOT / "processes", REPO_ROOT / "forms")
    )
    look = actor_lookup(hn)
    start = {"anlass": "bildung", "nominierende_organisationen": ["kreispolizei"]}
    instance = hn.start(look("koordination.jugendamt"), "steuerungsgruppe", start)
    leitung = look("leitung.polizei")
    nomination = next(t.id for t in hn.worklist(leitung, WorklistQuery()).tasks if t.instance_id == instance)
    four = ["leitung.polizei", "fachkraft.polizei", "koordination.jugendamt", "fachkraft.jugendamt"]
    hn.complete(leitung, nomination, {"nominierte_personen": four})
    koord = look("koordination.jugendamt")
    confirm = next(t.id for t in hn.worklist(koord, WorklistQuery()).tasks if t.instance_id == instance)
    hn.complete(
        koord,
        confirm,
        {"entscheidung": "bestaetigen", "bestaetigt_durch": "koordination", "mitglieder": four},
    )
    choose = next(t.id for t in hn.worklist(leitung, WorklistQuery()).tasks if t.instance_id == instance)
    with make_app(hn).test_client() as client:
        token = login(client, "leitung.polizei")
        form = client.get(f"/aufgaben/{choose}/formular.json").get_json()
        assert "leitung.polizei" in {o["value"] for o in form["data"]["user_options"]}
        data = {
            "weiter": "konstituieren",
            "koordination_gewaehlt": ["leitung.polizei", "koordination.jugendamt"],
        }
        status, body = post_json(client, f"/aufgaben/{choose}/abschliessen", token, data)
    assert status == 422
    assert "Die Steuerungsgruppe muss 5 bis 10 Mitglieder haben; gewählt sind 4." in body["message"]
    assert choose in {t.id for t in hn.worklist(leitung, WorklistQuery()).tasks}
    with hn.db.read() as session:
        assert len(nm.steering_group(session)) == 6  # nothing changed
    hn.db.dispose()


def test_koordination_disables_an_account_and_its_tasks_go_to_the_successor(hn, actor, client):
    shutil.copy(REPO_ROOT / "processes" / "gremien.json", hn.settings.processes_dir)
    lena = actor("fachkraft.frauenberatung")
    instance = hn.start(lena, "kette", {})
    task = next(t.id for t in hn.worklist(lena, WorklistQuery()).tasks if t.instance_id == instance)
    hn.claim(lena, task)
    token = login(client, "koordination.jugendamt")
    refused = client.post(
        "/partner/konto-deaktivieren",
        data={"csrf_token": token, "disable_username": "fachkraft.frauenberatung", "successor": "niemand"},
    )
    assert refused.status_code == 422 and "aktives Konto als Nachfolge" in refused.get_data(as_text=True)
    assert hn.actor(lena.id) is not None
    done = client.post(
        "/partner/konto-deaktivieren",
        data={
            "csrf_token": token,
            "disable_username": "fachkraft.frauenberatung",
            "successor": "fachkraft2.frauenberatung",
        },
    )
    assert done.status_code == 302
    assert "ist deaktiviert" in client.get("/partner").get_data(as_text=True)
    assert hn.actor(lena.id) is None
    sara = actor("fachkraft2.frauenberatung")
    assert task in {t.id for t in hn.worklist(sara, WorklistQuery(view="meine")).tasks}
    hn.complete(sara, task, {"notiz": "übernommen"})
