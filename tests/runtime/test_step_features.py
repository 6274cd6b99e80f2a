"""What a step does beyond moving (docs/workflow-language.md): log fields, `require_new`, `stay`,
countersign (会签) and reactions to linked items (`on_linked`), on tests/data/good/steps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.access.actor import Actor, load_actor
from engine.clock import FixedClock
from engine.errors import GuardFailed, InvalidFields
from engine.runtime import links
from engine.runtime.items import ItemView, create, fire, get_item
from engine.runtime.registry import Registry, publish_folder
from engine.runtime.timers import Calendars
from engine.store.db import transaction
from engine.store.models import Estate, ItemHistory, ItemLink, User, UserEstate, UserRole
from engine.views.inbox import inbox
from engine.views.listing import Filters, choices, list_items
from engine.views.logs import step_records
from engine.views.timeline import timeline
from tests._loaders import loader_of

FOLDER = Path(__file__).resolve().parents[1] / "data" / "good" / "steps"
PEOPLE = {"clerk": ["clerk"], "boss": ["boss"], "lead": ["lead"], "lead2": ["lead"], "worker": ["worker"],
          "worker2": ["worker"], "chief": ["boss", "lead"]}


class Steps:
    """The demo estate, one user per entry of PEOPLE, the step-feature workflows published."""

    def __init__(self, db: Any, clock: FixedClock) -> None:
        self.db, self.clock, self.registry = db, clock, Registry()
        self.calendars = Calendars(FOLDER)
        self.ids: dict[str, int] = {}
        with transaction(db.factory) as session:
            session.add(Estate(id="demo", name="示范小区"))
            session.flush()
            for name, roles in PEOPLE.items():
                user = User(username=name, display_name=f"{name}姓名")
                session.add(user)
                session.flush()
                session.add_all([UserEstate(user_id=user.id, estate_id="demo"),
                                 *(UserRole(user_id=user.id, estate_id="demo", role=r) for r in roles)])
                self.ids[name] = user.id
            publish_folder(session, FOLDER, loader=loader_of(FOLDER), now=clock.now(), registry=self.registry)

    def actor(self, name: str) -> Actor:
        if name == "system":
            return Actor.system()
        with self.db.factory() as session:
            return load_actor(session, self.ids[name])

    def create(self, workflow: str = "job", **data: Any) -> ItemView:
        with transaction(self.db.factory) as session:
            return create(session, workflow=workflow, estate="demo", actor=self.actor("clerk"), data=data,
                          clock=self.clock, registry=self.registry, calendars=self.calendars)

    def fire(self, item: ItemView | int, name: str, who: str, **data: Any) -> ItemView:
        item_id = item if isinstance(item, int) else item.id
        with transaction(self.db.factory) as session:
            return fire(session, item_id, name, self.actor(who), data, clock=self.clock, registry=self.registry,
                        calendars=self.calendars)

    def get(self, item: ItemView | int) -> ItemView:
        with self.db.factory() as session:
            return get_item(session, item if isinstance(item, int) else item.id, Actor.system(),
                            registry=self.registry)

    def history(self, item: ItemView) -> list[ItemHistory]:
        with self.db.factory() as session:
            rows = session.scalars(select(ItemHistory).where(ItemHistory.item_id == item.id).order_by(ItemHistory.id))
            return list(rows)

    def child(self, item: ItemView) -> int:
        with self.db.factory() as session:
            return session.scalars(select(ItemLink.to_item_id).where(
                ItemLink.from_item_id == item.id, ItemLink.kind == "spawned")).one()


@pytest.fixture
def steps(db: Any, clock: FixedClock) -> Steps:
    return Steps(db, clock)


# -- log fields ---------------------------------------------------------------------------------

def test_a_log_field_appends_entries_with_who_and_when_and_never_overwrites(steps, clock):
    item = steps.create(unit="3-1-502", log="业主来电报事")
    clock.advance(timedelta(hours=2))
    item = steps.fire(item, "follow_up", "boss", log="  已联系维修班组  ")
    entries = item.values["log"]
    assert [e["text"] for e in entries] == ["业主来电报事", "已联系维修班组"]
    assert [e["by"] for e in entries] == ["clerk姓名", "boss姓名"]
    assert entries[1]["at"] == clock.now().isoformat()
    # The history records only the entry added, not the whole log again.
    last = steps.history(item)[-1]
    assert last.changes["log"] == [None, [entries[1]]]
    assert steps.get(item).values["log"] == entries


def test_a_log_entry_is_text_and_blank_text_adds_nothing(steps):
    item = steps.create()
    with pytest.raises(InvalidFields) as refused:
        steps.fire(item, "follow_up", "clerk", log="   ")   # blank: not given (require_new)
    assert set(refused.value.fields) == {"log"}
    with pytest.raises(InvalidFields):
        steps.fire(item, "follow_up", "clerk", log="a\x00b")


def test_the_item_page_lists_log_entries_newest_first_and_masks_a_personal_log(steps, clock):
    item = steps.create(secret_log="业主手机尾号5678")
    clock.advance(timedelta(minutes=5))
    item = steps.fire(item, "follow_up", "clerk", log="第二次跟进")
    with steps.db.factory() as session:
        full = step_records(session, item, steps.registry.compiled(session, item.definition_id), full=True)
        masked = step_records(session, item, steps.registry.compiled(session, item.definition_id), full=False)
    assert [(s.label, [e.text for e in s.entries]) for s in full.logs] == [
        ("跟进记录", ["第二次跟进"]), ("私密记录", ["业主手机尾号5678"])]
    assert masked.logs[1].entries[0].text != "业主手机尾号5678"
    assert masked.logs[0].entries[0].by == "clerk姓名"


def test_a_search_finds_a_log_entry(steps):
    item = steps.create(unit="9-9-909")
    steps.fire(item, "follow_up", "clerk", log="更换了漏水的阀门")
    with steps.db.factory() as session:
        page = list_items(session, steps.actor("boss"), Filters(q="漏水的阀门"), now=steps.clock.now())
    assert [row.number for row in page.rows] == [item.number]


# -- require_new and stay -----------------------------------------------------------------------

def test_require_new_ignores_stored_values_while_require_accepts_them(steps):
    item = steps.create(note="已有说明")
    item = steps.fire(item, "follow_up", "clerk", log="第一次")
    with pytest.raises(InvalidFields) as refused:
        steps.fire(item, "follow_up", "clerk")                       # the stored entry does not count
    assert refused.value.fields == {"log": "本步必须填写"}
    item = steps.fire(item, "note_again", "clerk")                   # require: the stored note does
    assert item.version == 3


def test_a_stay_step_keeps_the_states_clock_and_a_plain_self_transition_restarts_it(steps, clock):
    item = steps.create()
    entered, due = item.state_entered_at, item.deadline_at
    clock.advance(timedelta(hours=3))
    item = steps.fire(item, "follow_up", "clerk", log="跟进")
    assert (item.state, item.version, item.state_entered_at, item.deadline_at) == ("open", 2, entered, due)
    last = steps.history(item)[-1]
    assert (last.kind, last.transition, last.from_state, last.to_state) == ("transition", "follow_up", "open", "open")
    item = steps.fire(item, "note_again", "clerk", note="补充")   # not `stay`: enters the state again
    assert item.state_entered_at == clock.now() and item.deadline_at == clock.now() + timedelta(days=1)


# -- countersign ---------------------------------------------------------------------------------

def _to_signing(steps: Steps, **data: Any) -> ItemView:
    item = steps.create(note="go", **data)
    item = steps.fire(item, "send", "clerk")
    steps.fire(steps.child(item), "start", "worker")                # go_ahead reacts: note == 'go'
    return steps.get(item)


def test_countersign_moves_on_the_last_signature_only(steps):
    item = _to_signing(steps, checker="worker2")
    assert item.state == "signing"
    item = steps.fire(item, "approve", "lead")
    assert (item.state, item.version, item.values.get("approved_at")) == ("signing", 4, None)
    with pytest.raises(GuardFailed, match="您已会签"):
        steps.fire(item, "approve", "lead")
    with pytest.raises(GuardFailed, match="不是尚待会签"):
        steps.fire(item, "approve", "lead2")                        # the lead's place is taken
    with pytest.raises(GuardFailed, match="不是尚待会签"):
        steps.fire(item, "approve", "worker")                       # not the checker the item names
    item = steps.fire(item, "approve", "boss")
    assert item.state == "signing"
    with steps.db.factory() as session:
        records = step_records(session, item, steps.registry.compiled(session, item.definition_id), full=True)
    [signing] = records.countersigns
    assert [(slot, name) for slot, name, _ in signing.signed] == [("工程主管", "lead姓名"), ("主管", "boss姓名")]
    assert signing.awaited == ("复核人（worker2姓名）",)
    item = steps.fire(item, "approve", "worker2")
    assert item.state == "closed" and item.values["approved_at"] == steps.clock.now()


def test_signatures_lapse_when_the_item_leaves_the_state(steps):
    item = _to_signing(steps, checker="worker2")
    steps.fire(item, "approve", "lead")
    steps.fire(item, "approve", "boss")
    item = steps.fire(item, "reject", "lead2")
    assert item.state == "open"
    item = steps.fire(item, "send", "clerk")
    with steps.db.factory() as session:
        child = session.scalars(select(ItemLink.to_item_id).where(
            ItemLink.from_item_id == item.id, ItemLink.kind == "spawned").order_by(ItemLink.to_item_id.desc())).first()
    steps.fire(child, "start", "worker")
    item = steps.fire(item, "approve", "worker2")
    assert item.state == "signing"            # the earlier lead and boss signatures do not count
    item = steps.fire(item, "approve", "chief")   # one person holding two roles signs one place
    assert item.state == "signing"


def test_the_system_moves_a_countersigned_step_at_once(steps):
    item = _to_signing(steps)
    assert steps.fire(item, "approve", "system").state == "closed"


def test_my_inbox_leaves_out_a_countersign_the_person_signed_or_has_no_place_in(steps):
    item = _to_signing(steps, checker="worker2")

    def listed(who: str) -> bool:
        with steps.db.factory() as session:
            rows = inbox(session, steps.actor(who), per_page=100, now=steps.clock.now(), registry=steps.registry).rows
        return item.id in {r.id for r in rows}

    assert listed("worker2") and not listed("worker")             # the checker the item names, not any worker
    steps.fire(item, "approve", "worker2")
    assert not listed("worker2")                                   # signed: nothing left for them to do
    assert listed("lead") and listed("boss")


# -- on_linked -----------------------------------------------------------------------------------

def test_a_parent_moves_when_its_spawned_item_reaches_the_state_in_the_same_transaction(steps):
    item = steps.fire(steps.create(note="wait"), "send", "clerk")
    child = steps.child(item)
    steps.fire(child, "start", "worker")
    assert steps.get(item).state == "waiting"                       # go_ahead's guard does not hold: skipped
    with pytest.raises(RuntimeError), transaction(steps.db.factory) as session:
        fire(session, child, "finish", steps.actor("worker"), clock=steps.clock, registry=steps.registry,
             calendars=steps.calendars)
        assert get_item(session, item.id, Actor.system(), registry=steps.registry).state == "signing"
        raise RuntimeError("the child's transaction fails after the reaction")
    assert steps.get(item).state == "waiting"                       # rolled back together
    steps.fire(child, "finish", "worker")
    moved = steps.get(item)
    assert (moved.state, moved.version) == ("signing", 3)
    last = steps.history(moved)[-1]
    assert (last.actor_id, last.transition) == (None, "fixed")
    assert last.comment == f"关联工单 {steps.get(child).number} 进入「已完成」"


def test_reaches_final_matches_any_final_state(steps):
    item = steps.fire(steps.create(), "send", "clerk")
    steps.fire(steps.child(item), "cancel", "boss")
    assert steps.get(item).state == "open"


def test_reactions_stop_at_the_depth_limit(steps, monkeypatch):
    monkeypatch.setattr(links, "MAX_DEPTH", 0)
    item = steps.fire(steps.create(), "send", "clerk")
    steps.fire(steps.child(item), "cancel", "boss")
    assert steps.get(item).state == "waiting"


def test_the_history_shows_each_new_log_entry_and_each_signature_in_words(steps):
    item = steps.create(note="go", log="第一条", checker="worker2")
    item = steps.fire(item, "follow_up", "clerk", log="第二条")
    item = steps.fire(item, "send", "clerk")
    steps.fire(steps.child(item), "start", "worker")
    item = steps.fire(item, "approve", "lead")
    with steps.db.factory() as session:
        entries = timeline(session, item, full=True, registry=steps.registry)
    assert ("跟进记录", "", "第二条") in entries[1].changes
    assert entries[-1].label == "会签同意" and ("会签", "", "已签（工程主管）") in entries[-1].changes


def test_the_item_page_closes_the_countersign_button_for_who_signed(steps):
    item = _to_signing(steps, checker="worker2")
    item = steps.fire(item, "approve", "lead")

    def offered(who: str) -> dict[str, tuple[bool, tuple[str, ...]]]:
        with steps.db.factory() as session:
            found = choices(session, item, steps.actor(who), now=steps.clock.now(), registry=steps.registry)
        return {c.name: (c.fireable, c.reasons) for c in found}

    assert offered("lead")["approve"] == (False, ("您已会签，请等待其他会签人",))
    assert offered("lead2")["approve"] == (False, ("您不是尚待会签的会签人",))
    assert offered("boss")["approve"][0] is True
    assert offered("worker2")["approve"][0] is True
