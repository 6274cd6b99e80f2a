"""engine/language/source.py: safe YAML with positions, duplicate keys, strict booleans, bounded aliases."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from engine.language import source
from engine.language.source import MAX_NODES, SourceMap, read_yaml, walk


def read(text: str):  # noqa: ANN201
    return read_yaml(text, "f.yaml")


def test_a_plain_document_reads_with_no_problem() -> None:
    document, smap, problems = read("id: demo\ntitle: 演示\nlist: [a, b]\n")
    assert document == {"id": "demo", "title": "演示", "list": ["a", "b"]}
    assert problems == []
    assert smap.file == "f.yaml"


# --- duplicate keys ------------------------------------------------------------------------

def test_a_duplicate_top_level_key_is_reported_at_the_second_key_and_the_first_is_kept() -> None:
    document, _, problems = read("id: demo\ntitle: 甲\nstates: {}\ntitle: 乙\n")
    assert document["title"] == "甲"
    [problem] = problems
    assert (problem.line, problem.column, problem.path) == (4, 1, ("title",))
    assert problem.message == "duplicate key 'title' (first given on line 2)"
    assert problem.code == "duplicate_key"


def test_a_duplicate_key_in_a_nested_block_mapping() -> None:
    _, _, problems = read("states:\n  open: {label: a}\n  done: {label: b}\n  open: {label: c}\n")
    [problem] = problems
    assert (problem.line, problem.column, problem.path) == (4, 3, ("states", "open"))
    assert "first given on line 2" in problem.message


def test_a_duplicate_key_in_a_flow_mapping_inside_a_list() -> None:
    _, _, problems = read("transitions:\n  - {name: a, to: x, name: b}\n")
    [problem] = problems
    assert (problem.line, problem.column, problem.path) == (2, 22, ("transitions", 0, "name"))


def test_every_duplicate_is_reported_not_only_the_first() -> None:
    _, _, problems = read("a: 1\na: 2\nb: {x: 1, x: 2}\na: 3\n")
    assert [(p.line, p.path) for p in problems] == [(2, ("a",)), (3, ("b", "x")), (4, ("a",))]


def test_keys_that_differ_only_after_yaml_typing_are_duplicates() -> None:
    # `1` and `"1"` are the same key once keys are strings, as JSON would have them.
    document, _, problems = read("1: a\n'1': b\n")
    assert document == {"1": "a"}
    assert [p.path for p in problems] == [("1",)]


# --- booleans: only true and false ------------------------------------------------------------

@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF"])
def test_yaml_1_1_boolean_words_stay_strings_as_values_and_as_keys(word: str) -> None:
    document, _, problems = read(f"value: {word}\n{word}: key\nlist: [{word}]\n")
    assert problems == []
    assert document == {"value": word, word: "key", "list": [word]}


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("True", True), ("FALSE", False)])
def test_true_and_false_are_booleans(text: str, value: bool) -> None:
    document, _, _ = read(f"flag: {text}\n")
    assert document["flag"] is value


def test_boolean_and_number_keys_become_strings() -> None:
    document, _, _ = read("true: a\n2: b\n")
    assert document == {"true": "a", "2": "b"}


def test_timestamps_stay_strings() -> None:
    document, _, _ = read("day: 2024-05-01\nmoment: 2024-05-01 08:30:00\n")
    assert document == {"day": "2024-05-01", "moment": "2024-05-01 08:30:00"}


def test_option_ids_yes_no_survive_inside_a_workflow() -> None:
    document, _, problems = read("fields:\n  ok:\n    options: {yes: 是, no: 否}\nstates:\n  on: {}\n  off: {}\n")
    assert problems == []
    assert list(document["fields"]["ok"]["options"]) == ["yes", "no"]
    assert list(document["states"]) == ["on", "off"]


# --- positions ------------------------------------------------------------------------------

TEXT = """\
id: demo
states:
  open:   {label: 待处理, initial: true}
  done:
    label: 已完成
transitions:
  - name: finish
    from: open
