"""Guards as the pages judge them: with the acting user, over what a form may be given, refused in Chinese.

    acting(values, actor)                        the values plus `me` and `my_roles` (never stored)
    opens(branches, definition, values, now, asks)   the branches that may fire once the form is filled in
    guard_refusal(definition, branches, values, names)   why not, in plain Chinese (never the expression)
    fields_read(definition, branches)            the fields the guards read, in the definition's order

engine/access/permissions.py builds the availability rule on these. A guard reading one of
the form's fields is tried over that field's possible inputs: every enum option, true and
false, and probe values for numbers, dates, texts and people (the guard's own literals, the
item's numbers and the acting user among them), so a guard that fails whatever is typed
closes the step and one a typed value satisfies opens it. A guard with too many combinations
to try is split at its top-level `and`s and each part tried over its own fields: one part that
fails whatever is typed (`patroller == me`) closes the step; otherwise it stays open and fire()
judges what is typed.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.access.actor import Actor
from engine.errors import ExpressionError
from engine.language.definition import ME, MY_ROLES, FieldDef, TransitionDef, WorkflowDefinition
from engine.language.expr import compile_expression
from engine.language.machine import branch_order

__all__ = ["acting", "fields_read", "guard_refusal", "opens"]

_MAX_TRIES = 512
"""Input combinations tried per guard; beyond that the step stays open and fire() decides."""
_LITERAL = re.compile(r"'([^']*)'|\"([^\"]*)\"|(?<![\w.])(\d+(?:\.\d+)?)")
_FAR = 36_500
"""Days: a date probe a century away satisfies any `date > today()`-like guard."""
_BIG = 10**12


def _literals(source: str) -> tuple[str | Decimal, ...]:
    found: list[str | Decimal] = []
    for text, quoted, number in _LITERAL.findall(source):
        found.append(Decimal(number) if number else text or quoted)
    return tuple(found)


def _probes(field: FieldDef, values: Mapping[str, Any], literals: tuple[str | Decimal, ...], now: datetime,
            required: bool) -> tuple[Any, ...]:
    """Values a person could type into `field`, enough to tell whether a guard can hold."""
    kind = field.type
    found: list[Any]
    if kind == "enum":
        found = list(field.options)
    elif kind == "boolean":
        found = [True, False]
    elif kind in ("integer", "decimal"):
        numbers = [Decimal(0), Decimal(1), Decimal(-1), Decimal(_BIG), Decimal(-_BIG)]
        numbers += [v for v in literals if isinstance(v, Decimal)]
        # Sums and comparisons with other fields (refund == deposit) are met by the item's own numbers.
        numbers += [Decimal(v) for v in values.values() if isinstance(v, int | Decimal) and not isinstance(v, bool)]
        found = [int(n) for n in numbers if n == int(n)] if kind == "integer" else numbers
    elif kind == "date":
        found = [now.date() + timedelta(days=d) for d in (0, 1, -1, _FAR, -_FAR)]
    elif kind == "datetime":
        found = [now + timedelta(days=d) for d in (0, 1, -1, _FAR, -_FAR)]
    elif kind == "file":  # a guard on a file field counts its files (len(photos) >= 2)
        found = [("",), ("",) * 3, ("",) * 20]
    elif kind == "user":
        # The form may name the acting user (handler == me): try them, not just the guard's literals.
        found = ["", *(v for v in literals if isinstance(v, str)), *([values[ME]] if values.get(ME) else [])]
    else:
        found = ["", *(v for v in literals if isinstance(v, str))]
    # An empty answer is an answer too, unless this branch requires the field (step 6 refuses it).
    stored = values.get(field.name)
    return tuple(dict.fromkeys([stored, *found] if required else [stored, *found, None]))


def _may_hold(transition: TransitionDef, definition: WorkflowDefinition, values: Mapping[str, Any],
              now: datetime, asks: tuple[str, ...]) -> bool:
    """Whether the guard holds on `values`, or on some input for the form's fields it reads."""
    when = transition.when
    if when is None:
        return True
    found = _tried(when, transition, definition, values, now, asks)
    if found is not None:
        return found
    # Too many combinations for the whole guard: a conjunction still fails when one of its parts
    # fails whatever is typed (patrol's complete: `patroller == me and` six checkpoints), so each
    # part is tried over its own fields; a part with too many stays open and fire() judges.
    parts = _conjuncts(when.source, definition)
    return parts is None or all(_tried(p, transition, definition, values, now, asks) is not False for p in parts)


