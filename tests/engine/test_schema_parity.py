"""schemas/workflow.schema.json and engine/language/compiler.py must accept exactly the same keys.

Every object of the schema that lists `properties` (the root and each $defs entry) is paired
with one `*_KEYS` constant of the compiler, and every such constant with one object: a key,
an object or a constant added on one side only fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.language import compiler
from engine.language.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "workflow.schema.json"

PAIRS = {
    "#": "WORKFLOW_KEYS",
    "#/$defs/field": "FIELD_KEYS",
    "#/$defs/state": "STATE_KEYS",
    "#/$defs/sla": "SLA_KEYS",
    "#/$defs/timer": "TIMER_KEYS",
    "#/$defs/transition": "TRANSITION_KEYS",
    "#/$defs/action": "ACTION_KEYS",
    "#/$defs/notify": "NOTIFY_KEYS",
    "#/$defs/spawn": "SPAWN_KEYS",
    "#/$defs/link": "LINK_KEYS",
    "#/$defs/access": "ACCESS_KEYS",
    "#/$defs/parameter": "PARAMETER_KEYS",
    "#/$defs/condition/oneOf/1": "CONDITION_KEYS",
    "#/$defs/onLinked": "ON_LINKED_KEYS",
    "#/$defs/countersign": "COUNTERSIGN_KEYS",
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def objects(node: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema with `properties`, by JSON pointer, anywhere in the schema."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield pointer, node
        for key, value in node.items():
            yield from objects(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from objects(value, f"{pointer}/{index}")


def test_the_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_the_engine_reads_the_same_schema_file(schema: dict[str, Any]) -> None:
    assert load_schema() == schema


def test_every_schema_object_is_paired_with_a_compiler_constant(schema: dict[str, Any]) -> None:
    assert {pointer for pointer, _ in objects(schema)} == set(PAIRS)


def test_every_compiler_key_constant_is_paired_with_a_schema_object() -> None:
    constants = {name for name in vars(compiler) if name.endswith("_KEYS")}
    assert constants == set(PAIRS.values())


@pytest.mark.parametrize(("pointer", "constant"), sorted(PAIRS.items()))
def test_keys_are_equal(schema: dict[str, Any], pointer: str, constant: str) -> None:
    node = dict(objects(schema))[pointer]
    in_schema = set(node["properties"])
    in_compiler = set(getattr(compiler, constant))
    assert in_schema - in_compiler == set(), f"only in the schema at {pointer}"
    assert in_compiler - in_schema == set(), f"only in compiler.{constant}"


@pytest.mark.parametrize("pointer", sorted(PAIRS))
def test_every_object_refuses_unknown_keys_and_requires_known_ones(schema: dict[str, Any], pointer: str) -> None:
    node = dict(objects(schema))[pointer]
    assert node.get("additionalProperties") is False, f"{pointer}: a typo like `rolez` must not pass silently"
    assert set(node.get("required", [])) <= set(node["properties"])


def test_field_types_are_equal(schema: dict[str, Any]) -> None:
    assert set(schema["$defs"]["field"]["properties"]["type"]["enum"]) == set(compiler.FIELD_TYPES)


def test_the_required_keys_of_the_issue(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    assert set(schema["required"]) == {"id", "title", "states", "transitions"}
    assert set(defs["transition"]["required"]) == {"name", "from", "to"}
    assert set(defs["state"]["required"]) == {"label"}
    assert set(defs["field"]["required"]) == {"type", "label"}
    assert set(defs["field"]["properties"]["type"]["enum"]) >= {
        "string", "text", "integer", "decimal", "boolean", "date", "datetime", "enum", "phone", "user"}


def test_every_ref_resolves(schema: dict[str, Any]) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(schema):
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref


def test_the_duration_pattern_is_the_compilers(schema: dict[str, Any]) -> None:
    pattern = re.compile(schema["$defs"]["duration"]["pattern"])
    for text in ("30m", "1h", "2d", "1w", "999999m", "0h", "1s", "1.5h", "h", "1000000m", "01h", "2 d", "1H"):
        try:
            compiler.parse_duration(text)
            compiles = True
        except ValueError:
            compiles = False
        assert bool(pattern.match(text)) == compiles, text
    assert compiler.parse_duration("90m").delta.total_seconds() == 5400
