"""Residents' rights (PIPL) over attached files: the export lists them, anonymisation deletes the files of
`personal` file fields (rows kept, marked erased), and `estateflow check` still holds afterwards."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from engine.cli.main import main
from engine.errors import ItemNotFound
from engine.files import attachments, storage
from engine.files.erasure import ERASED_NAME
from engine.language.uploads import Upload
from engine.org import estates, privacy
from engine.store.db import transaction
from engine.store.models import AccessLog, Attachment, ItemHistory, Resident
from engine.views.attachments import open_file

FOLDER = Path(__file__).resolve().parents[1] / "data" / "files" / "privacy"
PDF = (Path(__file__).resolve().parents[1] / "data" / "files" / "notice.pdf").read_bytes()


def photo(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def visits(db, org, clock, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """The home_visit workflow published, a file store of the test's own; returns a function registering a
    visit of 3-1-502 with a home photo, a signed notice and a photo of the shared pipes."""
    from engine.runtime.items import create
    from engine.runtime.registry import publish_folder
    from engine.runtime.timers import Calendars

    monkeypatch.setenv("ESTATEFLOW_FILES_DIR", str(tmp_path / "files"))
    with transaction(db.factory) as session:
        publish_folder(session, FOLDER, now=clock.now())
    org.unit("3-1-502")

    def visit(caller: str = "王丽", phone: str = "13812345678") -> int:
        with transaction(db.factory) as session:
            return create(session, workflow="home_visit", estate="demo", actor=org.actor("desk"), clock=clock,
                          calendars=Calendars(FOLDER), data={
                              "unit": "3-1-502", "caller": caller, "phone": phone, "description": "卫生间渗水",
                              "home_photos": [Upload(f"{caller}家卫生间.jpg", photo())],
                              "notice": Upload("签字通知书.pdf", PDF),
                              "pipe_photos": [Upload(f"{caller}家管井.jpg", photo("blue"))]}).id

    return visit


def resident_id(db) -> int:  # noqa: ANN001
    with db.factory() as session:
        return session.scalars(select(Resident.id).where(Resident.name == "王丽")).one()


def rows(db, item_id: int) -> dict[str, Attachment]:  # noqa: ANN001
    with db.factory() as session:
        return {a.field: a for a in session.scalars(select(Attachment).where(Attachment.item_id == item_id))}


def test_the_export_lists_the_files_of_the_residents_items_never_their_ids(db, org, visits) -> None:  # noqa: ANN001
    item = visits()
    with transaction(db.factory) as session:
        exported = privacy.export_resident(session, org.actor("manager"), resident_id(db))
    data = json.loads(exported.as_json())
    files = sorted((f["field"], f["name"], f["kind"], f["item"], f["erased_at"]) for f in data["files"])
    number = data["items"][0]["number"]
    assert files == [("室内照片", "王丽家卫生间.jpg", "照片", number, None),
                     ("签字通知书", "签字通知书.pdf", "PDF", number, None),
                     ("管井照片", "王丽家管井.jpg", "照片", number, None)]
    assert all(f["uploaded_at"].startswith("20") for f in data["files"])
    assert data["items"][0]["fields"]["室内照片"] == "1 个文件（见附件清单）"
    ids = {a.id for a in rows(db, item).values()}
    assert not any(i in exported.as_json() for i in ids)  # the files' ids mean nothing to the resident
    assert f"附件,{number},签字通知书,签字通知书.pdf（PDF，" in exported.as_csv().decode("utf-8-sig")
    with db.factory() as session:
        (logged,) = session.scalars(select(AccessLog.detail))
    assert logged.endswith("1 个事项，3 个附件")


def test_anonymising_deletes_the_files_of_personal_file_fields_and_keeps_their_rows(db, org, visits,
                                                                                    clock) -> None:  # noqa: ANN001
    item, someone_else = visits(), visits(caller="李强", phone="13900001111")
    manager, rid = org.actor("manager"), resident_id(db)
    before = rows(db, item)
    store = storage.configured()
    with transaction(db.factory) as session:
        estates.move_out(session, manager, rid, date(2026, 1, 31))
        assert privacy.anonymise(session, manager, rid, now=clock.now()) == 1
        assert store.exists(before["home_photos"].storage_key)  # deleted only once the erasure commits
    after = rows(db, item)
    for field in ("home_photos", "notice"):
        row = after[field]
        assert row.erased_at is not None and (row.filename, row.sha256, row.thumbnail_key) == (ERASED_NAME, "", None)
        assert not store.exists(before[field].storage_key)
    assert not store.exists(before["home_photos"].thumbnail_key)
    pipe = after["pipe_photos"]  # not personal: kept, its name without the resident's
    assert pipe.erased_at is None and pipe.filename == "（已匿名）家管井.jpg" and store.exists(pipe.storage_key)
    assert all(r.erased_at is None and store.exists(r.storage_key) for r in rows(db, someone_else).values())
    kept = sum(r.size for i in (item, someone_else) for r in rows(db, i).values() if r.erased_at is None)
    with db.factory() as session:
        history = session.scalars(select(ItemHistory).where(ItemHistory.item_id == item,
                                                            ItemHistory.event == "anonymised")).one()
        assert {"home_photos", "notice", "caller", "phone"} <= set(history.changes)
        with pytest.raises(ItemNotFound):
            open_file(session, manager, before["home_photos"].id)
        listed = attachments.for_item(session, item)
        assert [f.filename for f in listed if f.erased_at] == [ERASED_NAME, ERASED_NAME]
        assert attachments.used_bytes(session, "demo") == kept  # an erased file no longer counts
    # An erased file is neither missing nor orphaned.
    result = CliRunner().invoke(main, ["check", "--url", db.url])
    assert result.exit_code == 0, result.output
    with transaction(db.factory) as session:  # the export after the erasure says which files went
        exported = privacy.export_resident(session, manager, rid)
    assert sorted(bool(f["erased_at"]) for f in exported.files) == [False, False, False, False, True, True]


def test_an_erasure_that_rolls_back_deletes_no_file(db, org, visits, clock) -> None:  # noqa: ANN001
    item = visits()
    manager, rid = org.actor("manager"), resident_id(db)
    with transaction(db.factory) as session:
        estates.move_out(session, manager, rid, date(2026, 1, 31))
    with pytest.raises(RuntimeError), transaction(db.factory) as session:
        privacy.anonymise(session, manager, rid, now=clock.now())
        raise RuntimeError("the request failed later")
    kept = rows(db, item)
    assert all(r.erased_at is None and storage.configured().exists(r.storage_key) for r in kept.values())
    assert CliRunner().invoke(main, ["check", "--url", db.url]).exit_code == 0


def test_a_file_left_behind_by_an_erasure_is_reported_as_orphaned_not_missing(db, org, visits, clock) -> None:  # noqa: ANN001
    item = visits()
    manager, rid = org.actor("manager"), resident_id(db)
    notice = rows(db, item)["notice"]
    store = storage.configured()
    with store.open(notice.storage_key) as stream:
        content = stream.read()
    with transaction(db.factory) as session:
        estates.move_out(session, manager, rid, date(2026, 1, 31))
        privacy.anonymise(session, manager, rid, now=clock.now())
    store.put(notice.storage_key, content)  # as if the process had stopped before deleting it
    result = CliRunner().invoke(main, ["check", "--url", db.url])
    assert result.exit_code == 1
    assert f"file store: {notice.storage_key} is orphaned" in result.output and "missing" not in result.output


def test_the_files_of_a_personal_field_are_masked_like_its_other_personal_data(db, org, visits) -> None:  # noqa: ANN001
    from engine.runtime.items import get_item
    from engine.views.timeline import timeline

    item = visits()
    files = rows(db, item)
    admin, desk = org.actor("admin"), org.actor("desk")  # admin sees the item, its personal data masked
    with db.factory() as session:
        assert open_file(session, desk, files["home_photos"].id).content
        assert open_file(session, admin, files["pipe_photos"].id).content
        for field in ("home_photos", "notice"):
            for thumbnail in (False, True):
                with pytest.raises(ItemNotFound):
                    open_file(session, admin, files[field].id, thumbnail=thumbnail)
        seen = get_item(session, item, admin)
        masked = {f.field for e in timeline(session, seen, full=False) for f in e.files}
        shown = {f.field for e in timeline(session, seen, full=True) for f in e.files}
    assert masked == {"pipe_photos"} and shown == {"home_photos", "notice", "pipe_photos"}
