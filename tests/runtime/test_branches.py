"""One button per branch, the branch in the history, `when` labels and `summary` (issue 12).

The workflow is tests/data/good/branches/visit.yaml: two `revisit` branches with labelled
guards and different `require`, two `approve` branches with one from and one to state
(only the recorded branch tells them apart), and `settle` with an otherwise.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from engine.access.actor import Actor, load_actor
from engine.clock import FixedClock
from engine.errors import GuardFailed, NotPermitted, UnknownTransition
from engine.language.compiler import summary_field
from engine.language.definition import FieldDef
from engine.runtime.items import ItemView, create, fire
from engine.runtime.registry import REGISTRY, publish_folder
from engine.runtime.tick import tick
from engine.store.db import transaction
from engine.store.models import Estate, ItemHistory, Outbox, User, UserEstate, UserRole
from engine.views import listing
from engine.views.timeline import timeline
from tests._loaders import loader_of

FOLDER = Path(__file__).resolve().parents[1] / "data" / "good" / "branches"
ROLES = ("clerk", "boss", "worker")


class Branches:
    """A database with estate `demo`, a user per role and visit.yaml published."""

    def __init__(self, db: Any, clock: FixedClock) -> None:
        self.db, self.clock, self.users = db, clock, {}
        with transaction(db.factory) as session:
            session.add(Estate(id="demo", name="示范小区"))
            session.flush()
            for role in ROLES:
                user = User(username=role, display_name=f"{role}员")
                session.add(user)
                session.flush()
                session.add_all([UserRole(user_id=user.id, estate_id="demo", role=role),
                                 UserEstate(user_id=user.id, estate_id="demo")])
                self.users[role] = user.id
            publish_folder(session, FOLDER, loader=loader_of(FOLDER), now=clock.now())

    def actor(self, role: str) -> Actor:
        with self.db.factory() as session:
            return load_actor(session, self.users[role])

    def create(self, **data: Any) -> ItemView:
        with transaction(self.db.factory) as session:
            return create(session, workflow="visit", estate="demo", actor=self.actor("clerk"),
                          data={"unit": "3-1-502", "description": "楼上漏水", **data}, clock=self.clock)

    def fire(self, item: ItemView, name: str, role: str, data: dict[str, Any] | None = None,
             branch: int | None = None) -> ItemView:
        with transaction(self.db.factory) as session:
            return fire(session, item.id, name, self.actor(role), data, clock=self.clock, branch=branch)

    def choices(self, item: ItemView, role: str) -> list[listing.Choice]:
        with self.db.factory() as session:
            return listing.choices(session, item, self.actor(role), now=self.clock.now())

    def labels(self, item: ItemView) -> list[str]:
        with self.db.factory() as session:
            return [e.label for e in timeline(session, item)]


@pytest.fixture
def world(db: Any, clock: FixedClock) -> Branches:
    return Branches(db, clock)


def _index(item: ItemView, world: Branches, label: str) -> int:
    with world.db.factory() as session:
        definition = REGISTRY.compiled(session, item.definition_id)
    return next(t.index for t in definition.transitions if t.label == label)


def test_one_button_per_branch_each_with_its_label_form_and_required_marks(world):
    item = world.create()
    revisit = [c for c in world.choices(item, "clerk") if c.name == "revisit"]
    assert [(c.label, c.fields, c.required) for c in revisit] == [
        ("回访满意，归档", ("result",), ("result",)),
        ("回访不满意，转主管", ("result", "handler", "reason"), ("result", "handler", "reason")),
    ]
    assert [c.branch for c in revisit] == [_index(item, world, c.label) for c in revisit]
    assert len({c.key for c in revisit}) == 2  # the page tells the two forms apart
    # Each form offers the answers its branch fires with.
    assert [dict(c.options) for c in revisit] == [{"result": ("good",)}, {"result": ("bad",)}]


def test_the_branch_fired_is_recorded_and_named_by_the_history(world):
    item = world.fire(world.create(severity="major"), "revisit", "clerk",
                      {"result": "bad", "handler": "老王", "reason": "仍漏水"},
                      branch=_index(world.create(), world, "回访不满意，转主管"))
    item = world.fire(item, "approve", "boss")  # picked by file order: the major branch
    labels = world.labels(item)
    assert labels == ["登记", "回访不满意，转主管", "主管审核通过（重大）"]
    with world.db.factory() as session:
        rows = session.query(ItemHistory.transition, ItemHistory.branch).filter(
            ItemHistory.item_id == item.id).order_by(ItemHistory.id).all()
    assert [tuple(r) for r in rows] == [(None, None), ("revisit", 1), ("approve", 3)]


def test_rows_stored_before_the_branch_column_fall_back_to_name_from_and_to(world):
    item = world.fire(world.create(), "revisit", "clerk", {"result": "bad", "handler": "老王", "reason": "仍漏水"})
    with world.db.factory.begin() as session:
        session.execute(update(ItemHistory).where(ItemHistory.item_id == item.id).values(branch=None))
    # Not the first entry of the name (回访满意，归档): the one leading where the row went.
    assert world.labels(item)[-1] == "回访不满意，转主管"


def test_a_chosen_branch_fires_only_if_its_own_condition_holds(world):
    item = world.create()
    satisfied = _index(item, world, "回访满意，归档")
    with pytest.raises(GuardFailed) as refused:
        world.fire(item, "revisit", "clerk", {"result": "bad"}, branch=satisfied)
    # The branch's own reason, by its label; never the expression, nor the other branch's words.
    assert refused.value.message == "不能回访满意，归档：条件不满足：业主表示满意"
    assert "result" not in refused.value.message
    done = world.fire(item, "revisit", "clerk", {"result": "good"}, branch=satisfied)
    assert done.state == "closed"


def test_the_otherwise_is_refused_while_another_branch_applies(world):
    item = world.fire(world.create(severity="major"), "revisit", "clerk",
                      {"result": "bad", "handler": "老王", "reason": "仍漏水"})
    plain = _index(item, world, "普通处理")
    with pytest.raises(GuardFailed) as refused:
        world.fire(item, "settle", "boss", branch=plain)
    assert refused.value.message == "不能普通处理：应执行“上报领导（重大）”（重大投诉）"
    # The worker may fire only the otherwise: for them no other branch applies.
    assert world.fire(item, "settle", "worker", branch=plain).state == "closed"


def test_a_branch_the_roles_do_not_allow_or_that_does_not_exist_is_refused(world):
    item = world.fire(world.create(), "revisit", "clerk", {"result": "bad", "handler": "老王", "reason": "仍漏水"})
    with pytest.raises(NotPermitted):
        world.fire(item, "settle", "worker", branch=_index(item, world, "上报领导（重大）"))
    with pytest.raises(UnknownTransition):
        world.fire(item, "settle", "boss", branch=0)  # a revisit branch, not one of settle's


def test_the_otherwise_button_is_withheld_only_when_another_branch_surely_applies(world):
    item = world.fire(world.create(severity="major"), "revisit", "clerk",
                      {"result": "bad", "handler": "老王", "reason": "仍漏水"})
    assert [c.label for c in world.choices(item, "boss") if c.name == "settle"] == ["上报领导（重大）"]
    assert [c.label for c in world.choices(item, "worker") if c.name == "settle"] == ["普通处理"]


def test_refusals_name_the_label_or_the_fields_never_the_expression(world):
    item = world.fire(world.create(), "revisit", "clerk", {"result": "bad", "handler": "老王", "reason": "仍漏水"})
    with pytest.raises(GuardFailed) as refused:  # severity is unset: neither approve branch holds
        world.fire(item, "approve", "boss", branch=_index(item, world, "主管审核通过（重大）"))
    assert refused.value.message == "不能主管审核通过（重大）：条件不满足（与“投诉级别”有关）"
    assert "severity" not in refused.value.message and "major" not in refused.value.message


def test_without_a_branch_fire_picks_by_file_order_as_before(world):
    item = world.fire(world.create(), "revisit", "clerk", {"result": "good"})
    assert item.state == "closed" and world.labels(item)[-1] == "回访满意，归档"


def test_summary_and_when_labels_are_compiled(world):
    definition = loader_of(FOLDER).load(FOLDER / "visit.yaml")
    assert definition.summary == "subject"
    assert [t.when_label for t in definition.transitions] == [
        "业主表示满意", "业主表示不满意", None, None, None, "重大投诉"]
    assert definition.states["open"].sla[0].when_label == "重大投诉"
    assert definition.states["open"].sla[0].when is not None


def test_an_escalation_names_its_limits_condition_by_the_when_label(world):
    world.create(severity="major")
    world.clock.advance(timedelta(hours=1))
    tick(world.db.factory, world.clock)
    with world.db.factory() as session:
        bodies = session.scalars(Outbox.__table__.select().with_only_columns(Outbox.body)).all()
    assert bodies and all("（待回访，1小时，重大投诉）" in body for body in bodies), bodies
    assert not any("severity" in body for body in bodies)


def test_lists_show_each_items_main_text_on_a_line_of_its_own(world):
    world.create(subject="卫生间漏水，" + "吊顶" * 40)
    with world.db.factory() as session:
        [row] = listing.list_items(session, world.actor("clerk"), listing.Filters(), now=world.clock.now()).rows
    assert row.summary.startswith("卫生间漏水，吊顶") and row.summary.endswith("…")
    assert len(row.summary) == listing.SUMMARY_LENGTH
    assert "事由" not in [label for label, _ in row.columns]  # not repeated among the columns


def test_the_default_summary_is_the_first_required_text_field_else_the_first_text_field():
    good = Path(__file__).resolve().parents[1] / "data" / "good"
    example = loader_of(Path(__file__).resolve().parents[2] / "workflows").load(good / "docs_example.yaml")
    assert example.summary == "description"  # 报修内容: required text (result_note is a later text)
    texts = {"note": FieldDef("note", "text", "备注"), "memo": FieldDef("memo", "text", "说明", required=True)}
    assert summary_field({}, texts) == "memo"
    assert summary_field({}, {"note": texts["note"]}) == "note"
    assert summary_field({}, {"unit": FieldDef("unit", "string", "房号")}) is None
