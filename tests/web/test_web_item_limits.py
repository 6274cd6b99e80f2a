"""The item page shows a whole-item limit (`item_sla`, 全程时限) beside the state's own (本环节时限).

A small workflow with both is published next to the web tests' ones (tests/web/data/workflows), on
the test app's database; the limits read are engine/views/limits.py's.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.runtime.registry import publish_folder
from engine.store.db import transaction

WEB_WORKFLOWS = Path(__file__).resolve().parent / "data" / "workflows"
TIMED = """\
id: timed_ticket
title: 限时报事
number_prefix: XS
create_roles: [frontdesk]
fields:
  description: {type: text, label: 内容, required: true}
item_sla:
  - {within: 1d, escalate_to: [cs_manager]}
states:
  open: {label: 已登记, initial: true, sla: [{within: 2h, escalate_to: [cs_supervisor]}]}
  working: {label: 处理中}
  closed: {label: 已关闭, final: true}
transitions:
  - {name: start, label: 开始处理, from: open, to: working, roles: [frontdesk]}
  - {name: close, label: 关闭, from: working, to: closed, roles: [frontdesk]}
"""


def _published(world, tmp_path: Path) -> None:
    folder = tmp_path / "timed"
    folder.mkdir()
    shutil.copy(WEB_WORKFLOWS / "roles.yaml", folder / "roles.yaml")
    (folder / "timed_ticket.yaml").write_text(TIMED, encoding="utf-8")
    with transaction(world.factory) as session:
        publish_folder(session, folder, now=world.clock.now())


def test_the_whole_items_limit_is_shown_beside_the_states_own_and_outlives_it(auth, client, world, tmp_path):
    _published(world, tmp_path)
    item = world.make_item(workflow="timed_ticket", description="楼道灯不亮")
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    state_limit = (world.clock.now() + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    assert "本环节时限" in page and "到期报客服主管" in page and state_limit in page
    assert "全程时限" in page and "到期报客服部经理" in page
    world.fire(item, "start", "frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "全程时限" in page and "到期报客服部经理" in page               # it follows the item
    assert "本环节时限" not in page                                        # 处理中 has no limit of its own


def test_a_workflow_without_whole_item_limits_shows_no_list(auth, client, world):
    item = world.make_item()
    auth.login("frontdesk")
    assert "全程时限" not in client.get(f"/items/{item.id}").get_data(as_text=True)
