"""engine/access/permissions.py: who may register, which estates an actor sees, what it may fire now.

The last test is the agreement the module exists for: over the shipped workflows with the
demo seed, every step the item page offers (and so 我的待办) fires, and every one it
withholds is refused by fire().
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.access import permissions
from engine.access.actor import Actor, load_actor
from engine.errors import ItemNotFound, NotPermitted, TransitionError, UnknownTransition
from engine.language.definition import LinkAction
from engine.language.loader import compile_document
from engine.runtime.items import create, fire, get_item
from engine.runtime.registry import REGISTRY
from engine.store.db import transaction
from engine.store.models import Item, Unit, User, UserRole
from engine.views import listing
from engine.views.inbox import inbox as read_inbox
from tests._demo_seed import BACKENDS

ROLES = {"frontdesk": "前台客服", "supervisor": "客服主管", "finance": "财务"}


def _actor(*roles: str, estates: tuple[str, ...] = ("demo",)) -> Actor:
    return Actor(1, "测试", frozenset(roles), frozenset(estates))


# -- the create rule ---------------------------------------------------------------------------

def test_create_needs_a_create_role_and_the_estate(world):
    ticket = _definition(world, "ticket")
    assert permissions.may_create(world.actor("clerk"), ticket, "demo")
    assert permissions.may_create(world.actor("boss"), ticket)
    assert not permissions.may_create(world.actor("worker"), ticket, "demo")
    assert not permissions.may_create(world.actor("clerk"), ticket, "other")
    assert not permissions.may_create(_actor("clerk", estates=()), ticket)
    assert permissions.may_create(Actor.system(), ticket, "other")


def test_a_refused_create_names_the_roles_that_may_by_label(world):
    with pytest.raises(NotPermitted) as refused:
        world.create("worker")
    assert refused.value.message == "只有前台、主管可以登记测试工单"
    assert refused.value.data["roles"] == ["clerk", "boss"]


def test_creating_in_another_estate_is_refused_before_anything_is_looked_up(world):
    before = world.snapshot()
    for estate in ("other", "nowhere"):  # an estate of others, and none at all: the same answer
        with pytest.raises(NotPermitted) as refused, transaction(world.db.factory) as session:
            create(session, workflow="ticket", estate=estate, actor=world.actor("clerk"),
                   data={"kind": "noise", "unit": "1"}, clock=world.clock)
        assert refused.value.data == {"estate": estate}
    assert world.snapshot() == before


# -- estates -----------------------------------------------------------------------------------

def test_an_actor_sees_the_items_of_its_estates_only(world):
    ours, theirs = world.create(), world.create(estate="other")
    here, there = world.actor("clerk"), world.actor("clerk", "other")
    stmt = select(Item.id).order_by(Item.id)
    with world.db.factory() as session:
        def visible(actor: Actor) -> list[int]:
            return list(session.scalars(stmt.where(*permissions.in_estates(actor, Item.estate_id))))

        assert visible(here) == [ours.id] and visible(there) == [theirs.id]
        assert visible(Actor.system()) == [ours.id, theirs.id]
        assert visible(_actor("clerk", estates=())) == []
    assert permissions.works_in(world.actor("boss"), "demo") and not permissions.works_in(world.actor("boss"), "other")
    assert permissions.works_in(Actor.system(), "anywhere")


# -- what may be fired now ---------------------------------------------------------------------

def _definition(world: Any, workflow: str) -> Any:
    with world.db.factory() as session:
        current = REGISTRY.current(session, workflow, "demo")
        assert current is not None
        return current.definition


@functools.cache
def _revisit() -> Any:
    """A revisit step whose branches depend on what is typed (satisfaction) and on what is stored."""
    return compile_document({
        "id": "visit", "title": "回访", "number_prefix": "HF", "create_roles": ["frontdesk"],
        "fields": {
            "severity": {"type": "enum", "label": "级别", "options": {"major": "重大", "minor": "一般"}},
            "satisfaction": {"type": "enum", "label": "满意度",
                             "options": {"good": "满意", "bad": "不满意"}},
            "payment": {"type": "decimal", "label": "收款"},
            "balance": {"type": "decimal", "label": "欠款"},
            "promise_date": {"type": "date", "label": "承诺日期"},
            "code": {"type": "string", "label": "暗号"},
        },
        "states": {"open": {"label": "待回访", "initial": True}, "done": {"label": "已归档", "final": True},
                   "again": {"label": "重新处理", "final": True}},
        "transitions": [
            {"name": "revisit", "label": "回访满意", "from": "open", "to": "done", "roles": ["frontdesk"],
             "when": "severity != 'major' and satisfaction == 'good'", "require": ["satisfaction"]},
            {"name": "revisit", "label": "回访不满意", "from": "open", "to": "again", "roles": ["frontdesk"],
             "when": "severity != 'major' and satisfaction == 'bad'", "require": ["satisfaction"]},
            {"name": "revisit", "label": "领导回访", "from": "open", "to": "done", "roles": ["supervisor"],
             "when": "severity == 'major'", "require": ["satisfaction"]},
            {"name": "pay", "label": "收款", "from": "open", "to": "done", "roles": ["finance"],
             "when": "payment >= balance", "require": ["payment"]},
            {"name": "promise", "label": "承诺", "from": "open", "to": "again", "roles": ["frontdesk"],
             "when": "promise_date >= today()", "require": ["promise_date"]},
            {"name": "unlock", "label": "口令", "from": "open", "to": "again", "roles": ["frontdesk"],
             "when": "code == 'sesame'", "require": ["code"]},
            {"name": "again", "label": "再办", "from": "open", "to": "again", "roles": ["frontdesk"],
             "when": "severity == 'minor'"},
        ],
    }, roles={"frontdesk": "前台客服", "supervisor": "客服主管", "finance": "财务"})


def _judge(values: dict[str, Any], *roles: str, now: Any) -> dict[str, permissions.Availability]:
    found = permissions.availability(_revisit(), "open", values, now, _actor(*roles), ROLES)
    return {a.name: a for a in found}


def test_a_guard_reading_a_form_field_is_open_when_some_input_satisfies_it(clock):
    now = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    revisit = _judge({"severity": "minor"}, "frontdesk", now=now)["revisit"]
    assert revisit.allowed and not revisit.ready and revisit.branch is None
    assert revisit.label == "回访满意 / 回访不满意" and revisit.asks == ("satisfaction",)
    assert revisit.reasons[0].code == "guard_failed"  # fired with nothing typed, the guard fails
    chosen = _judge({"severity": "minor", "satisfaction": "bad"}, "frontdesk", now=now)["revisit"]
    assert chosen.ready and chosen.to == "again" and chosen.label == "回访不满意"
    for name in ("pay", "promise", "unlock"):
        role = "finance" if name == "pay" else "frontdesk"
        assert _judge({"balance": Decimal("300.50")}, role, now=now)[name].allowed, name


def test_a_guard_no_input_can_satisfy_is_closed(clock):
    """A major complaint's ordinary revisit fails whatever satisfaction is typed: not offered."""
    now = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    found = _judge({"severity": "major"}, "frontdesk", now=now)
    assert not found["revisit"].allowed and not found["again"].allowed
    assert [r.code for r in found["revisit"].reasons] == ["guard_failed"]
    # Plain words naming the fields involved, never the expression (severity != 'major' ...).
    assert found["revisit"].reasons[0].message == "条件不满足（与“级别”、“满意度”有关）"
    assert _judge({"severity": "major"}, "supervisor", now=now)["revisit"].allowed


