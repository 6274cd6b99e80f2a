"""Accounts from the command line: `estateflow estate add`, `estateflow user add | disable | enable | leave | back |
reset-password | password`, all through engine/org and recorded in the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.security import check_password_hash

from engine.access.sessions import SessionRules, check_session, start_session
from engine.cli.main import main
from engine.clock import SystemClock
from engine.runtime.registry import publish_folder
from engine.store.db import transaction
from engine.store.models import AuditLog, Estate, User, UserEstate, UserRole

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
PASSWORD = "counter-7-pass"


@pytest.fixture
def cli(db):  # noqa: ANN001, ANN201
    """Runs `estateflow ...` against the test database; returns (exit code, output)."""

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(main, [*args, "--url", db.url], input=stdin)
        return result.exit_code, result.output.strip()

    return run


@pytest.fixture
def published(db) -> None:  # noqa: ANN001
    with transaction(db.factory) as session:
        publish_folder(session, SHIPPED)


def user_row(db, username: str) -> User:  # noqa: ANN001
    with db.factory() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def roles_and_estates(db, username: str) -> tuple[set[str], set[str]]:  # noqa: ANN001
    with db.factory() as session:
        user_id = session.scalars(select(User.id).where(User.username == username)).one()
        roles = set(session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))
        estates = set(session.scalars(select(UserEstate.estate_id).where(UserEstate.user_id == user_id)))
    return roles, estates


# -- estates ----------------------------------------------------------------------------------


def test_an_estate_is_added_then_renamed_by_running_again(db, cli) -> None:  # noqa: ANN001
    assert cli("estate", "add", "sunshine", "--name", "阳光花园") == (0, "estate sunshine: added (阳光花园, Asia/Shanghai)")
    code, output = cli("estate", "add", "sunshine", "--name", "阳光花园二期", "--timezone", "Asia/Urumqi")
    assert (code, output) == (0, "estate sunshine: updated (name 阳光花园 -> 阳光花园二期; "
                                 "time zone Asia/Shanghai -> Asia/Urumqi)")
    assert cli("estate", "add", "sunshine", "--name", "阳光花园二期")[1].endswith("unchanged (阳光花园二期, Asia/Urumqi)")
    with db.factory() as session:
        estate = session.get(Estate, "sunshine")
        assert (estate.name, estate.timezone) == ("阳光花园二期", "Asia/Urumqi")


@pytest.mark.parametrize(("args", "message"), [
    (("Sun Shine", "--name", "x"), "'Sun Shine' is not a valid estate id"),
    (("sunshine", "--name", "x", "--timezone", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    (("sunshine", "--name", "x", "--timezone", "../../etc/passwd"), "unknown time zone"),
    (("sunshine", "--name", "  "), "the name must be 1 to 200 characters"),
])
def test_a_bad_estate_is_refused_in_one_line(db, cli, args: tuple[str, ...], message: str) -> None:  # noqa: ANN001
    code, output = cli("estate", "add", *args)
    assert code == 1
    assert message in output
    assert len(output.splitlines()) == 1
    with db.factory() as session:
        assert session.scalars(select(Estate)).all() == []


# -- users ------------------------------------------------------------------------------------


def test_a_user_is_added_with_a_hashed_password_from_standard_input(db, cli, published) -> None:  # noqa: ANN001
    cli("estate", "add", "sunshine", "--name", "阳光花园")
    code, output = cli("user", "add", "zhang", "--name", "张敏", "--estate", "sunshine", "--role", "frontdesk",
                       "--role", "cs_supervisor", "--password-stdin", stdin=PASSWORD + "\n")
    assert (code, output) == (0, "user zhang: added (estate sunshine; roles frontdesk, cs_supervisor)")
    row = user_row(db, "zhang")
    assert row.display_name == "张敏" and row.active
    assert check_password_hash(row.password_hash, PASSWORD)
    assert PASSWORD not in row.password_hash
    assert roles_and_estates(db, "zhang") == ({"frontdesk", "cs_supervisor"}, {"sunshine"})


def test_a_user_without_a_password_gets_a_one_time_password_printed_last(db, cli, published) -> None:  # noqa: ANN001
    cli("estate", "add", "sunshine", "--name", "阳光花园")
    code, output = cli("user", "add", "li", "--name", "李四", "--estate", "sunshine", "--role", "housekeeper")
    assert code == 0 and output.splitlines()[0] == "user li: added (estate sunshine; roles housekeeper)"
    one_time = output.splitlines()[-1]
    row = user_row(db, "li")
    assert row.must_change_password and check_password_hash(row.password_hash, one_time)
    with db.factory() as session:
        actions = [(a.actor_name, a.target, a.action) for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert ("命令行", "user", "add") in actions and ("命令行", "role", "change") in actions


def test_roles_are_held_per_estate(db, cli, published) -> None:  # noqa: ANN001
    cli("estate", "add", "sunshine", "--name", "阳光花园")
    cli("estate", "add", "riverside", "--name", "滨江花园")
    cli("user", "add", "zhang", "--name", "张敏", "--estate", "sunshine", "--role", "cs_supervisor", "--password-stdin",
        stdin=PASSWORD)
    cli("user", "add", "zhang", "--name", "张敏", "--estate", "riverside", "--role", "frontdesk")
    with db.factory() as session:
        held = set(session.execute(select(UserRole.estate_id, UserRole.role)).tuples())
    assert held == {("sunshine", "cs_supervisor"), ("riverside", "frontdesk")}


def test_running_again_adds_an_estate_and_roles_and_keeps_the_password(db, cli, published) -> None:  # noqa: ANN001
    cli("estate", "add", "sunshine", "--name", "阳光花园")
    cli("estate", "add", "riverside", "--name", "滨江花园")
    cli("user", "add", "zhang", "--name", "张敏", "--estate", "sunshine", "--role", "frontdesk", "--password-stdin",
        stdin=PASSWORD)
    code, output = cli("user", "add", "zhang", "--name", "张敏", "--estate", "riverside", "--role", "housekeeper")
    assert (code, output) == (0, "user zhang: updated (estate riverside added; role housekeeper added)")
    assert roles_and_estates(db, "zhang") == ({"frontdesk", "housekeeper"}, {"sunshine", "riverside"})
    assert check_password_hash(user_row(db, "zhang").password_hash, PASSWORD)


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("--role", "frontdsk", "--password-stdin"), PASSWORD,
     "unknown role 'frontdsk' (did you mean 'frontdesk'?): the roles are those of the published role catalogue"),
    (("--role", "frontdesk", "--password-stdin"), "short", "密码至少要 8 个字符"),
    (("--role", "frontdesk", "--password-stdin"), "Zhang.Min\n", "密码不能与用户名相同"),
    (("--role", "frontdesk", "--password-stdin"), "", "no password on standard input"),
])
def test_a_bad_user_is_refused_in_one_line_and_nothing_is_written(db, cli, published, args: tuple[str, ...],  # noqa: ANN001
                                                                   stdin: str | None, message: str) -> None:
    cli("estate", "add", "sunshine", "--name", "阳光花园")
    code, output = cli("user", "add", "zhang.min", "--name", "张敏", "--estate", "sunshine", *args, stdin=stdin)
    assert code == 1
    assert message in output
    assert len(output.splitlines()) == 1 and "Traceback" not in output
    with db.factory() as session:
        assert session.scalars(select(User)).all() == []


def test_a_user_of_an_unknown_estate_is_refused(db, cli, published) -> None:  # noqa: ANN001
    code, output = cli("user", "add", "zhang", "--name", "张敏", "--estate", "nowhere", "--role", "frontdesk",
                       "--password-stdin", stdin=PASSWORD)
    assert code == 1
    assert "no estate 'nowhere': add it first with estateflow estate add nowhere --name NAME" in output


def test_before_anything_is_published_the_roles_come_from_roles_yaml_and_the_message_says_so(
        db, cli, tmp_path: Path) -> None:  # noqa: ANN001
    cli("estate", "add", "sunshine", "--name", "阳光花园")
    args = ("user", "add", "zhang", "--name", "张敏", "--estate", "sunshine", "--password-stdin",
            "--workflows", str(SHIPPED))
    code, output = cli(*args, "--role", "boss", stdin=PASSWORD)
    assert code == 1 and f"the roles are those of {SHIPPED / 'roles.yaml'} (nothing is published yet)" in output
    assert cli(*args, "--role", "frontdesk", stdin=PASSWORD)[0] == 0


# -- disabling and passwords end every session at once ------------------------------------------


def sessions_of(db, username: str, count: int) -> list[str]:  # noqa: ANN001
    user_id = user_row(db, username).id
    with transaction(db.factory) as session:
        return [start_session(session, user_id, SystemClock().now(), SessionRules()) for _ in range(count)]


def still_valid(db, tokens: list[str]) -> list[bool]:  # noqa: ANN001
    with db.factory() as session:
        return [check_session(session, t, SystemClock().now(), SessionRules()).valid for t in tokens]


@pytest.fixture
def zhang(db, cli, published) -> None:  # noqa: ANN001
    cli("estate", "add", "sunshine", "--name", "阳光花园")
    cli("user", "add", "zhang", "--name", "张敏", "--estate", "sunshine", "--role", "frontdesk", "--password-stdin",
        stdin=PASSWORD)


def test_disabling_a_user_ends_every_session_at_once(db, cli, zhang) -> None:  # noqa: ANN001
    tokens = sessions_of(db, "zhang", 2)
    assert cli("user", "disable", "zhang") == (0, "user zhang: disabled, 2 session(s) ended")
    assert still_valid(db, tokens) == [False, False]
    assert not user_row(db, "zhang").active
    assert cli("user", "disable", "zhang") == (0, "user zhang: already disabled, 0 session(s) ended")


def test_a_new_password_ends_every_session_and_the_old_password_no_longer_works(db, cli, zhang) -> None:  # noqa: ANN001
    tokens = sessions_of(db, "zhang", 3)
    assert cli("user", "password", "zhang", "--password-stdin", stdin="a-new-password\n") == (
        0, "user zhang: password changed, 3 session(s) ended")
    assert still_valid(db, tokens) == [False, False, False]
    hashed = user_row(db, "zhang").password_hash
    assert check_password_hash(hashed, "a-new-password") and not check_password_hash(hashed, PASSWORD)


def test_a_password_given_to_user_add_again_also_ends_the_sessions(db, cli, zhang) -> None:  # noqa: ANN001
    tokens = sessions_of(db, "zhang", 1)
    code, output = cli("user", "add", "zhang", "--name", "张敏", "--estate", "sunshine", "--role", "frontdesk",
                       "--password-stdin", stdin="a-new-password")
    assert (code, output) == (0, "user zhang: updated (password changed, 1 session(s) ended)")
    assert still_valid(db, tokens) == [False]


def test_an_unknown_user_cannot_be_disabled(db, cli) -> None:  # noqa: ANN001
    assert cli("user", "disable", "nobody") == (1, "Error: no user 'nobody'")


def test_reset_password_prints_a_one_time_password_as_the_last_line(db, cli, zhang) -> None:  # noqa: ANN001
    tokens = sessions_of(db, "zhang", 1)
    code, output = cli("user", "reset-password", "zhang")
    assert code == 0 and "1 session(s) ended" in output.splitlines()[0]
    row = user_row(db, "zhang")
    assert row.must_change_password and check_password_hash(row.password_hash, output.splitlines()[-1])
    assert still_valid(db, tokens) == [False]


def test_enable_leave_and_back(db, cli, zhang) -> None:  # noqa: ANN001
    cli("user", "add", "li", "--name", "李四", "--estate", "sunshine", "--role", "frontdesk", "--password-stdin",
        stdin=PASSWORD)
    assert cli("user", "leave", "zhang", "--stand-in", "li") == (0, "user zhang: on leave, stand-in li")
    row = user_row(db, "zhang")
    assert row.on_leave and row.stand_in_id == user_row(db, "li").id
    assert cli("user", "back", "zhang") == (0, "user zhang: back from leave")
    assert not user_row(db, "zhang").on_leave
    assert cli("user", "leave", "zhang", "--stand-in", "zhang") == (1, "Error: 不能转交给本人")
    cli("user", "disable", "zhang")
    assert cli("user", "enable", "zhang") == (0, "user zhang: enabled")
    assert user_row(db, "zhang").active
