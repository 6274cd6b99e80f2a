"""The expression language of workflow files: `when:` guards and `set:` values.

Expressions come from YAML files written by administrators: untrusted text. They are parsed
with `ast.parse(mode="eval")`, checked against an allow-list of node types and against the
workflow's fields (names and types), and compiled into a tree of small closures. Nothing is
ever passed to eval/exec/compile, and no attribute is looked up by a user-supplied name.
This module walks the tree; the text's bounds, parsing and the messages refusing syntax are
engine/language/expr_syntax.py's, the types and evaluation expr_types.py's, the functions
expr_functions.py's.

Grammar (Python's expression syntax cut down to this; precedence as in Python)::

    expr    := expr 'or' expr | expr 'and' expr | 'not' expr | compare
    compare := sum (op sum)*        op: == != < <= > >= in, not in
    sum     := sum ('+'|'-') term | term          term := term ('*'|'/'|'%') unary | unary
    unary   := ('-'|'+') unary | atom
    atom    := NUMBER | STRING | true | false | null | FIELD | FUNCTION '(' args ')' | '(' expr ')'
    list    := '[' literal (',' literal)* ']'      only right of in / not in, or as len()'s argument

- NUMBER: digits with an optional point (`12`, `3.50`); a point makes a Decimal, never a float.
  No exponents, hex, octal or imaginary numbers; at most MAX_DIGITS digits, |x| <= MAX_NUMBER.
- STRING: 'text' or "text", at most MAX_STRING characters. true, false, null: lowercase only.
- FIELD: a field declared under `fields:`; the words true/false/null win over a field so named.
- In a transition's `when` only: `me`, the acting user's username (a string; null for the
  system), and `my_roles`, the list of role ids the actor holds in the item's estate:
  `engineer == me or 'engineering_lead' in my_roles`. A role literal looked for in my_roles must
  be a role of the catalogue. The caller puts both into the values (never stored).
- Chained comparisons are allowed: `0 < amount <= 1000` means `0 < amount and amount <= 1000`.
- Line breaks count as blanks (YAML block scalars); comments (#) are refused, as a comment would
  swallow the rest of a joined-up line.
- A list holds literals of one type (no null): `category in ['design', 'sales']`.

Functions (FUNCTIONS; wrong argument count or types are compile-time errors)::

    now()          the current moment: an aware datetime in the estate's time zone
    today()        today's date in the estate's time zone
    days(n), hours(n), minutes(n)    a duration (n may have a point: hours(1.5))
    len(x)         the number of characters of a string (or items of a list literal)
    abs(x)         the absolute value of a number or a duration
    min(a, b, ...), max(a, b, ...)   the smallest / largest of two or more values of one type
    coalesce(a, b, ...)  the first value that is not null, of two or more of one type:
                   `coalesce(reopen_count, 0) + 1` counts from an unset field
    date(x)        the date part of a datetime (in the estate's time zone), a date unchanged,
                   or the date of a literal 'YYYY-MM-DD' (checked when compiled)
    param('id')    the value of the workflow's parameter id (`parameters:`) for the item's estate:
                   a constant of the definition (engine/language/parameters.py)

Types, checked at compile time. Fields: string, text, phone, user, enum → string; integer,
decimal → number; boolean; date; datetime; a field type unknown here → any (run time only).
- == != need one type on both sides (integers and decimals are both numbers); < <= > >= also
  need an order: numbers, strings, dates, datetimes, durations; not booleans, not enums.
- in / not in: a value in a list of its type, or a string in a string (a substring test).
- and, or, not, and a guard as a whole: conditions (boolean fields, comparisons, null).
- + numbers; strings (concatenation); date/datetime + duration; duration + duration.
- - numbers; date/datetime - duration; date - date and datetime - datetime → duration.
- * / % numbers only. `/` always gives a decimal. A date never mixes with a datetime: date(x).
- Enums compare by option key: a string literal compared (== != in, not in) with an enum field
  must be one of its options ("did you mean ..." otherwise; a label is recognised and refused).
- set: targets (`want`/`target`): the type must match the field's; null always may; an integer
  field needs a whole number (no `/`, no decimals); an enum field takes one of its option keys
  as a literal, or another enum field whose options it has.

Null rules (null = an unset field: a missing key or None in `values`):
- `x == null`, `x != null`, `null == x` test for it. Every other comparison with null is false,
  `!=` included: `category != 'other'` is false when category is unset. So are `x in [...]` and
  `x not in [...]` with x null.
- In a boolean context (and, or, not, a guard's result) only true is true: null is false,
  `not null` is true, and a guard's evaluate() always returns a real bool. A `set:` value
  (target given) keeps null as null.
- Arithmetic with null, division or modulo by zero, numeric overflow and a date out of range
  give null. Functions given a null argument give null (len(null) too), except coalesce().
- A string result longer than MAX_RESULT_LENGTH characters is null.
- `%` gives the remainder with the sign of the dividend (as decimals and SQL do).

Threats we defend against:
- Arbitrary code via eval: there is no eval/exec/compile; only allow-listed ast nodes become
  closures, and anything else is refused by name (lambda, comprehensions, f-strings, `a if c
  else b`, `:=`, `*x`, dicts, sets, tuples).
- Dunder/attribute escapes like `().__class__.__bases__`: attribute access and subscripts are
  refused; names are only looked up in the field mapping (`values.get(name)`), never getattr.
- Calling builtins (`__import__('os')`, `open()`, `eval()`): a call is allowed only to a bare
  name of the fixed FUNCTIONS table; keyword arguments are refused.
- Huge numbers (`9**9**9`, `10000000000000000000000000`): `**` is refused before anything is
  computed, and literals are bounded (MAX_NUMBER, MAX_DIGITS, no exponent notation).
- Huge strings (`'a' * 10**9`): string * number is a type error, string literals are bounded
  (MAX_STRING), and concatenation results are capped (MAX_RESULT_LENGTH → null).
- Deep nesting that could crash CPython's parser: brackets are counted before parsing, and
  RecursionError/MemoryError from the parser become "too deeply nested"; the tree's depth is
  checked (MAX_DEPTH) without recursion before our own recursive compile walks it.
- Long source: more than MAX_LENGTH characters is refused before parsing.
- Expensive evaluation: there are no loops or recursion; a tree of at most MAX_NODES nodes is
  evaluated once per node, on bounded values, so cost is linear in the expression's size.
"""

