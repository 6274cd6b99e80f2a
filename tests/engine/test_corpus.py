"""The corpus of broken definitions (tests/data/bad) pins what `estateflow validate` reports.

Every corpus file starts with comment lines

    # expect: LINE:COL path.to.key: message fragment

one per problem the file must produce (`(document)` is the path of the whole file). A file
passes when its problems and its expectations pair up one to one: same line, same column,
same dotted path, and the message contains the fragment. A problem nobody expected fails
the test too, so the corpus pins the output exactly.

Also here: the real CLI on the whole corpus, the shipped workflows (and the documentation's
example) validating cleanly, `validate` on a clean folder, `--workflows` for a file outside
the folder, and `graph`.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli.main import main
from engine.errors import Problem
from engine.language.loader import Loader, base_files, calendar_files, overlay_files, routing_files
from engine.reports.loader import report_files

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
BAD = ROOT / "tests" / "data" / "bad"
GOOD = ROOT / "tests" / "data" / "good"
OVERLAY_DEMO = ROOT / "tests" / "data" / "overlay_demo"
CORPUS = sorted(BAD.rglob("*.yaml"))

KNOWN_BUGS: dict[str, str] = {
    # File name -> a pipeline bug that makes it fail today. Each runs as a strict xfail: once
    # the bug is fixed the test XPASSes, fails, and the entry must be removed.
}

EXPECT = re.compile(r"^# expect: (\d+):(\d+) (\S+):(?: (.*))?$")
LINE_FORM = re.compile(r"^(?P<file>[^:]+\.yaml):(?P<line>\d+):(?P<column>\d+): (?P<path>\S+): (?P<message>.+)$")


@dataclass(frozen=True)
class Expected:
    line: int
    column: int
    path: str
    fragment: str

    def matches(self, problem: Problem) -> bool:
        return (problem.line, problem.column, problem.dotted_path) == (self.line, self.column, self.path) and (
            self.fragment in problem.message
        )

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.path}: {self.fragment}"


def expectations(path: Path) -> list[Expected]:
    """The `# expect:` lines of the file's leading comment block (read as bytes: some are not UTF-8)."""
    found = []
    for raw in path.read_bytes().splitlines():
        if not raw.startswith(b"#"):
            break
        match = EXPECT.match(raw.decode("utf-8", errors="replace"))
        if match:
            line, column, dotted, fragment = match.groups()
            found.append(Expected(int(line), int(column), dotted, (fragment or "").strip()))
    return found


def pair_up(expected: list[Expected], problems: list[Problem]) -> tuple[list[Expected], list[Problem]]:
    """(expectations no problem matched, problems no expectation matched), pairing one to one."""
    unmatched = list(problems)
    missing = []
    for expectation in expected:
        match = next((p for p in unmatched if expectation.matches(p)), None)
        if match is None:
            missing.append(expectation)
        else:
            unmatched.remove(match)
    return missing, unmatched


def corpus_params() -> list:
    params = []
    for path in CORPUS:
        marks = [pytest.mark.xfail(reason=KNOWN_BUGS[path.name], strict=True)] if path.name in KNOWN_BUGS else []
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


@pytest.fixture(scope="module")
def loader() -> Loader:
    return Loader(WORKFLOWS)


def test_the_corpus_is_large_and_every_file_says_what_it_expects() -> None:
    assert len(CORPUS) >= 30
    assert len({p.name for p in CORPUS}) == len(CORPUS), "corpus file names must be unique (they are test ids)"
    assert not [p.name for p in CORPUS if not expectations(p)]
    assert set(KNOWN_BUGS) <= {p.name for p in CORPUS}


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_file(path: Path, loader: Loader) -> None:
    expected = expectations(path)
    problems = loader.problems(path)
    missing, unexpected = pair_up(expected, problems)
    report = "\n".join(
        [f"expected but not reported: {e}" for e in missing]
        + [f"reported but not expected: {p.line}:{p.column} {p.dotted_path}: {p.message}" for p in unexpected]
    )
    assert not missing and not unexpected, f"{path.name}:\n{report}"


def test_cli_reports_the_whole_corpus_one_line_per_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", "tests/data/bad", "--workflows", "workflows"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    by_file: dict[str, list[Problem]] = {}
    for line in result.stdout.splitlines():
        match = LINE_FORM.match(line)
        assert match, f"not in the FILE:LINE:COL: path: message form: {line!r}"
        dotted = match["path"]
        path = () if dotted == "(document)" else tuple(dotted.split("."))
        problem = Problem(match["file"], int(match["line"]), int(match["column"]), path, match["message"])
        by_file.setdefault(Path(match["file"]).name, []).append(problem)
    names = {p.name for p in CORPUS}
    assert set(by_file) <= names, "only the corpus files are reported"
    assert names - set(KNOWN_BUGS) <= set(by_file), "every broken file is reported"
    total = sum(len(problems) for problems in by_file.values())
    for path in CORPUS:
        if path.name not in KNOWN_BUGS:
            missing, unexpected = pair_up(expectations(path), by_file.get(path.name, []))
            assert not missing and not unexpected, f"{path.name}: the CLI's lines differ from the expectations"
    assert result.stderr == f"{total} problem(s) in {len(by_file)} of {len(CORPUS)} file(s)\n"