def test_a_guard_over_too_many_inputs_is_still_closed_when_a_part_fails_whatever_is_typed(clock):
    """Patrol's 完成巡查: `patroller == me and` six checkpoints typed in the form. The checkpoints alone
    have too many combinations to try, but the person part fails for anyone else: not offered to them."""
    checks = [f"c{i}" for i in range(6)]
    definition = compile_document({
        "id": "round", "title": "巡查", "number_prefix": "XC", "create_roles": ["frontdesk"],
        "fields": {"patroller": {"type": "user", "label": "巡查人"},
                   **{c: {"type": "enum", "label": f"检查项{c}", "options": {"ok": "正常", "issue": "有问题",
                                                                            "na": "未涉及"}} for c in checks}},
        "states": {"open": {"label": "巡查中", "initial": True}, "done": {"label": "完成", "final": True}},
        "transitions": [{"name": "complete", "label": "完成", "from": "open", "to": "done", "roles": ["frontdesk"],
                         "when": "patroller == me and not (" + " or ".join(f"{c} == 'issue'" for c in checks) + ")",
                         "require": checks}],
    }, roles={"frontdesk": "前台客服"})
    now = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    wang = Actor(1, "王", frozenset({"frontdesk"}), frozenset({"demo"}), username="wang")

    def allowed(patroller: str) -> bool:
        (complete,) = permissions.availability(definition, "open", {"patroller": patroller}, now, wang)
        return complete.allowed

    assert allowed("wang") and not allowed("li")


