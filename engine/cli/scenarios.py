"""Scenario tests: how administrators test their own workflows (`estateflow test PATH...`).

A scenario file (YAML; the format is a public contract: docs/operations.md "Scenario files",
docs/workflow-language.md "Scenarios: people and units") names a workflow, an optional estate
and start time, optional `users` and `units`, and steps: `create`, `fire`, `advance`, each
with `expect` and/or `expect_error`. Each scenario runs on a fresh temporary SQLite database
(a copy of one migrated template), with a FixedClock. `as` names the acting user: a username
of `users:` (username → the roles held in the estate), or a role id, meaning the user named
like the role holding just that role (`system`: the system actor). A `user` field's value is
created the same way when first named. Units: those listed under `units:`, or else every unit
number the steps' `unit` fields name, are created (with their building: the part before the
first '-'), so that a scenario can name a unit by its number; with `units:` a number not
listed is refused as on a live site (engine/cli/scenario_cast.py makes them).
The current item is the one the last successful `create` made; a step's `item:` chooses
another for that step and the ones after it: `spawned <workflow>` (the newest item of that
workflow the current item spawned), `parent` (the item that spawned the current one) or `main`
(the one the last `create` made). A step may hold only `item:` and `expect`, to look at an item;
`expect` checks the current item (its state, fields, version...) by its own workflow, and a
`log` field is expected as the list of its entries' texts (engine/cli/scenario_expect.py). `advance` moves the clock
to each due time event in turn and runs a tick pass there (engine/runtime/tick.py), so an
escalation ladder plays out in order; limits count by the calendar of the workflow's
definitions folder. `notified` lists every role notified about the item so far, and each
person told by a `notify: {user: ...}` as `@username`; `texted` and `not_texted` the resident
messages queued and withheld, after the scenario's `consents:` (engine/cli/scenario_messages.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.access.actor import Actor
from engine.cli import scenario_expect, scenario_files, scenario_messages, scenario_steps
from engine.cli.scenario_cache import TemplateDatabase, cached_load, cached_loader
from engine.cli.scenario_cast import Cast, people_of
from engine.cli.scenario_cast import Failed as _Failed
from engine.cli.scenario_expect import mapping
from engine.clock import DEFAULT_TIMEZONE, FixedClock
from engine.errors import ERROR_CODES, DefinitionError, TransitionError
from engine.language.definition import LinkAction, SpawnAction, WorkflowDefinition
from engine.language.durations import parse_duration
from engine.language.loader import DEFAULT_WORKFLOWS_DIR, ROLES_FILE, Loader, read_source
from engine.runtime import tick, timers
from engine.runtime.items import ItemView, create, fire, get_item
from engine.runtime.registry import Registry
from engine.store.db import make_engine, make_session_factory, transaction
from engine.store.models import Estate, Item, ItemLink

__all__ = ["DEFAULT_START", "Result", "find_scenarios", "run_paths"]

DEFAULT_START = "2026-03-02T09:00:00+08:00"
DEFAULT_ESTATE = "demo"
SCENARIO_KEYS = {"name", "workflow", "estate", "start_at", "users", "units", "steps", "consents"}
STEP_KEYS = {"create", "fire", "advance", "as", "data", "comment", "version", "expect", "expect_error", "item",
             "branch", "expect_refusal", "workflow"}
ITEM_WORDS = ("main", "parent", "spawned <workflow>")


@dataclass(frozen=True)
class Result:
    """One scenario's outcome: `failure` is None when it passed."""

    name: str
    file: str
    failure: str | None = None

    @property
    def passed(self) -> bool:
        """Whether every step went as expected."""
        return self.failure is None

    def __str__(self) -> str:
        return f"PASS {self.name}" if self.passed else f"FAIL {self.name}: {self.failure}"


def find_scenarios(paths: list[Path]) -> list[Path]:
    """The scenario files among `paths`: files as given, folders searched recursively."""
    found: list[Path] = []
    for path in paths:
        found += sorted(p for p in path.rglob("*.y*ml") if p.is_file()) if path.is_dir() else [path]
    return found


def run_paths(paths: list[Path], workflows_dir: Path | None = None) -> Iterator[Result]:
    """Run every scenario found under `paths`, yielding results as they finish."""
    template = TemplateDatabase()
    loaders: dict[Path, Loader] = {}
    try:
        for path in find_scenarios(paths):
            yield _run_file(path, workflows_dir or DEFAULT_WORKFLOWS_DIR, template, loaders)
    finally:
        template.remove()


