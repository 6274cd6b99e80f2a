"""One button per branch: the entries of one transition name a person may choose, and honouring the choice.

    offered(definition, state, name, values, now, actor) -> (Offer, ...)   the buttons of one name, file order
    form_fields(definition, state, name, actor, branch)                     what one branch's form accepts
    honour(definition, named, permitted, index, values, now, names)         the chosen branch, or its refusal

Several entries of `transitions` may share a name (回访 → 满意，归档 / 不满意，转项目主管). The page
offers each branch the actor's roles allow and whose guard can hold once its form is filled in,
with its own label and its own form: that branch's `require` fields (marked required) and the
fields of the name's form its guard reads (not marked). Firing a button sends the branch's
index; fire() takes that branch only if the roles allow it and its `when` holds on what was
typed, else refuses with that branch's own reason (its `when` label, or the fields involved).
The "otherwise" (the branch without `when`) holds when no other branch the actor may fire
does, exactly as when fire() picks by file order: choosing it never skips a rule that applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.access import guards
from engine.access.actor import Actor
from engine.access.permissions import permits
from engine.errors import GuardFailed, NotPermitted, UnknownTransition
from engine.language.definition import TransitionDef, WorkflowDefinition

__all__ = ["Offer", "form_fields", "honour", "offered"]


@dataclass(frozen=True, slots=True)
class Offer:
    """One branch as the page offers it: its button's label and what its form asks for."""

    branch: TransitionDef
    label: str
    asks: tuple[str, ...]
    """The form's fields: the branch's `require` fields, then the name's form fields its guard reads."""
    required: tuple[str, ...]
    """The fields this branch requires (the form marks only these with *)."""
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """For an enum field of the form its guard reads: the option ids with which it can fire (the
    回访满意 form offers 满意 and 较满意, not 不满意); fields not listed offer every option."""

    @property
    def index(self) -> int:
        """The branch's position in `transitions`: what the form sends back."""
        return self.branch.index


def _permitted(definition: WorkflowDefinition, state: str, name: str, actor: Actor) -> tuple[TransitionDef, ...]:
    return tuple(t for t in definition.transitions_from(state, name) if permits(actor, t))


def _needs(branch: TransitionDef) -> tuple[str, ...]:
    """The fields the branch requires: `require`, and `require_new` (given in this very step)."""
    return tuple(dict.fromkeys((*branch.require, *branch.require_new)))


def _union(branches: tuple[TransitionDef, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for t in branches for n in _needs(t)))


def _guard_reads(branch: TransitionDef, siblings: tuple[TransitionDef, ...]) -> frozenset[str]:
    """What decides whether `branch` holds: its guard, or for the otherwise, every sibling's guard."""
    if branch.when is not None:
        return branch.when.names
    return frozenset(n for t in siblings if t.when is not None for n in t.when.names)


def _asks(definition: WorkflowDefinition, branch: TransitionDef,
          permitted: tuple[TransitionDef, ...]) -> tuple[str, ...]:
    reads = _guard_reads(branch, permitted)
    extra = [n for n in _union(permitted) if n in reads and n not in _needs(branch)]
    return tuple(dict.fromkeys((*_needs(branch), *(n for n in definition.fields if n in extra), *branch.attach)))


def _may_hold(branch: TransitionDef, permitted: tuple[TransitionDef, ...], definition: WorkflowDefinition,
              values: Mapping[str, Any], now: datetime, asks: tuple[str, ...]) -> bool:
    if branch.when is not None:
        return bool(guards.opens((branch,), definition, values, now, asks))
    # The otherwise is closed only when another branch surely holds: on the stored values, reading
    # nothing the form could change.
    return not any(t.when is not None and not (t.when.names & set(asks)) and bool(t.when.evaluate(values, now))
                   for t in permitted if t is not branch)


