"""The demo seed over the shipped workflows: users per role, items in many states, idempotent."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from engine.cli.demo import PASSWORD, demo, seed, units
from engine.errors import EngineError
from engine.language.loader import load_roles
from engine.runtime.registry import publish_folder
from engine.store.db import transaction
from engine.store.models import Item, User, UserEstate, WorkflowVersion

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"



def _published(db):
    with transaction(db.factory) as session:
        publish_folder(session, SHIPPED)


def test_seed_makes_one_user_per_role_and_items_in_every_workflow(db, clock):
    _published(db)
    result = seed(db.factory, clock=clock)
    assert result.created and result.items >= 20
    with db.factory() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        assert set(load_roles(SHIPPED)) | {"riverside"} == set(users)
        assert "admin" in users
        assert check_password_hash(users["frontdesk"].password_hash, PASSWORD)
        homes = dict(session.execute(select(UserEstate.user_id, UserEstate.estate_id)).all())
        assert homes[users["frontdesk"].id] == "demo" and homes[users["riverside"].id] == "riverside"
        workflows = set(session.scalars(select(WorkflowVersion.workflow_id)))
        per_workflow = dict(session.execute(select(Item.workflow_id, func.count(func.distinct(Item.state)))
                                            .group_by(Item.workflow_id)).all())
        assert set(per_workflow) == workflows
        assert all(n >= 3 for n in per_workflow.values())
        assert session.scalar(select(func.count()).where(Item.estate_id == "riverside")) > 0


def test_a_second_run_keeps_the_database_and_reset_starts_afresh(db, clock):
    _published(db)
    seed(db.factory, clock=clock)
    with db.factory() as session:
        first = session.scalars(select(Item.id).order_by(Item.id)).all()
    assert not seed(db.factory, clock=clock).created
    with db.factory() as session:
        assert session.scalars(select(Item.id).order_by(Item.id)).all() == first
    assert seed(db.factory, clock=clock, reset=True).created
    with db.factory() as session:
        again = session.scalars(select(Item.id).order_by(Item.id)).all()
        assert len(again) == len(first)
        assert session.scalar(select(func.count()).select_from(User)) == len(load_roles(SHIPPED)) + 1


def test_the_demo_command(db):
    _published(db)
    runner = CliRunner()
    result = runner.invoke(demo, ["--url", db.url])
    assert result.exit_code == 0 and "demo1234" in result.output
    result = runner.invoke(demo, ["--url", db.url])
    assert result.exit_code == 0 and "already exists" in result.output


def test_the_demo_command_needs_published_workflows(db):
    result = CliRunner().invoke(demo, ["--url", db.url])
    assert result.exit_code == 1 and "estateflow publish" in result.output


def test_an_engine_error_prints_its_message_and_notes_and_exits_with_its_code(db, monkeypatch):
    class Closed(EngineError):
        exit_code = 3

    def refuse(factory, **_options):
        error = Closed("the estate is closed")
        error.add_note("nothing was seeded")
        raise error

    monkeypatch.setattr("engine.cli.demo.seed", refuse)
    result = CliRunner().invoke(demo, ["--url", db.url])
    assert (result.exit_code, result.stderr) == (3, "the estate is closed\nnothing was seeded\n")


def test_unit_numbers_follow_the_buildings():
    numbers = units()
    assert "3-1-502" in numbers and len(numbers) == 6 * 2 * 18 * 2