def _tried(when: Any, transition: TransitionDef, definition: WorkflowDefinition, values: Mapping[str, Any],
           now: datetime, asks: tuple[str, ...]) -> bool | None:
    """Whether `when` holds on `values` or on some input of the form's fields it reads; None: too many to try."""
    if when.evaluate(values, now) is True:
        return True
    typed = [n for n in asks if n in when.names and n in definition.fields]
    if not typed:
        return False
    literals = _literals(transition.when.source if transition.when is not None else when.source)
    choices = [_probes(definition.fields[n], values, literals, now, n in transition.require) for n in typed]
    tries = 1
    for options in choices:
        tries *= len(options)
    if tries > _MAX_TRIES:
        return None
    working = dict(values)
    for combination in itertools.product(*choices):
        working.update(zip(typed, combination, strict=True))
        if when.evaluate(working, now) is True:
            return True
    return False


def _conjuncts(source: str, definition: WorkflowDefinition) -> tuple[Any, ...] | None:
    """The top-level `and` operands of a guard, compiled apart; None when it is no conjunction."""
    text = f"({source})"  # a guard folded over several YAML lines parses as one expression
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And)):
        return None
    # The guard compiled already, so its role literals were in the catalogue: accept them again.
    roles = {r: r for r in _literals(source) if isinstance(r, str)}
    parts = []
    for operand in tree.values:
        segment = ast.get_source_segment(text, operand)
        try:
            parts.append(compile_expression(segment or "", definition.fields, want="boolean", roles=roles))
        except ExpressionError:
            return None
    return tuple(parts)


def opens(branches: tuple[TransitionDef, ...], definition: WorkflowDefinition, values: Mapping[str, Any],
           now: datetime, asks: tuple[str, ...]) -> tuple[TransitionDef, ...]:
    """The branches that may fire once the form (`asks`) is filled in, in the order fire() tries them."""
    return tuple(t for t in branch_order(branches) if _may_hold(t, definition, values, now, asks))


def acting(values: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    """A copy of `values` with the acting user added (`me`, `my_roles`), to judge guards on; never stored."""
    return {**values, ME: actor.username, MY_ROLES: sorted(actor.roles)}


def _read(branches: tuple[TransitionDef, ...]) -> frozenset[str]:
    return frozenset(n for t in branches if t.when is not None for n in t.when.names)


def guard_refusal(definition: WorkflowDefinition, branches: tuple[TransitionDef, ...], values: Mapping[str, Any],
                  names: Mapping[str, str] | None = None, *, typed: bool = False) -> str:
    """Why the guards of `branches` refuse, in plain Chinese: the `when` labels, else the fields involved
    by label; never the expression.

    A labelled guard (`when: {if: ..., label: ...}`) is named by its label. An unlabelled one
    reading `me` refuses someone other than the person in charge: 不是本事项的责任人,
    naming that person (the `user` fields the guard reads) by display name from `names`
    (username → display name); a login id is never shown. Other unlabelled guards name the
    fields they read.
    """
    labelled = list(dict.fromkeys(t.when_label for t in branches if t.when is not None and t.when_label))
    plain = tuple(t for t in branches if t.when is not None and not t.when_label)
    read = _read(plain)
    involved = fields_read(definition, plain)
    if ME in read and not labelled:
        people = [names[v] for n in involved if definition.fields[n].type == "user"
                  for v in [values.get(n)] if isinstance(v, str) and names and v in names]
        people = list(dict.fromkeys(people))
        return "不是本事项的责任人" + (f"（责任人：{'、'.join(people)}）" if people else "")
    labels = [f"“{definition.fields[n].label}”" for n in involved]
    if typed:
        asked = "、".join(labels) if labels else "内容"
        return f"要看填写的{asked}是否满足条件" + (f"：{'；'.join(labelled)}" if labelled else "")
    text = "条件不满足" + (f"：{'；'.join(labelled)}" if labelled else "")
    return text + (f"（与{'、'.join(labels)}有关）" if labels else "")


def fields_read(definition: WorkflowDefinition, branches: tuple[TransitionDef, ...]) -> tuple[str, ...]:
    """The fields the branches' guards read, in the definition's order."""
    read = _read(branches)
    return tuple(n for n in definition.fields if n in read)
