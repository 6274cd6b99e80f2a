"""Files attached to items (`file` fields): checked, stored outside the database with the step that
brought them, listed, opened only by who may see the item, checked and backed up with the database."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select, update

from engine.cli.main import main
from engine.errors import GuardFailed, InvalidFields, ItemNotFound
from engine.files import attachments, storage
from engine.language.uploads import Upload
from engine.runtime.registry import publish_folder
from engine.store.db import transaction
from engine.store.models import AccessLog, Attachment
from engine.views.attachments import THUMBNAIL_WINDOW, open_file, record_opening
from engine.views.timeline import timeline
from tests._loaders import loader_of

DATA = Path(__file__).resolve().parents[1] / "data" / "files"
FOLDER = DATA / "workflows"


def upload(name: str, as_name: str | None = None) -> Upload:
    return Upload(as_name or name, (DATA / name).read_bytes())


@pytest.fixture
def files(world, tmp_path, monkeypatch):
    """The runtime world with the photo_job workflow published and a file store of this test's own."""
    monkeypatch.setenv("ESTATEFLOW_FILES_DIR", str(tmp_path / "files"))
    monkeypatch.delenv("ESTATEFLOW_FILES_QUOTA_MB", raising=False)
    with transaction(world.db.factory) as session:
        publish_folder(session, FOLDER, loader=loader_of(FOLDER), now=world.clock.now())
    return world


def store():
    return storage.configured()


def job(world, **data):
    return world.create(workflow="photo_job", unit="3-1-502", **data)


def dispatched(world, **data):
    return world.fire(job(world, **data), "dispatch", data={"repairer": "worker@demo"})


def stored_keys():
    return sorted(store().keys())


def test_photos_given_at_creation_and_in_a_step_are_stored_with_thumbnails_and_listed(files):
    item = job(files, before=[upload("photo.jpg", "IMG_0001.JPG")])
    item = files.fire(item, "dispatch", data={"repairer": "worker@demo", "before": [upload("after.png")]})
    assert len(item.values["before"]) == 2  # `multiple`: a step adds to the files already there
    with files.db.factory() as session:
        listed = attachments.for_item(session, item.id)
        entries = timeline(session, item)
    assert [(a.filename, a.content_type) for a in listed] == [("IMG_0001.JPG", "image/jpeg"),
                                                            ("after.png", "image/png")]
    assert {a.id for a in listed} == set(item.values["before"])
    assert all(a.thumbnail_key and store().exists(a.thumbnail_key) for a in listed)
    assert len(stored_keys()) == 4  # two files, two thumbnails
    assert [[f.filename for f in e.files] for e in entries] == [["IMG_0001.JPG"], ["after.png"]]
    assert ("维修前照片", "1 个文件", "2 个文件") in entries[1].changes
    with files.db.factory() as session:
        thumb = open_file(session, files.actor("boss"), listed[0].id, thumbnail=True)
    assert thumb.content_type == "image/jpeg" and max(Image.open(io.BytesIO(thumb.content)).size) <= 320


def test_a_single_file_field_holds_the_newest_file_and_a_pdf_or_a_listed_extension_is_accepted(files):
    item = dispatched(files, drawing=upload("notice.pdf", "图纸.pdf"))
    first = item.values["drawing"]
    item = files.fire(item, "note", data={"drawing": Upload("plan.dwg", b"AC1032" + b"\0" * 200)})
    assert len(item.values["drawing"]) == 1 and item.values["drawing"] != first
    with files.db.factory() as session:
        kinds = [(a.filename, a.content_type, a.thumbnail_key) for a in attachments.for_item(session, item.id)]
    assert kinds == [("图纸.pdf", "application/pdf", None), ("plan.dwg", "application/octet-stream", None)]


@pytest.mark.parametrize(("field", "given", "message"), [
    ("before", ("not_a_photo.jpg", None), "类型不能上传（可上传：照片）"),  # a page named .jpg is not a photo
    ("before", ("notice.pdf", "photo.jpg"), "类型不能上传"),  # nor is a PDF
    ("drawing", ("photo.jpg", None), "类型不能上传（可上传：PDF、.dwg）"),
    ("after", ("photo.jpg", None), "太大了（最大 5 KB）"),
])
def test_a_file_of_the_wrong_type_or_too_large_is_refused_and_nothing_is_written(files, field, given, message):
    item = dispatched(files)
    before = files.snapshot()
    with pytest.raises(InvalidFields) as refused:
        files.fire(item, "note", role="boss", data={field: upload(*given)})
    assert message in refused.value.fields[field]
    assert files.snapshot() == before and files.rows("attachments") == [] and stored_keys() == []