from __future__ import annotations

import ast
import decimal
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

from engine.errors import ExpressionError
from engine.language import expr_syntax as S
from engine.language import expr_types as T
from engine.language.definition import ME, MY_ROLES, RESERVED_NAMES, FieldDef
from engine.language.expr_functions import FUNCTIONS, Function, call
from engine.language.expr_syntax import MAX_DEPTH, MAX_DIGITS, MAX_LENGTH, MAX_NODES, MAX_NUMBER, MAX_STRING
from engine.language.expr_types import MAX_RESULT_LENGTH, Node, Run

__all__ = [
    "MAX_DEPTH", "MAX_DIGITS", "MAX_LENGTH", "MAX_NODES", "MAX_NUMBER", "MAX_RESULT_LENGTH",
    "MAX_STRING", "FUNCTIONS", "CompiledExpression", "ExpressionError", "Function",
    "compile_expression",
]


@dataclass(frozen=True)
class CompiledExpression:
    """A checked expression, ready to evaluate; satisfies engine.language.definition.Expression."""

    source: str
    names: frozenset[str]
    """The field names it reads."""
    type: str
    """Static type: boolean, number, string, date, datetime, duration, null or any."""
    run: Run = field(repr=False, compare=False)
    guard: bool = field(default=False, repr=False, compare=False)
    """Compiled as a condition: evaluate() returns a real bool."""

    def evaluate(self, values: Mapping[str, Any], now: datetime) -> Any:
        """The value on an item's field values; `now` is aware, in the estate's time zone."""
        with decimal.localcontext(T.CONTEXT):
            result = self.run(values, now)
        return result is True if self.guard else result


