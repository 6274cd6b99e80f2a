"""流程配置 › 试运行 and 发布: trying a draft against its workflow's scenarios, then publishing it.

    GET   /admin/workflows/try?path=P       the draft (else the published text) and an ad-hoc scenario to run
    POST  /admin/workflows/try              run the workflow's scenarios and the ad-hoc one (engine/cli/trying.py)
    GET   /admin/workflows/publish?path=P   the draft against the live text: the diff, the summary of a
                                            workflow or overlay, and the 说明 to publish it with
    POST  /admin/workflows/publish          publish the tree with the draft in place, as `estateflow publish`

Publishing writes the whole tree (engine/cli/publishing.py publish_files) inside the request's one
transaction: a draft with problems stores nothing and stays a draft, its problems listed as
`estateflow validate` prints them; a published draft is deleted and the page lists what was stored.
Scenarios run in throw-away databases, never this one. Admins only (permissions.may_author), 403 for
everyone else; CSRF on every POST (the global CSRFProtect).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, abort, render_template, request, url_for
from sqlalchemy import select
from werkzeug.routing import BuildError

from engine.cli import trying
from engine.cli.publishing import PublishOutcome, publish_files
from engine.errors import DefinitionError, Problem
from engine.language.diff import compare, grouped, text_diff
from engine.runtime import drafts
from engine.runtime.definition_files import CurrentFile, current_files, materialize, text_hash, valid_path
from engine.runtime.registry import REGISTRY
from engine.store.models import Draft, Estate
from engine.views import listing
from web import db
from web.auth import actor
from web.authoring import authors_only

bp = Blueprint("authoring_publish", __name__, url_prefix="/admin/workflows")

MAX_COMMENT = 500
COMMENT_MISSING = "请写明这次发布改了什么（说明会记在版本记录里）"
NO_DRAFT = "这个文件没有草稿：先在编辑器中修改并保存草稿。"


authors_only(bp)  # the editor's own rule: administrators only


def _path() -> str:
    """The file the page is about (query or form `path`): 404 when it is no place of the tree."""
    path = (request.values.get("path") or "").strip()
    if not valid_path(path):
        abort(404)
    return path


@bp.route("/try", methods=("GET", "POST"))
def try_page() -> str | tuple[str, int]:
    """Run the draft's scenarios (and the ad-hoc one) and show the results."""
    path = _path()
    session = db.session()
    draft, live = drafts.get_draft(session, path), current_files(session).get(path)
    text = draft.text if draft is not None else (live.text if live is not None else None)
    if text is None:
        abort(404)
    scenario, error, tried = None, None, None
    if request.method == "POST":
        scenario = request.form.get("scenario", "")
        if len(scenario) > trying.MAX_EXTRA_CHARS:
            error = f"临时场景过长（最多 {trying.MAX_EXTRA_CHARS} 个字符）"
        else:
            tried = trying.try_draft(session, path, text, extra=scenario)
    if scenario is None:
        scenario = trying.example_scenario(session, path, text)
    target = trying.draft_target(path)
    page = render_template("authoring/try.html", path=path, draft=draft, target=target, scenario=scenario,
                           error=error, tried=tried, limit=trying.MAX_SCENARIOS,
                           problems=[_problem_line(p, None) for p in tried.problems] if tried else [])
    return (page, 422) if error else page


@bp.get("/publish")
def review() -> str:
    """The draft's diff against the live text, its summary, and the form to publish it."""
    path = _path()
    session = db.session()
    return _review(path, drafts.get_draft(session, path), current_files(session).get(path))


def _review(path: str, draft: Draft | None, live: CurrentFile | None, *, comment: str = "",
            comment_error: str | None = None, problems: list[str] | None = None, moved: bool = False) -> str:
    summary, summary_error = None, None
    if draft is not None and _is_workflow(path):
        summary, summary_error = _summary(live.text if live else "", draft.text)
    stale = draft is not None and live is not None and (draft.base_version or 0) < live.version
    return render_template("authoring/review.html", path=path, draft=draft, live=live,
                           lines=text_diff(live.text if live else "", draft.text) if draft else (),
                           summary=summary, summary_error=summary_error, stale=stale, moved=moved,
                           comment=comment, comment_error=comment_error, problems=problems or [],
                           max_comment=MAX_COMMENT, edit_url=_link("authoring.edit", path=path),
                           draft_hash=text_hash(draft.text) if draft else "")