def offered(definition: WorkflowDefinition, state: str, name: str, values: Mapping[str, Any], now: datetime,
            actor: Actor) -> tuple[Offer, ...]:
    """The branches of `name` the page offers `actor` (placed in the item's estate), in file order.

    `values` are the stored values with the acting user (guards.acting), `now` aware in the estate's
    time zone. Two offered branches with one label are told apart by the state each leads to.
    """
    permitted = _permitted(definition, state, name, actor)
    found = []
    for branch in sorted(permitted, key=lambda t: t.index):
        asks = _asks(definition, branch, permitted)
        if _may_hold(branch, permitted, definition, values, now, asks):
            found.append((branch, asks))
    labels = [t.label for t, _ in found]
    offers = []
    for branch, asks in found:
        label = branch.label
        if labels.count(label) > 1:
            target = definition.states.get(branch.dest)
            label = f"{label}（转{target.label if target else branch.dest}）"
        offers.append(Offer(branch, label, asks, _needs(branch),
                            _options(branch, permitted, definition, values, now, asks)))
    return tuple(offers)


def _options(branch: TransitionDef, permitted: tuple[TransitionDef, ...], definition: WorkflowDefinition,
             values: Mapping[str, Any], now: datetime, asks: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The options of each enum field of the form the branch's guard reads, kept where it can still fire."""
    found = {}
    for name in asks:
        spec = definition.fields.get(name)
        if spec is None or spec.type != "enum" or name not in _guard_reads(branch, permitted):
            continue
        rest = tuple(n for n in asks if n != name)
        kept = tuple(o for o in spec.options
                     if _may_hold(branch, permitted, definition, {**values, name: o}, now, rest))
        if kept and len(kept) < len(spec.options):
            found[name] = kept
    return found


def form_fields(definition: WorkflowDefinition, state: str, name: str, actor: Actor, branch: int) -> tuple[str, ...]:
    """What the form of branch `branch` (its index) of `name` accepts; () when the actor may not fire it."""
    permitted = _permitted(definition, state, name, actor)
    chosen = next((t for t in permitted if t.index == branch), None)
    return _asks(definition, chosen, permitted) if chosen is not None else ()


def honour(definition: WorkflowDefinition, named: tuple[TransitionDef, ...], permitted: tuple[TransitionDef, ...],
           index: int, values: Mapping[str, Any], now: datetime,
           names: Callable[[], Mapping[str, str]]) -> TransitionDef:
    """The branch the person chose (`index`), checked as fire() would have chosen it.

    `named`: the branches of the name leaving the item's state; `permitted`: those the roles allow;
    `values`: the working copy with the acting user; `names()`: display names for a refusal.

    Raises:
        UnknownTransition: no branch of the name leaving this state has that index.
        NotPermitted: the actor's roles do not allow that branch.
        GuardFailed: its `when` does not hold (for the otherwise: another branch's does), with its own reason.
    """
    chosen = next((t for t in named if t.index == index), None)
    if chosen is None:
        raise UnknownTransition("该事项当前状态下没有这个操作", transition=named[0].name if named else None,
                                branch=index)
    if chosen not in permitted:
        raise NotPermitted(f"你的角色不能执行“{chosen.label}”", transition=chosen.name, roles=list(chosen.roles))
    if chosen.when is not None:
        if bool(chosen.when.evaluate(values, now)):
            return chosen
        reason = guards.guard_refusal(definition, (chosen,), values, names())
        raise GuardFailed(f"不能{chosen.label}：{reason}", transition=chosen.name, branch=index,
                          conditions=[chosen.when.source], reason=reason)
    holding = next((t for t in permitted if t is not chosen and t.when is not None
                    and bool(t.when.evaluate(values, now))), None)
    if holding is None:
        return chosen
    # The otherwise applies only when no other branch does: name the one that applies, in plain words.
    labels = [f"“{definition.fields[n].label}”" for n in guards.fields_read(definition, (holding,))]
    detail = holding.when_label or (f"与{'、'.join(labels)}有关" if labels else "")
    reason = f"应执行“{holding.label}”" + (f"（{detail}）" if detail else "")
    raise GuardFailed(f"不能{chosen.label}：{reason}", transition=chosen.name, branch=index,
                      conditions=[], reason=reason)
