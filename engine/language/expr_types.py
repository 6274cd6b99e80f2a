"""The types and operations of the expression language (see engine/language/expr.py).

engine/language/expr_syntax.py reads the text and expr.py checks its shape; this module says what each operation
means: its static type, checked at compile time, and its null-safe value at run time.
The rules themselves are documented once, in engine/language/expr.py's docstring; the function
table lives in engine/language/expr_functions.py.

Every run-time operation checks the Python types of its operands before computing, and
turns TypeError/ValueError/ArithmeticError into null (comparisons: false). A stored value
of the wrong type therefore gives null, never a traceback, and never an operation we did
not mean (`'%s' % x` formatting, `'a' * n` repetition).
"""

from __future__ import annotations

import decimal
import difflib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from engine.errors import ExpressionError
from engine.language.definition import FieldDef
from engine.language.roles import unknown_role

BOOLEAN, NUMBER, STRING, DATE, DATETIME = "boolean", "number", "string", "date", "datetime"
DURATION, NULL, ANY, LIST = "duration", "null", "any", "list"

FIELD_TYPES: Mapping[str, str] = MappingProxyType({
    "string": STRING, "text": STRING, "phone": STRING, "user": STRING, "enum": STRING, "unit": STRING,
    "integer": NUMBER, "decimal": NUMBER, "boolean": BOOLEAN, "date": DATE, "datetime": DATETIME,
    # A file field reads as the list of its attachments: `photos != null` and `len(photos) >= 2`
    # work, comparing it with a string or a number does not compile (it is never set: checks_files.py).
    "file": LIST,
})
"""Field type → static type; a field type not listed here is `any` (checked only at run time)."""

MAX_RESULT_LENGTH = 10_000
"""A string result longer than this is null: concatenating field values cannot grow without bound."""

# Decimal arithmetic runs in this context whatever the calling thread has set, so that a
# result never depends on it and overflow or an invalid operation raises (and becomes null).
CONTEXT = decimal.Context(
    prec=28, traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow]
)

Run = Callable[[Mapping[str, Any], datetime], Any]
NO_CONST: Any = object()
SAFE_ERRORS = (TypeError, ValueError, ArithmeticError)
_NOUNS = {
    BOOLEAN: "a condition (true/false)", NUMBER: "a number", STRING: "a string", DATE: "a date",
    DATETIME: "a datetime", DURATION: "a duration", NULL: "null", ANY: "a value", LIST: "a list",
}


@dataclass(frozen=True, slots=True)
class Node:
    """A compiled sub-expression: its static type and the closure that computes it."""

    type: str
    run: Run
    column: int = 0
    whole: bool = False
    """A number that is always an integer, so it may be stored in an integer field."""
    const: Any = NO_CONST
    """A literal's value: enum options, list items and `date('...')` are checked on it."""
    name: str = ""
    """The field a bare field reference reads (for hints)."""
    enum: FieldDef | None = None
    """The enum field a bare field reference reads: literals compared with it are checked."""
    items: tuple[Node, ...] = ()
    """A list literal's items."""
    catalogue: Mapping[str, str] | None = None
    """`my_roles`: the role catalogue its items come from (role literals looked for in it are checked)."""


def noun(type_: str) -> str:
    return _NOUNS.get(type_, type_)


def fits(type_: str, *allowed: str) -> bool:
    return type_ in allowed or type_ in (ANY, NULL)


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is Decimal  # bool is an int: not a number here


def _is_null_literal(node: Node) -> bool:
    return node.type == NULL and node.const is None


def constant(value: Any, type_: str, column: int, *, whole: bool = False) -> Node:
    return Node(type_, lambda values, now: value, column, whole, value)


def field_ref(name: str, fd: FieldDef, column: int) -> Node:
    def run(values: Mapping[str, Any], now: datetime) -> Any:
        return values.get(name)

    enum = fd if fd.type == "enum" else None
    return Node(FIELD_TYPES.get(fd.type, ANY), run, column, fd.type == "integer", name=name, enum=enum)


def actor_ref(name: str, type_: str, column: int, *, roles: Mapping[str, str] | None = None) -> Node:
    """`me` (a string) or `my_roles` (a list): read from the values the caller adds, never stored."""
    if type_ != LIST:
        def run(values: Mapping[str, Any], now: datetime) -> Any:
            value = values.get(name)
            return value if isinstance(value, str) else None
    else:
        def run(values: Mapping[str, Any], now: datetime) -> Any:
            value = values.get(name)
            # A list of role ids only: a string here would turn `in` into a substring test.
            return tuple(value) if isinstance(value, list | tuple | set | frozenset) else None
    return Node(type_, run, column, name=name, catalogue=roles)


def option_problem(name: str, fd: FieldDef, value: str) -> str | None:
    """Why `value` is not an option key of the enum field `name`, or None if it is one."""
    if value in fd.options:
        return None
    keys = list(fd.options)
    message = f"'{value}' is not an option of {name} (options: {', '.join(keys)}"
    labelled = [key for key, label in fd.options.items() if label == value]
    close = difflib.get_close_matches(value, keys, n=1)
    if labelled:
        message += f"; '{value}' is the label of '{labelled[0]}': compare with the option key"
    elif close:
        message += f"; did you mean '{close[0]}'?"
    return message + ")"


