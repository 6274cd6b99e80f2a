"""Check a document against schemas/workflow.schema.json (JSON Schema 2020-12).

The schema ships inside the package (engine/language/shipped.py), so an installed wheel finds it.

Takes the plain document and its SourceMap; yields one `Problem` per violation, at the
offending key or value, in words an administrator can act on. We write our own messages
rather than jsonschema's: those quote the whole offending instance, which is unreadable
for a big mapping and unbounded for a hostile one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine.errors import Path, Problem
from engine.language.shipped import SCHEMAS, shipped
from engine.language.source import SourceMap

_TYPE_NAMES = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "a text",
    "boolean": "true or false",
    "number": "a number",
    "integer": "a whole number",
    "null": "null",
}


@cache
def load_schema(name: str = "workflow.schema.json") -> dict[str, Any]:
    """The JSON Schema, read once."""
    schema: dict[str, Any] = json.loads(shipped(SCHEMAS).joinpath(name).read_text(encoding="utf-8"))
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def suggest(name: str, choices: Any) -> str:
    """' (did you mean 'x'?)' when a close match exists, else ''."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else type(value).__name__


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else _kind(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _pattern_message(value: Any, pattern: str) -> str:
    if "(m|h|d|w)" in pattern:
        return f"{_short(value)} is not a duration: write a number and a unit, such as 30m, 1h, 2d or 1w"
    if pattern.endswith("%$"):
        return f"{_short(value)} is not a share of the time: write a percentage such as 80%"
    if "@" in pattern:
        return f"{_short(value)} is not a username: letters, digits and _ . @ - only"
    if "(KB|MB)" in pattern:
        return f"{_short(value)} is not a file size: write a number and KB or MB, such as 10MB or 500KB"
    if pattern.startswith("^(image|"):
        return f"{_short(value)} is not a kind of file: write image, pdf, office, or an extension such as .dwg"
    if pattern.startswith("^[A-Z]"):
        return f"{_short(value)} is not a valid number prefix: use 1-8 capital letters or digits, such as TS"
    return f"{_short(value)} is not a valid name: use lowercase letters, digits and _, starting with a letter"


def _rule(error: ValidationError) -> tuple[str, Any, Any]:
    """(the keyword broken, its value in the schema, the offending instance).

    jsonschema types these as possibly unset; errors from `iter_errors` always carry them,
    and the values are arbitrary JSON, hence Any.
    """
    return str(error.validator), cast(Any, error.validator_value), cast(Any, error.instance)


def _problems(error: ValidationError, smap: SourceMap) -> Iterator[Problem]:
    path: Path = tuple(error.absolute_path)
    kind, expected, value = _rule(error)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extras = [key for key in value if key not in allowed] if isinstance(value, dict) else []
        for key in extras:
            hint = suggest(key, allowed) or (f" (allowed: {', '.join(allowed)})" if allowed else "")
            yield smap.problem((*path, key), f"unknown key '{key}'{hint}", key=True, code="unknown_key")
        return
    if kind == "required":
        # jsonschema reports each missing key as its own error; the message names it.
        key = error.message.split("'")[1] if error.message.count("'") >= 2 else ""
        missing = [key] if key in expected else [k for k in expected if k not in value]
        for key in missing:
            yield smap.problem(path, f"missing required key '{key}'", key=True, code="missing_key")
        return
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        yield smap.problem(path, f"must be {wanted}, not {_kind(value)}", code="type")
        return
    if kind == "enum":
        options = [str(o) for o in expected]
        hint = suggest(value, options) or f" (choose one of: {', '.join(options)})"
        yield smap.problem(path, f"{_short(value)} is not allowed{hint}", code="enum")
        return
    if kind == "pattern":
        yield smap.problem(path, _pattern_message(value, expected), code="pattern")
        return
    messages = {
        "minItems": "must not be empty",
        "minProperties": "must not be empty",
        "minLength": "must not be empty",
        "maxLength": f"is too long (at most {expected} characters)",
        "maxProperties": "give exactly one of: notify, spawn, link",
        "uniqueItems": "lists the same entry twice",
        "const": f"must be {expected!r}",
    }
    if kind in messages:
        yield smap.problem(path, messages[kind], code=kind)
        return
    if kind == "oneOf" and path and path[-1] == "when":
        if isinstance(value, dict):
            # The mapping form `{if: ..., label: ...}`: say what is wrong inside it (a missing label, a typo).
            for sub in error.context or ():
                if sub.relative_schema_path and sub.relative_schema_path[0] == 1:
                    yield from _problems(sub, smap)
            return
        yield smap.problem(path, "must be an expression in a text, or {if: <expression>, label: <中文说明>}",
                           code="oneOf")
        return
    if kind == "oneOf":
        if path and path[-1] == "from":
            yield smap.problem(path, 'must be a state name, a list of state names, or "*"', code="oneOf")
        else:
            yield smap.problem(
                path,
                "must be an expression in a text, a number, true/false or null",
                code="oneOf",
            )
        return
    yield smap.problem(path, f"is not valid here ({kind})", code=kind)


def _key_name_problem(error: ValidationError, smap: SourceMap) -> Problem:
    """A mapping key that breaks `propertyNames`: reported at the key itself."""
    kind, expected, key = _rule(error)
    path = (*error.absolute_path, key)
    if kind == "pattern":
        message = _pattern_message(key, expected)
    else:
        message = f"{_short(key)} is not a valid name (at most 64 characters)"
    return smap.problem(path, message, key=True, code="pattern")


def validate(document: Any, smap: SourceMap, schema_name: str = "workflow.schema.json") -> list[Problem]:
    """Every schema violation of `document`, as Problems at their positions."""
    problems: list[Problem] = []
    for error in _validator(schema_name).iter_errors(document):
        # Depending on the jsonschema version a bad key arrives as a propertyNames error
        # (the cause in its context) or directly as the cause, with propertyNames in its schema path.
        if error.validator == "propertyNames":
            problems.extend(_key_name_problem(sub, smap) for sub in error.context or ())
        elif "propertyNames" in error.relative_schema_path:
            problems.append(_key_name_problem(error, smap))
        else:
            problems.extend(_problems(error, smap))
    return problems


def bad_paths(problems: list[Problem]) -> set[Path]:
    """The paths the schema refused, so later checks can skip what they cannot trust."""
    return {p.path for p in problems}
