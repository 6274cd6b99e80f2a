"""Per-estate parameters: the numbers, amounts and periods an estate sets without copying a step.

    parameters:
      writeoff_limit: {label: 核销审批金额上限（元）, type: decimal, value: 500}
      revisit_window: {label: 回访期限, type: duration, value: 3d}

An estate's overlay sets values only: `parameters: {writeoff_limit: 2000}` (engine/language/
overlay.py). Expressions read a value with `param('writeoff_limit')` (engine/language/
expr_functions.py); `within`, `not_before` and a timer's `after` may name a duration parameter
instead of a literal (`within: revisit_window`): unambiguous, since a literal duration always
starts with a digit and a parameter id with a letter.

Each published definition is compiled per estate with its overlay merged, so a parameter's value
is a constant of that definition: an item keeps the values of the version it runs on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from engine.errors import Path, Problem
from engine.language.definition import Duration, Parameter
from engine.language.durations import parse_duration
from engine.language.schema import suggest
from engine.language.source import SourceMap

__all__ = ["PARAMETER_TYPES", "SCOPE", "in_scope", "parse_parameters"]

PARAMETER_TYPES = ("integer", "decimal", "duration", "boolean", "string")
_NOUN = {"integer": "a whole number", "decimal": "a number", "duration": "a duration such as 30m, 1h, 2d or 1w",
         "boolean": "true or false", "string": "a text"}

SCOPE: ContextVar[Mapping[str, Parameter] | None] = ContextVar("estateflow_parameters", default=None)
"""The parameters of the document being compiled, read by `param()` when an expression is compiled.

A context variable rather than an argument: compile_expression is called from many places with
one signature, and only the compiler of a whole workflow knows its parameters."""


@contextmanager
def in_scope(parameters: Mapping[str, Parameter]) -> Iterator[None]:
    """Compile expressions in this block against `parameters`."""
    token = SCOPE.set(parameters)
    try:
        yield
    finally:
        SCOPE.reset(token)


def _value(type_: str, raw: Any) -> Any:
    """`raw` as the parameter type's Python value; raises ValueError when it does not fit."""
    if type_ == "integer" and type(raw) is int:
        return raw
    if type_ == "decimal" and type(raw) in (int, float):
        try:
            return Decimal(str(raw))  # str(): 0.1 stays 0.1, not the float's binary expansion
        except InvalidOperation:
            raise ValueError(raw) from None
    if type_ == "boolean" and isinstance(raw, bool):
        return raw
    if type_ == "string" and isinstance(raw, str):
        return raw
    if type_ == "duration" and isinstance(raw, str):
        return parse_duration(raw)
    raise ValueError(raw)


def _shown(raw: Any) -> str:
    return str(raw).lower() if isinstance(raw, bool) else repr(raw)


def parse_parameters(document: Mapping[str, Any], smap: SourceMap) -> tuple[dict[str, Parameter], list[Problem]]:
    """The `parameters:` block as Parameter objects, and the problems of values that do not fit their type.

    Entries the schema refuses (no type, an unknown type) are left out silently: the schema reports them.
    A value that does not fit its type is reported here and kept as null, so that what names the
    parameter is not also told it does not exist.
    """
    raw = document.get("parameters")
    found: dict[str, Parameter] = {}
    problems: list[Problem] = []
    for name, spec in (raw.items() if isinstance(raw, dict) else ()):
        if not isinstance(spec, dict) or spec.get("type") not in PARAMETER_TYPES or "value" not in spec:
            continue
        type_ = spec["type"]
        try:
            value = _value(type_, spec["value"])
        except ValueError:
            path: Path = ("parameters", name, "value")
            message = f"{_shown(spec['value'])} is not {_NOUN[type_]}: parameter '{name}' is of type {type_}"
            problems.append(smap.problem(path, message, code="parameter"))
            value = None
        found[name] = Parameter(name, str(spec.get("label", name)), type_, value)
    return found, problems


def duration_of(value: Any, parameters: Mapping[str, Parameter]) -> Duration | None:
    """The Duration a `within`/`not_before`/`after` names (literal or parameter id); None when it names none."""
    if not isinstance(value, str):
        return None
    if value[:1].isdigit():
        try:
            return parse_duration(value)
        except ValueError:
            return None  # the schema reports it
    parameter = parameters.get(value)
    return parameter.value if parameter is not None and isinstance(parameter.value, Duration) else None


def duration_problem(value: Any, parameters: Mapping[str, Parameter]) -> str | None:
    """Why a `within`/`not_before`/`after` that names a parameter is wrong, or None."""
    if not isinstance(value, str) or not value[:1].isalpha():
        return None
    parameter = parameters.get(value)
    durations = sorted(p.name for p in parameters.values() if p.type == "duration")
    listed = f"the duration parameters: {', '.join(durations)}" if durations else "the workflow has none"
    if parameter is None:
        return (f"'{value}' is neither a duration (such as 30m, 1h, 2d, 1w) nor a parameter"
                f"{suggest(value, durations)} ({listed})")
    if parameter.type != "duration":
        return f"parameter '{value}' is of type {parameter.type}, not duration ({listed})"
    return None


def frozen(parameters: dict[str, Parameter]) -> Mapping[str, Parameter]:
    """A read-only view, as definitions keep their mappings."""
    return MappingProxyType(parameters)