def check_option(enum_side: Node, other: Node) -> None:
    if enum_side.enum is not None and isinstance(other.const, str):
        problem = option_problem(enum_side.name, enum_side.enum, other.const)
        if problem:
            raise ExpressionError(problem, other.column)


def _guarded(fn: Callable[..., Any], left: Node, right: Node, type_: str, column: int, whole: bool,
             failed: Any = None) -> Node:
    """A binary node: null in → `failed` out; a Python error → `failed`."""
    lrun, rrun = left.run, right.run

    def run(values: Mapping[str, Any], now: datetime) -> Any:
        a = lrun(values, now)
        b = rrun(values, now)
        if a is None or b is None:
            return failed
        try:
            return fn(a, b)
        except SAFE_ERRORS:
            return failed

    return Node(type_, run, column, whole)


# --- and, or, not ---------------------------------------------------------------------------

def check_condition(node: Node, where: str) -> None:
    if not fits(node.type, BOOLEAN):
        what = node.name or "this"
        hint = f" (to test that {node.name} is filled in, write {node.name} != null)" if node.name else ""
        raise ExpressionError(f"{where} must be true or false, but {what} is {noun(node.type)}{hint}",
                              node.column)


def logic(op: str, operands: Sequence[Node], column: int) -> Node:
    for operand in operands:
        check_condition(operand, f"the operand of '{op}'")
    runs = tuple(o.run for o in operands)
    # Only a real `true` counts: null (and anything else) is false in a boolean context.
    if op == "not":
        (only,) = runs
        return Node(BOOLEAN, lambda v, n: only(v, n) is not True, column)
    if op == "and":
        return Node(BOOLEAN, lambda v, n: all(r(v, n) is True for r in runs), column)
    return Node(BOOLEAN, lambda v, n: any(r(v, n) is True for r in runs), column)


# --- arithmetic -----------------------------------------------------------------------------

_ARITHMETIC = {
    ("+", NUMBER, NUMBER): NUMBER, ("+", STRING, STRING): STRING,
    ("+", DATE, DURATION): DATE, ("+", DATETIME, DURATION): DATETIME,
    ("+", DURATION, DATE): DATE, ("+", DURATION, DATETIME): DATETIME,
    ("+", DURATION, DURATION): DURATION,
    ("-", NUMBER, NUMBER): NUMBER, ("-", DATE, DURATION): DATE, ("-", DATETIME, DURATION): DATETIME,
    ("-", DATE, DATE): DURATION, ("-", DATETIME, DATETIME): DURATION,
    ("-", DURATION, DURATION): DURATION,
    ("*", NUMBER, NUMBER): NUMBER, ("/", NUMBER, NUMBER): NUMBER, ("%", NUMBER, NUMBER): NUMBER,
}


def _plus_minus(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if isinstance(a, str) and isinstance(b, str) and fn is operator.add:
            return a + b if len(a) + len(b) <= MAX_RESULT_LENGTH else None
        if (is_number(a) and is_number(b)) or (
            isinstance(a, (date, timedelta)) and isinstance(b, (date, timedelta))
        ):
            return fn(a, b)  # date + date and the like raise TypeError: null
        return None

    return apply


def _times(a: Any, b: Any) -> Any:
    return a * b if is_number(a) and is_number(b) else None


def _divide(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)) or b == 0:
        return None
    return Decimal(a) / Decimal(b)


def _modulo(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)) or b == 0:
        return None
    if type(a) is int and type(b) is int:
        # The sign follows the dividend, as with decimals (and SQL), not Python's int rule.
        rest = abs(a) % abs(b)
        return -rest if a < 0 else rest
    return Decimal(a) % Decimal(b)


_OPERATIONS = {
    "+": _plus_minus(operator.add), "-": _plus_minus(operator.sub),
    "*": _times, "/": _divide, "%": _modulo,
}


def arithmetic(op: str, left: Node, right: Node, column: int) -> Node:
    results = {
        result for (o, lt, rt), result in _ARITHMETIC.items()
        if o == op and fits(left.type, lt) and fits(right.type, rt)
    }
    if not results:
        hint = ""
        if {left.type, right.type} == {DATE, DATETIME}:
            hint = " (take the date part of the datetime with date(...))"
        elif op == "*" and STRING in (left.type, right.type):
            hint = " (strings cannot be multiplied)"
        raise ExpressionError(
            f"'{op}' cannot combine {noun(left.type)} and {noun(right.type)}{hint}", column
        )
    if NULL in (left.type, right.type):
        type_ = NULL
    else:
        type_ = results.pop() if len(results) == 1 else ANY
    whole = op != "/" and left.whole and right.whole
    return _guarded(_OPERATIONS[op], left, right, type_, column, whole)