def test_cli_never_prints_a_traceback_even_when_the_checker_breaks(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    import engine.language.checks

    def broken(ctx):  # noqa: ANN001, ANN202
        raise RuntimeError("boom")
        yield

    monkeypatch.setattr(engine.language.checks, "RULES", (broken,))
    target = tmp_path / "demo.yaml"
    shutil.copy(GOOD / "docs_example.yaml", target)
    result = CliRunner().invoke(main, ["validate", str(target), "--workflows", str(WORKFLOWS)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stdout == f"{target}:1:1: (document): internal error while checking: RuntimeError: boom\n"


def shipped() -> list:
    """Every definition to validate cleanly: workflows/*.yaml, each overlay merged, the docs' example."""
    params = [pytest.param(path, None, id=str(path.relative_to(ROOT))) for path in base_files(WORKFLOWS)]
    for overlay in overlay_files(WORKFLOWS):
        base = WORKFLOWS / overlay.name
        params.append(pytest.param(base, overlay.parent.name, id=str(overlay.relative_to(ROOT))))
    params += [pytest.param(path, None, id=str(path.relative_to(ROOT))) for path in sorted(GOOD.glob("*.yaml"))]
    return params


@pytest.mark.parametrize(("path", "estate"), shipped())
def test_shipped_definitions_validate(path: Path, estate: str | None, loader: Loader) -> None:
    assert [str(p) for p in loader.problems(path, estate=estate)] == []
    definition = loader.load(path, estate=estate)
    assert definition.states and definition.transitions


def test_the_documentation_example_is_in_the_clean_set() -> None:
    assert (GOOD / "docs_example.yaml").exists()
    assert any("docs_example" in str(param.id) for param in shipped())
    assert any("complaint.yaml" in str(param.id) for param in shipped())


def test_validate_a_clean_folder_exits_0_with_a_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    workflows = len(base_files(WORKFLOWS))
    overlays = len(overlay_files(WORKFLOWS))
    calendars = len(calendar_files(WORKFLOWS))
    routing = len(routing_files(WORKFLOWS))
    reports = len(report_files(WORKFLOWS))
    assert result.stdout == (f"OK: {workflows} workflow(s), {overlays} overlay(s), {calendars} calendar(s), "
                             f"{routing} routing table(s) and {reports} report(s) checked, no problems\n")


def test_validate_a_clean_folder_with_an_overlay(tmp_path: Path) -> None:
    folder = tmp_path / "defs"
    shutil.copytree(OVERLAY_DEMO, folder, ignore=shutil.ignore_patterns("harbour"))
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 1 workflow(s), 1 overlay(s) and 0 calendar(s) checked, no problems\n"


def test_a_file_outside_the_folder_takes_its_roles_from_workflows_option(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    definitions = tmp_path / "defs"
    definitions.mkdir()
    (definitions / "roles.yaml").write_text("gardener: 绿化工\n", encoding="utf-8")
    outside = tmp_path / "elsewhere" / "lawn.yaml"
    outside.parent.mkdir()
    outside.write_text(
        "id: lawn\ntitle: 草坪养护\nstates:\n  open: {label: 待处理, initial: true}\n  done: {label: 已完成, final: true}\n"
        "transitions:\n  - {name: mow, from: open, to: done, roles: [gardener]}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["validate", str(outside), "--workflows", str(definitions)])
    assert result.exit_code == 0, result.output
    # Without the option the shipped catalogue is used, which has no gardener.
    result = CliRunner().invoke(main, ["validate", str(outside)])
    assert result.exit_code == 1
    # The message lists the valid role ids with their labels, so the fix is on the line.
    assert result.stdout.startswith(f"{outside}:7:47: transitions.0.roles.0: unknown role 'gardener'; "
                                    "the roles of roles.yaml are: frontdesk（前台客服）, ")


def test_a_missing_role_catalogue_is_reported_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(GOOD / "docs_example.yaml"), "--workflows", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "roles.yaml" in result.output


def test_graph_prints_mermaid_with_the_chinese_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["graph", "complaint"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "stateDiagram-v2"
    document = yaml.safe_load((WORKFLOWS / "complaint.yaml").read_text(encoding="utf-8"))
    for name, state in document["states"].items():
        assert any(line.strip().startswith(f'state "{state["label"]}') and line.endswith(f" as {name}")
                   for line in lines), name
    initial = next(name for name, state in document["states"].items() if state.get("initial"))
    assert f"    [*] --> {initial}" in lines
    # A step into one state from many is drawn once, from a note whose `%% note: a, b, c` line names them.
    groups = {m[1]: m[2].split(", ") for line in lines if (m := re.match(r"    %% (\S+): (.+)$", line))}
    for transition in document["transitions"]:  # every edge, labelled with the transition's Chinese label
        sources = [transition["from"]] if isinstance(transition["from"], str) else transition["from"]
        for source in sources:
            starts = [source, *(note for note, members in groups.items() if source in members)]
            edges = [line.split(": ", 1)[-1].removesuffix("（定时）").split(" / ") for line in lines
                     if any(line.startswith(f"    {start} --> {transition['to']}: ") for start in starts)]
            assert any(transition.get("label", transition["name"]) in labels for labels in edges), transition
    finals = [name for name, state in document["states"].items() if state.get("final")]
    assert finals and all(f"    {name} --> [*]" in lines for name in finals)


def test_graph_of_an_unknown_workflow_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["graph", "no_such_workflow"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
