"""Countersign (会签): a step that moves only when every signer has fired it.

    sign(session, row, definition, chosen, actor) -> (the branch to apply, the history marker)

`countersign: {roles: [...], users: [...]}` on a transition lists the slots: one holder of each
role, and the person each `user` field names. Each signer fires the transition; until every slot
is signed the item stays where it is (the signature is a transition row with from = to and a
version bump, like a `stay` step, and neither `set` nor `actions` run), the last signature moves
it (with `set` and `actions`). Signatures count only since the item entered its state: they are
the history rows of this transition from this state to itself, back to the row that entered the
state, each carrying the marker SIGNED = the slot signed ("role:<id>" or "user:<field>"). One
person signs once. The system actor (timers, linked reactions) moves the item at once: it signs
for nobody. Disagreement is another transition (e.g. 驳回), which leaves the state, so the signatures lapse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.errors import GuardFailed
from engine.language.definition import TransitionDef, WorkflowDefinition
from engine.store.models import ItemHistory

__all__ = ["SIGNED", "Signature", "open_slot", "sign", "signatures", "slots"]

SIGNED = "_countersign"
"""History `changes` marker of a signature: [None, slot]."""


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature: who signed which slot."""

    slot: str
    actor_id: int | None
    actor_name: str
    at: datetime


def slots(transition: TransitionDef) -> list[str]:
    """The slots to sign, in the file's order: "role:<id>", then "user:<field>"."""
    rule = transition.countersign
    if rule is None:
        return []
    return [*(f"role:{r}" for r in rule.roles), *(f"user:{f}" for f in rule.users)]


def signatures(session: Session, item_id: int, transition: str, state: str,
               stays: frozenset[str] = frozenset()) -> list[Signature]:
    """The signatures of `transition` given in `state` since the item last entered it.

    The history is read backwards to the row that entered `state`: any transition row into it
    other than a signature or a `stay` step (names in `stays`), whose rows do not enter it.
    Read by row order, not by time: a return and a resubmission may share one clock second.
    """
    rows = session.execute(
        select(ItemHistory.transition, ItemHistory.from_state, ItemHistory.to_state, ItemHistory.changes,
               ItemHistory.actor_id, ItemHistory.actor_name, ItemHistory.at)
        .where(ItemHistory.item_id == item_id, ItemHistory.kind == "transition")
        .order_by(ItemHistory.id.desc()))
    found = []
    for name, source, target, changes, actor_id, actor_name, at in rows:
        pair = (changes or {}).get(SIGNED)
        slot = pair[1] if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str) else None
        if slot is not None and source == state == target:
            if name == transition:
                found.append(Signature(slot, actor_id, actor_name, at))
            continue
        if source == state == target and name in stays:
            continue
        break  # the row that entered the state (or, defensively, any other move)
    return found[::-1]


def _fits(slot: str, actor: Actor, values: Mapping[str, Any]) -> bool:
    kind, _, name = slot.partition(":")
    if kind == "role":
        return name in actor.roles
    return actor.username is not None and values.get(name) == actor.username


def open_slot(session: Session, item_id: int, state: str, definition: WorkflowDefinition,
              transition: TransitionDef, actor: Actor, values: Mapping[str, Any]) -> tuple[str | None, str, int]:
    """The place `actor` would sign now (None: none, with the reason in plain Chinese), and how many
    places are signed already."""
    stays = frozenset(t.name for t in definition.transitions_from(state) if t.stay)
    signed = signatures(session, item_id, transition.name, state, stays)
    if any(s.actor_id == actor.user_id for s in signed):
        return None, "您已会签，请等待其他会签人", len(signed)
    taken = {s.slot for s in signed}
    mine = [slot for slot in slots(transition) if slot not in taken and _fits(slot, actor, values)]
    return (mine[0] if mine else None), "您不是尚待会签的会签人", len(signed)


def sign(session: Session, row: Row[Any], definition: WorkflowDefinition, chosen: TransitionDef, actor: Actor,
         values: Mapping[str, Any]) -> tuple[TransitionDef, dict[str, Any]]:
    """The branch to apply for this signature and its history marker.

    Raises:
        GuardFailed: the actor already signed, is not a signer, or every slot they could sign is signed.
    """
    if chosen.countersign is None or actor.is_system:
        return chosen, {}
    slot, reason, signed = open_slot(session, row.id, row.state, definition, chosen, actor, values)
    if slot is None:
        raise GuardFailed(f"不能{chosen.label}：{reason}", transition=chosen.name, conditions=[], reason=reason)
    marker = {SIGNED: [None, slot]}
    if signed + 1 >= len(slots(chosen)):
        return chosen, marker  # the last signature: the step moves, with its set and actions
    return replace(chosen, dest=row.state, set=(), actions=(), stay=True, countersign=None), marker
