"""A scenario step's `expect:` compared with the item (engine/cli/scenarios.py plays the steps).

    read(expect, tz, example)           the mapping checked (its keys, `due`, `overdue`) before the item is read
    problems(session, item, definition, expect, due, now=, tz=)
                                        what differs: one line per expectation not met, none when all are

`expect` keys: state, version, overdue, history_count, spawned and linked (workflows, numbers),
notified (roles, and people as @username, cumulative), last_step (engine/cli/scenario_steps.py),
texted and not_texted (engine/cli/scenario_messages.py), due (one of DUE_WORDS or a time: the
current state's deadline) and fields (typed like the workflow's fields; a `log` field as its
entries' texts, a `file` field as engine/cli/scenario_files.py compares it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.cli import scenario_files, scenario_messages, scenario_steps
from engine.cli.scenario_cast import Failed
from engine.language import fields
from engine.language.definition import WorkflowDefinition
from engine.runtime import timers
from engine.runtime.items import ItemView
from engine.store.models import Item, ItemHistory, ItemLink, Outbox, User

__all__ = ["DUE_WORDS", "EXPECT_KEYS", "mapping", "problems", "read"]

EXPECT_KEYS = {"state", "fields", "version", "spawned", "history_count", "notified", "overdue", "due", "last_step",
               "texted", "not_texted", "linked"}
DUE_WORDS = ("not_yet", "due", "overdue", "none")


def mapping(value: Any, what: str) -> dict[str, Any]:
    """`value`, which the scenario format says is a mapping (`what` names the key in the message)."""
    if not isinstance(value, dict):
        raise Failed(f"{what} must be a mapping")
    return value


def read(expect: Any, tz: tzinfo, example: str) -> tuple[dict[str, Any], str | datetime | None]:
    """`expect` checked, and the `due` it wants (None: no `due`); `example` is a time shown in the message."""
    expect = mapping(expect, "expect")
    unknown = sorted(set(expect) - EXPECT_KEYS)
    if unknown:
        raise Failed(f"unknown expect key '{unknown[0]}' (allowed: {', '.join(sorted(EXPECT_KEYS))})")
    wanted_due = _due_expectation(expect["due"], tz, example) if "due" in expect else None
    if "overdue" in expect and not isinstance(expect["overdue"], bool):
        raise Failed("expect.overdue is true or false")
    return expect, wanted_due


def problems(session: Session, item: ItemView, definition: WorkflowDefinition, expect: Mapping[str, Any],
             wanted_due: str | datetime | None, *, now: datetime, tz: tzinfo) -> list[str]:
    """Every expectation the item (read in `session`, running on `definition`) does not meet."""
    found = [*_compare(session, item, definition, expect, tz)]
    if wanted_due is not None:
        found += _compare_due(session, item, wanted_due, now, tz)
    return found


def _due_expectation(raw: Any, tz: tzinfo, example: str) -> str | datetime:
    if isinstance(raw, str) and raw in DUE_WORDS:
        return raw
    try:
        moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    except ValueError:
        raise Failed(f"expect.due is one of {', '.join(DUE_WORDS)} or a time such as "
                     f"{example}, not {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _compare_due(session: Session, item: ItemView, wanted: str | datetime, now: datetime,
                 tz: tzinfo) -> Iterator[str]:
    if isinstance(wanted, datetime):
        if item.deadline_at != wanted:
            got = item.deadline_at.astimezone(tz).isoformat() if item.deadline_at else "no deadline"
            yield f"expected due {wanted.astimezone(tz).isoformat()}, got {got}"
        return
    got = timers.status(session.connection(), item.id, item.state, item.overdue, now)
    if got != wanted:
        yield f"expected due {wanted}, got {got}"


def _compare(session: Session, item: ItemView, definition: WorkflowDefinition, expect: Mapping[str, Any],
             tz: tzinfo) -> Iterator[str]:
    if "state" in expect and expect["state"] != item.state:
        yield f"expected state {expect['state']}, got {item.state}"
    if "version" in expect and expect["version"] != item.version:
        yield f"expected version {expect['version']}, got {item.version}"
    if "overdue" in expect and expect["overdue"] != item.overdue:
        yield f"expected overdue {str(expect['overdue']).lower()}, got {str(item.overdue).lower()}"
    if "history_count" in expect:
        count = session.scalar(select(func.count()).where(ItemHistory.item_id == item.id))
        if expect["history_count"] != count:
            yield f"expected history_count {expect['history_count']}, got {count}"
    if "spawned" in expect:
        got = sorted(session.scalars(
            select(Item.workflow_id).join(ItemLink, ItemLink.to_item_id == Item.id)
            .where(ItemLink.from_item_id == item.id, ItemLink.kind == "spawned")))
        if sorted(_strings(expect["spawned"])) != got:
            yield f"expected spawned {sorted(_strings(expect['spawned']))}, got {got}"
    if "linked" in expect:  # the numbers of the items a `link` action tied to this one, either way
        got = sorted(session.scalars(
            select(Item.number).join(ItemLink, ItemLink.to_item_id == Item.id)
            .where(ItemLink.from_item_id == item.id, ItemLink.kind.in_(("linked", "linked_from")))))
        if sorted(_strings(expect["linked"])) != got:
            yield f"expected linked {sorted(_strings(expect['linked']))}, got {got}"
    yield from scenario_messages.compare(session, item.id, expect)
    if "notified" in expect:
        # Cumulative: every role notified about this item since it was created, and each person as @username.
        rows = session.execute(select(Outbox.role, User.username).outerjoin(User, User.id == Outbox.user_id)
                               .where(Outbox.item_id == item.id, Outbox.template.is_(None)))
        got = sorted({role if role is not None else f"@{username}" for role, username in rows})
        if sorted(set(_strings(expect["notified"]))) != got:
            yield f"expected notified {sorted(set(_strings(expect['notified'])))}, got {got}"
    if "last_step" in expect:
        got_step = scenario_steps.last_step(session, item, definition)
        if got_step != str(expect["last_step"]):
            yield f"expected last_step {expect['last_step']}, got {got_step}"
    yield from _compare_fields(definition, item, mapping(expect.get("fields") or {}, "expect.fields"), session, tz)


def _compare_fields(definition: WorkflowDefinition, item: ItemView, wanted: Mapping[str, Any], session: Session,
                    tz: tzinfo) -> Iterator[str]:
    for name, raw in wanted.items():
        field = definition.fields.get(name)
        if field is None:
            yield f"expected field {name}, but the workflow {definition.id} has no such field"
            continue
        if field.type == "log":  # the entries' texts, oldest first
            texts = [str(e.get("text")) for e in item.values.get(name) or ()]
            wanted_texts = _strings(raw) if raw is not None else []
            if wanted_texts != texts:
                yield f"expected {name} {wanted_texts!r}, got {texts!r}"
            continue
        if field.type == "file":  # the files' names in order, or how many
            yield from scenario_files.compare(session, item.id, name, item.values.get(name), raw)
            continue
        try:
            value = fields.parse(field, raw, tz)
        except ValueError as error:
            yield f"expected {name} = {raw!r}: {error}"
            continue
        got = item.values.get(name)
        if value != got:
            shown = "unset" if got is None else repr(fields.to_json(field, got))
            yield f"expected {name} {fields.to_json(field, value)!r}, got {shown}"


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
