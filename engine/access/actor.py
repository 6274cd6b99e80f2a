"""The actor: who is acting, with the roles and estates the permission rules read.

    Actor(user_id, name, roles, estates)   a user, or Actor.system() (timers)
    load_actor(session, user_id)           the stored user with its roles and estates

Plain data only: what an actor may do is decided in engine/access/permissions.py,
never here, so that one module holds every rule.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    @classmethod
    def system(cls) -> Actor:
        """The built-in actor of timers: skips role checks, never guards."""
        return cls(None, "系统", frozenset({SYSTEM_ROLE}), None)

    @property
    def is_system(self) -> bool:
        """Whether this is the system actor."""
        return self.user_id is None and self.estates is None


def load_actor(session: Session, user_id: int) -> Actor:
    """The actor for a stored, active user, with its roles and estates. Raises ItemNotFound."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise ItemNotFound("没有这个用户", user_id=user_id)
    roles = session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)).all()
    estates = session.scalars(select(UserEstate.estate_id).where(UserEstate.user_id == user_id)).all()
    return Actor(user.id, user.display_name, frozenset(roles), frozenset(estates))
