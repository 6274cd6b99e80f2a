"""Org test helpers: two estates (阳光花园 `demo`, 滨江花园 `riverside`) and staff in posts, made through engine/org.

The role catalogue is given to set_roles explicitly (the shipped role ids), so these tests do not
depend on what is published; tests that need published workflows publish tests/web/data/workflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.access.actor import Actor, load_actor
from engine.org import estates
from engine.store.db import transaction
from engine.store.models import User

CATALOGUE = {
    "frontdesk": "前台客服", "housekeeper": "贴心管家", "cs_supervisor": "客服主管", "cs_manager": "客服部经理",
    "project_manager": "项目经理", "branch_leader": "分公司主管领导", "engineer": "工程部", "security": "安保部",
    "cleaning": "保洁部", "finance": "财务", "admin": "系统管理员",
}
WORKFLOWS = Path(__file__).resolve().parents[1] / "web" / "data" / "workflows"
PASSWORD = "counter-7-pass"
STAFF = {
    # username: (name, estate, roles)
    "admin": ("管理员", "demo", ("admin",)),
    "manager": ("经理甲", "demo", ("cs_manager",)),
    "desk": ("前台乙", "demo", ("frontdesk",)),
    "fixer": ("维修丙", "demo", ("engineer",)),
    "fixer2": ("维修丁", "demo", ("engineer",)),
    "sweeper": ("保洁戊", "demo", ("cleaning",)),
    "supervisor": ("主管己", "demo", ("cs_supervisor",)),
    "river_desk": ("滨江前台", "riverside", ("frontdesk",)),
    "river_admin": ("滨江管理员", "riverside", ("admin",)),
}


@dataclass
class Org:
    """The test organisation: user ids by username, and actors loaded fresh on each call."""

    db: Any
    ids: dict[str, int] = field(default_factory=dict)

    def actor(self, username: str) -> Actor:
        if username == "system":
            return Actor.system()
        with self.db.factory() as session:
            return load_actor(session, self.ids[username])

    def user(self, username: str) -> User:
        with self.db.factory() as session:
            return session.scalars(select(User).where(User.username == username)).one()

    def unit(self, number: str, estate: str = "demo", building: str = "3", **residents: Any) -> int:
        """A unit with an owner (王丽, 13812345678) unless told otherwise."""
        system = Actor.system()
        with transaction(self.db.factory) as session:
            unit = estates.save_unit(session, system, estate, number, building=building, area_m2="89.5",
                                     tags=["VIP"])
            owner = residents.get("owner", ("王丽", "13812345678"))
            if owner:
                estates.save_resident(session, system, unit.id, kind="owner", name=owner[0], phone=owner[1])
            tenant = residents.get("tenant")
            if tenant:
                estates.save_resident(session, system, unit.id, kind="tenant", name=tenant[0], phone=tenant[1])
            return unit.id
