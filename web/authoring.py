"""流程配置: administrators edit the definitions tree in the browser, checked as they type, kept as drafts.

    GET   /admin/workflows                 the tree's files by kind, their drafts; a form for a new file
    GET   /admin/workflows/new?path=P      a new file's path checked, then its editor
    GET   /admin/workflows/edit?path=P     the editor: the draft, else the published text, with its problems
    POST  /admin/workflows/validate        JSON {"problems": [...]} of a posted text (the editor's script)
    POST  /admin/workflows/draft           save the draft of P
    GET   /admin/workflows/draft.yaml?path=P   download the draft (else the published text) as a file
    POST  /admin/workflows/draft/discard   throw the draft of P away

The database holds the published files (engine/runtime/definition_files.py), written by
`estateflow publish` and by publishing here (web/authoring_publish.py, which also tries a draft);
the problems are those `estateflow validate` reports (engine/cli/checking.py `check_text`). Admins only
(permissions.may_author): 403 for everyone else, CSRF on every POST (the global CSRFProtect; the
script sends the token as X-CSRFToken). The page works without its script: saving posts the form and
the page then lists the saved text's problems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from engine.access import permissions
from engine.cli.checking import check_text
from engine.errors import Problem
from engine.language.loader import SCENARIOS_DIR
from engine.runtime import drafts
from engine.runtime.definition_files import CurrentFile, current_files, valid_path
from engine.store.models import Draft
from web import db
from web.auth import actor, login_manager

bp = Blueprint("authoring", __name__, url_prefix="/admin/workflows")

GROUPS = (  # (group, title): the order the files page lists them in
    ("workflow", "流程"), ("overlay", "小区差异"), ("calendar", "日历"), ("routing", "派单规则"),
    ("report", "报表"), ("messages", "短信模板"), ("roles", "角色"), ("scenario", "试运行场景"),
)
TITLES = dict(GROUPS)
_ID = re.compile(r"^id:[ \t]*['\"]?([a-z][a-z0-9_]*)['\"]?[ \t]*(?:#.*)?$", re.MULTILINE)
_NAME = re.compile(r"^[a-z0-9_-]+$")


def authors_only(blueprint: Blueprint) -> None:
    """Let only administrators (permissions.may_author) into `blueprint`: the login page for a visitor,
    403 for the rest."""

    def check() -> Response | None:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()  # type: ignore[no-any-return]
        if not permissions.may_author(actor()):
            abort(403)
        return None

    blueprint.before_request(check)


authors_only(bp)


def group_of(path: str) -> str:
    """Which list of the files page a tree path belongs to (one of GROUPS)."""
    parts = PurePosixPath(path).parts
    name = parts[-1]
    if parts[0] == SCENARIOS_DIR:
        return "scenario"
    if path == "roles.yaml":
        return "roles"
    if name == "calendar.yaml" or (len(parts) > 1 and parts[-2] == "calendars"):
        return "calendar"
    if len(parts) > 1 and parts[-2] == "reports":
        return "report"
    if name in ("messages.yaml", "_messages.yaml"):
        return "messages"
    if name == "_routing.yaml":
        return "routing"
    return "overlay" if parts[0] == "estates" else "workflow"


# -- the files page ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileRow:
    """One line of the files page: a published file, a draft of it, or a draft of a new file."""

    path: str
    live: CurrentFile | None
    draft: Draft | None


@bp.get("")
def files() -> str:
    """The tree's files grouped by kind, each with its version, who published it and when, and its draft."""
    return _files_page()


@bp.get("/new")
def new() -> str | Response | tuple[str, int]:
    """Open the editor on a new file once its path is one the tree knows (else say why, by the field)."""
    path = request.args.get("path", "").strip()
    error = _path_problem(path)
    if error:
        return _files_page(new_path=path, new_error=error), 422
    return redirect(url_for(".edit", path=path))


def _files_page(new_path: str = "", new_error: str | None = None) -> str:
    session = db.session()
    live = current_files(session)
    pending = {draft.path: draft for draft in drafts.list_drafts(session)}
    grouped: dict[str, list[FileRow]] = {group: [] for group, _ in GROUPS}
    for path in sorted(live):
        grouped[group_of(path)].append(FileRow(path, live[path], pending.get(path)))
    new_files = [FileRow(path, None, draft) for path, draft in pending.items() if path not in live]
    return render_template("authoring/files.html", groups=[(g, TITLES[g], rows) for g, rows in grouped.items() if rows],
                           new_files=new_files, empty=not live, new_path=new_path, new_error=new_error)


def _path_problem(path: str) -> str | None:
    """Why `path` cannot be a new file of the tree, in Chinese; None when it can."""
    if not path:
        return "请填写文件路径"
    if not valid_path(path):
        return ("路径无效：用小写字母、数字、- 和 _，以 .yaml 结尾，放在流程配置认识的位置，"
                "如 repair.yaml、estates/plaza/complaint.yaml、reports/weekly.yaml")
    return None


# -- the editor --------------------------------------------------------------------------------


