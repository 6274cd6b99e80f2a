"""POST /admin/workflows/validate: the problems of a posted text, as `estateflow validate` reports them.

The answer is `{"problems": [{"line", "column", "path", "message"}]}`, lines and columns 1-based in the
posted text; the rest of the published tree is the one the text is checked with. Admins only, CSRF on.
On SQLite and, with ESTATEFLOW_TEST_PG_URL, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _backends import BACKENDS, app_with_files
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from engine.cli.main import main
from engine.runtime.definition_files import current_files, folder_files

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
URL = "/admin/workflows/validate"

on_both = pytest.mark.parametrize("site", BACKENDS, indirect=True)


@pytest.fixture
def site(request: pytest.FixtureRequest, clock) -> Iterator[Flask]:
    """The seeded app whose database holds the shipped definitions folder as published files: on SQLite,
    or on each backend for a test marked `@on_both` (PostgreSQL seeds per test, which is slow)."""
    with app_with_files(request, getattr(request, "param", "sqlite"), clock, SHIPPED) as app:
        yield app


@pytest.fixture
def admin(site: Flask, browser: Callable[..., Any]) -> Any:
    """The demo admin logged in on `site` (conftest's AuthActions)."""
    auth = browser(on=site)
    auth.login("admin")
    return auth


def live(site: Flask, path: str) -> str:
    with site.extensions["estateflow.db"].reader() as session:
        return current_files(session)[path].text


def check(auth: Any, **form: str) -> list[dict]:
    response = auth.client.post(URL, data=form, headers={"X-CSRFToken": auth.token("/admin/workflows")})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_json
    assert set(response.json) == {"problems"}
    return response.json["problems"]


def test_the_published_workflow_has_no_problems(site: Flask, admin: Any) -> None:
    assert check(admin, source=live(site, "complaint.yaml"), kind="workflow", path="complaint.yaml") == []


SMALL = """id: probe
title: 试验流程
states:
  open: {label: 已登记, initial: true}
  done: {label: 已完成, final: true}
transitions:
  - {name: finish, label: 完成, from: open, to: done, roles: [frontdesk]}
"""


def test_a_small_valid_workflow_has_no_problems(admin: Any) -> None:
    assert check(admin, source=SMALL, kind="workflow", path="probe.yaml") == []


@on_both
def test_a_broken_line_is_reported_at_its_line_and_column_with_its_path(site: Flask, admin: Any) -> None:
    broken = SMALL.replace("initial: true", "initial: maybe")
    problems = check(admin, source=broken, kind="workflow", path="probe.yaml")
    assert {"line": 4, "column": 31, "path": "states.open.initial", "message": "must be true or false, not a text"} \
        in problems
    assert all(set(p) == {"line", "column", "path", "message"} for p in problems)


def test_the_same_messages_as_estateflow_validate(site: Flask, admin: Any, tmp_path: Path) -> None:
    broken = live(site, "complaint.yaml").replace("initial: true", "initial: maybe", 1)
    folder = tmp_path / "workflows"
    for path, text in folder_files(SHIPPED).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(broken if path == "complaint.yaml" else text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(folder / "complaint.yaml"), "--workflows", str(folder)])
    file = f"{folder / 'complaint.yaml'}:"
    printed = sorted(line.removeprefix(file) for line in result.output.splitlines() if line.startswith(file))
    answered = check(admin, source=broken, kind="workflow", path="complaint.yaml")
    assert printed and printed == sorted(f"{p['line']}:{p['column']}: {p['path'] or '(document)'}: {p['message']}"
                                         for p in answered)


def test_a_yaml_syntax_error_is_one_problem_at_its_line(admin: Any) -> None:
    problems = check(admin, source="id: complaint\ntitle: 投诉\nstates: [\n", kind="workflow")
    assert len(problems) == 1
    assert problems[0]["line"] == 4 and problems[0]["path"] == ""
    assert "YAML syntax error" in problems[0]["message"]


def test_an_empty_text_is_one_problem(admin: Any) -> None:
    assert check(admin, source="", kind="workflow", path="complaint.yaml") == [
        {"line": 1, "column": 1, "path": "", "message": "the file is empty"}]


