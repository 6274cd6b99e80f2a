"""The text of an expression before it means anything: its bounds, parsing it, and the messages that refuse it.

    parse(text, start)      the checked ast of one expression (blanked out to one line; `start`: the
                            column of its first character in the source), or ExpressionError
    column(text, start, n)  where an ast node starts, in characters of the source
    unknown(kind, name, k)  "unknown field 'x' (did you mean 'y'?)"
    MAX_*                   the bounds on the source, its literals and its tree
    REFUSED, REFUSED_OPERATORS  what a refused ast node or operator is told

The bounds are checked before the parser sees the text (its length, and brackets counted outside
string literals) and then on the tree without recursion (its nodes and depth), so that the
recursive walk of engine/language/expr.py only ever meets a small, shallow tree. A syntax error
written the way Excel, JavaScript or SQL would (`&&`, `!`, a single `=`) is told the word to use.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from engine.errors import ExpressionError

__all__ = [
    "MAX_DEPTH", "MAX_DIGITS", "MAX_LENGTH", "MAX_NODES", "MAX_NUMBER", "MAX_STRING", "REFUSED",
    "REFUSED_OPERATORS", "column", "parse", "unknown",
]

MAX_LENGTH = 500
"""Characters of source."""
MAX_NODES = 100
"""Values, names, operators and calls (ast.expr nodes)."""
MAX_DEPTH = 20
"""Levels of nesting: brackets before parsing, then the tree."""
MAX_NUMBER = 10**15
"""The largest absolute value of a numeric literal."""
MAX_DIGITS = 20
"""Digits in a numeric literal."""
MAX_STRING = 200
"""Characters in a string literal."""

_SYMBOL_WORDS = {"&&": "and", "||": "or"}
"""Other languages' operators for the words this one uses."""

REFUSED_OPERATORS = {
    ast.Pow: "the power operator ** is not allowed",
    ast.FloorDiv: "'//' is not allowed; use '/'",
    ast.BitAnd: "'&' is not allowed; use 'and'",
    ast.BitOr: "'|' is not allowed; use 'or'",
    ast.BitXor: "'^' is not allowed",
    ast.LShift: "'<<' is not allowed",
    ast.RShift: "'>>' is not allowed",
    ast.MatMult: "'@' is not allowed",
    ast.Invert: "'~' is not allowed; use 'not'",
    ast.Is: "'is' is not allowed; write == null or != null",
    ast.IsNot: "'is not' is not allowed; write != null",
}
_COMPREHENSION = "comprehensions are not allowed"
REFUSED = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts (x[...]) are not allowed",
    ast.Slice: "subscripts (x[...]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: _COMPREHENSION, ast.SetComp: _COMPREHENSION,
    ast.DictComp: _COMPREHENSION, ast.GeneratorExp: _COMPREHENSION,
    ast.IfExp: "'a if c else b' is not allowed; use transitions with different `when`",
    ast.NamedExpr: "':=' is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.JoinedStr: "f-strings are not allowed", ast.FormattedValue: "f-strings are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Set: "sets are not allowed; write a list [...] after in",
    ast.Tuple: "tuples are not allowed; write a list [...] after in",
    ast.List: "a list [...] is only allowed after in / not in",
    ast.Await: "await is not allowed", ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}


def _outside_strings(text: str) -> Iterator[tuple[int, str]]:
    """(index, character) of the text outside string literals (best effort)."""
    quote, i = "", 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        else:
            yield i, char
        i += 1


def unknown(kind: str, name: str, known: Iterator[str] | Mapping[str, Any]) -> str:
    """The message for a name that is not one of `known`, with the closest one if any."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"unknown {kind} '{name}'" + (f" (did you mean '{close[0]}'?)" if close else "")


def column(text: str, start: int, node: ast.AST) -> int:
    """The column of `node` in the source, `text` starting at column `start`."""
    # ast columns are UTF-8 byte offsets; ours are characters in the source.
    prefix = text.encode()[: getattr(node, "col_offset", 0)]
    return start + len(prefix.decode(errors="ignore"))


def parse(text: str, start: int) -> ast.Expression:
    """The ast of `text` (one line, no leading blank), within the bounds; ExpressionError otherwise."""
    depth = 0
    for i, char in _outside_strings(text):
        if char == "#":  # a comment would silently swallow the rest of a joined-up line
            raise ExpressionError("comments (#) are not allowed in an expression", start + i)
        depth += (char in "([{") - (char in ")]}")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"too deeply nested (at most {MAX_DEPTH} levels)", start + i)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise _syntax_error(text, start, error) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("too deeply nested", start) from None
    except ValueError:  # a NUL character, on some Python versions
        raise ExpressionError("the expression contains a character that is not allowed", start) from None
    _check_size(text, start, tree.body)
    return tree


def _syntax_error(text: str, start: int, error: SyntaxError) -> ExpressionError:
    for i, char in _outside_strings(text):
        # Written by someone used to Excel, JavaScript or SQL: name the word to use instead of
        # Python's "invalid syntax".
        pair = text[i : i + 2]
        if pair in _SYMBOL_WORDS:
            return ExpressionError(f"'{pair}' is not part of the language; write '{_SYMBOL_WORDS[pair]}'", start + i)
        if char == "!" and text[i + 1 : i + 2] != "=":
            return ExpressionError("'!' is not part of the language; write 'not' (as in: not urgent), "
                                   "or '!=' to compare", start + i)
    for i, char in _outside_strings(text):
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        if char == "=" and before not in ("=", "!", "<", ">", ":") and after != "=":
            return ExpressionError("a single '=' assigns; to compare, write '=='", start + i)
    if not error.offset:  # Python's way of saying: at the end
        message = "the expression ends too early" if error.msg == "invalid syntax" else error.msg
        return ExpressionError(f"syntax error: {message}", start + len(text.rstrip()))
    return ExpressionError(f"syntax error: {error.msg}", min(start + error.offset - 1, start + len(text)))


def _check_size(text: str, start: int, root: ast.AST) -> None:
    count, stack = 0, [(root, 1)]
    while stack:  # no recursion: the tree may still be deep here
        node, depth = stack.pop()
        if isinstance(node, ast.expr):
            count += 1
            if count > MAX_NODES:
                raise ExpressionError(f"the expression is too big (more than {MAX_NODES} parts)", start)
            if depth > MAX_DEPTH:
                raise ExpressionError(f"too deeply nested (at most {MAX_DEPTH} levels)", column(text, start, node))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