"""


def test_positions_of_keys_and_values_are_kept_apart() -> None:
    _, smap, _ = read(TEXT)
    assert smap.keys[("states", "open")] == ("f.yaml", 3, 3)
    assert smap.values[("states", "open")] == ("f.yaml", 3, 11)
    assert smap.values[("states", "open", "label")] == ("f.yaml", 3, 19)
    assert smap.keys[("states", "open", "initial")] == ("f.yaml", 3, 24)
    assert smap.keys[("states", "done", "label")] == ("f.yaml", 5, 5)
    assert smap.values[("states", "done", "label")] == ("f.yaml", 5, 12)
    # list items have a value position only
    assert smap.values[("transitions", 0)] == ("f.yaml", 7, 5)
    assert ("transitions", 0) not in smap.keys
    assert smap.values[("transitions", 0, "from")] == ("f.yaml", 8, 11)
    assert smap.values[()] == ("f.yaml", 1, 1)


def test_problem_points_at_the_key_or_the_value() -> None:
    _, smap, _ = read(TEXT)
    at_value = smap.problem(("states", "open", "label"), "m")
    at_key = smap.problem(("states", "open", "label"), "m", key=True)
    assert (at_value.line, at_value.column) == (3, 19)
    assert (at_key.line, at_key.column) == (3, 12)
    assert str(at_key) == "f.yaml:3:12: states.open.label: m"


def test_an_unknown_path_falls_back_to_its_nearest_parent() -> None:
    _, smap, _ = read(TEXT)
    # the value of `done` is the block mapping that starts at its first key
    assert smap.position(("states", "done", "sla", 0, "within")) == ("f.yaml", 5, 5)
    assert smap.position(("nowhere",)) == ("f.yaml", 1, 1)
    assert SourceMap("g.yaml").position(("x",)) == ("g.yaml", 1, 1)


def test_copy_subtree_moves_positions_under_a_new_path() -> None:
    _, smap, _ = read(TEXT)
    other = SourceMap("merged.yaml")
    other.copy_subtree(smap, ("states", "done"), ("states", "finished"))
    assert other.values[("states", "finished", "label")] == ("f.yaml", 5, 12)
    assert other.keys[("states", "finished", "label")] == ("f.yaml", 5, 5)
    assert ("states", "open") not in other.values


# --- aliases --------------------------------------------------------------------------------

BOMB = "".join(
    [f"l0: &l0 [{', '.join(['lol'] * 9)}]\n"]
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10)]
)


def test_the_billion_laughs_is_refused_after_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # Work, not seconds: exactly MAX_NODES values are built, the next one is refused.
    built = [0]
    build = source._build

    def counting(*args: Any, **kwargs: Any) -> Any:
        built[0] += 1
        return build(*args, **kwargs)

    monkeypatch.setattr(source, "_build", counting)
    document, _, problems = read(BOMB)
    assert document is None
    [problem] = problems
    assert problem.code == "too_large"
    assert f"more than {MAX_NODES} values" in problem.message
    assert (problem.line, problem.path) == (1, ())
    assert built[0] == MAX_NODES + 1


def test_pyyaml_alone_would_expand_it() -> None:
    # The test above means something only because plain PyYAML accepts the bomb.
    loaded = yaml.safe_load(BOMB.replace("l9:", "#l9:").replace("l8:", "#l8:").replace("l7:", "#l7:"))
    assert len(loaded["l6"]) == 9


def test_modest_aliases_still_work() -> None:
    document, _, problems = read("base: &b {label: 甲, paused: true}\nagain: *b\nmore: [*b, *b]\n")
    assert problems == []
    assert document["again"] == document["more"][1] == {"label": "甲", "paused": True}


def test_merge_keys_let_explicit_keys_override() -> None:
    document, _, problems = read("base: &b {label: 甲, paused: true}\nother:\n  <<: *b\n  label: 乙\nagain: *b\n")
    assert problems == []
    assert document["other"] == {"label": "乙", "paused": True}
    assert document["again"] == {"label": "甲", "paused": True}


# --- syntax errors and odd files --------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("id: demo\nstates:\n  open:\n\tlabel: x\n", 4, 1, "tabs"),
        ("a: 1\n  b: 2\n", 2, 4, "mapping values are not allowed here"),
        ("a: [1, 2\n", 2, 1, "expected ',' or ']'"),
        ("a: {b: 1\nc: 2\n", 2, 2, "expected ',' or '}'"),
        ("- a\nb: 1\n", 2, 1, "expected <block end>"),
    ],
)
def test_syntax_errors_are_reported_at_the_parsers_mark(text: str, line: int, column: int, fragment: str) -> None:
    document, _, problems = read(text)
    assert document is None
    [problem] = problems
    assert (problem.line, problem.column, problem.path, problem.code) == (line, column, (), "yaml")
    assert problem.message.startswith("YAML syntax error: ")
    assert fragment in problem.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "   \n# two\n# comments\n"])
def test_an_empty_file_is_one_problem(text: str) -> None:
    document, _, problems = read(text)
    assert document is None
    assert [(p.line, p.column, p.message) for p in problems] == [(1, 1, "the file is empty")]


def test_several_documents_are_refused() -> None:
    document, _, problems = read("a: 1\n---\nb: 2\n")
    assert document is None
    assert "expected a single document" in problems[0].message


def test_absurd_nesting_is_a_problem_not_a_crash() -> None:
    document, _, problems = read("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert document is None
    assert [(p.code, p.line, p.column) for p in problems] == [("too_deep", 1, 68)]
    assert "nested more than 64 levels" in problems[0].message


def test_deep_block_indentation_is_refused_before_parsing() -> None:
    text = "".join(" " * (2 * depth) + f"k{depth}:\n" for depth in range(200))
    document, _, problems = read(text)
    assert document is None
    assert problems[0].code == "too_deep"


def test_brackets_inside_quotes_do_not_count_as_nesting() -> None:
    document, _, problems = read("a: '" + "[" * 100 + "'\nb: \"{{{\"\n")
    assert problems == []
    assert document == {"a": "[" * 100, "b": "{{{"}


def test_a_key_that_is_a_mapping_is_refused() -> None:
    document, _, problems = read("? {a: 1}\n: x\nb: 2\n")
    assert document == {"b": "2"} or document == {"b": 2}
    assert [p.message for p in problems] == ["a key must be a plain name"]


@pytest.mark.parametrize("text", ["a: !!python/object/apply:os.system ['echo hi']\n",
                                  "a: !!python/name:os.system\n",
                                  "a: !!python/object:collections.OrderedDict {}\n"])
def test_python_tags_are_never_constructed(text: str) -> None:
    document, _, problems = read(text)
    # Refused by the safe constructor, or read as the plain data under the tag: never an object.
    assert all(isinstance(value, (dict, list, str, int, float, bool, type(None))) for _, value in walk(document))
    assert document is None or problems == []


def test_walk_visits_every_path() -> None:
    document, _, _ = read("a: {b: [1, {c: 2}]}\n")
    assert [path for path, _ in walk(document)] == [(), ("a",), ("a", "b"), ("a", "b", 0), ("a", "b", 1),
                                                    ("a", "b", 1, "c")]


def test_numbers_are_read_as_yaml_1_2_writes_them() -> None:
    # YAML 1.1 would read the unit 0101 as octal 65 and 1:30 as 90 (base 60).
    document, _, problems = read("unit: 0101\ntime: 1:30\ncount: 12\namount: 12.50\nbig: 1_000\n")
    assert problems == []
    assert document == {"unit": "0101", "time": "1:30", "count": 12, "amount": 12.5, "big": "1_000"}


# --- reading files: regular files only, the size checked before reading ------------------------

def test_a_regular_file_is_read_as_text(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "ok.yaml"
    path.write_text("id: 演示\n", encoding="utf-8")
    assert source.read_text(path) == "id: 演示\n"


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: p.mkdir(), "not a regular file"),
    (lambda p: p.symlink_to("/dev/zero"), "not a regular file"),
    (lambda p: __import__("os").mkfifo(p), "not a regular file"),
    (lambda p: p.write_bytes(b"a" * (source.MAX_FILE_BYTES + 1)), "the file is larger than 1000 kB"),
    (lambda p: p.write_bytes("id: 投诉".encode("gbk")), "the file is not UTF-8 text"),
    (lambda p: None, "No such file or directory"),
], ids=["folder", "link to /dev/zero", "fifo", "too large", "gbk", "missing"])
def test_a_path_that_is_not_a_small_regular_utf8_file_is_refused_without_being_read(tmp_path, make, reason) -> None:  # noqa: ANN001
    path = tmp_path / "x.yaml"
    make(path)
    with pytest.raises(source.UnreadableFile) as refused:
        source.read_text(path)  # a FIFO would block here, /dev/zero would fill the memory
    assert str(refused.value) == reason


def test_validate_refuses_a_fifo_and_a_link_to_dev_zero_at_once_in_the_file_line_column_form(tmp_path) -> None:  # noqa: ANN001
    import os
    import subprocess
    import sys

    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "calendar.yaml").symlink_to("/dev/zero")
    # A subprocess with a timeout: were the FIFO opened for reading, it would wait for a writer forever.
    result = subprocess.run(
        [sys.executable, "-m", "engine", "validate", *(str(tmp_path / n) for n in ("fifo.yaml", "zero.yaml", "calendar.yaml"))],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'calendar.yaml'}:1:1: (document): cannot read the file: not a regular file",
        f"{tmp_path / 'fifo.yaml'}:1:1: (document): cannot read the file: not a regular file",
        f"{tmp_path / 'zero.yaml'}:1:1: (document): cannot read the file: not a regular file",
    ]


def _read_with(loader: type, text: str) -> tuple[Any, dict[Any, Any], dict[Any, Any]]:
    """read_yaml through one given loader class (the fast one is swapped out for the test)."""
    original = source._FastLoader
    source._FastLoader = loader  # type: ignore[misc]
    try:
        document, smap, problems = read_yaml(text, "f.yaml")
    finally:
        source._FastLoader = original  # type: ignore[misc]
    assert problems == []
    return document, smap.values, smap.keys


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML built without libyaml")
def test_libyaml_reads_every_shipped_file_as_pyyaml_does_values_and_positions() -> None:
    from pathlib import Path

    shipped = sorted((Path(__file__).resolve().parents[2] / "workflows").rglob("*.yaml"))
    assert len(shipped) > 100
    for path in shipped:
        text = path.read_text(encoding="utf-8")
        assert _read_with(source._FastLoader, text) == _read_with(source._Loader, text), path


def test_a_syntax_error_keeps_pyyaml_s_own_words() -> None:
    _, _, problems = read_yaml("a: b: c\n", "f.yaml")
    assert [(p.line, p.column, p.message) for p in problems] == [
        (1, 5, "YAML syntax error: mapping values are not allowed here")]