def negate(op: str, operand: Node, column: int) -> Node:
    if not fits(operand.type, NUMBER, DURATION):
        raise ExpressionError(f"'{op}' needs a number or a duration, not {noun(operand.type)}", column)
    if op == "+":
        return operand
    if is_number(operand.const):
        return constant(-operand.const, NUMBER, column, whole=operand.whole)
    run = operand.run

    def negative(values: Mapping[str, Any], now: datetime) -> Any:
        x = run(values, now)
        try:
            return -x if is_number(x) or isinstance(x, timedelta) else None
        except SAFE_ERRORS:
            return None

    return Node(operand.type, negative, column, operand.whole)


# --- comparisons ----------------------------------------------------------------------------

ORDERED = (NUMBER, STRING, DATE, DATETIME, DURATION)
_COMPARE = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def compare(op: str, left: Node, right: Node, column: int) -> Node:
    if op in ("in", "not in"):
        return _membership(op, left, right, column)
    if op in ("==", "!=") and (_is_null_literal(left) or _is_null_literal(right)):
        other = (right if _is_null_literal(left) else left).run
        if op == "==":
            return Node(BOOLEAN, lambda v, n: other(v, n) is None, column)
        return Node(BOOLEAN, lambda v, n: other(v, n) is not None, column)
    lt, rt = left.type, right.type
    if not (lt == rt or ANY in (lt, rt) or NULL in (lt, rt)):
        hint = " (take the date part of the datetime with date(...))" if {lt, rt} == {DATE, DATETIME} else ""
        raise ExpressionError(f"cannot compare {noun(lt)} with {noun(rt)}{hint}", column)
    if op in ("==", "!="):
        check_option(left, right)
        check_option(right, left)
    else:
        known = lt if lt not in (ANY, NULL) else rt
        enum = left.enum and left.name or right.enum and right.name
        if enum:
            raise ExpressionError(f"the options of {enum} have no order: compare with == or in", column)
        if not fits(known, *ORDERED):
            raise ExpressionError(f"'{op}' cannot order {noun(known)}", column)
    return _guarded(_COMPARE[op], left, right, BOOLEAN, column, False, failed=False)


def _in_list(item: Any, items: Any) -> bool:
    return item in items  # items: the tuple of a list literal


def _in_text(part: Any, text: Any) -> bool:
    return isinstance(text, str) and isinstance(part, str) and part in text


def _membership(op: str, left: Node, right: Node, column: int) -> Node:
    if right.type == LIST:
        if right.catalogue is not None:
            _check_role(left, right.catalogue)
        if right.items and not fits(left.type, right.items[0].type):
            raise ExpressionError(
                f"cannot look for {noun(left.type)} in a list of {right.items[0].type} values", column
            )
        for item in right.items:
            check_option(left, item)
        found: Callable[[Any, Any], bool] = _in_list
    elif fits(right.type, STRING):
        if not fits(left.type, STRING):
            raise ExpressionError(f"'in' on a string looks for a piece of text, not {noun(left.type)}",
                                  column)
        found = _in_text
    else:
        raise ExpressionError(
            f"'{op}' needs a list like ['a', 'b'] or a string on its right, not {noun(right.type)}",
            column,
        )
    test = found if op == "in" else (lambda a, b: not found(a, b))
    return _guarded(test, left, right, BOOLEAN, column, False, failed=False)


def _check_role(left: Node, catalogue: Mapping[str, str]) -> None:
    if not fits(left.type, STRING):
        raise ExpressionError(f"my_roles holds role ids (strings), not {noun(left.type)}", left.column)
    if isinstance(left.const, str) and left.const not in catalogue:
        close = difflib.get_close_matches(left.const, list(catalogue), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExpressionError(unknown_role(left.const, catalogue, hint), left.column)


def make_list(items: Sequence[Node], column: int) -> Node:
    types = {item.type for item in items}
    if len(types) > 1:
        raise ExpressionError("the values of a list must all be of one type", column)
    values = tuple(item.const for item in items)
    return Node(LIST, lambda v, n: values, column, const=values, items=tuple(items))


# --- what the expression is for -------------------------------------------------------------

def check_assignable(node: Node, want: str, target: FieldDef | None) -> None:
    """Raise unless the expression's value may be stored in a field of type `want`."""
    field = f"the {want} field {target.name}" if target is not None else f"a {want} field"
    if want not in FIELD_TYPES:
        raise ExpressionError(f"{field} cannot be set by an expression", 0)
    if node.type in (NULL, ANY):
        return
    if node.type != FIELD_TYPES[want]:
        raise ExpressionError(
            f"this gives {noun(node.type)}, but {field} needs {noun(FIELD_TYPES[want])}", node.column
        )
    if want == "integer" and not node.whole:
        raise ExpressionError(f"this may give a decimal number, but {field} needs a whole number",
                              node.column)
    if want == "enum" and target is not None:
        if isinstance(node.const, str):
            problem = option_problem(target.name, target, node.const)
        elif node.enum is not None:
            extra = [key for key in node.enum.options if key not in target.options]
            problem = f"{node.name} has options {target.name} lacks: {', '.join(extra)}" if extra else None
        else:
            problem = f"{field} takes one of its options, written as a string: {', '.join(target.options)}"
        if problem:
            raise ExpressionError(problem, node.column)
