"""Attached files on the web: file inputs in a step's form (multipart, CSRF still checked), the files on
the item page and in its history, and /files/<id> served only to whoever may see the item."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.runtime.registry import publish_folder
from engine.store.db import transaction
from engine.store.models import AccessLog, Attachment
from tests._loaders import loader_of

DATA = Path(__file__).resolve().parents[1] / "data" / "files"
FOLDER = DATA / "web"
PHOTO = (DATA / "photo.jpg").read_bytes()
PDF = (DATA / "notice.pdf").read_bytes()


@pytest.fixture
def site(world, tmp_path, monkeypatch):
    """The web world with the site_photos workflow published and a file store of this test's own."""
    monkeypatch.setenv("ESTATEFLOW_FILES_DIR", str(tmp_path / "files"))
    with transaction(world.factory) as session:
        publish_folder(session, FOLDER, loader=loader_of(FOLDER), now=world.clock.now())
    return world


def visit(site, estate="demo"):
    by = "frontdesk" if estate == "demo" else "riverside"
    return site.make_item(by=by, estate=estate, workflow="site_photos", unit="3-1-502")


def post_files(auth, item, name, files, **fields):
    data = {"version": str(item.version), **fields}
    for field, given in files.items():
        data[field] = [(io.BytesIO(content), filename) for filename, content in given]
    return auth.post(f"/items/{item.id}/fire/{name}", data)


def stored(site, attachment_id):
    from engine.files import attachments

    with site.factory() as session:
        found = attachments.find(session, attachment_id)
        assert found is not None
        return attachments.read(found)


def access_rows(site):
    with site.factory() as session:
        return [(a.kind, a.item_id, a.detail) for a in session.scalars(select(AccessLog).order_by(AccessLog.id))]


def attachment_ids(site):
    with site.factory() as session:
        return list(session.scalars(select(Attachment.id).order_by(Attachment.uploaded_at)))


def test_a_step_form_is_multipart_with_a_file_input_and_the_files_show_on_the_page(site, auth, client):
    item = visit(site)
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'<input id="record-photos" name="photos" type="file" accept="image/jpeg,[^"]*" multiple', page)
    assert "可上传：照片、PDF，每个最大 10 MB，可选多个" in page
    response = post_files(auth, item, "record", {"photos": [("楼道 照片.jpg", PHOTO), ("第二张.jpg", PHOTO)]})
    assert response.status_code == 302, response.get_data(as_text=True)
    first, second = attachment_ids(site)
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert page.count(f'/files/{first}/thumbnail"') == 2  # under the field and in the step's history entry
    assert "楼道 照片.jpg" in page and "第二张.jpg" in page

    shown = client.get(f"/files/{first}")
    assert shown.status_code == 200 and shown.data == stored(site, first)  # the photo without its EXIF
    assert shown.headers["Content-Type"] == "image/jpeg"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert shown.headers["Content-Disposition"] == (
        "inline; filename=\"__ __.jpg\"; filename*=UTF-8''%E6%A5%BC%E9%81%93%20%E7%85%A7%E7%89%87.jpg")
    thumb = client.get(f"/files/{first}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg" and thumb.data != PHOTO


def test_a_document_is_downloaded_not_shown_and_the_required_file_is_asked_for(site, auth, client):
    item = visit(site)
    auth.login("cs_supervisor")
    refused = post_files(auth, item, "finish", {}, result="已整改")
    assert refused.status_code == 422 and "必填" in refused.get_data(as_text=True)
    done = post_files(auth, item, "finish", {"notice": [("通知书.pdf", PDF)]}, result="已整改")
    assert done.status_code == 302
    (notice,) = attachment_ids(site)
    sent = client.get(f"/files/{notice}")
    assert sent.headers["Content-Type"] == "application/pdf"
    assert sent.headers["Content-Disposition"].startswith("attachment; ")
    assert client.get(f"/files/{notice}/thumbnail").status_code == 404  # a PDF has no thumbnail


def test_a_wrong_file_is_refused_in_chinese_on_the_form_and_nothing_is_stored(site, auth, client, tmp_path):
    item = visit(site)
    auth.login("frontdesk")
    response = post_files(auth, item, "record", {"photos": [("照片.jpg", b"<html><script>alert(1)</script>")]})
    assert response.status_code == 422
    assert "文件“照片.jpg”的类型不能上传（可上传：照片、PDF）" in response.get_data(as_text=True)
    assert attachment_ids(site) == [] and not list((tmp_path / "files").rglob("*.*"))


def test_an_upload_without_the_csrf_token_is_refused(site, client, auth):
    item = visit(site)
    auth.login("frontdesk")
    response = client.post(f"/items/{item.id}/fire/record",
                            data={"version": str(item.version), "photos": [(io.BytesIO(PHOTO), "a.jpg")]})
    assert response.status_code == 400
    assert attachment_ids(site) == []


@pytest.mark.parametrize("who", ["riverside", "engineer"])
def test_a_file_is_404_for_another_estate_and_for_a_post_that_does_not_see_the_item(site, auth, client, who):
    item = visit(site)
    auth.login("frontdesk")
    post_files(auth, item, "record", {"photos": [("a.jpg", PHOTO)]})
    (file_id,) = attachment_ids(site)
    auth.logout()
    auth.login(who)
    for url in (f"/files/{file_id}", f"/files/{file_id}/thumbnail", "/files/" + "0" * 32, "/files/..%2F..%2Fx"):
        assert client.get(url).status_code == 404, url


def test_files_need_a_login(site, client):
    assert client.get("/files/" + "0" * 32).status_code in (302, 401)


def test_the_create_form_takes_files_too(site, auth, client):
    auth.login("frontdesk")
    page = client.get("/workflows/site_photos/new?estate=demo").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="reported" type="file" accept="image/jpeg' in page
    response = auth.post("/workflows/site_photos/new", {"estate": "demo", "unit": "3-1-502",
                                                        "reported": (io.BytesIO(PHOTO), "报事.jpg")})
    assert response.status_code == 302, response.get_data(as_text=True)
    item_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    with site.factory() as session:
        (row,) = session.scalars(select(Attachment))
    assert (row.item_id, row.field, row.filename, row.content_type) == (item_id, "reported", "报事.jpg", "image/jpeg")
    assert "报事.jpg" in client.get(f"/items/{item_id}").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 64 * 1024}])