def test_reasons_name_roles_by_label(clock):
    now = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    pay = _judge({"balance": Decimal(1)}, "frontdesk", now=now)["pay"]
    assert not pay.allowed and pay.asks == ()
    assert pay.reasons[0] == permissions.Reason("not_permitted", "需要以下角色之一：财务", roles=("finance",))


def test_the_inbox_halves_agree_with_availability(clock):
    now = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    definition = _revisit()
    assert permissions.states_to_act(definition, _actor("finance")) == ("open",)
    assert permissions.states_to_act(definition, _actor("nobody")) == ()
    for values in ({"severity": "major"}, {"severity": "minor"}, {}):
        for role in ("frontdesk", "supervisor", "finance"):
            found = permissions.availability(definition, "open", values, now, _actor(role))
            assert permissions.can_act(definition, "open", values, now, _actor(role)) == any(
                a.allowed for a in found), (values, role)


# -- the agreement over the shipped workflows ------------------------------------------------------

UNITS: dict[str, list[str]] = {}
"""Per estate, a few of its unit numbers, read when the demo is seeded."""
STAFF: dict[tuple[str, str], list[str]] = {}
"""(estate, role) → the usernames holding the role there."""
NUMBERS: dict[tuple[str, str, str], list[str]] = {}
"""(estate, workflow, state) → the numbers of its items: what a `link` field may name (intake's notice_ref)."""


def _linkable(action: LinkAction, estate: str) -> list[str]:
    """The numbers a clerk would read off the board for a `link` action: its workflow's items of the
    estate in the states it accepts (a made-up number is refused, rightly)."""
    return [n for (e, w, state), numbers in NUMBERS.items() for n in numbers
            if e == estate and w == action.workflow and (not action.states or state in action.states)]


def _options(field: Any, values: dict[str, Any], now: Any, estate: str = "demo") -> list[Any]:
    """Values a clerk might type, by type (the item's own numbers included, for sums and comparisons)."""
    kind, stored = field.type, values.get(field.name)
    found: list[Any]
    if kind == "enum":
        found = list(field.options)
    elif kind == "boolean":
        found = [True, False]
    elif kind in ("integer", "decimal"):
        numbers = [v for v in values.values() if isinstance(v, int | Decimal) and not isinstance(v, bool)]
        found = [1, 0, 3, 20, 1_000_000, *numbers]
        found = [int(n) for n in found] if kind == "integer" else [Decimal(n) for n in found]
    elif kind == "date":
        found = [now.date() + timedelta(days=d) for d in (7, 0, -7, 400)]
    elif kind == "datetime":
        found = [now - timedelta(hours=1), now, now + timedelta(days=1)]  # a future time: resume_at > now()
    elif kind == "phone":
        found = ["13812345678"]
    elif kind == "user":
        # Someone of the item's estate holding each role the field allows.
        found = [u for role in field.roles for u in STAFF.get((estate, role), [])[:1]] or ["engineer"]
    elif kind == "unit":
        found = UNITS.get(estate, [])[:3]
    elif kind == "log":  # the text of a new entry; the stored value is the list of earlier ones
        return ["已电话联系业主"]
    elif kind == "file":  # photos are attached (`attach:`), never required: none sent
        return []
    else:
        found = ["已处理"]
    return list(dict.fromkeys([stored, *found] if stored is not None else found))


