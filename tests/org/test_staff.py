"""Staff: accounts, passwords, roles per estate, disabling and leave, each change in the audit log."""

from __future__ import annotations

import pytest
from _org_world import CATALOGUE, PASSWORD
from sqlalchemy import select
from werkzeug.security import check_password_hash

from engine.access.actor import Actor
from engine.access.sessions import SessionRules, check_session, start_session
from engine.clock import SystemClock
from engine.errors import InvalidFields, ItemNotFound, NotPermitted
from engine.org import staff
from engine.store.db import transaction
from engine.store.models import AuditLog, UserEstate, UserRole


@pytest.mark.parametrize(("username", "password", "problem"), [
    ("zhang", "short1", "密码至少要 8 个字符"),
    ("zhang.min", "Zhang.Min", "密码不能与用户名相同"),
    ("zhangmin", "zhangmin2026", "密码不能包含用户名"),
    ("zhang", "aaaaaaaaaa", "密码不能全是同一个字符"),
    ("zhang", "12345678", "这个密码太常见，容易被猜到，请换一个"),
    ("zhang", "counter-7-pass", None),
    ("admin", "demo1234", None),
])
def test_password_rules(username: str, password: str, problem: str | None) -> None:
    assert staff.password_problem(username, password) == problem


def test_a_user_without_a_password_gets_a_one_time_password_and_must_change_it(db, org) -> None:  # noqa: ANN001
    with transaction(db.factory) as session:
        user, otp = staff.add_user(session, org.actor("manager"), "li", name="李四", phone="138 0000 1111")
    assert otp and staff.password_problem("li", otp) is None
    row = org.user("li")
    assert row.must_change_password and check_password_hash(row.password_hash, otp) and row.phone == "13800001111"
    with db.factory() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.target == "user", AuditLog.action == "add",
                                                       AuditLog.target_id == str(user.id))).one()
    assert entry.actor_name == "经理甲" and "password" not in str(entry.changes) and otp not in str(entry.changes)


def test_bad_accounts_are_refused_field_by_field(db, org) -> None:  # noqa: ANN001
    with pytest.raises(InvalidFields) as refused, transaction(db.factory) as session:
        staff.add_user(session, org.actor("admin"), "desk", name="", phone="12", email="nobody", password="desk1234")
    assert set(refused.value.fields) == {"username", "name", "phone", "email", "password"}
    with pytest.raises(NotPermitted), transaction(db.factory) as session:
        staff.add_user(session, org.actor("desk"), "li", name="李四")


def test_set_roles_replaces_the_roles_of_one_estate_and_keeps_user_estates_in_step(db, org) -> None:  # noqa: ANN001
    admin, desk = org.actor("admin"), org.ids["desk"]
    with transaction(db.factory) as session:
        staff.set_roles(session, admin, desk, "demo", ["frontdesk", "housekeeper"], catalogue=CATALOGUE)
    assert org.actor("desk").roles_in("demo") == {"frontdesk", "housekeeper"}
    with transaction(db.factory) as session:
        staff.set_roles(session, admin, desk, "demo", [], catalogue=CATALOGUE)
    with db.factory() as session:
        assert session.scalars(select(UserEstate).where(UserEstate.user_id == desk)).all() == []
        assert session.scalars(select(UserRole).where(UserRole.user_id == desk)).all() == []
        changes = [r.changes["roles"] for r in session.scalars(
            select(AuditLog).where(AuditLog.target == "role", AuditLog.target_id == str(desk)).order_by(AuditLog.id))]
    assert changes[-2:] == [[["frontdesk"], ["frontdesk", "housekeeper"]], [["frontdesk", "housekeeper"], []]]


def test_roles_are_per_estate(db, org) -> None:  # noqa: ANN001
    with transaction(db.factory) as session:
        staff.set_roles(session, Actor.system(), org.ids["supervisor"], "riverside", ["frontdesk"],
                        catalogue=CATALOGUE)
    actor = org.actor("supervisor")
    assert actor.roles_in("demo") == {"cs_supervisor"} and actor.roles_in("riverside") == {"frontdesk"}


def test_unknown_roles_are_refused_listing_the_valid_ones(db, org) -> None:  # noqa: ANN001
    with pytest.raises(InvalidFields) as refused, transaction(db.factory) as session:
        staff.set_roles(session, org.actor("admin"), org.ids["desk"], "demo", ["boss"], catalogue=CATALOGUE)
    assert "没有这些角色：boss" in refused.value.fields["roles"]
    assert "前台客服（frontdesk）" in refused.value.fields["roles"]


def test_a_manager_gives_ordinary_posts_but_not_admin_and_not_in_another_estate(db, org) -> None:  # noqa: ANN001
    manager = org.actor("manager")
    with transaction(db.factory) as session:
        staff.set_roles(session, manager, org.ids["desk"], "demo", ["frontdesk", "housekeeper"], catalogue=CATALOGUE)
    with pytest.raises(NotPermitted, match="系统管理员"), transaction(db.factory) as session:
        staff.set_roles(session, manager, org.ids["desk"], "demo", ["admin"], catalogue=CATALOGUE)
    with pytest.raises(NotPermitted), transaction(db.factory) as session:  # nor take admin away
        staff.set_roles(session, manager, org.ids["admin"], "demo", [], catalogue=CATALOGUE)
    with pytest.raises(ItemNotFound), transaction(db.factory) as session:
        staff.set_roles(session, manager, org.ids["desk"], "riverside", ["frontdesk"], catalogue=CATALOGUE)
    with pytest.raises(NotPermitted), transaction(db.factory) as session:
        staff.set_roles(session, org.actor("desk"), org.ids["desk"], "demo", ["cs_manager"], catalogue=CATALOGUE)


