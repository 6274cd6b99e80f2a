"""管理 › 导入与导出: a preview before anything is written, every problem as `ROW: column: message`, the confirm
button writes all or nothing, a second import changes nothing; exports in the import's columns."""

from __future__ import annotations

import io
import re

import pytest
from _org import Browser, app, browser, org, org_template, text_of  # noqa: F401 (fixtures: app, org, org_template...)
from openpyxl import load_workbook

from engine.store.models import AccessLog, Resident, Unit, User

UNITS = ("estate,building,unit,owner_name,owner_phone,area_m2,tags\r\n"
         "demo,9,9-1-101,周杰,13511112222,88.5,VIP\r\n"
         "demo,9,9-1-102,吴芳,13511113333,,\r\n")
PAYLOAD = re.compile(r'name="payload" value="([^"]*)"')


@pytest.fixture
def manager(app):
    browser = Browser(app.test_client())
    browser.login("manager")
    return browser


def upload(browser, text, kind="units", filename="units.csv", encoding="utf-8-sig"):
    data = text.encode(encoding) if isinstance(text, str) else text
    return browser.client.post("/admin/import", data={"kind": kind, "csrf_token": browser.token("/admin/import"),
                                                      "file": (io.BytesIO(data), filename)},
                               content_type="multipart/form-data")


def confirm(browser, preview, kind="units", filename="units.csv"):
    [payload] = PAYLOAD.findall(text_of(preview))
    return browser.post("/admin/import/confirm", {"kind": kind, "filename": filename, "payload": payload},
                        token_from="/admin/import")


def test_the_preview_shows_the_rows_and_writes_nothing_until_confirmed(manager, org):
    preview = upload(manager, UNITS)
    page = text_of(preview)
    assert preview.status_code == 200 and "新增 2 行" in page and "9-1-101" in page and "确认导入" in page
    assert org.rows(Unit, Unit.number.like("9-%")) == []
    done = confirm(manager, preview)
    assert done.status_code == 200 and "已导入" in text_of(done)
    assert sorted(u.number for u in org.rows(Unit, Unit.number.like("9-%"))) == ["9-1-101", "9-1-102"]
    assert {r.name for r in org.rows(Resident, Resident.name.in_(["周杰", "吴芳"]))} == {"周杰", "吴芳"}


def test_importing_the_same_file_again_changes_nothing(manager, org):
    confirm(manager, upload(manager, UNITS))
    again = text_of(upload(manager, UNITS))
    assert "新增 0 行" in again and "不变 2 行" in again


def test_a_gb18030_file_as_excel_saves_it_is_read(manager):
    page = text_of(upload(manager, UNITS, encoding="gb18030"))
    assert "周杰" in page and "新增 2 行" in page


def test_every_problem_is_listed_by_row_and_column_and_nothing_can_be_confirmed(manager, org):
    bad = ("estate,building,unit,owner_name,owner_phone\r\n"
           "demo,9,9-1-101,周杰,12345\r\n"
           "riverside,8,8-1-102,赵六,13700003333\r\n")
    response = upload(manager, bad)
    page = text_of(response)
    assert response.status_code == 422
    assert "2: owner_phone: " in page and "3: estate: " in page
    assert "确认导入" not in page and 'name="payload"' not in page
    assert org.rows(Unit, Unit.number.like("9-%")) == []


def test_a_missing_column_is_a_problem_of_row_one(manager):
    page = text_of(upload(manager, "estate,building,unit\r\ndemo,9,9-1-101\r\n"))
    assert "1: owner_name: 缺少这一列" in page


def test_a_confirmation_that_no_longer_holds_writes_nothing(manager, org, app):
    preview = upload(manager, UNITS)
    [payload] = PAYLOAD.findall(text_of(preview))
    forged = (UNITS + "riverside,8,8-1-109,赵六,13700003333\r\n").encode("utf-8")
    import base64
    response = manager.post("/admin/import/confirm", {"kind": "units", "filename": "units.csv",
                                                      "payload": base64.b64encode(forged).decode()},
                            token_from="/admin/import")
    assert response.status_code == 422 and payload
    assert org.rows(Unit, Unit.number.like("9-%")) == []


def test_a_users_import_shows_each_new_users_one_time_password_once(manager, org):
    text = "username,name,estate,roles,phone,email\r\nzhoujie,周杰,demo,housekeeper,,\r\n"
    preview = upload(manager, text, kind="users", filename="users.csv")
    done = confirm(manager, preview, kind="users", filename="users.csv")
    assert "一次性密码" in text_of(done) and "zhoujie" in text_of(done)
    [user] = org.rows(User, User.username == "zhoujie")
    assert user.must_change_password is True


def test_only_csv_and_xlsx_files_are_taken(manager):
    response = upload(manager, "hello", filename="notes.txt")
    assert response.status_code == 422 and ".csv 或 .xlsx" in text_of(response)


def test_the_import_needs_the_csrf_token(manager, org):
    response = manager.client.post("/admin/import", data={"kind": "units", "file": (io.BytesIO(UNITS.encode()),
                                                                                     "units.csv")},
                                   content_type="multipart/form-data")
    assert response.status_code == 400


def test_the_units_export_imports_back_unchanged_and_is_logged(manager, org):
    response = manager.get("/admin/export/download?kind=units&estate=demo&format=csv")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    exported = response.get_data()
    assert "王丽".encode() in exported
    page = text_of(upload(manager, exported, filename="units-demo.csv"))
    assert "新增 0 行" in page and "修改 0 行" in page
    assert [r.kind for r in org.rows(AccessLog, AccessLog.kind == "export")] == ["export"]


def test_the_staff_export_as_xlsx(manager):
    response = manager.get("/admin/export/download?kind=users&estate=demo&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "李前台" in names and "滨江前台" not in names


def test_no_export_of_another_estate(manager):
    assert manager.get("/admin/export/download?kind=units&estate=riverside&format=csv").status_code == 404
