"""Demo data: two estates with units and residents, their staff, and items in every state.

    seed(factory, clock=None, reset=False) -> Seeded
    `estateflow demo [--reset]`            (the click command `demo`)

The organisation (engine/cli/demo_org.py) is seeded through engine/org like real data: 阳光花园
(`demo`, 432 units with owners and tenants) with one user per role named by its role id,
and 滨江花园 (`riverside`) with staff of its own (`riverside` at the front desk, and more), all
with the password `demo1234` and no forced change. Items are made by really creating them
and firing transitions through engine.runtime.items, for every published workflow (so new
workflows get demo items without code here), walking a different number of steps each so
the items end up spread over the states. A `unit` field names a real unit of the item's
estate, a `user` field a real member of its staff holding a role the field allows, a `phone` field
the number of one of its residents, two in three of whom have agreed to reminder texts and a few opted
out (engine/cli/demo_consents.py), so its 缴费提醒 come out both sent and withheld.

Idempotent: when the estate `demo` exists, nothing is written (a second `make demo`
keeps the database); `reset=True` deletes the demo estates, their staff and items first.
Needs the database migrated and the workflows published (`estateflow db upgrade`,
`estateflow publish`). Never imports flask.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.access import permissions
from engine.access.actor import Actor, load_actor
from engine.cli.common import URL_OPTION, opened
from engine.cli.demo_consents import forget_consents, seed_consents
from engine.cli.demo_org import (
    DEMO_ESTATE,
    LAYOUTS,
    OTHER_ESTATE,
    OTHER_USER,
    PASSWORD,
    reset_org,
    seed_org,
    unit_numbers,
)
from engine.clock import Clock, FixedClock, SystemClock
from engine.errors import EngineError, TransitionError
from engine.language.definition import FieldDef, LinkAction, TransitionDef, WorkflowDefinition
from engine.org.roles import role_catalogue
from engine.org.staff import staff_of
from engine.runtime.calendars import PublishedCalendars
from engine.runtime.items import create, fire
from engine.runtime.registry import REGISTRY, Registry
from engine.store.db import transaction
from engine.store.models import Estate, Item, WorkflowVersion

__all__ = ["DEMO_ESTATE", "OTHER_ESTATE", "OTHER_USER", "PASSWORD", "Seeded", "demo", "seed"]

ITEMS_PER_WORKFLOW = 20
OTHER_ITEMS_PER_WORKFLOW = 2
BUILDINGS = LAYOUTS[DEMO_ESTATE]
"""阳光花园: buildings 1-6, units 1-2, floors 1-18, two flats per floor (the unit numbers are 3-1-502 style)."""
_NAMES = ["王丽", "李强", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄娟", "周杰", "吴芳"]
_ISSUES = [
    "楼上卫生间漏水，客厅天花板有明显水渍",
    "电梯运行时有异响，老人孩子不敢乘坐",
    "小区东门夜间照明不足，路灯坏了三盏",
    "楼道堆放杂物，影响消防通道",
    "地下车库排水沟堵塞，下雨后积水",
    "邻居装修噪音太大，中午也在施工",
    "外墙瓷砖松动，担心掉落伤人",
    "垃圾清运不及时，单元门口有异味",
]
_DONE = ["已安排维修人员上门处理，现场确认完毕", "已联系相关单位，问题已解决", "已完成整改，拍照存档"]
_REPLIES = ["已电话告知业主处理结果，业主表示认可", "已上门答复业主，并留下联系方式"]
_NOTES = ["请补充现场照片后再提交", "业主对处理结果满意", "请项目部三日内复查", "按规定办理"]


@dataclass(frozen=True)
class Seeded:
    """What a seed run did: `created` False when the demo estate already existed."""

    created: bool
    users: int = 0
    items: int = 0


def units(layout: Mapping[str, Any] = BUILDINGS) -> list[str]:
    """Every unit number of the demo estate, like 3-1-502 (building-unit-floor+flat)."""
    return unit_numbers(layout)


def _text(field: FieldDef, rng: random.Random) -> str:
    name = field.name
    if any(k in name for k in ("feedback", "result_note", "work")):
        return rng.choice(_DONE)
    if "reply" in name:
        return rng.choice(_REPLIES)
    if any(k in name for k in ("note", "instruction", "reason", "comment")):
        return rng.choice(_NOTES)
    return rng.choice(_ISSUES)


_FOLLOW_UPS = ("已电话联系业主，约定明天上午回复", "已催办责任部门，预计今天处理完", "业主不在家，已留言",
               "已上门查看，等待配件")
_AHEAD = ("end", "until", "resume", "due", "appointment", "planned", "scheduled", "expire")
"""Parts of datetime field names meaning a time to come (ends_at, resume_at, appointment_at...)."""
_DONE_ON = ("checked", "visited", "sent", "paid", "inspected", "issued", "rectified", "closed", "approved",
            "archived", "reported", "requested", "patrol_date")
"""Parts of date field names meaning a day already reached (checked_on...; a patrol starts on its day)."""


def sample(field: FieldDef, rng: random.Random, now: datetime, unit_numbers: list[str],
           staff: Mapping[str, frozenset[str]] | None = None) -> Any:
    """A plausible value for any field, by its type (and a few common names): a `unit` field one of
    `unit_numbers`, a `user` field one of `staff` (username → roles) holding a role the field allows."""
    kind, name = field.type, field.name
    if kind == "unit":
        return rng.choice(unit_numbers)
    if kind == "enum":
        return rng.choice(list(field.options))
    if kind == "text":
        return _text(field, rng)
    if kind == "log":  # the text of one new entry (跟进记录); the runtime adds who and when
        return rng.choice(_FOLLOW_UPS)
    if kind == "file":  # no photos: seeding would fill the site's file store with samples nobody took
        return None
    if kind == "string":
        if "unit" in name or "房" in field.label:
            return rng.choice(unit_numbers)
        if "name" in name or "人" in field.label:
            return rng.choice(_NAMES)
        return f"{field.label}{rng.randint(1, 99)}"
    if kind == "phone":
        return f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"
    if kind == "integer":
        return rng.randint(0, 3)
    if kind == "decimal":
        return Decimal(rng.randint(5_000, 500_000)) / 100
    if kind == "boolean":
        return rng.random() < 0.7
    if kind == "date":
        if any(k in name for k in _DONE_ON):  # the day something was done (or a round is due): not ahead
            return (now - timedelta(days=rng.randint(0, 3))).date()
        return (now + timedelta(days=rng.randint(1, 10))).date()
    if kind == "datetime":
        if any(k in name for k in _AHEAD):  # an end, a resumption, a booking: later than now (guards test it)
            return now + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 12))
        return now - timedelta(hours=rng.randint(1, 48))
    if kind == "user":
        allowed = frozenset(field.roles)
        people = sorted(u for u, held in (staff or {"engineer": frozenset({"engineer"})}).items()
                        if not allowed or held & allowed)
        return rng.choice(people) if people else None
    return None


class _Walker:
    """Creates items and fires transitions as the demo users, each step its own transaction."""

    def __init__(self, factory: sessionmaker[Session], actors: dict[str, Actor], rng: random.Random,
                 registry: Registry, phones: Mapping[str, list[str]] | None = None) -> None:
        self.factory, self.actors, self.rng, self.registry = factory, actors, rng, registry
        # The calendars as published, as the web and the worker count by (the folder only before any publish).
        self.calendars = PublishedCalendars(factory)
        self.phones = phones or {}
        """Per estate, the residents' mobile numbers: a caller gives their own (their SMS choices are recorded)."""
        self.unit_numbers = {estate: unit_numbers(layout) for estate, layout in LAYOUTS.items()}
        with factory() as session:
            self.staff = {estate: {m.username: frozenset(m.roles) for m in staff_of(session, estate)}
                          for estate in LAYOUTS}
        self.reached: dict[tuple[str, str], int] = {}
        """How many times each (workflow, state) was entered: the walk prefers the rarest."""

    def creator(self, definition: WorkflowDefinition, estate: str) -> Actor | None:
        """A demo user who may register `definition`'s items in `estate` (engine/access/permissions.py)."""
        return next((who for who in self.actors.values() if permissions.may_create(who, definition, estate)), None)

    def actor_for(self, branch: TransitionDef, estate: str, named: frozenset[str] = frozenset()) -> Actor | None:
        """A demo user of `estate` whose roles allow `branch`; the system actor for a system-only one.

        A step whose guard reads `me` (only the person assigned may act) goes to a person the
        item's `user` fields name when one of them may fire it: anyone else would only be refused.
        """
        if branch.system_only:
            return Actor.system()
        allowed = [who for who in self.actors.values()
                   if permissions.works_in(who, estate) and permissions.permits(who, branch)]
        if branch.reads_me:
            allowed.sort(key=lambda who: who.username not in named)
        return allowed[0] if allowed else None

    def data(self, definition: WorkflowDefinition, names: Any, now: datetime, estate: str) -> dict[str, Any]:
        """Sample values for `names`, with the units and staff of `estate`."""
        data = {n: sample(definition.fields[n], self.rng, now, self.unit_numbers[estate], self.staff[estate])
                for n in names}
        for name in data:
            if definition.fields[name].type == "phone" and self.phones.get(estate):
                data[name] = self.rng.choice(self.phones[estate])
        return data

    def linked(self, branches: list[TransitionDef], estate: str) -> dict[str, Any]:
        """For each `link` action of `branches`, the number of an item of `estate` it may link to (a
        published notice for intake's 已有公告): a made-up number would only be refused."""
        found: dict[str, Any] = {}
        for action in (a for t in branches for a in t.actions if isinstance(a, LinkAction)):
            query = select(Item.number).where(Item.estate_id == estate, Item.workflow_id == action.workflow)
            if action.states:
                query = query.where(Item.state.in_(action.states))
            with self.factory() as session:
                numbers = session.scalars(query.order_by(Item.id)).all()
            if numbers:
                found[action.number_field] = self.rng.choice(numbers)
        return found

    def item(self, definition: WorkflowDefinition, estate: str, steps: int, clock: FixedClock) -> int | None:
        """Create one item and walk up to `steps` transitions; returns its id (None if it could not be made)."""
        creator = self.creator(definition, estate)
        if creator is None:
            return None
        # A caller always leaves a number (the residents' own: their SMS choices decide what is texted).
        intake = [n for n, f in definition.fields.items() if f.required or f.type == "phone" or self.rng.random() < 0.6]
        later = {n for t in definition.transitions for n in (*t.require, *t.require_new)} | {
            a.field for t in definition.transitions for a in t.set}
        names = [n for n in intake if definition.fields[n].required or n not in later]
        try:
            with transaction(self.factory) as session:
                view = create(session, workflow=definition.id, estate=estate, actor=creator,
                              data=self.data(definition, names, clock.now(), estate), comment="电话来访登记",
                              clock=clock, registry=self.registry, calendars=self.calendars)
        except TransitionError:
            return None
        state, version = view.state, view.version
        seen = {state}
        for _ in range(steps):
            clock.advance(timedelta(minutes=self.rng.randint(20, 600)))
            moved = self.step(definition, view.id, state, version, estate, clock, seen)
            if moved is None:
                break
            state, version = moved
            seen.add(state)
            key = (definition.id, state)
            self.reached[key] = self.reached.get(key, 0) + 1
        return view.id

    def step(self, definition: WorkflowDefinition, item_id: int, state: str, version: int, estate: str,
             clock: FixedClock, seen: set[str]) -> tuple[str, int] | None:
        """Fire one transition leaving `state` that some demo user may fire; None when stuck.

        New states for this item first (a state that is not final before a final one), then
        states seen before, and a side exit (a final state most states lead to: cancel, withdraw)
        last, so an item goes on along its path rather than being cancelled at the first step
        that allows it; within each, the states the demo has fewest items in, so the items spread
        over every state.
        """
        leaving = definition.transitions_from(state)
        names = list(dict.fromkeys(t.name for t in leaving))
        self.rng.shuffle(names)

        open_states = sum(not s.final for s in definition.states.values())

        def tier(branch: TransitionDef) -> int:
            final = definition.states[branch.dest].final
            side_exit = final and len(branch.sources) >= max(2, open_states // 2)  # cancel, withdraw
            if side_exit:
                return 3
            return (1 if final else 0) if branch.dest not in seen else 2

        def rarity(name: str) -> tuple[int, int]:
            named = [t for t in leaving if t.name == name]
            return (min(tier(t) for t in named), min(self.reached.get((definition.id, t.dest), 0) for t in named))

        names.sort(key=rarity)
        with self.factory() as session:
            item = session.get(Item, item_id)
            stored = item.data if item is not None else {}
        named = frozenset(v for n, v in stored.items() if n in definition.fields
                          and definition.fields[n].type == "user" and isinstance(v, str))
        for name in names:
            branches: list[TransitionDef] = [t for t in leaving if t.name == name]
            for branch in self.rng.sample(branches, len(branches)):
                who = self.actor_for(branch, estate, named)
                if who is None:
                    continue
                asked = dict.fromkeys(n for t in branches for n in (*t.require, *t.require_new))
                for _attempt in range(3):  # random data may miss a guard; try again
                    data = {**self.data(definition, asked, clock.now(), estate), **self.linked(branches, estate)}
                    try:
                        with transaction(self.factory) as session:
                            done = fire(session, item_id, name, who, data,
                                        comment=self.rng.choice(["", "已跟进", "按流程处理"]) or None,
                                        version=version, clock=clock, registry=self.registry,
                                        calendars=self.calendars)
                        return done.state, done.version
                    except TransitionError:
                        continue
        return None


def seed(factory: sessionmaker[Session], *, clock: Clock | None = None, reset: bool = False,
         registry: Registry = REGISTRY, seed_value: int = 6) -> Seeded:
    """Fill the database with the demo estate, users and items (see the module docstring).

    Raises:
        EngineError: nothing is published yet.
    """
    rng = random.Random(seed_value)
    with transaction(factory) as session:
        if reset:
            reset_org(session)
            forget_consents(session, tuple(LAYOUTS))
        if session.get(Estate, DEMO_ESTATE) is not None:
            return Seeded(False)
        catalogue = role_catalogue(session)
        if not catalogue:
            raise EngineError("no workflow is published yet: run `estateflow publish` first")
        ids = seed_org(session, catalogue, rng)
        # Consents recorded for some residents' phones, opt-outs for a few (engine/cli/demo_consents.py).
        phones = seed_consents(session, tuple(LAYOUTS), (clock or SystemClock()).now())
        workflow_ids = session.scalars(select(WorkflowVersion.workflow_id).distinct()
                                       .order_by(WorkflowVersion.workflow_id)).all()
    with factory() as session:
        actors = {name: load_actor(session, uid) for name, uid in ids.items()}
        definitions = [c.definition for c in (registry.current(session, w, DEMO_ESTATE) for w in workflow_ids) if c]
    # Workflows others `link` to (notice) go first, so that their items exist when intake links to one.
    targets = {a.workflow for d in definitions for t in d.transitions for a in t.actions if isinstance(a, LinkAction)}
    definitions.sort(key=lambda d: d.id not in targets)
    walker = _Walker(factory, actors, rng, registry, phones)
    now = (clock or SystemClock()).now()
    made = 0
    for definition in definitions:
        longest = len(definition.states) + 2
        plan = [(DEMO_ESTATE, i % longest) for i in range(ITEMS_PER_WORKFLOW)]
        plan += [(OTHER_ESTATE, i) for i in range(OTHER_ITEMS_PER_WORKFLOW)]
        for number, (estate, steps) in enumerate(plan):
            # Items begin over the last three weeks, the newest last, so lists look lived-in.
            start = now - timedelta(days=21) + timedelta(hours=number * 30 + rng.randint(0, 8))
            if walker.item(definition, estate, steps, FixedClock(min(start, now).astimezone(UTC))) is not None:
                made += 1
    return Seeded(True, len(ids), made)


@click.command("demo")
@URL_OPTION
@click.option("--reset", is_flag=True, help="Delete the demo estates, their users and items first.")
def demo(url: str | None, reset: bool) -> None:
    """Create the demo estate, one user per role (password demo1234) and items in every state."""
    with opened(url, "seed the demo") as factory:
        result = seed(factory, reset=reset)
    if not result.created:
        click.echo("the demo estate already exists: kept as it is (use --reset to start afresh)")
        return
    click.echo(f"demo: {result.users} users (password {PASSWORD}), {result.items} items")