def _inputs(definition: Any, item: Any, names: tuple[str, ...], branches: Any, now: Any,
            optional: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Form data to try: every combination of the fields a guard reads, the first value for the rest;
    a field of `optional` (a branch's form field it does not require) may also be left empty."""
    read = {n for t in branches if t.when is not None for n in t.when.names}
    links = {a.number_field: a for t in branches for a in t.actions if isinstance(a, LinkAction)}
    choices = {n: [*(_linkable(links[n], item.estate_id)[:2] if n in links
                     else _options(definition.fields[n], dict(item.values), now, item.estate_id)),
                   *([None] if n in optional else [])] for n in names}
    varied = [n for n in names if n in read]
    fixed = {n: choices[n][0] for n in names if n not in read and choices[n]}  # a file field: none sent
    combos = itertools.islice(itertools.product(*(choices[n] for n in varied)), 500)
    return [{k: v for k, v in {**fixed, **dict(zip(varied, combo, strict=True))}.items() if v is not None}
            for combo in combos]


def _attempt(db: Any, clock: Any, item: Any, name: str, actor: Actor, data: dict[str, Any],
             branch: int | None = None) -> TransitionError | None:
    """fire() as the page would (with the button's branch), rolled back: None when accepted, else the refusal."""
    with db.factory() as session:
        try:
            fire(session, item.id, name, actor, data, None, item.version, clock=clock, branch=branch)
        except TransitionError as error:
            return error
        finally:
            session.rollback()
    return None


def _first_success(db: Any, clock: Any, item: Any, name: str, actor: Actor,
                   inputs: list[dict[str, Any]], branch: int | None = None) -> list[TransitionError | None]:
    """Try the inputs in order until fire() accepts one; the outcomes so far."""
    outcomes: list[TransitionError | None] = []
    for data in inputs:
        outcomes.append(_attempt(db, clock, item, name, actor, data, branch))
        if outcomes[-1] is None:
            break
    return outcomes


@pytest.fixture(params=BACKENDS)
def seeded_copy(request: pytest.FixtureRequest) -> Any:
    """A copy of the session's demo seed (tests/_demo_seed.py, published at the `clock` fixture's time):
    the attempts below are rolled back, but a copy keeps a slip from reaching the tests that share the seed."""
    return request.getfixturevalue("demo_seeds").copy(request.param)


def test_what_the_pages_offer_fires_and_what_they_withhold_is_refused(seeded_copy, clock):
    db = seeded_copy
    now = clock.now()
    with db.factory() as session:
        users = session.scalars(select(User.id).order_by(User.id)).all()
        UNITS.clear()
        for estate, number in session.execute(select(Unit.estate_id, Unit.number).order_by(Unit.id)):
            UNITS.setdefault(estate, []).append(number)
        STAFF.clear()
        for estate, role, username in session.execute(
                select(UserRole.estate_id, UserRole.role, User.username).join(User, User.id == UserRole.user_id)
                .where(User.active.is_(True)).order_by(User.id)):
            STAFF.setdefault((estate, role), []).append(username)
        NUMBERS.clear()
        for estate, workflow, state, number in session.execute(
                select(Item.estate_id, Item.workflow_id, Item.state, Item.number).order_by(Item.id)):
            NUMBERS.setdefault((estate, workflow, state), []).append(number)
    offered = withheld = 0
    for user_id in users:
        with db.factory() as session:
            actor = load_actor(session, user_id)
            rows = listing.list_items(session, actor, listing.Filters(), per_page=10_000, now=now).rows
            inbox = {r.id for r in read_inbox(session, actor, per_page=10_000, now=now).rows}
            items = {r.id: get_item(session, r.id, actor) for r in rows}
            definitions = {i: REGISTRY.compiled(session, item.definition_id) for i, item in items.items()}
            zones = {r.id: ZoneInfo(r.timezone) for r in rows}
            # 我的待办 lists exactly the items where something is allowed now.
            acting = {i for i, item in items.items() if any(a.allowed for a in permissions.availability(
                definitions[i], item.state, item.values, now.astimezone(zones[i]), actor.at(item.estate_id)))}
            assert inbox == acting, actor.name
            # The item page offers what is allowed; offers and refusals are tried on two items per
            # (workflow, state), with the inbox's among them: firing them all would be slow.
            sample: dict[tuple[str, str], list[int]] = defaultdict(list)
            for item_id in sorted(items, key=lambda i: i not in inbox):
                sample[(items[item_id].workflow_id, items[item_id].state)].append(item_id)
            chosen = [i for ids in sample.values() for i in ids[:2]]
            pages = {i: listing.choices(session, items[i], actor, now=now) for i in chosen}
        assert all(any(c.fireable for c in pages[i]) == (i in inbox) for i in chosen)
        by_role: set[tuple[int, str, str]] = set()
        for item_id in chosen:
            item, definition, local = items[item_id], definitions[item_id], now.astimezone(zones[item_id])
            placed = actor.at(item.estate_id)
            for choice in pages[item_id]:
                branches = definition.transitions_from(item.state, choice.name)
                if choice.fireable:
                    # A button of one branch fires that branch (the otherwise: when no other one holds).
                    mine = tuple(t for t in branches if choice.branch in (None, t.index))
                    if any(isinstance(a, LinkAction) and not _linkable(a, item.estate_id)
                           for t in mine for a in t.actions):
                        continue  # nothing to link to in this estate (no published notice): the page cannot know
                    optional = tuple(n for n in choice.fields if n not in choice.required)
                    inputs = [d for d in _inputs(definition, item, choice.fields, branches, local, optional)
                              if _holds(mine, placed, item, d, local)
                              and (choice.branch is None or not _others_hold(branches, mine, placed, item, d, local))]
                    outcomes = _first_success(db, clock, item, choice.name, actor, inputs, choice.branch)
                    assert outcomes and outcomes[-1] is None, (actor.name, item.number, choice.name, outcomes[:3])
                    offered += 1
                    continue
                # What the page would send, had it offered the step (nothing else reaches fire()).
                asked = permissions.form_fields(definition, item.state, choice.name, placed)
                if not asked and not any(permissions.permits(placed, t) for t in branches):
                    # A refusal by role does not depend on the item: tried once per step.
                    if (item.definition_id, item.state, choice.name) in by_role:
                        continue
                    by_role.add((item.definition_id, item.state, choice.name))
                    asked = tuple(dict.fromkeys(n for t in branches for n in t.require))
                inputs = _inputs(definition, item, asked, branches, local)
                for data in [inputs[0], *(d for d in inputs[1:] if _holds(branches, placed, item, d, local))]:
                    error = _attempt(db, clock, item, choice.name, actor, data)
                    assert error is not None, (actor.name, item.number, choice.name, data)
                    assert not isinstance(error, ItemNotFound | UnknownTransition), error
                withheld += 1
    assert offered > 50 and withheld > 100


def _others_hold(branches: Any, mine: Any, actor: Actor, item: Any, data: dict[str, Any], now: Any) -> bool:
    """For the otherwise's button: whether another permitted branch's guard holds (then it is refused)."""
    if any(t.when is not None for t in mine):
        return False
    values = permissions.acting({**item.values, **data}, actor)
    return any(permissions.permits(actor, t) and t.when is not None and bool(t.when.evaluate(values, now))
               for t in branches if t not in mine)


def _holds(branches: Any, actor: Actor, item: Any, data: dict[str, Any], now: Any) -> bool:
    """Whether some branch the actor may fire has a guard that holds on `data` (skips hopeless tries)."""
    values = permissions.acting({**item.values, **data}, actor)
    return any(permissions.permits(actor, t) and (t.when is None or bool(t.when.evaluate(values, now)))
               for t in branches)