@bp.get("/edit")
def edit() -> str:
    """The editor on the draft of `path`, else its published text (a new file starts empty)."""
    path = _requested_path(request.args)
    session = db.session()
    live = current_files(session).get(path)
    draft = drafts.get_draft(session, path)
    text = draft.text if draft else live.text if live else ""
    problems = check_text(session, path, text)
    kind = group_of(path)
    return render_template("authoring/edit.html", path=path, kind=kind, group=TITLES[kind], live=live,
                           draft=draft, text=text, problems=problems, lines=_line_count(text),
                           marked=_marked_lines(problems), estate=_estate_of(path),
                           stale=bool(draft and live and (draft.base_version or 0) < live.version),
                           try_url=_link("authoring_publish.try_page", path=path),
                           publish_url=_link("authoring_publish.review", path=path))


@bp.post("/validate")
def validate() -> Response | tuple[Response, int]:
    """The problems of the posted `source`, as `estateflow validate` reports them, as JSON:
    `{"problems": [{"line", "column", "path", "message"}]}`, lines and columns 1-based in `source`."""
    source = _posted_text()
    if len(source) > drafts.MAX_DRAFT_CHARS:
        abort(413)
    path = _validated_path(request.form, source)
    if path is None:
        abort(400)
    return jsonify({"problems": [_as_json(p) for p in check_text(db.session(), path, source)]})


@bp.post("/draft")
def save() -> Response:
    """Save the posted text as the draft of `path` and come back to the editor."""
    path = _requested_path(request.form)
    base = request.form.get("base_version", "")
    live = current_files(db.session()).get(path)
    base_version = int(base) if base.isdigit() else live.version if live else None
    with db.write() as session:
        drafts.save_draft(session, path, _posted_text(), actor(), db.clock().now(), base_version)
    flash("草稿已保存", "ok")
    return redirect(url_for(".edit", path=path))


@bp.get("/draft.yaml")
def download() -> Response:
    """The draft of `path` (else its published text) as a YAML file to keep under version control."""
    path = _requested_path(request.args)
    session = db.session()
    draft = drafts.get_draft(session, path)
    live = current_files(session).get(path)
    text = draft.text if draft else live.text if live else None
    if text is None:
        abort(404)
    name = PurePosixPath(path).name  # valid_path: [a-z0-9_-] and .yaml, nothing to quote
    return Response(text, content_type="text/yaml; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.post("/draft/discard")
def discard() -> Response:
    """Throw the draft of `path` away; the published text stays."""
    path = _requested_path(request.form)
    with db.write() as session:
        discarded = drafts.discard_draft(session, path)
    flash("草稿已放弃" if discarded else "没有草稿可放弃", "ok")
    return redirect(url_for(".files"))


# -- helpers -----------------------------------------------------------------------------------


def _requested_path(values: Mapping[str, str]) -> str:
    path = values.get("path", "")
    if not valid_path(path):
        abort(404)
    return path


def _posted_text() -> str:
    # Browsers send a textarea's (and a FormData's) line ends as CRLF; the files and `estateflow validate`
    # count LF lines, and the editor shows them.
    return request.form.get("source", "").replace("\r\n", "\n")


def _validated_path(form: Mapping[str, str], source: str) -> str | None:
    """The tree path the posted text is checked as: `path` when given, else made from `kind`, `estate`
    (overlays, routing, an estate's calendar, report or messages), `workflow` (overlays) and the text's `id`."""
    if form.get("path"):
        return form["path"] if valid_path(form["path"]) else None
    kind, estate, workflow = form.get("kind", ""), form.get("estate", ""), form.get("workflow", "")
    if estate and not _NAME.match(estate):
        return None
    own = f"estates/{estate}/" if estate else ""
    match = _ID.search(source)
    named = match.group(1) if match else None
    paths = {
        "workflow": f"{named or 'new_workflow'}.yaml",
        "overlay": f"estates/{estate}/{workflow or named}.yaml" if estate and (workflow or named) else None,
        "calendar": f"{own}calendar.yaml",
        "routing": f"estates/{estate}/_routing.yaml" if estate else None,
        "report": f"{own}reports/{named or 'new_report'}.yaml",
        "messages": f"estates/{estate}/_messages.yaml" if estate else "messages.yaml",
    }
    path = paths.get(kind)
    return path if path and valid_path(path) else None


def _as_json(problem: Problem) -> dict[str, Any]:
    return {"line": problem.line, "column": problem.column, "path": ".".join(str(p) for p in problem.path),
            "message": problem.message}


def _line_count(text: str) -> int:
    return text.count("\n") + 1


def _marked_lines(problems: list[Problem]) -> dict[int, str]:
    """Line → the messages of its problems, for the gutter's marks."""
    marked: dict[int, list[str]] = {}
    for problem in problems:
        marked.setdefault(problem.line, []).append(problem.message)
    return {line: "\n".join(messages) for line, messages in marked.items()}


def _estate_of(path: str) -> str:
    parts = PurePosixPath(path).parts
    return parts[1] if parts[0] == "estates" and len(parts) > 2 else ""


def _link(endpoint: str, **values: Any) -> str | None:
    """The URL of another part's page, or None while that page is not there (the button is left out)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None

