"""The residents' rights (PIPL): export on request, correction, anonymisation after moving out; each act logged."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cli.main import main
from engine.errors import InvalidFields, NotPermitted
from engine.org import estates, privacy
from engine.org.audit import access_log_days
from engine.store.db import transaction
from engine.store.models import AccessLog, AuditLog, Item, ItemHistory, Resident


def resident_id(db, name: str) -> int:  # noqa: ANN001
    with db.factory() as session:
        return session.scalars(select(Resident.id).where(Resident.name == name)).one()


def test_a_resident_exports_their_record_and_their_units_items(db, org, jobs) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    jobs("3-1-502")
    manager = org.actor("manager")
    with transaction(db.factory) as session:
        exported = privacy.export_resident(session, manager, resident_id(db, "王丽"))
    data = json.loads(exported.as_json())
    assert data["residents"][0] | {"moved_in_on": None} == {
        "estate": "阳光花园", "building": "3", "unit": "3-1-502", "kind": "业主", "name": "王丽",
        "phone": "13812345678", "moved_in_on": None, "moved_out_on": None}
    assert [i["workflow"] for i in data["items"]] == ["维修工单"] and data["items"][0]["fields"]["报修人"] == "王丽"
    assert exported.as_csv().startswith("\ufeff部分,记录,项目,内容".encode())
    with db.factory() as session:
        assert [a.kind for a in session.scalars(select(AccessLog))] == ["privacy"]


def test_only_those_who_manage_the_estate_act_on_residents_data(db, org) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    desk = org.actor("desk")
    with pytest.raises(NotPermitted), transaction(db.factory) as session:
        privacy.export_resident(session, desk, resident_id(db, "王丽"))


def test_a_correction_is_audited_and_logged(db, org) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    manager = org.actor("manager")
    with transaction(db.factory) as session:
        privacy.correct_resident(session, manager, resident_id(db, "王丽"), phone="13812349999")
    with db.factory() as session:
        change = session.scalars(select(AuditLog).where(AuditLog.target == "resident", AuditLog.action == "change")).one()
        assert change.changes == {"phone": ["13812345678", "13812349999"]}
        assert [a.kind for a in session.scalars(select(AccessLog))] == ["privacy"]


def test_anonymising_replaces_names_and_phones_everywhere_and_keeps_figures(db, org, jobs, clock) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    job = jobs("3-1-502", finish=True)
    manager, rid = org.actor("manager"), resident_id(db, "王丽")
    with pytest.raises(InvalidFields), transaction(db.factory) as session:
        privacy.anonymise(session, manager, rid, now=clock.now())
    with transaction(db.factory) as session:
        estates.move_out(session, manager, rid, date(2026, 1, 31))
        assert privacy.anonymise(session, manager, rid, now=clock.now()) == 1
    with db.factory() as session:
        person = session.get_one(Resident, rid)
        assert (person.name, person.phone, person.anonymised_at is not None) == ("（已匿名）", None, True)
        item = session.get_one(Item, job)
        assert item.data["caller"] == "（已匿名）" and "phone" not in item.data and item.data["amount"] == "120.50"
        history = " ".join(str(h.changes) for h in session.scalars(select(ItemHistory)))
        audit = " ".join(str(a.changes) for a in session.scalars(select(AuditLog)))
        assert "王丽" not in history + audit and "13812345678" not in history + audit
        assert [a.kind for a in session.scalars(select(AccessLog))] == ["privacy"]
    with transaction(db.factory) as session:
        assert privacy.anonymise(session, manager, rid, now=clock.now()) == 0  # done already


def test_the_batch_anonymises_everyone_who_moved_out_before_a_date(db, org, clock, tmp_path: Path) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    org.unit("3-1-602", owner=("李强", "13900001111"))
    admin, wang, li = org.actor("admin"), resident_id(db, "王丽"), resident_id(db, "李强")
    with transaction(db.factory) as session:
        estates.move_out(session, admin, wang, date(2025, 1, 1))
        estates.move_out(session, admin, li, date(2026, 2, 1))
    result = CliRunner().invoke(main, ["resident", "anonymise", "--moved-out-before", "2025-06-01", "--url", db.url])
    assert result.exit_code == 0 and result.stdout.strip() == "1 resident(s) who moved out before 2025-06-01 anonymised"
    with db.factory() as session:
        assert sorted(session.scalars(select(Resident.name))) == ["李强", "（已匿名）"]


def test_the_resident_commands(db, org, tmp_path: Path) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    rid = resident_id(db, "王丽")
    run = CliRunner().invoke
    listed = run(main, ["resident", "list", "--estate", "demo", "--unit", "3-1-502", "--url", db.url])
    assert listed.stdout.strip() == f"{rid}\t业主\t王丽\t13812345678\tcurrent"
    out = tmp_path / "wangli.csv"
    assert run(main, ["resident", "export", str(rid), "--format", "csv", "--out", str(out), "--url", db.url]).exit_code == 0
    assert "王丽" in out.read_bytes().decode("utf-8-sig")
    corrected = run(main, ["resident", "correct", str(rid), "--name", "王莉", "--url", db.url])
    assert corrected.exit_code == 0 and resident_id(db, "王莉") == rid
    refused = run(main, ["resident", "anonymise", str(rid), "--url", db.url])
    assert refused.exit_code == 1 and "住户还未搬出" in refused.stderr


@pytest.mark.parametrize(("value", "days"), [("", 365), ("30", 183), ("400", 400), ("many", 365)])
def test_the_access_log_is_kept_at_least_six_months(value: str, days: int) -> None:
    assert access_log_days({"ESTATEFLOW_ACCESS_LOG_DAYS": value}) == days
