"""The versions of a workflow an estate's items can be on (engine/views/versions.py), on both databases:
its own overlay-merged series and the base one, which new items get, and how many items each holds."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.access.actor import Actor
from engine.clock import FixedClock
from engine.runtime.items import ItemView, create, fire
from engine.runtime.registry import publish_folder
from engine.runtime.timers import Calendars
from engine.store.db import transaction
from engine.store.models import Estate, User, UserEstate, UserRole
from engine.views.versions import stored_version, versions

WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"


class Site:
    """Estates `demo` and `other`, one user holding every role of both, the runtime workflows published."""

    def __init__(self, db: Any, clock: FixedClock, folder: Path) -> None:
        self.db, self.clock, self.folder = db, clock, folder
        self.calendars = Calendars(WORKFLOWS)
        shutil.copytree(WORKFLOWS, folder)
        with transaction(db.factory) as session:
            session.add_all([Estate(id="demo", name="示范小区"), Estate(id="other", name="别的小区")])
            user = User(username="boss", display_name="主管")
            session.add(user)
            session.flush()
            for estate in ("demo", "other"):
                session.add(UserEstate(user_id=user.id, estate_id=estate))
                session.add_all([UserRole(user_id=user.id, estate_id=estate, role=r) for r in ("clerk", "boss")])
            self.actor = Actor(user.id, "主管", frozenset({"clerk", "boss"}), frozenset({"demo", "other"}),
                               username="boss")
        self.publish()

    def publish(self) -> None:
        """Publish the folder as it is now, a minute later than the last time."""
        self.clock.advance(timedelta(minutes=1))
        self.published_at = self.clock.now()
        with transaction(self.db.factory) as session:
            publish_folder(session, self.folder, now=self.clock.now())

    def edit(self, path: str, old: str, new: str) -> None:
        target = self.folder / path
        target.write_text(target.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    def create(self, estate: str = "demo") -> ItemView:
        with transaction(self.db.factory) as session:
            return create(session, workflow="ticket", estate=estate, actor=self.actor,
                          data={"kind": "noise", "unit": "3-1-502"}, clock=self.clock, calendars=self.calendars)

    def fire(self, item: ItemView, name: str, **data: Any) -> ItemView:
        with transaction(self.db.factory) as session:
            return fire(session, item.id, name, self.actor, data, clock=self.clock, calendars=self.calendars)

    def versions(self, estate: str) -> list[Any]:
        with self.db.factory() as session:
            return versions(session, "ticket", estate)


@pytest.fixture
def site(db: Any, clock: FixedClock, tmp_path: Path) -> Site:
    return Site(db, clock, tmp_path / "workflows")


def test_one_version_holds_every_item_and_counts_the_open_ones(site: Site) -> None:
    first, second, _third = site.create(), site.create(), site.create()
    site.fire(site.fire(first, "start", team="a"), "finish")  # a noise ticket closes straight away
    site.fire(second, "start", team="b")
    site.create("other")

    [row] = site.versions("demo")
    assert (row.version, row.estate_id, row.current) == (1, "", True)
    assert (row.pinned_items, row.open_items) == (3, 2)
    assert row.published_at == site.published_at


def test_a_new_version_gets_new_items_and_the_old_one_keeps_its_own(site: Site) -> None:
    old = site.create()
    site.edit("ticket.yaml", "review: {label: 审核}", "review: {label: 复核}")
    site.publish()
    site.create()
    site.create()

    newest, oldest = site.versions("demo")
    assert (newest.version, newest.current, newest.pinned_items, newest.open_items) == (2, True, 2, 2)
    assert (oldest.version, oldest.current, oldest.pinned_items, oldest.open_items) == (1, False, 1, 1)
    site.fire(old, "cancel")
    assert site.versions("demo")[1].open_items == 0
    assert newest.content_hash != oldest.content_hash


def test_an_estate_with_an_overlay_lists_its_own_series_and_the_base_one(site: Site) -> None:
    site.create("other")
    overlay = site.folder / "estates" / "other" / "ticket.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("states:\n  review: {label: 主管复核}\n", encoding="utf-8")
    site.publish()
    site.create("other")

    own, base = site.versions("other")
    assert (own.estate_id, own.version, own.current, own.pinned_items) == ("other", 1, True, 1)
    assert (base.estate_id, base.version, base.current, base.pinned_items) == ("", 1, False, 1)
    # demo has no overlay: it sees the base series only, and its own items only.
    [demo] = site.versions("demo")
    assert (demo.id, demo.current, demo.pinned_items) == (base.id, True, 0)
    with site.db.factory() as session:
        stored = stored_version(session, "ticket", "other", own.id)
        assert stored is not None and stored.document["states"]["review"]["label"] == "主管复核"
        assert stored_version(session, "ticket", "demo", own.id) is None  # another estate's merge
        assert stored_version(session, "job", "other", base.id) is None  # another workflow's
        assert stored_version(session, "ticket", "other", 10_000) is None


def test_a_workflow_never_published_has_no_versions(site: Site) -> None:
    assert site.versions("demo") != []
    with site.db.factory() as session:
        assert versions(session, "nothing", "demo") == []