def _run_file(path: Path, workflows_dir: Path, template: TemplateDatabase, loaders: dict[Path, Loader]) -> Result:
    source = read_source(path)
    document = source.document
    name = path.name
    if isinstance(document, dict) and isinstance(document.get("name"), str):
        name = document["name"]
    if source.problems:
        return Result(name, str(path), "; ".join(str(p) for p in source.problems))
    database = template.copy()
    engine = make_engine(f"sqlite:///{database}")
    try:
        runner = Runner(path, document, workflows_dir, make_session_factory(engine), loaders, source.smap)
        with scenario_files.store():  # attached files go to a folder of the scenario's own
            runner.run()
    except (_Failed, scenario_files.Failed) as failure:
        return Result(name, str(path), str(failure))
    except DefinitionError as error:
        return Result(name, str(path), "the workflow has problems:\n" + str(error))
    finally:
        engine.dispose()
        database.unlink(missing_ok=True)
    return Result(name, str(path))


class Runner:
    """Plays one scenario's steps against a fresh database."""

    def __init__(self, path: Path, document: Any, workflows_dir: Path, factory: sessionmaker[Session],
                 loaders: dict[Path, Loader], smap: Any) -> None:
        self.path = path
        self.factory = factory
        self.smap = smap
        self.registry = Registry()
        self.doc = self._check_document(document)
        self.estate = str(self.doc.get("estate", DEFAULT_ESTATE))
        self.tz = ZoneInfo(DEFAULT_TIMEZONE)
        self.clock = FixedClock(self._start(self.doc.get("start_at", DEFAULT_START)))
        self.item: ItemView | None = None
        self.main: ItemView | None = None
        """The item the last `create` made (`item: main`)."""
        self.loader, target = self._loader(str(self.doc["workflow"]), workflows_dir, loaders)
        try:
            people = people_of(self.doc.get("users"), self.loader.roles)
        except ValueError as error:
            raise self._problem(("users",), str(error)) from None
        self.cast = Cast(factory, self.estate, self.loader.roles, people)
        self.definition = cached_load(self.loader, target, self.estate)
        self.calendars = timers.Calendars(self.loader.workflows_dir)
        self._set_up()

    def _problem(self, where: tuple[str | int, ...], message: str) -> _Failed:
        return _Failed(str(self.smap.problem(where, message)))

    def _check_document(self, document: Any) -> dict[str, Any]:
        if not isinstance(document, dict):
            raise self._problem((), "a scenario is a mapping with name, workflow and steps")
        unknown = sorted(set(document) - SCENARIO_KEYS)
        if unknown:
            allowed = ", ".join(sorted(SCENARIO_KEYS))
            raise self._problem((unknown[0],), f"unknown key '{unknown[0]}' (allowed: {allowed})")
        for key in ("workflow", "steps"):
            if key not in document:
                raise self._problem((), f"'{key}' is missing")
        if not isinstance(document["steps"], list) or not document["steps"]:
            raise self._problem(("steps",), "steps must be a non-empty list")
        return document

    def _start(self, value: Any) -> datetime:
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            raise self._problem(("start_at",), f"'{value}' is not a time such as {DEFAULT_START}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(DEFAULT_TIMEZONE))

    def _loader(self, workflow: str, workflows_dir: Path, loaders: dict[Path, Loader]) -> tuple[Loader, Path]:
        if workflow.endswith((".yaml", ".yml")):
            target = (self.path.parent / workflow).resolve()
            # A workflow beside its own role catalogue is checked against that catalogue.
            folder = target.parent if (target.parent / ROLES_FILE).exists() else workflows_dir
        else:
            folder, target = workflows_dir, workflows_dir / f"{workflow}.yaml"
        if not target.exists():
            raise self._problem(("workflow",), f"no workflow '{workflow}' ({target} does not exist)")
        key = Path(folder).resolve()
        if key not in loaders:
            loaders[key] = cached_loader(key)
        return loaders[key], target

    def _set_up(self) -> None:
        """The estate, its listed units, and every workflow the scenario may reach (itself and what it spawns)."""
        with transaction(self.factory) as session:
            session.add(Estate(id=self.estate, name=self.estate, timezone=DEFAULT_TIMEZONE))
            session.flush()
            pending, seen = [self.definition], {self.definition.id}
            # `create` steps of another workflow (`workflow: notice`): published like the scenario's own.
            for other in sorted(self._other_workflows() - seen):
                seen.add(other)
                pending.append(cached_load(self.loader, self.loader.workflows_dir / f"{other}.yaml", self.estate))
            while pending:
                definition = pending.pop()
                self.registry.publish(session, definition, roles=self.loader.catalogue.document, estate=self.estate,
                                      now=self.clock.now())
                for action in (a for t in definition.transitions for a in t.actions):
                    if isinstance(action, SpawnAction | LinkAction) and action.workflow not in seen:
                        seen.add(action.workflow)
                        path = self.loader.workflows_dir / f"{action.workflow}.yaml"
                        pending.append(cached_load(self.loader, path, self.estate))
            listed = self.doc.get("units")
            if listed is not None and not isinstance(listed, list):
                raise self._problem(("units",), "units is a list of unit numbers such as 3-1-502")
            for number in listed or ():
                self.cast.add_unit(session, str(number))
            # Messages to residents: the folder's templates, and each phone's recorded choice (`consents:`).
            scenario_messages.set_up(session, self.loader, self.estate, self.doc.get("consents"), self.clock.now())

    def actor(self, name: str) -> Actor:
        """The acting user `as:` names (engine/cli/scenario_cast.py)."""
        return self.cast.actor(name)

    def run(self) -> None:
        """Play every step; raise _Failed at the first that goes otherwise than expected."""
        for number, step in enumerate(self.doc["steps"], start=1):
            where = ("steps", number - 1)
            if not isinstance(step, dict):
                raise self._problem(where, f"step {number} is not a mapping")
            label = _describe(step)
            try:
                self._step(step, where)
            except _Failed as failure:
                raise _Failed(f"step {number} ({label}): {failure}") from None

    def _step(self, step: Mapping[str, Any], where: tuple[str | int, ...]) -> None:
        unknown = sorted(set(step) - STEP_KEYS)
        if unknown:
            raise _Failed(f"unknown key '{unknown[0]}' (allowed: {', '.join(sorted(STEP_KEYS))})")
        kinds = [k for k in ("create", "fire", "advance") if k in step]
        if "item" in step:
            self._select(step["item"])
            if not kinds:  # only looking at the chosen item
                if "expect" in step:
                    self._check(step["expect"])
                return
        if len(kinds) != 1:
            raise _Failed("each step has exactly one of create, fire, advance (or only item and expect)")
        expected_error = step.get("expect_error")
        if expected_error is not None and expected_error not in ERROR_CODES:
            raise _Failed(f"expect_error '{expected_error}' is not one of {', '.join(sorted(ERROR_CODES))}")
        try:
            getattr(self, f"_do_{kinds[0]}")(step)
        except TransitionError as error:
            refusal = "expect_refusal" in step  # any code, unless expect_error names one
            if expected_error != error.code and not (refusal and expected_error is None):
                if expected_error is None:
                    raise _Failed(f"unexpected error {error.code}: {error.message}") from None
                raise _Failed(f"expected error {expected_error}, got {error.code}: {error.message}") from None
            if refusal:
                problem = scenario_steps.refusal_problem(self.definition, error, step["expect_refusal"])
                if problem:
                    raise _Failed(problem) from None
        else:
            if expected_error is not None or "expect_refusal" in step:
                raise _Failed(f"expected error {expected_error or 'a refusal'}, got {self._state_text()}")
        if "expect" in step:
            self._check(step["expect"])

    def _other_workflows(self) -> set[str]:
        """The workflows `create` steps name with `workflow:` (an item a linked one needs, e.g. a notice)."""
        steps = [s for s in self.doc["steps"] if isinstance(s, dict) and "workflow" in s]
        for step in steps:
            if not (self.loader.workflows_dir / f"{step['workflow']}.yaml").exists() or "create" not in step:
                raise _Failed(f"workflow: names a workflow of the folder, on a create step, not {step['workflow']!r}")
        return {str(s["workflow"]) for s in steps}

    def _do_create(self, step: Mapping[str, Any]) -> None:
        data = mapping(step["create"] or {}, "create")
        definition = self.definition
        if "workflow" in step:  # an item of another workflow (engine/cli/scenarios.py _other_workflows)
            path = self.loader.workflows_dir / f"{step['workflow']}.yaml"
            definition = cached_load(self.loader, path, self.estate)
        self.cast.prepare(definition, data, units="units" not in self.doc)
        data = scenario_files.uploads(definition, data, self.path.parent)  # {file: PATH} → the file's bytes
        with transaction(self.factory) as session:
            self.item = create(session, workflow=definition.id, estate=self.estate, actor=self.actor(_as(step)),
                               data=data, comment=step.get("comment"), clock=self.clock, registry=self.registry,
                               calendars=self.calendars)
        self.main = self.item

    def _select(self, raw: Any) -> None:
        """`item:` — make the main, parent or a spawned item the current one."""
        if self.item is None:
            raise _Failed("there is no item yet: create one first")
        words = str(raw).split()
        if words == ["main"]:
            self.item = self.main
            return
        with self.factory() as session:
            if words == ["parent"]:
                query = select(ItemLink.to_item_id).where(ItemLink.from_item_id == self.item.id,
                                                         ItemLink.kind == "spawned_from")
                what = f"{self.item.number} was not spawned by another item"
            elif len(words) == 2 and words[0] == "spawned":
                query = (select(Item.id).join(ItemLink, ItemLink.to_item_id == Item.id)
                         .where(ItemLink.from_item_id == self.item.id, ItemLink.kind == "spawned",
                                Item.workflow_id == words[1]).order_by(Item.id.desc()))
                what = f"{self.item.number} has spawned no {words[1]} item"
            else:
                raise _Failed(f"item is one of {', '.join(ITEM_WORDS)}, not {raw!r}")
            found = session.scalars(query.limit(1)).first()
            if found is None:
                raise _Failed(what)
            self.item = get_item(session, found, Actor.system(), registry=self.registry)

    def _definition_of(self, session: Session, item: ItemView) -> WorkflowDefinition:
        """The definition the item runs on (the scenario's own, or a spawned item's)."""
        if item.workflow_id == self.definition.id:
            return self.definition
        return self.registry.compiled(session, item.definition_id)

    def _do_fire(self, step: Mapping[str, Any]) -> None:
        if self.item is None:
            raise _Failed("there is no item yet: create one first")
        data = mapping(step.get("data") or {}, "data")
        with self.factory() as session:
            definition = self._definition_of(session, self.item)
        self.cast.prepare(definition, data, units="units" not in self.doc)
        data = scenario_files.uploads(definition, data, self.path.parent)
        branch = scenario_steps.branch_of(definition, self.item.state, str(step["fire"]), step.get("branch"))
        with transaction(self.factory) as session:
            self.item = fire(session, self.item.id, str(step["fire"]), self.actor(_as(step)), data,
                             step.get("comment"), step.get("version"), clock=self.clock, registry=self.registry,
                             calendars=self.calendars, branch=branch)

    def _do_advance(self, step: Mapping[str, Any]) -> None:
        try:
            duration = parse_duration(str(step["advance"]))
        except ValueError as error:
            raise _Failed(str(error)) from None
        self.on_advance(self.clock.now() + duration.delta)

    def on_advance(self, until: datetime) -> None:
        """Move the clock to each due time event up to `until`, in order, ticking there; then to `until`."""
        try:
            tick.advance(self.factory, self.clock, until, registry=self.registry, calendars=self.calendars)
        except RuntimeError as error:
            raise _Failed(str(error)) from None

    def _refresh(self, session: Session) -> ItemView | None:
        if self.item is None:
            return None
        return get_item(session, self.item.id, Actor.system(), registry=self.registry)

    def _state_text(self) -> str:
        return f"state {self.item.state}" if self.item else "no item"

    def _check(self, expect: Any) -> None:
        """Compare the current item, read again, with `expect` (engine/cli/scenario_expect.py)."""
        expect, wanted_due = scenario_expect.read(expect, self.tz, DEFAULT_START)
        with self.factory() as session:
            item = self._refresh(session)
            if item is None:
                raise _Failed("there is no item to check")
            self.item = item
            problems = scenario_expect.problems(session, item, self._definition_of(session, item), expect,
                                                wanted_due, now=self.clock.now(), tz=self.tz)
        if problems:
            raise _Failed("; ".join(problems))


def _as(step: Mapping[str, Any]) -> str:
    if not isinstance(step.get("as"), str):
        raise _Failed("'as' (the role acting) is missing")
    return str(step["as"])


def _describe(step: Any) -> str:
    if not isinstance(step, dict):
        return "?"
    who = f" as {step['as']}" if "as" in step else ""
    if "fire" in step:
        return f"fire {step['fire']}{who}"
    if "create" in step:
        return f"create{who}"
    if "advance" in step:
        return f"advance {step['advance']}"
    if "item" in step:
        return f"item {step['item']}"
    return "?"

