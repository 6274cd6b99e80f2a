"""The fixed function table of the expression language (see engine/language/expr.py).

Each Function says how to check its arguments at compile time (returning the result's
static type) and how to compute its value at run time; a null argument gives null except
for `coalesce`, and a failing computation gives null, never a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from engine.errors import ExpressionError
from engine.language.definition import Duration
from engine.language.expr_types import (
    ANY,
    BOOLEAN,
    DATE,
    DATETIME,
    DURATION,
    LIST,
    NULL,
    NUMBER,
    ORDERED,
    SAFE_ERRORS,
    STRING,
    Node,
    check_option,
    constant,
    fits,
    is_number,
    noun,
)
from engine.language.parameters import SCOPE


@dataclass(frozen=True, slots=True)
class Function:
    """One entry of the fixed function table."""

    name: str
    signature: str
    doc: str
    arity: tuple[int, int | None]
    check: Callable[[str, Sequence[Node]], tuple[str, bool]]
    """(name, argument nodes) → (result type, whole); raises ExpressionError."""
    impl: Callable[..., Any]
    """impl(now, *arguments); called with a null argument only if `takes_null`."""
    takes_null: bool = False
    build: Callable[[Sequence[Node], int], Node] | None = None
    """Builds the whole node at compile time instead (`param`: a constant of the definition)."""


def _need(name: str, args: Sequence[Node], allowed: tuple[str, ...], what: str) -> None:
    for arg in args:
        if not fits(arg.type, *allowed):
            raise ExpressionError(f"{name}() needs {what}, not {noun(arg.type)}", arg.column)


def _returns(type_: str) -> Callable[[str, Sequence[Node]], tuple[str, bool]]:
    return lambda name, args: (type_, False)


def _duration_check(name: str, args: Sequence[Node]) -> tuple[str, bool]:
    _need(name, args, (NUMBER,), "a number")
    return DURATION, False


def _duration(seconds: int) -> Callable[[datetime, Any], Any]:
    def impl(now: datetime, n: Any) -> Any:
        # Whole microseconds, computed in Decimal: no float rounding. The bound (timedelta's
        # own, about 8.6e19 microseconds) is checked before int() builds a huge integer.
        microseconds = Decimal(n) * seconds * 1_000_000 if is_number(n) else None
        if microseconds is None or not abs(microseconds) < 10**20:
            return None
        return timedelta(microseconds=int(microseconds))

    return impl


def _len_check(name: str, args: Sequence[Node]) -> tuple[str, bool]:
    _need(name, args, (STRING, LIST), "a string")
    return NUMBER, True


def _abs_check(name: str, args: Sequence[Node]) -> tuple[str, bool]:
    _need(name, args, (NUMBER, DURATION), "a number or a duration")
    return args[0].type, args[0].whole


def _abs(now: datetime, x: Any) -> Any:
    return abs(x) if is_number(x) or isinstance(x, timedelta) else None


def _one_type(name: str, args: Sequence[Node]) -> str:
    known = {a.type for a in args} - {ANY, NULL}
    if len(known) > 1:
        found = " and ".join(noun(t) for t in sorted(known))
        raise ExpressionError(f"{name}() needs values of one type, not {found}", args[0].column)
    return known.pop() if known else ANY


def _extreme_check(name: str, args: Sequence[Node]) -> tuple[str, bool]:
    type_ = _one_type(name, args)
    _need(name, args, ORDERED, "numbers, strings, dates, datetimes or durations")
    if any(a.type == NULL for a in args):
        return NULL, False
    return type_, all(a.whole for a in args)


def _coalesce_check(name: str, args: Sequence[Node]) -> tuple[str, bool]:
    type_ = _one_type(name, args)
    for enum_side in args:
        for other in args:
            check_option(enum_side, other)
    return type_, all(a.whole or a.type == NULL for a in args)


def _date_check(name: str, args: Sequence[Node]) -> tuple[str, bool]:
    (arg,) = args
    if arg.type == STRING:
        if not isinstance(arg.const, str):
            raise ExpressionError(f"{name}() reads a date written as a literal 'YYYY-MM-DD', "
                                  "not a computed string", arg.column)
        try:
            date.fromisoformat(arg.const)
        except ValueError:
            raise ExpressionError(f"'{arg.const}' is not a date written as 'YYYY-MM-DD'",
                                  arg.column) from None
    else:
        _need(name, args, (DATE, DATETIME), "a datetime, a date or a 'YYYY-MM-DD' string")
    return DATE, False


def _date(now: datetime, x: Any) -> Any:
    if isinstance(x, datetime):
        return x.astimezone(now.tzinfo).date() if x.tzinfo else x.date()
    if isinstance(x, date):
        return x
    return date.fromisoformat(x) if isinstance(x, str) else None


_PARAM_TYPES = {"integer": NUMBER, "decimal": NUMBER, "duration": DURATION, "boolean": BOOLEAN, "string": STRING}


def _param(args: Sequence[Node], column: int) -> Node:
    """`param('id')`: the value of the workflow's parameter `id` for this estate, a constant.

    Each estate's definition is compiled with its overlay merged, so the value is known here
    (engine/language/parameters.py); a duration parameter gives its length of time.
    """
    (arg,) = args
    if arg.type != STRING or not isinstance(arg.const, str):
        raise ExpressionError("param() names a parameter as a literal: param('writeoff_limit')", arg.column)
    table = SCOPE.get() or {}
    found = table.get(arg.const)
    if found is None:
        known = sorted(table)
        listed = f"the parameters: {', '.join(known)}" if known else "the workflow has no `parameters:`"
        hint = difflib.get_close_matches(arg.const, known, n=1, cutoff=0.6)
        did = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise ExpressionError(f"unknown parameter '{arg.const}'{did}; {listed}", arg.column)
    value = found.value.delta if isinstance(found.value, Duration) else found.value
    return constant(value, _PARAM_TYPES[found.type], column, whole=found.type == "integer")


FUNCTIONS: Mapping[str, Function] = MappingProxyType({f.name: f for f in (
    Function("now", "now()", "the current moment: an aware datetime in the estate's time zone",
             (0, 0), _returns(DATETIME), lambda now: now),
    Function("today", "today()", "today's date in the estate's time zone",
             (0, 0), _returns(DATE), lambda now: now.date()),
    Function("days", "days(n)", "a duration of n days (n may have a point: days(1.5))",
             (1, 1), _duration_check, _duration(86_400)),
    Function("hours", "hours(n)", "a duration of n hours", (1, 1), _duration_check, _duration(3_600)),
    Function("minutes", "minutes(n)", "a duration of n minutes", (1, 1), _duration_check, _duration(60)),
    Function("len", "len(x)", "the number of characters of a string (or items of a list literal)",
             (1, 1), _len_check, lambda now, x: len(x) if isinstance(x, (str, tuple)) else None),
    Function("abs", "abs(x)", "the absolute value of a number or a duration",
             (1, 1), _abs_check, _abs),
    Function("min", "min(a, b, ...)", "the smallest of two or more values of one type",
             (2, None), _extreme_check, lambda now, *xs: min(xs)),
    Function("max", "max(a, b, ...)", "the largest of two or more values of one type",
             (2, None), _extreme_check, lambda now, *xs: max(xs)),
    Function("coalesce", "coalesce(a, b, ...)", "the first of its values that is not null "
             "(the one function that takes null): coalesce(reopen_count, 0) + 1",
             (2, None), _coalesce_check, lambda now, *xs: next((x for x in xs if x is not None), None),
             takes_null=True),
    Function("date", "date(x)", "the date part of a datetime (in the estate's time zone), "
             "a date unchanged, or a date written 'YYYY-MM-DD'", (1, 1), _date_check, _date),
    Function("param", "param('id')", "the value of the workflow's parameter id for the item's estate "
             "(`parameters:`, set per estate by an overlay)", (1, 1), _returns(ANY), lambda now, x: None,
             build=_param),
)})


def call(fn: Function, args: Sequence[Node], column: int) -> Node:
    low, high = fn.arity
    if len(args) < low or (high is not None and len(args) > high):
        expected = f"{low}" if low == high else f"at least {low}"
        raise ExpressionError(
            f"{fn.signature} takes {expected} argument{'s' * (expected != '1')} ({len(args)} given)",
            column,
        )
    if fn.build is not None:
        return fn.build(args, column)
    type_, whole = fn.check(fn.name, args)
    runs, impl = tuple(a.run for a in args), fn.impl

    def run(values: Mapping[str, Any], now: datetime) -> Any:
        actual = [r(values, now) for r in runs]
        if not fn.takes_null and any(x is None for x in actual):
            return None
        try:
            return impl(now, *actual)
        except SAFE_ERRORS:
            return None

    return Node(type_, run, column, whole)