def compile_expression(
    source: str,
    fields: Mapping[str, FieldDef],
    *,
    want: str | None = None,
    target: FieldDef | None = None,
    roles: Mapping[str, str] | None = None,
) -> CompiledExpression:
    """Parse and check `source` against `fields`; raise ExpressionError on any problem.

    want: None (any type); "boolean" without `target` for a guard; or, for a `set:` value, the
    target field's type. Pass `target` (the field being set) for set: values: it implies
    `want=target.type`, checks enum options, and keeps a null result null. Pass the role
    catalogue `roles` where the acting user is known (a transition's `when`): only then may the
    expression read `me` and `my_roles`.
    """
    if not isinstance(source, str):
        raise ExpressionError("an expression must be text")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is too long ({len(source)} characters; at most {MAX_LENGTH})"
        )
    # Eval mode refuses leading blanks and line breaks (YAML block scalars have them): blank
    # them out one character for one, so that columns stay those of `source`.
    text = source.lstrip()
    start = len(source) - len(text)
    text = text.replace("\r", " ").replace("\n", " ")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    compiler = _Compiler(text, start, fields, roles)
    tree = compiler.parse()
    node = compiler.expr(tree.body)
    want = target.type if want is None and target is not None else want
    guard = want == "boolean" and target is None
    if guard:
        T.check_condition(node, "a condition")
    elif want is not None:
        T.check_assignable(node, want, target)
    return CompiledExpression(source, frozenset(compiler.names), node.type, node.run, guard)


_WORDS = {"true": (True, T.BOOLEAN), "false": (False, T.BOOLEAN), "null": (None, T.NULL)}
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
_NUMBER = re.compile(r"[0-9][0-9_]*(\.[0-9_]*)?|\.[0-9][0-9_]*")
_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_COMPARISONS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in",
}


