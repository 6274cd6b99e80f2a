"""Trying a draft before publishing it: the browser's 试运行 (web/authoring_publish.py).

    try_draft(session, path, text, extra=None)   the scenarios of the workflow the draft belongs to, run
                                                 against the published tree with the draft in its place
    example_scenario(session, path, text)        a short scenario to start an ad-hoc one from
    draft_target(path)                           which workflow (and estate, and scenario file) a path tries

A workflow's scenarios live in the definitions tree, `scenarios/<workflow>/*.yaml`, published with it. A
workflow file runs all of them; an overlay `estates/<e>/<id>.yaml` those that name its estate (the others
never see it); a scenario file runs itself. The scenarios run in a child process (`python -m
engine.cli.trying`) through the scenario runner (engine.cli.scenarios.run_paths), each on a throw-away
SQLite database: the runner points ESTATEFLOW_FILES_DIR at a folder of its own while a scenario runs and
caches compiled definitions per folder, neither of which a threaded web worker may share, and a child can
be stopped when it takes too long.

The texts tried are an administrator's, stored in the database: a scenario may only name a workflow by
its id and attach no files, so trying one never reads a file of the server outside the tree.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from engine.errors import DefinitionError, Problem
from engine.language.loader import ESTATES_DIR, NOT_WORKFLOWS, SCENARIOS_DIR, Loader
from engine.language.source import read_yaml

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["AD_HOC_NAME", "MAX_EXTRA_CHARS", "MAX_SCENARIOS", "TRY_SECONDS", "Outcome", "Target", "TryResult",
           "draft_target", "example_scenario", "try_draft"]

_log = logging.getLogger(__name__)
MAX_SCENARIOS = 60
"""At most this many scenario files run per try (the largest shipped workflow has 36)."""
MAX_EXTRA_CHARS = 20_000
"""The ad-hoc scenario's size limit: a few dozen steps, far more than anyone types on a page."""
TRY_SECONDS = 40.0
"""The child process is stopped after this long (the web server restarts a request's worker after 60 s)."""
AD_HOC_NAME = "临时场景"
_AD_HOC_FILE = "ad_hoc.yaml"


@dataclass(frozen=True)
class Target:
    """What a path of the tree tries: its workflow, the estate of an overlay, or one scenario file."""

    workflow: str | None
    estate: str | None = None
    scenario: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One scenario's result: its name, file (tree path, or None for the ad-hoc one), and the runner's lines."""

    name: str
    file: str | None
    passed: bool
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class TryResult:
    """A try: the draft's problems (nothing ran), or the results; `not_run` counts scenarios left out
    (beyond MAX_SCENARIOS, or when time ran out)."""

    target: Target
    results: tuple[Outcome, ...] = ()
    problems: tuple[Problem, ...] = ()
    not_run: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether the draft validates, something ran, and every scenario passed."""
        return not self.problems and bool(self.results) and all(r.passed for r in self.results) and not self.not_run


def draft_target(path: str) -> Target:
    """The workflow a tree path belongs to: `<id>.yaml`, `estates/<e>/<id>.yaml`, `scenarios/<id>/<name>.yaml`."""
    parts = PurePosixPath(path).parts
    stem = PurePosixPath(path).stem
    if len(parts) == 1 and parts[0] not in NOT_WORKFLOWS:
        return Target(stem)
    if len(parts) == 3 and parts[0] == ESTATES_DIR and not parts[2].startswith("_") \
            and parts[2] not in NOT_WORKFLOWS:
        return Target(stem, estate=parts[1])
    if len(parts) == 3 and parts[0] == SCENARIOS_DIR:
        return Target(parts[1], scenario=path)
    return Target(None)


