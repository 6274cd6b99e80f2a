"""迁移进行中的事项 (web/migrations.py): the dry run, the map of a renamed state, applying, and who may.

Version 2 of the test `ticket` workflow renames 处理中 `working` to 办理中 `handling`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text

from engine.runtime.registry import publish_folder
from engine.store.db import transaction
from tests.web.conftest import START, WORKFLOWS

URL = "/admin/workflows/ticket/migrate"


def publish_v2(world, tmp_path: Path) -> None:
    folder = tmp_path / "v2"
    shutil.copytree(WORKFLOWS, folder)
    path = folder / "ticket.yaml"
    text = path.read_text(encoding="utf-8").replace("working: {label: 处理中}", "handling: {label: 办理中}")
    path.write_text(text.replace("to: working", "to: handling").replace("from: working", "from: handling"),
                    encoding="utf-8")
    with transaction(world.factory) as session:
        publish_folder(session, folder, now=START)


def working_item(world):
    item = world.make_item()
    return world.fire(item, "dispatch", "cs_supervisor", department="engineering")


def migrated(world, item_id):
    with world.engine.connect() as connection:
        return connection.execute(text("SELECT from_state, to_state, actor_name FROM item_history "
                                       "WHERE item_id = :i AND event = 'migrated'"), {"i": item_id}).all()


def test_only_admins_see_or_apply_it(client, auth, world, tmp_path):
    publish_v2(world, tmp_path)
    auth.login("cs_supervisor")
    assert client.get(URL + "?estate=demo").status_code == 403
    assert auth.post(URL, {"estate": "demo"}).status_code == 403


def test_an_unmapped_state_asks_where_its_items_go(client, auth, world, tmp_path):
    item = working_item(world)
    publish_v2(world, tmp_path)
    auth.login("admin")
    page = client.get(URL + "?estate=demo").get_data(as_text=True)
    assert "在第 2 版中没有对应状态" in page and "「处理中」" in page and item.number in page
    assert 'value="working=handling"' in page
    assert "迁移 " not in page  # no apply button before every state has a place


def test_the_dry_run_lists_the_moves_and_applying_moves_them(client, auth, world, tmp_path):
    item = working_item(world)
    publish_v2(world, tmp_path)
    auth.login("admin")
    before = world.snapshot()
    page = client.get(URL + "?estate=demo&map=working=handling").get_data(as_text=True)
    assert world.snapshot() == before  # the preview writes nothing
    assert item.number in page and "处理中 → 办理中" in page and 'name="csrf_token"' in page
    refused = client.post(URL, data={"estate": "demo", "map": "working=handling"})
    assert refused.status_code == 400 and world.snapshot() == before  # no CSRF token
    done = auth.post(URL, {"estate": "demo", "map": "working=handling"})
    assert done.status_code == 302
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "项事项迁移到第 2 版" in shown
    [(source, target, who)] = migrated(world, item.id)
    assert (source, target, who) == ("working", "handling", world.actor("admin").name)
    assert "没有需要迁移的事项" in shown  # a second look finds nothing left
    stale = auth.post(f"/items/{item.id}/fire/finish", {"version": item.version})  # a form of the old version
    assert stale.status_code == 409
    history = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "流程升级：第 1 版 → 第 2 版（处理中 → 办理中）" in history


def test_an_estate_the_admin_does_not_work_in_is_not_found(client, auth, world, tmp_path):
    publish_v2(world, tmp_path)
    auth.login("admin")
    assert client.get(URL + "?estate=nowhere").status_code == 404
    assert client.get("/admin/workflows/nothing/migrate?estate=demo").status_code == 404