class _Compiler:
    """Walks one expression's ast, turning each allowed node into a T.Node."""

    def __init__(self, text: str, start: int, fields: Mapping[str, FieldDef],
                 roles: Mapping[str, str] | None = None) -> None:
        self.text, self.start, self.fields = text, start, fields  # text: one line
        self.roles = roles
        self.names: set[str] = set()

    def column(self, node: ast.AST) -> int:
        return S.column(self.text, self.start, node)

    def fail(self, node: ast.AST, message: str) -> NoReturn:
        raise ExpressionError(message, self.column(node))

    def parse(self) -> ast.Expression:
        return S.parse(self.text, self.start)

    def expr(self, node: ast.expr) -> Node:
        method = _DISPATCH.get(type(node))
        if method is None:
            self.fail(node, S.REFUSED.get(type(node), "this kind of expression is not allowed"))
        return method(self, node)

    def constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool) or value is None:
            spelled = ast.get_source_segment(self.text, node) or str(value)
            self.fail(node, f"unknown name '{spelled}' (write {_PYTHON_WORDS[str(value)]}, in lowercase)")
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                self.fail(node, f"the string is too long ({len(value)} characters; at most {MAX_STRING})")
            return T.constant(value, T.STRING, self.column(node))
        if isinstance(value, (int, float, complex)):
            return self.number(node)
        self.fail(node, "this kind of literal is not allowed")

    def number(self, node: ast.Constant) -> Node:
        text = ast.get_source_segment(self.text, node) or ""
        if not _NUMBER.fullmatch(text):
            self.fail(node, "write numbers as plain decimals, like 12 or 3.5")
        if sum(c.isdigit() for c in text) > MAX_DIGITS:
            self.fail(node, f"the number has too many digits (at most {MAX_DIGITS})")
        value = Decimal(text.replace("_", ""))
        if abs(value) > MAX_NUMBER:
            self.fail(node, f"the number is too large (at most {MAX_NUMBER:,})")
        if "." in text:
            return T.constant(value, T.NUMBER, self.column(node))
        return T.constant(int(value), T.NUMBER, self.column(node), whole=True)

    def name(self, node: ast.Name) -> Node:
        name, column = node.id, self.column(node)
        if name in _WORDS:
            value, type_ = _WORDS[name]
            return T.constant(value, type_, column)
        if name in RESERVED_NAMES:
            return self.actor_name(node, name, column)
        fd = self.fields.get(name)
        if fd is not None:
            self.names.add(name)
            return T.field_ref(name, fd, column)
        if name in _PYTHON_WORDS:
            self.fail(node, f"unknown name '{name}' (write {_PYTHON_WORDS[name]}, in lowercase)")
        if name in FUNCTIONS:
            self.fail(node, f"'{name}' is a function: write {FUNCTIONS[name].signature}")
        self.fail(node, S.unknown("field", name, self.fields))

    def actor_name(self, node: ast.Name, name: str, column: int) -> Node:
        if self.roles is None:
            self.fail(node, f"'{name}' (the acting user) is known only in a transition's when: time limits "
                            "and set values have no acting user")
        self.names.add(name)
        if name == ME:
            return T.actor_ref(ME, T.STRING, column)
        return T.actor_ref(MY_ROLES, T.LIST, column, roles=self.roles)

    def unary(self, node: ast.UnaryOp) -> Node:
        column = self.column(node)
        if type(node.op) in S.REFUSED_OPERATORS:
            self.fail(node, S.REFUSED_OPERATORS[type(node.op)])
        operand = self.expr(node.operand)
        if isinstance(node.op, ast.Not):
            return T.logic("not", [operand], column)
        return T.negate("-" if isinstance(node.op, ast.USub) else "+", operand, column)

    def binary(self, node: ast.BinOp) -> Node:
        if type(node.op) not in _ARITHMETIC:  # refused before the operands are even looked at
            self.fail(node, S.REFUSED_OPERATORS.get(type(node.op), "this operator is not allowed"))
        left, right = self.expr(node.left), self.expr(node.right)
        return T.arithmetic(_ARITHMETIC[type(node.op)], left, right, self.column(node))

    def boolean(self, node: ast.BoolOp) -> Node:
        operands = [self.expr(value) for value in node.values]
        return T.logic("and" if isinstance(node.op, ast.And) else "or", operands, self.column(node))

    def compare(self, node: ast.Compare) -> Node:
        for op in node.ops:
            if type(op) in S.REFUSED_OPERATORS:
                self.fail(node, S.REFUSED_OPERATORS[type(op)])
        left, parts = self.expr(node.left), []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            symbol = _COMPARISONS[type(op)]
            if symbol in ("in", "not in") and isinstance(right_node, ast.List):
                right = self.list_literal(right_node)
            else:
                right = self.expr(right_node)
            parts.append(T.compare(symbol, left, right, right.column))
            left = right
        return parts[0] if len(parts) == 1 else T.logic("and", parts, self.column(node))

    def list_literal(self, node: ast.List) -> Node:
        items = []
        for item in node.elts:
            if isinstance(item, ast.Name) and item.id == "null":
                self.fail(item, "null cannot be in a list; test it with == null")
            literal = isinstance(item, ast.Constant) or (
                isinstance(item, ast.UnaryOp)
                and isinstance(item.op, (ast.USub, ast.UAdd))
                and isinstance(item.operand, ast.Constant)
            ) or (isinstance(item, ast.Name) and item.id in _WORDS)
            if not literal:
                self.fail(item, "a list may hold only literal values: numbers, 'strings', true, false")
            items.append(self.expr(item))
        return T.make_list(items, self.column(node))

    def call(self, node: ast.Call) -> Node:
        func = node.func
        if not isinstance(func, ast.Name):
            self.fail(func, S.REFUSED.get(type(func), "only the functions of the table can be called"))
        fn: Function | None = FUNCTIONS.get(func.id)
        if fn is None:
            self.fail(func, S.unknown("function", func.id, FUNCTIONS)
                      + f"; the functions are: {', '.join(FUNCTIONS)}")
        if node.keywords:
            self.fail(node.keywords[0], "keyword arguments are not allowed")
        args = [
            self.list_literal(arg) if fn.name == "len" and isinstance(arg, ast.List) else self.expr(arg)
            for arg in node.args
        ]
        return call(fn, args, self.column(node))


_DISPATCH: dict[type[ast.AST], Callable[[_Compiler, Any], Node]] = {
    ast.Constant: _Compiler.constant, ast.Name: _Compiler.name, ast.UnaryOp: _Compiler.unary,
    ast.BinOp: _Compiler.binary, ast.BoolOp: _Compiler.boolean, ast.Compare: _Compiler.compare,
    ast.Call: _Compiler.call,
}
