"""The actor: who is acting, with the roles (per estate) and estates the permission rules read.

    Actor(user_id, name, roles, estates, username=, estate_roles=)   a user, or Actor.system() (timers)
    actor.at(estate)                   the same user with the roles held in that estate
    load_actor(session, user_id)       the stored user with its roles per estate

Roles are held per estate (a user may be cs_supervisor in one estate and frontdesk in
another). `roles` is what the rules read: the roles held in the estate the actor was placed
in with `at()`, or, unplaced, every role held anywhere (menus, "may create somewhere").
The runtime places the actor in the item's estate before judging anything.

Plain data only: what an actor may do is decided in engine/access/permissions.py,
never here, so that one module holds every rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ItemNotFound
from engine.language.definition import SYSTEM_ROLE
from engine.store.models import User, UserEstate, UserRole

__all__ = ["Actor", "load_actor"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user (id, name, roles, estates), or the system (`user_id` None, every estate)."""

    user_id: int | None
    name: str
    roles: frozenset[str]
    estates: frozenset[str] | None
    """None only for the system actor: it works in every estate."""
    username: str | None = None
    """The login name (what `user` fields store and `me` is in expressions); None for the system."""
    estate_roles: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    """Estate id → the roles held there. Empty: `roles` apply in every estate of `estates` (tests, scripts)."""
    placed: str | None = None
    """The estate `at()` placed the actor in (None: not placed)."""

    @classmethod
    def system(cls) -> Actor:
        """The built-in actor of timers: skips role checks, never guards."""
        return cls(None, "系统", frozenset({SYSTEM_ROLE}), None)

    @property
    def is_system(self) -> bool:
        """Whether this is the system actor."""
        return self.user_id is None and self.estates is None

    def roles_in(self, estate: str) -> frozenset[str]:
        """The roles held in `estate` (none where the actor does not work)."""
        if self.estates is None:
            return self.roles
        if estate not in self.estates:
            return frozenset()
        return self.estate_roles.get(estate, frozenset()) if self.estate_roles else self.roles

    def at(self, estate: str) -> Actor:
        """The actor placed in `estate`: `roles` become the roles held there."""
        if self.is_system or self.placed == estate:
            return self
        return replace(self, roles=self.roles_in(estate), placed=estate)


def load_actor(session: Session, user_id: int) -> Actor:
    """The actor for a stored, active user, with its roles per estate. Raises ItemNotFound."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise ItemNotFound("没有这个用户", user_id=user_id)
    held: dict[str, set[str]] = {}
    for estate, role in session.execute(
            select(UserRole.estate_id, UserRole.role).where(UserRole.user_id == user_id)):
        held.setdefault(estate, set()).add(role)
    estates = frozenset(session.scalars(select(UserEstate.estate_id).where(UserEstate.user_id == user_id)))
    per_estate = MappingProxyType({e: frozenset(held.get(e, ())) for e in estates})
    everywhere = frozenset(r for roles in per_estate.values() for r in roles)
    return Actor(user.id, user.display_name, everywhere, estates, username=user.username, estate_roles=per_estate)
