"""Publishing reports (engine/reports/published.py): versions per (report, estate), and reading them back.

The folder is tests/reports/data/workflows: base reports complaints_weekly and service_monthly ('*'),
estate plaza's override of complaints_weekly (its own title, a relabelled measure, a table by the
shop field its overlay of complaint adds) and its own report shop_complaints. Both databases.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.access.actor import Actor
from engine.cli.main import main
from engine.errors import DefinitionError
from engine.language.loader import Loader
from engine.reports.published import PublishedReport, available, current, publish_reports
from engine.runtime.registry import publish_folder
from engine.store.db import transaction
from engine.store.models import ReportVersion, WorkflowVersion

FOLDER = Path(__file__).resolve().parent / "data" / "workflows"
NOW = datetime.fromisoformat("2026-03-02T09:00:00+08:00")


def _publish(db, folder: Path = FOLDER) -> list[tuple[str, str, int, bool]]:
    with transaction(db.factory) as session:
        loader = Loader(folder)
        publish_folder(session, folder, loader=loader, now=NOW)
        found = publish_reports(session, folder, loader=loader, now=NOW, by="admin")
    assert all(isinstance(p, PublishedReport) and len(p.content_hash) == 64 for p in found)
    return sorted((p.report_id, p.estate_id, p.version, p.created) for p in found)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "defs"
    shutil.copytree(FOLDER, folder)
    return folder


def _actor(role: str, estate: str) -> Actor:
    return Actor(7, "测试员", frozenset({role}), frozenset({estate}), username="tester")


def test_publish_stores_base_and_estate_versions_and_is_a_no_op_when_unchanged(db) -> None:
    assert _publish(db) == [
        ("complaints_weekly", "", 1, True), ("complaints_weekly", "plaza", 1, True),
        ("service_monthly", "", 1, True), ("shop_complaints", "plaza", 1, True),
    ]
    assert _publish(db) == [
        ("complaints_weekly", "", 1, False), ("complaints_weekly", "plaza", 1, False),
        ("service_monthly", "", 1, False), ("shop_complaints", "plaza", 1, False),
    ]
    with db.factory() as session:
        plaza = session.scalars(select(ReportVersion).where(ReportVersion.report_id == "complaints_weekly",
                                                            ReportVersion.estate_id == "plaza")).one()
        base = session.scalars(select(ReportVersion).where(ReportVersion.report_id == "complaints_weekly",
                                                           ReportVersion.estate_id == "")).one()
    assert plaza.document["title"] == "商业广场投诉周报" and base.document["title"] == "投诉周报"
    assert plaza.document["measures"]["received"]["label"] == "新增投诉"
    assert plaza.document["measures"]["closed"] == base.document["measures"]["closed"]
    assert plaza.published_by == "admin"


def test_current_is_the_estates_own_version_else_the_base(db) -> None:
    _publish(db)
    with db.factory() as session:
        plaza = current(session, "complaints_weekly", "plaza")
        garden = current(session, "complaints_weekly", "garden")
        base = current(session, "complaints_weekly")
        assert current(session, "shop_complaints", "garden") is None
        assert current(session, "no_such_report", "plaza") is None
        shops = current(session, "shop_complaints", "plaza")
    assert plaza is not None and garden is not None and base is not None and shops is not None
    assert (plaza.title, garden.title, base.title) == ("商业广场投诉周报", "投诉周报", "投诉周报")
    assert [t.by.label for t in plaza.tables] == ["商铺"]  # compiled against plaza's own complaint (its shop field)
    assert garden == base and shops.tables[0].by.field == "shop"


def test_a_changed_base_report_gets_a_new_version_and_so_does_each_override_merged_on_it(db, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _publish(db, folder)
    path = folder / "reports" / "complaints_weekly.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("periods: 1", "periods: 2"), encoding="utf-8")
    assert _publish(db, folder) == [
        ("complaints_weekly", "", 2, True), ("complaints_weekly", "plaza", 2, True),
        ("service_monthly", "", 1, False), ("shop_complaints", "plaza", 1, False),
    ]
    with db.factory() as session:
        plaza = current(session, "complaints_weekly", "plaza")
    assert plaza is not None and (plaza.periods, plaza.title) == (2, "商业广场投诉周报")


def test_an_estate_whose_override_is_removed_gets_the_base_again(db, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _publish(db, folder)
    (folder / "estates" / "plaza" / "reports" / "complaints_weekly.yaml").unlink()
    assert ("complaints_weekly", "plaza", 2, True) in _publish(db, folder)
    with db.factory() as session:
        plaza = current(session, "complaints_weekly", "plaza")
    assert plaza is not None and plaza.title == "投诉周报"


def test_nothing_is_stored_when_a_report_has_problems(db, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "reports" / "broken.yaml").write_text(
        "id: broken\ntitle: 坏\nworkflows: [complaint]\nmeasures:\n  n: {label: 新增, count: created}\n"
        "tables:\n  - {title: 按电话, by: phone, measures: [n]}\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as raised, transaction(db.factory) as session:
        publish_reports(session, folder, now=NOW)
    assert [str(p) for p in raised.value.problems] == [
        f"{folder / 'reports' / 'broken.yaml'}:7:22: tables.0.by: 'phone' is personal data: reports never show "
        "personal data, so it cannot be a dimension"]
    with db.factory() as session:
        assert session.scalar(select(func.count()).select_from(ReportVersion)) == 0


def test_available_lists_the_reports_whose_workflows_the_actor_sees_by_title(db) -> None:
    _publish(db)
    with db.factory() as session:
        def titles(actor: Actor) -> list[str]:
            return [report.title for report in available(session, actor)]

        assert titles(_actor("frontdesk", "plaza")) == sorted(["商业广场投诉周报", "商铺投诉", "月度服务汇总"])
        assert titles(_actor("frontdesk", "garden")) == sorted(["投诉周报", "月度服务汇总"])
        # An engineer sees repairs, not complaints: only the report of every workflow is theirs.
        assert titles(_actor("engineer", "plaza")) == ["月度服务汇总"]
        assert titles(_actor("finance", "plaza")) == []
        assert titles(Actor.system()) == sorted(["投诉周报", "月度服务汇总", "商铺投诉"])


def test_the_publish_command_prints_a_line_per_report(db) -> None:
    result = CliRunner().invoke(main, ["publish", "--url", db.url, "--workflows", str(FOLDER)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("report ")]
    assert lines == ["report complaints_weekly v1: published", "report service_monthly v1: published",
                     "report complaints_weekly [plaza] v1: published", "report shop_complaints [plaza] v1: published"]
    again = CliRunner().invoke(main, ["publish", "--url", db.url, "--workflows", str(FOLDER)])
    assert "report shop_complaints [plaza] v1: unchanged" in again.stdout


def test_the_publish_command_refuses_a_broken_report_and_stores_nothing(db, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "reports" / "send.yaml").write_text(
        "id: send\ntitle: 发送\nworkflows: [complaint]\nmeasures:\n  n: {label: 新增, count: created}\n"
        "tables:\n  - {title: 合计, by: total, measures: [n]}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["publish", "--url", db.url, "--workflows", str(folder)])
    assert result.exit_code == 1
    assert f"{folder / 'reports' / 'send.yaml'}:1:5: id: 'send' is reserved" in result.output
    assert "nothing was published" in result.output and "Traceback" not in result.output
    with db.factory() as session:
        assert session.scalar(select(func.count()).select_from(ReportVersion)) == 0
        assert current(session, "complaints_weekly") is None
        assert session.scalar(select(func.count()).select_from(WorkflowVersion)) == 0  # one transaction: none