def _sessions(db, user_id: int, count: int) -> list[str]:  # noqa: ANN001
    with transaction(db.factory) as session:
        return [start_session(session, user_id, SystemClock().now(), SessionRules()) for _ in range(count)]


def _valid(db, tokens: list[str]) -> list[bool]:  # noqa: ANN001
    with db.factory() as session:
        return [check_session(session, t, SystemClock().now(), SessionRules()).valid for t in tokens]


def test_changing_ones_password_keeps_this_session_and_ends_the_others(db, org) -> None:  # noqa: ANN001
    desk = org.ids["desk"]
    here, there = _sessions(db, desk, 2)
    with pytest.raises(InvalidFields) as wrong, transaction(db.factory) as session:
        staff.change_password(session, desk, "not-my-password", "a-better-pass-9")
    assert list(wrong.value.fields) == ["old_password"]
    with pytest.raises(InvalidFields) as weak, transaction(db.factory) as session:
        staff.change_password(session, desk, PASSWORD, "short")
    assert list(weak.value.fields) == ["new_password"]
    with transaction(db.factory) as session:
        assert staff.change_password(session, desk, PASSWORD, "a-better-pass-9", keep_token=here) == 1
    assert _valid(db, [here, there]) == [True, False]
    assert check_password_hash(org.user("desk").password_hash, "a-better-pass-9")


def test_a_reset_gives_a_one_time_password_forces_a_change_and_ends_sessions(db, org) -> None:  # noqa: ANN001
    tokens = _sessions(db, org.ids["desk"], 2)
    with transaction(db.factory) as session:
        otp = staff.reset_password(session, org.actor("manager"), org.ids["desk"])
    row = org.user("desk")
    assert row.must_change_password and check_password_hash(row.password_hash, otp)
    assert _valid(db, tokens) == [False, False]
    with transaction(db.factory) as session:
        staff.change_password(session, org.ids["desk"], otp, "my-own-pass-42")
    assert not org.user("desk").must_change_password


def test_a_user_of_another_estate_is_not_found_for_a_manager(db, org) -> None:  # noqa: ANN001
    with pytest.raises(ItemNotFound), transaction(db.factory) as session:
        staff.reset_password(session, org.actor("manager"), org.ids["river_desk"])
    manager = org.actor("manager")
    with db.factory() as session:
        names = [u.username for u in staff.list_users(session, manager)]
        assert "river_desk" not in names and "desk" in names
        record = staff.user_record(session, manager, org.ids["desk"])
        assert record.roles == {"demo": ("frontdesk",)} and record.history


def test_staff_of_an_estate_by_role(db, org) -> None:  # noqa: ANN001
    with transaction(db.factory) as session:
        staff.disable(session, org.actor("admin"), org.ids["fixer2"])
    with db.factory() as session:
        fixers = staff.staff_of(session, "demo", ["engineer"])
        assert [(m.username, m.display_name, m.roles) for m in fixers] == [("fixer", "维修丙", ("engineer",))]
        assert {m.username for m in staff.staff_of(session, "riverside")} == {"river_desk", "river_admin"}


def test_nobody_disables_themselves_and_enable_lets_the_user_back(db, org) -> None:  # noqa: ANN001
    admin = org.actor("admin")
    with pytest.raises(NotPermitted), transaction(db.factory) as session:
        staff.disable(session, admin, org.ids["admin"])
    tokens = _sessions(db, org.ids["desk"], 1)
    with transaction(db.factory) as session:
        staff.disable(session, admin, org.ids["desk"])
    assert not org.user("desk").active and _valid(db, tokens) == [False]
    with transaction(db.factory) as session:
        staff.enable(session, admin, org.ids["desk"])
    assert org.user("desk").active


def test_leave_names_a_stand_in_and_back_clears_it(db, org) -> None:  # noqa: ANN001
    admin = org.actor("admin")
    with pytest.raises(InvalidFields), transaction(db.factory) as session:
        staff.start_leave(session, admin, org.ids["fixer"], stand_in_id=org.ids["fixer"])
    with transaction(db.factory) as session:
        staff.start_leave(session, admin, org.ids["fixer"], stand_in_id=org.ids["fixer2"])
    row = org.user("fixer")
    assert row.on_leave and row.stand_in_id == org.ids["fixer2"]
    with transaction(db.factory) as session:
        staff.end_leave(session, admin, org.ids["fixer"])
    row = org.user("fixer")
    assert not row.on_leave and row.stand_in_id is None


def test_a_manager_cannot_take_over_an_admins_account(db, org) -> None:  # noqa: ANN001
    manager = org.actor("manager")
    with pytest.raises(NotPermitted, match="只有系统管理员"), transaction(db.factory) as session:
        staff.reset_password(session, manager, org.ids["admin"])
    with pytest.raises(NotPermitted), transaction(db.factory) as session:
        staff.disable(session, manager, org.ids["admin"])
    with transaction(db.factory) as session:
        staff.reset_password(session, manager, org.ids["desk"])  # an ordinary post is theirs to run