def test_line_ends_from_a_browser_count_as_one_line(site: Flask, admin: Any) -> None:
    text = "id: complaint\r\ntitle: 投诉\r\nstates: [\r\n"
    assert check(admin, source=text, kind="workflow")[0]["line"] == 4


def test_a_workflow_without_a_path_is_checked_under_its_id(site: Flask, admin: Any) -> None:
    assert check(admin, source=live(site, "repair.yaml"), kind="workflow") == []


@on_both
def test_an_overlay_is_checked_against_its_base_and_only_its_own_problems_are_kept(site: Flask,
                                                                                  admin: Any) -> None:
    overlay = live(site, "estates/plaza/complaint.yaml")
    assert check(admin, source=overlay, kind="overlay", estate="plaza", workflow="complaint") == []
    broken = overlay + "\nstates:\n  nowhere_state: {label: 无处可去}\n" if "\nstates:" not in overlay else \
        overlay.replace("\nstates:\n", "\nstates:\n  nowhere_state: {label: 无处可去}\n", 1)
    problems = check(admin, source=broken, kind="overlay", estate="plaza", path="estates/plaza/complaint.yaml")
    assert problems and any("nowhere_state" in p["path"] or "nowhere_state" in p["message"] for p in problems)


def test_an_overlay_of_an_unknown_workflow_names_the_missing_file_by_its_tree_path(admin: Any) -> None:
    problems = check(admin, source="states: {}\n", kind="overlay", estate="plaza", workflow="nosuch")
    assert [p["message"] for p in problems] == ["overlay of an unknown workflow: there is no nosuch.yaml"]


def test_a_calendar_a_routing_table_and_a_report_are_checked_as_their_kind(site: Flask,
                                                                          admin: Any) -> None:
    assert check(admin, source=live(site, "calendar.yaml"), kind="calendar") == []
    assert check(admin, source=live(site, "estates/demo/_routing.yaml"), kind="routing", estate="demo") == []
    assert check(admin, source=live(site, "reports/workload.yaml"), kind="report") == []
    calendar = check(admin, source="nonsense: 1\n", kind="calendar")
    assert [(p["line"], p["path"]) for p in calendar] == [(1, "nonsense")]
    report = live(site, "reports/workload.yaml").replace("workflows:", "workflows: [no_such_workflow]\nx_old:", 1)
    assert check(admin, source=report, kind="report")


def test_a_path_outside_the_tree_or_a_kind_without_its_estate_is_a_bad_request(admin: Any) -> None:
    headers = {"X-CSRFToken": admin.token("/admin/workflows")}
    for form in ({"source": "x: 1", "path": "../etc/passwd.yaml"}, {"source": "x: 1", "kind": "routing"},
                 {"source": "x: 1", "kind": "nonsense"}, {"source": "x: 1", "kind": "overlay", "estate": "../x"}):
        assert admin.client.post(URL, data=form, headers=headers).status_code == 400


def test_a_post_without_the_csrf_token_is_refused(admin: Any) -> None:
    assert admin.client.post(URL, data={"source": "id: x\n", "kind": "workflow"}).status_code == 400


def test_the_csrf_token_is_on_every_logged_in_page_for_scripts(admin: Any) -> None:
    page = admin.client.get("/").get_data(as_text=True)
    assert '<meta name="csrf-token" content="' in page


@pytest.mark.parametrize("username", ["cs_manager", "frontdesk"])
def test_only_admins_may_validate(site: Flask, browser: Callable[..., Any], username: str) -> None:
    other = browser(on=site)
    other.login(username)
    response = other.client.post(URL, data={"source": "id: x\n", "kind": "workflow"},
                                 headers={"X-CSRFToken": other.token("/")})
    assert response.status_code == 403
    assert not response.is_json


def test_a_visitor_is_sent_to_the_login_page(site: Flask) -> None:
    client: FlaskClient = site.test_client()
    assert client.get("/admin/workflows").status_code == 302


def test_validate_skips_the_scenarios_folder(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    for path, text in folder_files(SHIPPED).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    (folder / "scenarios" / "complaint" / "broken.yaml").write_text("steps: [\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "scenarios" not in result.output