def try_draft(session: Session, path: str, text: str, *, extra: str | None = None,
              limit: int = MAX_SCENARIOS, seconds: float = TRY_SECONDS) -> TryResult:
    """Run the scenarios of the workflow `path` belongs to, and `extra` (an ad-hoc scenario), against the
    published tree with `text` as `path`. A draft with problems (those `estateflow validate` reports) runs
    nothing: the result holds its problems."""
    from engine.cli.checking import check_text  # the runtime (and the store) load only when asked
    from engine.runtime.definition_files import materialize

    started = time.monotonic()
    target = draft_target(path)
    problems = _scenario_problems(path, text) if target.scenario else check_text(session, path, text)
    if problems:
        return TryResult(target, problems=tuple(problems), seconds=time.monotonic() - started)
    with tempfile.TemporaryDirectory(prefix="estateflow-try-") as temporary:
        folder = materialize(session, Path(temporary) / "tree", replace={path: text})
        files = _scenarios_of(folder, target)
        chosen, not_run = files[:limit], max(0, len(files) - limit)
        if extra and extra.strip():
            ad_hoc = Path(temporary) / _AD_HOC_FILE
            ad_hoc.write_text(extra[:MAX_EXTRA_CHARS], encoding="utf-8")
            chosen = [ad_hoc, *chosen]
        names = {str(p): (None if p.name == _AD_HOC_FILE and p.parent == Path(temporary)
                          else p.relative_to(folder).as_posix()) for p in chosen}
        refused = {p: _refusal(p) for p in chosen}
        runnable = [p for p in chosen if refused[p] is None]
        ran = {r["file"]: r for r in _run_isolated(folder, runnable, seconds - (time.monotonic() - started))}
        results: list[Outcome] = []
        for scenario in chosen:
            tree_path = names[str(scenario)]
            if refused[scenario] is not None:
                results.append(Outcome(_name_of(scenario), tree_path, False, (str(refused[scenario]),)))
            elif str(scenario) in ran:
                results.append(_outcome(ran[str(scenario)], tree_path))
            else:
                not_run += 1
    return TryResult(target, tuple(results), not_run=not_run, seconds=time.monotonic() - started)


def _scenario_problems(path: str, text: str) -> list[Problem]:
    """A scenario file's own problems are its YAML's; the runner reports the rest as a failed scenario."""
    return read_yaml(text, path)[2]


def _scenarios_of(folder: Path, target: Target) -> list[Path]:
    if target.workflow is None:
        return []
    if target.scenario:
        return [folder / target.scenario]
    files = sorted((folder / SCENARIOS_DIR / target.workflow).glob("*.yaml"))
    if target.estate is None:
        return files
    return [f for f in files if _document(f).get("estate") == target.estate]