def test_more_than_one_file_for_a_single_field_is_refused(files):
    with pytest.raises(InvalidFields) as refused:
        dispatched(files, drawing=[upload("notice.pdf"), upload("notice.pdf")])
    assert refused.value.fields == {"drawing": "只能上传一个文件"}


def test_the_estate_quota_refuses_in_chinese_and_names_who_to_call(files, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_FILES_QUOTA_MB", "1")
    monkeypatch.setenv("ESTATEFLOW_FILES_CONTACT", "信息部 王工 8801")
    item = dispatched(files, before=upload("photo.jpg"))
    with files.db.factory() as session:
        used = attachments.used_bytes(session, "demo")
        (row,) = attachments.for_item(session, item.id)
    assert used == row.size == len(attachments.read(row))  # the bytes stored, not those uploaded
    big = Upload("big.png", _noise_png(1024 * 1024 - used + 1))
    with pytest.raises(InvalidFields) as refused:
        files.fire(item, "note", data={"before": big})
    assert refused.value.fields["before"] == ("本小区的附件空间已满（上限 1 MB），不能再上传文件。"
                                              "请联系信息部 王工 8801清理旧文件或提高上限。")
    # Another estate's files do not count against this one.
    other = files.create(workflow="photo_job", estate="other", unit="1-1-101", before=[upload("photo.jpg")])
    assert len(other.values["before"]) == 1


def _noise_png(at_least: int) -> bytes:
    """A PNG of random pixels (it does not compress) of at least `at_least` bytes."""
    import os

    side = 64
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        image.save(out, "PNG")
        if len(out.getvalue()) >= at_least:
            return out.getvalue()
        side *= 2


def test_the_step_needs_its_photos_and_len_counts_them(files):
    item = dispatched(files)
    with pytest.raises(GuardFailed):  # len(after) of no file is null: the guard does not hold
        files.fire(item, "finish", role="worker", data={"hours": 2})
    done = files.fire(item, "finish", role="worker", data={"hours": 2, "after": [upload("after.png")]})
    assert done.state == "done"


def test_a_step_that_fails_after_writing_its_files_leaves_none_behind(files):
    from engine.runtime.items import fire

    item = dispatched(files)
    before = files.snapshot()
    with pytest.raises(RuntimeError, match="the request failed later"):
        with transaction(files.db.factory) as session:
            fire(session, item.id, "note", files.actor("boss"), {"before": [upload("photo.jpg")]},
                 clock=files.clock, calendars=files.calendars)
            assert len(stored_keys()) == 2  # written: the file and its thumbnail
            raise RuntimeError("the request failed later")
    assert stored_keys() == [] and files.rows("attachments") == [] and files.snapshot() == before
    # The same session object committing afterwards keeps what it writes then.
    files.fire(item, "note", data={"before": [upload("photo.jpg")]})
    assert len(stored_keys()) == 2 and len(files.rows("attachments")) == 1


def test_a_stale_version_writes_no_file(files):
    from engine.errors import Conflict

    item = dispatched(files)
    files.fire(item, "note", data={})
    with pytest.raises(Conflict):
        files.fire(item, "note", data={"before": [upload("photo.jpg")]}, version=item.version)
    assert stored_keys() == [] and files.rows("attachments") == []


def test_a_file_is_opened_only_by_who_may_see_its_item(files):
    item = dispatched(files, before=[upload("photo.jpg")])
    own = files.create(workflow="photo_job", unit="5-2-301", before=[upload("after.png")])  # not assigned
    file_id = item.values["before"][0]
    pdf = dispatched(files, drawing=upload("notice.pdf")).values["drawing"][0]
    boss, worker, stranger = files.actor("boss"), files.actor("worker"), files.actor("boss", "other")
    with files.db.factory() as session:
        (row,) = [a for a in attachments.for_item(session, item.id) if a.id == file_id]
        assert open_file(session, boss, file_id).content == attachments.read(row)
        assert open_file(session, worker, file_id).content_type == "image/jpeg"  # assigned to him
        for actor, wanted in ((stranger, file_id),  # another estate
                              (worker, own.values["before"][0]),  # an executor not assigned
                              (boss, "0" * 32),  # no such file
                              (boss, "../../etc/passwd")):
            with pytest.raises(ItemNotFound):
                open_file(session, actor, wanted)
        with pytest.raises(ItemNotFound):  # a PDF has no thumbnail
            open_file(session, boss, pdf, thumbnail=True)


def test_check_reports_a_missing_and_an_orphaned_file(files):
    item = dispatched(files, before=[upload("photo.jpg")])
    url = files.db.url
    assert CliRunner().invoke(main, ["check", "--url", url]).exit_code == 0
    with files.db.factory() as session:
        (row,) = attachments.for_item(session, item.id)
    store().delete(row.storage_key)
    store().put("ab/" + "ab" + "0" * 30 + ".jpg", b"left by a crash")
    result = CliRunner().invoke(main, ["check", "--url", url])
    assert result.exit_code == 1
    assert f"attachment {row.id} (before): file {row.storage_key} is missing from the file store" in result.output
    assert "file store: ab/ab000000000000000000000000000000.jpg is orphaned" in result.output
    assert "photo.jpg" not in result.output  # never a name a person gave


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_backup_includes_the_files_and_restore_brings_them_back(files, tmp_path, monkeypatch):
    item = dispatched(files, before=[upload("photo.jpg")], drawing=upload("notice.pdf"))
    backup = tmp_path / "backup" / "copy.db"
    backup.parent.mkdir()
    result = CliRunner().invoke(main, ["backup", str(backup), "--url", files.db.url])
    assert result.exit_code == 0, result.output
    assert "copied 3 attached file(s)" in result.output
    assert len(list(storage.FolderStore(tmp_path / "backup" / "copy.db.files").keys())) == 3

    # A new site: an empty file store and no database yet.
    monkeypatch.setenv("ESTATEFLOW_FILES_DIR", str(tmp_path / "restored-files"))
    target = tmp_path / "site" / "estateflow.db"
    url = f"sqlite:///{target}"
    result = CliRunner().invoke(main, ["restore", str(backup), "--url", url])
    assert result.exit_code == 0, result.output
    assert len(stored_keys()) == 3
    check = CliRunner().invoke(main, ["check", "--url", url])
    assert check.exit_code == 0, check.output
    again = CliRunner().invoke(main, ["restore", str(backup), "--url", url])
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert item.values["before"][0] in {r["id"] for r in files.rows("attachments")}


def test_a_deleted_item_leaves_orphans_that_check_names(files):
    item = dispatched(files, before=[upload("photo.jpg")])
    with transaction(files.db.factory) as session:
        session.execute(update(Attachment).where(Attachment.item_id == item.id).values(thumbnail_key=None))
    result = CliRunner().invoke(main, ["check", "--url", files.db.url])
    assert result.exit_code == 1 and result.output.count("is orphaned") == 1  # the thumbnail no row names


def test_a_guard_counting_photos_is_offered_while_the_form_can_bring_them(files):
    item = dispatched(files)
    finish = files.available(item, "worker")["finish"]
    assert finish.allowed and "after" in finish.asks


def test_a_step_giving_no_file_keeps_the_files_a_field_holds(files):
    item = dispatched(files, before=[upload("photo.jpg")])
    kept = item.values["before"]
    item = files.fire(item, "note", data={"before": None, "hours": 1})
    assert item.values["before"] == kept
    with files.db.factory() as session:
        assert [a.id for a in attachments.for_item(session, item.id)] == list(kept)


def _exif_photo(fmt: str) -> bytes:
    """A wide photo (left half red, right half blue) whose EXIF says: turn it 90° clockwise to show it; taken at
    a GPS position, on a named device, by a named owner; with a JPEG comment naming the owner too."""
    image = Image.new("RGB", (60, 40), "blue")
    image.paste((255, 0, 0), (0, 0, 30, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° CW
    exif[0x010F], exif[0x0110], exif[0x013B] = "Xiaomi", "Redmi Note 12", "王丽"  # Make, Model, Artist
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 45.5), 3: "E", 4: (121.0, 28.0, 12.25)}  # GPS IFD
    out = io.BytesIO()
    extra = {"comment": "王丽家 3-1-502"} if fmt == "JPEG" else {}
    image.save(out, fmt, exif=exif, **extra)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "name"), [("JPEG", "IMG_2001.JPG"), ("PNG", "截图.png"), ("WEBP", "IMG.webp")])
