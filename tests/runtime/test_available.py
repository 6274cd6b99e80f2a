"""available(): every transition leaving the state, allowed or with the reasons it is not."""

from __future__ import annotations

import pytest

from engine.errors import GuardFailed, InvalidFields, ItemNotFound, NotPermitted, TransitionError
from engine.runtime.items import fire


def test_lists_every_transition_leaving_the_state_in_file_order(world):
    item = world.create()
    assert list(world.available(item, "boss")) == ["start", "cancel"]
    working = world.fire(item, "start", data={"team": "a"})
    assert list(world.available(working, "boss")) == ["remark", "finish", "cancel"]


def test_allowed_but_needing_required_fields(world):
    start = world.available(world.create(), "boss")["start"]
    assert start.allowed and not start.ready
    assert start.needs == ("team",) and start.to == "working"
    assert [r.code for r in start.reasons] == ["invalid_fields"]
    assert "班组" in start.reasons[0].message


def test_wrong_role_gives_the_roles_that_may(world):
    start = world.available(world.create(), "clerk")["start"]
    assert not start.allowed
    assert start.reasons[0].code == "not_permitted" and start.reasons[0].roles == ("boss",)


def test_guard_false_is_a_reason(world):
    item = world.fire(world.fire(world.create(kind="leak", amount=9000), "start", data={"team": "a"}),
                      "finish", role="worker")
    approve = world.available(item, "boss")["approve"]
    assert not approve.allowed and approve.to is None
    assert [r.code for r in approve.reasons] == ["guard_failed"]
    assert approve.reasons[0].message == "条件不满足（与“金额”有关）"  # plain words, never the expression


def test_system_only_transitions_are_listed_as_such(world):
    item = world.fire(world.fire(world.create(kind="leak"), "start", data={"team": "a"}), "finish", role="worker")
    auto = world.available(item, "boss")["auto_close"]
    assert not auto.allowed and auto.reasons[0].message == "只能由系统自动执行"
    assert world.available(item, "system")["auto_close"].ready


def test_the_branch_chosen_gives_label_and_target(world):
    item = world.fire(world.create(), "start", data={"team": "a"})
    assert world.available(item, "worker")["finish"].to == "closed"
    leak = world.fire(world.create(kind="leak"), "start", data={"team": "a"})
    finish = world.available(leak, "worker")["finish"]
    assert finish.to == "review" and finish.label.startswith("完成（漏水")


def test_several_reasons_at_once(world):
    item = world.fire(world.fire(world.create(kind="leak", amount=9000), "start", data={"team": "a"}),
                      "finish", role="worker")
    approve = world.available(item, "clerk")["approve"]
    assert [r.code for r in approve.reasons] == ["not_permitted", "guard_failed"]


REFUSALS = {"not_permitted": NotPermitted, "guard_failed": GuardFailed, "invalid_fields": InvalidFields}


def _attempt(world, item_id, name, role):
    """fire() with no data as it stands, rolled back: None when accepted, else the refusal."""
    actor = world.actor(role)
    with world.db.factory() as session:
        try:
            fire(session, item_id, name, actor, None, clock=world.clock, calendars=world.calendars)
        except TransitionError as error:
            return error
        finally:
            session.rollback()
    return None


def test_agrees_with_fire(world):
    """What available() calls ready, fire() accepts; every other one fire() refuses, as reasons[0] says."""
    working = world.fire(world.create(), "start", data={"team": "a"})
    leak = world.fire(world.create(kind="leak"), "start", data={"team": "a"})
    costly = world.fire(world.fire(world.create(kind="leak", amount=9000), "start", data={"team": "a"}),
                        "finish", role="worker")
    cheap = world.fire(world.fire(world.create(kind="leak", amount=100), "start", data={"team": "a"}),
                       "finish", role="worker")
    ready = refused = 0
    for item in (world.create(), working, leak, costly, cheap):
        for role in ("clerk", "boss", "worker", "system"):
            for name, a in world.available(item, role).items():
                error = _attempt(world, item.id, name, role)
                if a.ready:
                    assert error is None, (item.state, role, name, error)
                    ready += 1
                else:
                    assert isinstance(error, REFUSALS[a.reasons[0].code]), (item.state, role, name, a, error)
                    refused += 1
    assert ready >= 8 and refused >= 8


def test_another_estates_item_is_not_found(world):
    item = world.create()
    with pytest.raises(ItemNotFound):
        world.available(item, "boss", estate="other")
