"""The demo seed over the shipped workflows: two estates with units and residents, staff per role, items in
many states, all made through engine/org and the runtime; idempotent, and --reset starts afresh.

The tests that only read what a seed made share one, made by `estateflow demo` once per backend
(tests/_demo_seed.py); the second-run test writes, so it gets a copy of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from engine.access.actor import load_actor
from engine.cli.demo import PASSWORD, demo, seed, units
from engine.cli.demo_org import KNOWN_CALLER, OTHER_STAFF
from engine.errors import EngineError
from engine.language.loader import load_roles
from engine.org.estates import find_units
from engine.runtime.registry import REGISTRY
from engine.runtime.resident_consent import normalise
from engine.store.models import (
    AuditLog,
    Item,
    ItemAssignee,
    Outbox,
    Resident,
    ResidentConsent,
    Unit,
    User,
    UserEstate,
    UserRole,
    WorkflowVersion,
)
from tests._demo_seed import BACKENDS, SeededDemo

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest) -> SeededDemo:
    """The session's demo seed on each backend: read it, never write to it."""
    return request.getfixturevalue("demo_seeds").get(request.param)


def test_seed_makes_one_user_per_role_and_items_in_every_workflow(seeded):
    result = seeded.result
    assert result.created and result.items >= 20
    with seeded.factory() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        assert set(load_roles(SHIPPED)) | set(OTHER_STAFF) == set(users)
        assert "admin" in users
        assert check_password_hash(users["frontdesk"].password_hash, PASSWORD)
        assert not any(u.must_change_password for u in users.values())
        homes = dict(session.execute(select(UserEstate.user_id, UserEstate.estate_id)).all())
        assert homes[users["frontdesk"].id] == "demo" and homes[users["riverside"].id] == "riverside"
        roles = set(session.execute(select(UserRole.estate_id, UserRole.role)
                                    .where(UserRole.user_id == users["riverside"].id)).tuples())
        assert roles == {("riverside", "frontdesk")}
        workflows = set(session.scalars(select(WorkflowVersion.workflow_id)))
        per_workflow = dict(session.execute(select(Item.workflow_id, func.count(func.distinct(Item.state)))
                                            .group_by(Item.workflow_id)).all())
        assert set(per_workflow) == workflows
        assert all(n >= 3 for n in per_workflow.values())
        assert session.scalar(select(func.count()).where(Item.estate_id == "riverside")) > 0


def test_units_and_residents_are_seeded_through_the_organisation_with_history(seeded):
    with seeded.factory() as session:
        assert session.scalar(select(func.count()).select_from(Unit).where(Unit.estate_id == "demo")) == len(units())
        assert session.scalar(select(func.count()).select_from(Unit).where(Unit.estate_id == "riverside")) > 0
        assert session.scalar(select(func.count()).select_from(Resident).where(Resident.kind == "tenant")) > 0
        tags = {t for row in session.scalars(select(Unit.tags)) for t in row}
        assert {"VIP", "空置", "敏感客户"} <= tags
        known = session.scalars(select(Unit).where(Unit.estate_id == "demo", Unit.number == KNOWN_CALLER[0])).one()
        assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.unit_id == known.id)) >= 2
        frontdesk = load_actor(session, session.scalars(select(User.id).where(User.username == "frontdesk")).one())
        hits = find_units(session, frontdesk, KNOWN_CALLER[2])
        assert [(h.number, h.residents[0].name) for h in hits] == [(KNOWN_CALLER[0], KNOWN_CALLER[1])]


def test_items_name_real_units_and_staff_of_their_own_estate(seeded):
    with seeded.factory() as session:
        numbers = {(e, n) for e, n in session.execute(select(Unit.estate_id, Unit.number))}
        staff = {(e, u) for e, u in session.execute(select(UserEstate.estate_id, User.username)
                                                    .join(User, User.id == UserEstate.user_id))}
        checked_units = checked_users = 0
        for item in session.scalars(select(Item)):
            definition = REGISTRY.compiled(session, item.definition_id)
            for name, value in item.data.items():
                field = definition.fields.get(name)
                if field is not None and field.type == "unit":
                    assert (item.estate_id, value) in numbers
                    checked_units += 1
                if field is not None and field.type == "user":
                    assert (item.estate_id, value) in staff, (item.number, name, value)
                    checked_users += 1
        assigned = session.scalar(select(func.count()).select_from(ItemAssignee))
    assert checked_units > 0
    assert checked_users == 0 or assigned is not None


def test_reminder_texts_come_out_sent_and_withheld_by_the_residents_recorded_choices(seeded):
    with seeded.factory() as session:
        reminders = session.execute(select(Outbox.status, Outbox.estate_id, Outbox.phone)
                                    .where(Outbox.template == "payment_reminder")).all()
        choices = {(c.estate_id, c.phone): c.status for c in session.scalars(select(ResidentConsent))}
        phones = {normalise(p) for p in session.scalars(select(Resident.phone))}
    assert {status for status, _, _ in reminders} == {"pending", "refused"}      # sent, and withheld
    for status, estate, phone in reminders:
        assert phone in phones                                                    # a resident's own number
        assert (status == "pending") == (choices.get((estate, phone)) == "consented")
    assert set(choices.values()) == {"consented", "opted_out"}


def test_a_second_run_keeps_the_database_and_reset_starts_afresh(seeded, demo_seeds, clock):
    db = demo_seeds.copy(seeded.backend)  # a copy of the first run's database: this test writes
    with db.factory() as session:
        first = session.scalars(select(Item.id).order_by(Item.id)).all()
        unit_count = session.scalar(select(func.count()).select_from(Unit))
        consents = session.scalar(select(func.count()).select_from(ResidentConsent))
    assert not seed(db.factory, clock=clock).created
    with db.factory() as session:
        assert session.scalars(select(Item.id).order_by(Item.id)).all() == first
    assert seed(db.factory, clock=clock, reset=True).created
    with db.factory() as session:
        again = session.scalars(select(Item.id).order_by(Item.id)).all()
        assert len(again) == len(first)
        assert session.scalar(select(func.count()).select_from(User)) == len(load_roles(SHIPPED)) + len(OTHER_STAFF)
        assert session.scalar(select(func.count()).select_from(Unit)) == unit_count
        assert session.scalar(select(func.count()).select_from(ResidentConsent)) == consents   # not twice


def test_the_demo_command(seeded):
    # The shared seed is the command's first run (tests/_demo_seed.py); a second run writes nothing.
    assert "demo1234" in seeded.output
    result = CliRunner().invoke(demo, ["--url", seeded.url])
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