def test_a_photo_is_stored_upright_without_its_exif_and_the_row_describes_the_stored_bytes(files, fmt, name):
    given = _exif_photo(fmt)
    with Image.open(io.BytesIO(given)) as original:
        assert original.getexif().get_ifd(0x8825) and original.size == (60, 40)  # the test photo has GPS
    item = dispatched(files, before=[Upload(name, given)])
    with files.db.factory() as session:
        (row,) = attachments.for_item(session, item.id)
        stored = attachments.read(row)
        thumb = attachments.read(row, thumbnail=True)
    assert row.filename == name  # the name the phone gave, for display only
    assert row.size == len(stored) and row.sha256 == hashlib.sha256(stored).hexdigest() and stored != given
    for content in (stored, thumb):
        with Image.open(io.BytesIO(content)) as image:
            assert not image.getexif() and "comment" not in image.info and "xmp" not in image.info
            assert b"Exif" not in content and "王丽".encode() not in content and b"Redmi" not in content
    with Image.open(io.BytesIO(stored)) as upright:
        assert upright.size == (40, 60)  # turned the way the camera was held
        red, blue = upright.convert("RGB").getpixel((20, 5)), upright.convert("RGB").getpixel((20, 55))
    assert red[0] > 200 > red[2] and blue[2] > 200 > blue[0]  # the left of the sensor is the top