def test_a_form_larger_than_the_request_bound_is_refused_before_it_is_read(site, auth, client, app):
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    item = visit(site)
    auth.login("frontdesk")
    response = post_files(auth, item, "record", {"photos": [("big.jpg", PHOTO * 8)]})
    assert response.status_code == 413
    assert attachment_ids(site) == []


def test_requests_are_bounded_by_default(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 60 * 1024 * 1024


def test_opening_a_file_is_in_the_access_log_and_the_pages_thumbnails_add_one_row_at_most(site, auth, client):
    item = visit(site)
    auth.login("frontdesk")
    post_files(auth, item, "record", {"photos": [("王丽家.jpg", PHOTO), ("b.jpg", PHOTO)]})
    first, second = attachment_ids(site)
    before = access_rows(site)
    client.get(f"/items/{item.id}")
    for file_id in (first, second):
        assert client.get(f"/files/{file_id}/thumbnail").status_code == 200
    # The page shows no personal field (no row of its own): its two thumbnails write one row.
    assert access_rows(site)[len(before):] == [("view", item.id, "查看事项的附件缩略图")]
    assert client.get(f"/files/{second}").status_code == 200
    *_, opened = access_rows(site)
    assert opened == ("view", item.id, "打开附件：现场照片（本事项第 2 个附件，照片）")
    assert client.get("/files/" + "0" * 32).status_code == 404
    assert access_rows(site)[-1] == opened  # nothing opened, nothing logged


def test_an_erased_file_is_listed_as_erased_and_no_longer_served(site, auth, client):
    from sqlalchemy import update

    item = visit(site)
    auth.login("frontdesk")
    post_files(auth, item, "record", {"photos": [("王丽家.jpg", PHOTO)]})
    (file_id,) = attachment_ids(site)
    with transaction(site.factory) as session:  # as engine/files/erasure.py leaves it
        session.execute(update(Attachment).values(erased_at=site.clock.now(), filename="（已删除）",
                                                  thumbnail_key=None, sha256=""))
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "照片已按住户要求删除（个人信息保护法）" in page and f"/files/{file_id}" not in page
    assert client.get(f"/files/{file_id}").status_code == 404


def test_a_personal_file_is_masked_for_a_post_that_sees_personal_data_masked(site, auth, client):
    item = visit(site)
    auth.login("cs_supervisor")
    assert post_files(auth, item, "finish", {"notice": [("王丽签字.pdf", PDF)]}, result="已整改").status_code == 302
    (notice,) = attachment_ids(site)
    assert f"/files/{notice}" in client.get(f"/items/{item.id}").get_data(as_text=True)
    auth.logout()
    auth.login("admin")  # sees the item (access.see) but not its personal data (access.personal)
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert f"/files/{notice}" not in page and "王丽签字.pdf" not in page and "1 个文件" in page
    assert client.get(f"/files/{notice}").status_code == 404