def _document(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


def _name_of(path: Path) -> str:
    name = _document(path).get("name")
    return name if isinstance(name, str) else (AD_HOC_NAME if path.name == _AD_HOC_FILE else path.stem)


def _refusal(path: Path) -> str | None:
    """Why a scenario may not run here: it names a workflow file by its path, or attaches a file."""
    document = _document(path)
    workflow = document.get("workflow")
    if isinstance(workflow, str) and ("/" in workflow or workflow.endswith((".yaml", ".yml"))):
        return "试运行时场景只能用编号指定流程（workflow: complaint），不能写文件路径"
    steps = document.get("steps")
    if isinstance(steps, list) and any(_attaches(step) for step in steps):
        return "试运行不支持附件（{file: ...}）：请在命令行用 estateflow test 运行这个场景"
    return None


def _attaches(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"file"} or any(_attaches(v) for v in value.values())
    if isinstance(value, list):
        return any(_attaches(v) for v in value)
    return False


def _outcome(raw: Mapping[str, Any], tree_path: str | None) -> Outcome:
    failure = raw.get("failure")
    lines = tuple(str(failure).splitlines()) if failure else ()
    return Outcome(str(raw.get("name", "")), tree_path, failure is None, lines)


def _run_isolated(folder: Path, files: list[Path], seconds: float) -> list[dict[str, Any]]:
    """Run `files` in a child process; the results of those that finished within `seconds`."""
    if not files:
        return []
    command = [sys.executable, "-m", "engine.cli.trying", str(folder), *(str(f) for f in files)]
    try:
        finished = subprocess.run(command, capture_output=True, timeout=max(1.0, seconds), check=False)
        output = finished.stdout
        if finished.returncode != 0:
            _log.error("trying scenarios failed (exit %s): %s", finished.returncode,
                       finished.stderr.decode("utf-8", "replace")[-2000:])
    except subprocess.TimeoutExpired as stopped:  # the child is killed; keep what it reported so far
        output = stopped.stdout or b""
    return list(_parse(output))


def _parse(output: bytes) -> Iterator[dict[str, Any]]:
    for line in output.decode("utf-8", "replace").splitlines():
        try:
            result = json.loads(line)
        except ValueError:
            continue
        if isinstance(result, dict) and isinstance(result.get("file"), str):
            yield result


def example_scenario(session: Session, path: str, text: str) -> str:
    """A short ad-hoc scenario for the workflow of `path` with `text` in place: create as a role that may,
    then one step from the initial state. A plain skeleton when the draft does not compile."""
    from engine.runtime.definition_files import materialize

    target = draft_target(path)
    workflow = target.workflow or "complaint"
    estate = target.estate or "demo"
    document: dict[str, Any] = {"name": AD_HOC_NAME, "workflow": workflow, "estate": estate}
    try:
        with tempfile.TemporaryDirectory(prefix="estateflow-example-") as temporary:
            folder = materialize(session, Path(temporary), replace={} if target.scenario else {path: text})
            definition = Loader(folder).load(folder / f"{workflow}.yaml", estate=estate)
    except (DefinitionError, OSError, ValueError):
        document["steps"] = [{"create": {}, "as": "frontdesk"}]
        return _dump(document)
    initial = next((s.name for s in definition.states.values() if s.initial), "")
    create = {n: _sample(f) for n, f in definition.fields.items() if f.required and f.type != "file"}
    steps: list[dict[str, Any]] = [{"create": create, "as": (definition.create_roles or ("system",))[0],
                                    "expect": {"state": initial}}]
    steps_out = [t for t in definition.transitions if initial in t.sources and t.when is None and t.roles]
    # A step that carries the item on, rather than one staying or closing it.
    steps_out.sort(key=lambda t: (t.dest == initial, t.dest not in definition.states
                                  or definition.states[t.dest].final))
    step = next(iter(steps_out), None)
    if step is not None:
        data = {n: _sample(definition.fields[n]) for n in step.require
                if n in definition.fields and definition.fields[n].type != "file"}
        fire: dict[str, Any] = {"fire": step.name, "as": step.roles[0]}
        if data:
            fire["data"] = data
        fire["expect"] = {"state": step.dest}
        steps.append(fire)
    document["steps"] = steps
    return _dump(document)


def _sample(field: Any) -> Any:
    """A value of the field's type that a create or a step accepts."""
    if field.type == "enum":
        return next(iter(field.options), "")
    if field.type == "user":
        return (field.roles or ("frontdesk",))[0]  # the runner makes a user named like the role
    return {"integer": 1, "decimal": "1", "boolean": True, "date": "2026-03-02", "phone": "13800000000",
            "datetime": "2026-03-02T10:00:00+08:00", "unit": "3-1-502"}.get(field.type, "示例")


def _dump(document: Mapping[str, Any]) -> str:
    """The scenario as administrators write one: a step per block, its data on one line."""
    lines = [f"{key}: {_inline(document[key])}" for key in ("name", "workflow", "estate")]
    lines.append("steps:")
    for step in document["steps"]:
        for number, (key, value) in enumerate(step.items()):
            lines.append(f"{'  - ' if number == 0 else '    '}{key}: {_inline(value)}")
    return "\n".join(lines) + "\n"


def _inline(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, default_flow_style=True,
                          width=1_000_000).strip().removesuffix("...").strip()


def main(argv: list[str]) -> int:
    """The child process: `python -m engine.cli.trying FOLDER FILE...`, one JSON line per result."""
    from engine.cli.scenarios import run_paths

    folder, files = Path(argv[0]), [Path(f) for f in argv[1:]]
    for result in run_paths(files, workflows_dir=folder):
        # ASCII JSON: the child's stdout may have no UTF-8 locale
        sys.stdout.write(json.dumps({"name": result.name, "file": result.file, "failure": result.failure}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
