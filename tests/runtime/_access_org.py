"""An organisation for the access tests (visibility, assignees, inbox, notifications, the web pages).

The shipped workflows and roles over two estates, with units and staff.

Estate `demo` has units 3-1-502 and 5-2-301 and one user per role of workflows/roles.yaml, named
by the role id (display name: the role's label and 某), plus `engineer2` (a second repairman),
`cleaner2` and `away`/`cover` for leave; estate `riverside` has its own front desk
(`riverside`) and unit 1-1-101.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.access.actor import Actor, load_actor
from engine.clock import FixedClock
from engine.language.loader import load_roles
from engine.runtime.items import ItemView, create, fire
from engine.runtime.registry import REGISTRY, publish_folder
from engine.runtime.timers import Calendars
from engine.store.db import transaction
from engine.store.models import Base, Building, Estate, Unit, User, UserEstate, UserRole
from tests._loaders import loader_of

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
ROLES = tuple(load_roles(SHIPPED))
PHONE = "13812345678"
NAME = "王小明"
EXTRA = {"engineer2": ("demo", ("engineer",)), "cleaner2": ("demo", ("cleaning",)),
         "away": ("demo", ("engineer",)), "cover": ("demo", ("engineer",)),
         "riverside": ("riverside", ("frontdesk",)), "riverside_engineer": ("riverside", ("engineer",))}

_FILLERS: dict[str, Any] = {
    "string": "测试", "text": "测试内容", "phone": PHONE, "integer": 1, "decimal": "100", "boolean": False,
    "date": "2026-03-10", "datetime": "2026-03-02T10:00", "unit": "3-1-502",
}



class Org:
    """The shipped workflows published over two estates with their units and staff."""

    def __init__(self, db: Any, clock: FixedClock) -> None:
        self.db = db
        self.clock = clock
        self.calendars = Calendars(SHIPPED)
        self.ids: dict[str, int] = {}
        labels = load_roles(SHIPPED)
        with transaction(db.factory) as session:
            session.add_all([Estate(id="demo", name="阳光花园"), Estate(id="riverside", name="滨江花园")])
            session.flush()
            for estate, building, numbers in (("demo", "3", ("3-1-502",)), ("demo", "5", ("5-2-301",)),
                                              ("riverside", "1", ("1-1-101",))):
                block = Building(estate_id=estate, name=building)
                session.add(block)
                session.flush()
                session.add_all([Unit(estate_id=estate, building_id=block.id, number=n, tags=[]) for n in numbers])
            people = {role: ("demo", (role,)) for role in ROLES} | EXTRA
            for username, (estate, roles) in people.items():
                user = User(username=username, display_name=f"{labels.get(roles[0], roles[0])}{username[-1]}某")
                session.add(user)
                session.flush()
                session.add(UserEstate(user_id=user.id, estate_id=estate))
                session.add_all([UserRole(user_id=user.id, estate_id=estate, role=r) for r in roles])
                self.ids[username] = user.id
            publish_folder(session, SHIPPED, loader=loader_of(SHIPPED), now=clock.now())

    def actor(self, username: str) -> Actor:
        """The stored user's actor (`system`: the system actor)."""
        if username == "system":
            return Actor.system()
        with self.db.factory() as session:
            return load_actor(session, self.ids[username])

    def name(self, username: str) -> str:
        """A user's display name."""
        with self.db.factory() as session:
            return str(session.scalars(select(User.display_name).where(User.id == self.ids[username])).one())

    def filled(self, workflow: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` plus a value for every other required field, a phone and a name in the personal fields."""
        with self.db.factory() as session:
            current = REGISTRY.current(session, workflow, "demo")
            assert current is not None
            definition = current.definition
        values: dict[str, Any] = {}
        for name, field in definition.fields.items():
            if field.type == "enum" and (field.required or name == "department"):
                values[name] = next(iter(field.options))
            elif field.required or (field.personal and field.type in ("phone", "string")):
                values[name] = NAME if field.type == "string" and field.personal else _FILLERS[field.type]
        if "end_date" in values:
            values["start_date"], values["end_date"] = "2026-03-10", "2026-04-10"
        values.pop("department", None)
        return {**values, **data}

    def create(self, workflow: str, by: str = "system", estate: str = "demo", **data: Any) -> ItemView:
        """Register an item with every required field filled (and personal ones), as `by`."""
        with transaction(self.db.factory) as session:
            return create(session, workflow=workflow, estate=estate, actor=self.actor(by),
                          data=self.filled(workflow, data), clock=self.clock, calendars=self.calendars)

    def fire(self, item: ItemView | int, name: str, by: str, data: Mapping[str, Any] | None = None) -> ItemView:
        """Fire a transition as `by`, in a transaction of its own."""
        item_id = item if isinstance(item, int) else item.id
        with transaction(self.db.factory) as session:
            return fire(session, item_id, name, self.actor(by), data, clock=self.clock, calendars=self.calendars)

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        """Every row of a table (optionally filtered), ordered by its primary key."""
        model = Base.metadata.tables[table]
        stmt = select(model).order_by(*model.primary_key.columns)
        for column, value in where.items():
            stmt = stmt.where(model.c[column] == value)
        with self.db.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(stmt)]