def test_a_gif_is_stored_as_given(files):
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    item = dispatched(files, before=[Upload("a.gif", out.getvalue())])
    with files.db.factory() as session:
        (row,) = attachments.for_item(session, item.id)
        assert attachments.read(row) == out.getvalue()


def _access(files):
    with files.db.factory() as session:
        return [(a.user_name, a.kind, a.item_id, a.detail, a.at) for a in session.scalars(
            select(AccessLog).order_by(AccessLog.id))]


def _open(files, actor, file_id, *, thumbnail=False):
    with transaction(files.db.factory) as session:
        opened = open_file(session, actor, file_id, thumbnail=thumbnail, clock=files.clock)
        record_opening(session, actor, opened, clock=files.clock)
    return opened


def test_opening_a_file_is_written_to_the_access_log_without_its_name(files):
    item = dispatched(files, before=[upload("photo.jpg", "王丽家客厅.jpg"), upload("after.png")],
                      drawing=upload("notice.pdf", "王丽签字.pdf"))
    photo_id, second = item.values["before"]
    boss = files.actor("boss")
    _open(files, boss, second)
    _open(files, boss, item.values["drawing"][0])
    logged = _access(files)
    assert [(kind, item_id, detail) for _, kind, item_id, detail, _ in logged] == [
        ("view", item.id, "打开附件：维修前照片（本事项第 2 个附件，照片）"),
        ("view", item.id, "打开附件：图纸（本事项第 3 个附件，PDF）")]
    assert logged[0][0] == boss.name and logged[0][4] == files.clock.now()
    assert not any("王丽" in row[3] or photo_id in row[3] for row in logged)
    with pytest.raises(ItemNotFound):  # a refused opening is not a view
        _open(files, files.actor("boss", "other"), photo_id)
    assert len(_access(files)) == 2


def test_a_pages_thumbnails_are_one_view_and_the_page_row_covers_them(files):
    item = dispatched(files, before=[upload("photo.jpg"), upload("after.png")])
    first, second = item.values["before"]
    boss, worker = files.actor("boss"), files.actor("worker")
    for file_id in (first, second, first):
        _open(files, boss, file_id, thumbnail=True)
    assert [row[3] for row in _access(files)] == ["查看事项的附件缩略图"]
    _open(files, worker, first, thumbnail=True)  # another user: a row of their own
    files.clock.advance(THUMBNAIL_WINDOW + timedelta(seconds=1))
    _open(files, boss, second, thumbnail=True)  # the page seen again later
    assert [row[0] for row in _access(files)] == [boss.name, worker.name, boss.name]
    # The item page that showed personal data wrote its own row: its thumbnails add none.
    files.clock.advance(THUMBNAIL_WINDOW + timedelta(seconds=1))
    with transaction(files.db.factory) as session:
        from engine.org import audit

        audit.accessed(session, worker, "view", estate_id="demo", item_id=item.id, clock=files.clock)
    _open(files, worker, second, thumbnail=True)
    assert len(_access(files)) == 4


def test_a_phones_multi_picture_jpeg_is_accepted_as_a_jpeg_and_keeps_only_its_photo(files):
    out = io.BytesIO()
    Image.new("RGB", (48, 32), "red").save(out, "MPO", save_all=True,
                                           append_images=[Image.new("RGB", (16, 16), "blue")])
    with Image.open(io.BytesIO(out.getvalue())) as given:
        assert given.format == "MPO"
    item = dispatched(files, before=[Upload("IMG_3001.JPG", out.getvalue())])
    with files.db.factory() as session:
        (row,) = attachments.for_item(session, item.id)
        stored = attachments.read(row)
    assert row.content_type == "image/jpeg"
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("JPEG", (48, 32), 1)


def test_a_palette_pngs_transparency_is_part_of_the_picture_and_kept(files):
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    out = io.BytesIO()
    image.save(out, "PNG", transparency=1)
    item = dispatched(files, before=[Upload("icon.png", out.getvalue())])
    with files.db.factory() as session:
        (row,) = attachments.for_item(session, item.id)
        stored = attachments.read(row)
    with Image.open(io.BytesIO(stored)) as kept:
        assert kept.info.get("transparency") == 1