@bp.post("/publish")
def publish() -> str | tuple[str, int]:
    """Publish the tree with the draft in place; the draft is deleted once it is published."""
    path = _path()
    comment = (request.form.get("comment") or "").strip()[:MAX_COMMENT]
    session = db.session()
    draft, live = drafts.get_draft(session, path), current_files(session).get(path)
    if draft is None:
        return _review(path, None, live), 404
    if not comment:
        return _review(path, draft, live, comment_error=COMMENT_MISSING), 422
    with tempfile.TemporaryDirectory(prefix="estateflow-publish-") as temporary:
        try:
            with db.write() as writing:
                # Read again inside the transaction: the draft published is the one the page showed.
                draft, live = drafts.get_draft(writing, path), current_files(writing).get(path)
                if draft is None or _changed(draft, live):
                    raise _Changed
                folder = materialize(writing, Path(temporary), replace={path: draft.text})
                outcome = publish_files(writing, folder, by=actor().username, comment=comment,
                                        now=db.clock().now())
                drafts.discard_draft(writing, path)
        except DefinitionError as error:  # rolled back: nothing stored, the draft kept
            problems = [_problem_line(p, Path(temporary)) for p in error.problems]
            return _review(path, *_fresh(path), comment=comment, problems=problems), 422
        except _Changed:  # someone published the file, or saved the draft, after the page was shown
            return _review(path, *_fresh(path), comment=comment, moved=True), 409
    db.calendars().refresh()  # this process counts by a calendar it just published at once; others within their ttl
    return render_template("authoring/published.html", path=path, comment=comment, **_published(outcome))


def _fresh(path: str) -> tuple[Draft | None, CurrentFile | None]:
    """The draft and the live file as they are now (a new read: the write's objects went with its rollback)."""
    db.close_session()
    session = db.session()
    return drafts.get_draft(session, path), current_files(session).get(path)


class _Changed(Exception):
    """The draft or the live file is no longer the one the review page showed."""


def _changed(draft: Draft, live: CurrentFile | None) -> bool:
    return (request.form.get("live_version", "") != str(live.version if live else "")
            or request.form.get("draft_hash", "") != text_hash(draft.text))


def _is_workflow(path: str) -> bool:
    target = trying.draft_target(path)
    return target.workflow is not None and target.scenario is None


def _summary(old: str, new: str) -> tuple[Any, str | None]:
    """The summary of a workflow's or overlay's changes; a message instead when either text is no YAML mapping."""
    try:
        before, after = yaml.safe_load(old or "{}") or {}, yaml.safe_load(new) or {}
    except yaml.YAMLError:
        return None, "草稿不是有效的 YAML，无法列出改动摘要"
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None, "草稿不是一个映射，无法列出改动摘要"
    return grouped(compare(before, after, role_labels=listing.role_labels(db.session()))), None


def _problem_line(problem: Problem, folder: Path | None) -> str:
    """`file:line:col: path: message` with the file named by its path in the tree, never the temporary folder."""
    name = problem.file
    for root in {str(folder), str(folder.resolve())} if folder else ():
        if name.startswith(root + "/"):
            name = name[len(root) + 1:]
    return str(Problem(name, problem.line, problem.column, problem.path, problem.message, problem.code))


def _published(outcome: PublishOutcome) -> dict[str, Any]:
    """The rows of the result page: what changed, with links to the versions and migration pages."""
    session = db.session()
    # Titles and estate names, never ids: the page is read by administrators, not by developers.
    names = dict(session.execute(select(Estate.id, Estate.name)).tuples().all())
    workflows = [{"title": REGISTRY.compiled(session, w.id, w.content_hash).title,
                  "estate": names.get(w.estate_id, w.estate_id), "version": w.version,
                  "versions_url": _link("versions.index", workflow_id=w.workflow_id, estate=w.estate_id or None),
                  "migrate_url": _link("migrations.show", workflow_id=w.workflow_id, estate=w.estate_id or None)}
                 for w in outcome.workflows if w.created]
    return {"workflows": workflows, "estate_names": names, "routing": [r for r in outcome.routing if r.created],
            "reports": [r for r in outcome.reports if r.created], "files": outcome.files,
            "files_url": _link("authoring.files")}


def _link(endpoint: str, **values: Any) -> str | None:
    """The URL of another part's page, or None while it is not there (the link is left out)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None
