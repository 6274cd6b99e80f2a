"""The people and units of one scenario, made as the scenario first names them (engine/cli/scenarios.py).

    Cast(factory, estate, roles, users=)     users: the scenario's `users:` (username → roles), checked
    cast.actor(name)                          a user of `users:`, or the user named like a role holding just it
    cast.add_unit(session, number)            the unit (and its building) unless it exists or is no 房号
    cast.prepare(definition, data, units=)    the people and (units=True) units a step's data names

A live site checks every `user` and `unit` value (engine/runtime/parties.py): the person must
work in the estate holding one of the field's roles, the unit must be one of the estate's. A
scenario names them by username and number, and this module makes them exist first, through
the same functions as the admin pages and `estateflow user add` (engine/org), as the system.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.access.actor import Actor
from engine.language import fields
from engine.language.definition import WorkflowDefinition
from engine.language.loader import ROLES_FILE
from engine.org import estates, staff
from engine.store.db import transaction

__all__ = ["Cast", "Failed", "people_of"]


_PASSWORD = "scenario-only"
_NO_LOGIN = "!"
"""Scenario users never log in: a stored hash no password matches, and no slow hashing per user."""


class Failed(Exception):
    """A step did not go as expected (the message says how)."""


def people_of(raw: Any, roles: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """`users:` as username → roles. Raises ValueError (the message) for an unknown role or a wrong shape."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("users maps each username to the list of its roles")
    people: dict[str, tuple[str, ...]] = {}
    for username, held in raw.items():
        listed = held if isinstance(held, list) else [held]
        for role in listed:
            if role not in roles:
                raise ValueError(f"unknown role '{role}' (not in {ROLES_FILE}) for user {username}")
        people[str(username)] = tuple(str(r) for r in listed)
    return people


class Cast:
    """The users and units of one scenario's estate."""

    def __init__(self, factory: sessionmaker[Session], estate: str, roles: Mapping[str, str],
                 people: Mapping[str, tuple[str, ...]]) -> None:
        self.factory, self.estate, self.roles, self.people = factory, estate, roles, people
        self.users: dict[str, Actor] = {}
        self.units: set[str] = set()

    def actor(self, name: str) -> Actor:
        """The user `name` of `users:`, or the user named like the role `name` holding just it (made on first use)."""
        if name == "system":
            return Actor.system()
        if name in self.people:
            roles = self.people[name]
        elif name in self.roles:
            roles = (name,)
        else:
            raise Failed(f"unknown role '{name}' (not in {ROLES_FILE}) and no such user under users:")
        if name not in self.users:
            held = frozenset(roles)
            system = Actor.system()
            with transaction(self.factory) as session:
                user, _ = staff.add_user(session, system, name, name=self.roles.get(name, name), password=_PASSWORD,
                                         password_hash=_NO_LOGIN, must_change_password=False)
                staff.set_roles(session, system, user.id, self.estate, roles, catalogue=self.roles)
                self.users[name] = Actor(user.id, user.display_name, held, frozenset({self.estate}), username=name,
                                         estate_roles=MappingProxyType({self.estate: held}))
        return self.users[name]

    def add_unit(self, session: Session, raw: str) -> None:
        """The unit `raw` names (and its building: the part before the first '-'), unless it exists or is no 房号."""
        try:
            number = fields.normalise_unit(raw)
        except ValueError:
            return  # not a 房号: the step itself is refused, as on a live site
        if number in self.units:
            return
        estates.save_unit(session, Actor.system(), self.estate, number, building=number.split("-", 1)[0])
        self.units.add(number)

    def prepare(self, definition: WorkflowDefinition, data: Mapping[str, Any], *, units: bool) -> None:
        """Make the people (and with `units`, the units) a step's data names, before the step runs."""
        for name, value in data.items():
            field = definition.fields.get(name)
            if field is None or not isinstance(value, str | int) or isinstance(value, bool):
                continue
            if field.type == "user" and (str(value) in self.people or str(value) in self.roles):
                self.actor(str(value))
            elif field.type == "unit" and units:
                with transaction(self.factory) as session:
                    self.add_unit(session, str(value))
