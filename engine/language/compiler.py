"""Turn a checked document into the immutable WorkflowDefinition.

Takes the plain document, its SourceMap and the role catalogue; returns the compiled
definition and the problems found while compiling expressions and templates. It reads
defensively (the document may have failed the schema elsewhere), so that expression
mistakes are reported in the same run as schema and reference mistakes. The accepted
keys below are the contract with schemas/workflow.schema.json (a test keeps them equal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from engine.errors import ExpressionError, Path, Problem
from engine.language.checks_people import default_see
from engine.language.definition import (
    DEFAULT_PERSONAL,
    AccessRule,
    Action,
    Assignment,
    Countersign,
    Duration,
    Expression,
    FieldDef,
    LinkAction,
    LinkReaction,
    NotifyAction,
    ResidentNotifyAction,
    SlaRule,
    SpawnAction,
    StateDef,
    Timer,
    TransitionDef,
    WorkflowDefinition,
)
from engine.language.durations import parse_duration as parse_duration  # re-exported: the one duration parser
from engine.language.expr import compile_expression
from engine.language.machine import StateGraph
from engine.language.parameters import duration_of, duration_problem, frozen, in_scope, parse_parameters
from engine.language.roles import Catalogue
from engine.language.source import SourceMap
from engine.language.templates import parse_template

WORKFLOW_KEYS = frozenset(
    {"id", "title", "number_prefix", "create_roles", "access", "fields", "states", "transitions", "summary",
     "parameters", "item_sla", "calendar"}
)
ACCESS_KEYS = frozenset({"see", "personal", "department"})
FIELD_KEYS = frozenset({"type", "label", "required", "personal", "options", "roles", "route",
                        "max_size", "accept", "multiple"})
FIELD_TYPES = frozenset(
    {"string", "text", "integer", "decimal", "boolean", "date", "datetime", "enum", "phone", "user", "unit", "log",
     "file"}
)
STATE_KEYS = frozenset({"label", "initial", "final", "paused", "sla", "timers", "on_linked"})
ON_LINKED_KEYS = frozenset({"workflow", "reaches", "fire"})
SLA_KEYS = frozenset({"within", "by", "since", "when", "not_before", "escalate_to", "fire", "warn", "calendar",
                      "until"})
TIMER_KEYS = frozenset({"after", "at", "fire", "calendar"})
PARAMETER_KEYS = frozenset({"label", "type", "value"})
TRANSITION_KEYS = frozenset({"name", "label", "from", "to", "roles", "when", "require", "set", "actions",
                             "require_new", "stay", "countersign",
                             "attach"})
COUNTERSIGN_KEYS = frozenset({"roles", "users"})
ACTION_KEYS = frozenset({"notify", "spawn", "link"})
NOTIFY_KEYS = frozenset({"roles", "user", "resident", "template"})
SPAWN_KEYS = frozenset({"workflow", "copy", "keep_reception"})
LINK_KEYS = frozenset({"workflow", "number", "states"})
CONDITION_KEYS = frozenset({"if", "label"})
"""`when: {if: "<expression>", label: 中文说明}`: a condition with the words staff read instead of it."""



_SIZE = re.compile(r"^([1-9][0-9]{0,4})(KB|MB)$")


def _size(value: Any) -> int | None:
    """A file size such as `10MB` or `500KB` in bytes; anything else None (the schema reports it)."""
    match = _SIZE.match(value) if isinstance(value, str) else None
    return int(match.group(1)) * (1024 if match.group(2) == "KB" else 1024 * 1024) if match else None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


class _Compiler:
    def __init__(self, document: Mapping[str, Any], smap: SourceMap, catalogue: Catalogue) -> None:
        self.document = document
        self.smap = smap
        self.catalogue = catalogue
        self.problems: list[Problem] = []
        self.fields = self._fields()
        self.parameters, found = parse_parameters(document, smap)
        self.problems += found

    def problem(self, path: Path, message: str, code: str) -> None:
        self.problems.append(self.smap.problem(path, message, code=code))

    def expression(self, source: Any, path: Path, want: str, target: FieldDef | None = None, *,
                   actor: bool = False) -> Expression | None:
        if not isinstance(source, str):
            return None
        try:
            with in_scope(self.parameters):  # param('id') reads this workflow's parameters
                return compile_expression(source, self.fields, want=want, target=target,
                                          roles=self.catalogue.labels if actor else None)
        except ExpressionError as error:
            shown = source if len(source) <= 60 else source[:57] + "..."
            self.problem(path, f"{error.message} (in expression {shown!r})", "expression")
            return None

    def _fields(self) -> dict[str, FieldDef]:
        raw = self.document.get("fields")
        fields: dict[str, FieldDef] = {}
        for name, spec in (raw.items() if isinstance(raw, dict) else ()):
            if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or spec["type"] not in FIELD_TYPES:
                continue
            found = spec.get("options")
            options: dict[Any, Any] = found if isinstance(found, dict) else {}
            fields[name] = FieldDef(
                name=name,
                type=spec["type"],
                label=str(spec.get("label", name)),
                required=spec.get("required") is True,
                personal=spec.get("personal") is True,
                options=MappingProxyType({str(k): str(v) for k, v in options.items()}),
                roles=_strings(spec.get("roles")),
                route=spec["route"] if isinstance(spec.get("route"), str) else None,
                max_size=_size(spec.get("max_size")),
                accept=_strings(spec.get("accept")),
                multiple=spec.get("multiple") is True,
            )
        return fields

    def access(self) -> AccessRule:
        raw = self.document.get("access")
        access: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        personal = _strings(access["personal"]) if "personal" in access else DEFAULT_PERSONAL
        see = frozenset(_strings(access["see"])) if "see" in access else default_see(self.document, personal)
        department = access.get("department")
        is_field = isinstance(department, str) and department in self.fields
        return AccessRule(
            see=see,
            personal=frozenset(personal),
            department_field=department if is_field else None,
            department=department if isinstance(department, str) and not is_field else None,
        )

    def states(self) -> dict[str, StateDef]:
        raw = self.document.get("states")
        states: dict[str, StateDef] = {}
        for name, spec in (raw.items() if isinstance(raw, dict) else ()):
            if isinstance(spec, dict):
                states[name] = StateDef(
                    name=name,
                    label=str(spec.get("label", name)),
                    initial=spec.get("initial") is True,
                    final=spec.get("final") is True,
                    paused=spec.get("paused") is True,
                    sla=self.sla(spec.get("sla"), ("states", name, "sla")),
                    timers=self.timers(spec.get("timers"), name),
                    on_linked=_reactions(spec.get("on_linked")),
                )
        return states

    def sla(self, raw: Any, path: Path) -> tuple[SlaRule, ...]:
        rules = []
        for i, spec in enumerate(raw if isinstance(raw, list) else ()):
            if not isinstance(spec, dict):
                continue
            warn = spec.get("warn")
            within = self.duration(spec, "within", (*path, i))
            not_before = self.duration(spec, "not_before", (*path, i))
            if within is not None and not_before is not None and not_before.delta >= within.delta:
                self.problem((*path, i, "not_before"), "the window opens after it closes: make "
                             "'not_before' shorter than 'within'", "sla")
            since = spec.get("since")
            rules.append(
                SlaRule(
                    within=within,
                    when=self.expression(*_condition(spec.get("when"), (*path, i, "when")), "boolean"),
                    when_label=_condition_label(spec.get("when")),
                    escalate_to=_strings(spec.get("escalate_to")),
                    by=spec.get("by") if isinstance(spec.get("by"), str) else None,
                    since=since if isinstance(since, str) else "entered",
                    not_before=not_before,
                    fire=spec.get("fire") if isinstance(spec.get("fire"), str) else None,
                    warn=int(warn[:-1]) / 100 if isinstance(warn, str) and warn[:-1].isdigit() else None,
                    working=spec.get("calendar") == "working",
                    index=i,
                    until=_strings(spec.get("until")),
                )
            )
        return tuple(rules)

    def duration(self, spec: Mapping[str, Any], key: str, path: Path) -> Duration | None:
        """A `within`/`not_before`/`after`: a literal, or a duration parameter's value."""
        problem = duration_problem(spec.get(key), self.parameters)
        if problem is not None:
            self.problem((*path, key), problem, "parameter")
        return duration_of(spec.get(key), self.parameters)

    def timers(self, raw: Any, state: str = "") -> tuple[Timer, ...]:
        return tuple(
            Timer(
                fire=spec["fire"],
                after=self.duration(spec, "after", ("states", state, "timers", i)),
                at=spec.get("at") if isinstance(spec.get("at"), str) else None,
                working=spec.get("calendar") == "working",
                index=i,
            )
            for i, spec in enumerate(raw if isinstance(raw, list) else ())
            if isinstance(spec, dict) and isinstance(spec.get("fire"), str)
        )

    def transitions(self, states: Mapping[str, StateDef]) -> tuple[TransitionDef, ...]:
        raw = self.document.get("transitions")
        result = []
        for index, spec in enumerate(raw if isinstance(raw, list) else ()):
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                continue
            path: Path = ("transitions", index)
            source = spec.get("from")
            if source == "*":
                sources = tuple(name for name, state in states.items() if not state.final)
            else:
                sources = (source,) if isinstance(source, str) else _strings(source)
            result.append(
                TransitionDef(
                    name=spec["name"],
                    label=str(spec.get("label", spec["name"])),
                    sources=sources,
                    dest=str(spec.get("to", "")),
                    roles=_strings(spec.get("roles")),
                    when=self.expression(*_condition(spec.get("when"), (*path, "when")), "boolean", actor=True),
                    when_label=_condition_label(spec.get("when")),
                    require=_strings(spec.get("require")),
                    set=self.assignments(spec.get("set"), (*path, "set")),
                    actions=self.actions(spec.get("actions"), (*path, "actions")),
                    index=index,
                    require_new=_strings(spec.get("require_new")),
                    attach=_strings(spec.get("attach")),
                    stay=spec.get("stay") is True,
                    countersign=_countersign(spec.get("countersign")),
                )
            )
        return tuple(result)

    def assignments(self, raw: Any, path: Path) -> tuple[Assignment, ...]:
        result = []
        for name, value in (raw.items() if isinstance(raw, dict) else ()):
            field = self.fields.get(name)
            if field is None or field.type == "log":
                continue  # checks.known_fields / checks_steps.log_fields reported it
            if isinstance(value, str):
                expression = self.expression(value, (*path, name), field.type, target=field)
                result.append(Assignment(name, expression=expression))
            else:
                if value is not None and not _literal_fits(field, value):
                    shown = str(value).lower() if isinstance(value, bool) else repr(value)
                    hint = f"; for a fixed text write \"'{value}'\"" if field.type in _QUOTED_TYPES else ""
                    self.problem((*path, name), f"{shown} cannot be stored in {field.type} field '{name}'{hint}",
                                 "type")
                result.append(Assignment(name, literal=value))
        return tuple(result)

    def actions(self, raw: Any, path: Path) -> tuple[Action, ...]:
        result: list[Action] = []
        for i, spec in enumerate(raw if isinstance(raw, list) else ()):
            if not isinstance(spec, dict):
                continue
            notify, spawn = spec.get("notify"), spec.get("spawn")
            if isinstance(notify, dict) and isinstance(notify.get("resident"), str):
                # A template id of workflows/messages.yaml, not a text: checked by engine/language/messages.py.
                result.append(ResidentNotifyAction(field=notify["resident"], template_id=str(notify.get("template"))))
            elif isinstance(notify, dict) and isinstance(notify.get("template"), str):
                try:
                    template = parse_template(notify["template"], self.fields)
                except ExpressionError as error:
                    self.problem((*path, i, "notify", "template"), error.message, "template")
                    continue
                user = notify.get("user")
                result.append(NotifyAction(roles=_strings(notify.get("roles")), template=template,
                                           user_field=user if isinstance(user, str) else None))
            elif isinstance(spawn, dict) and isinstance(spawn.get("workflow"), str):
                result.append(SpawnAction(workflow=spawn["workflow"], copy=_strings(spawn.get("copy")),
                                          keep_reception=spawn.get("keep_reception") is True))
            elif isinstance(link := spec.get("link"), dict) and isinstance(link.get("workflow"), str) \
                    and isinstance(link.get("number"), str):  # engine/runtime/item_refs.py
                result.append(LinkAction(workflow=link["workflow"], number_field=link["number"],
                                         states=_strings(link.get("states"))))
        return tuple(result)


def _reactions(raw: Any) -> tuple[LinkReaction, ...]:
    """`on_linked` entries (checks_steps.py reports incomplete ones)."""
    return tuple(LinkReaction(workflow=spec["workflow"], reaches=spec["reaches"], fire=spec["fire"])
                 for spec in (raw if isinstance(raw, list) else ())
                 if isinstance(spec, dict) and all(isinstance(spec.get(k), str) for k in ON_LINKED_KEYS))


def _countersign(raw: Any) -> Countersign | None:
    if not isinstance(raw, dict):
        return None
    return Countersign(roles=_strings(raw.get("roles")), users=_strings(raw.get("users")))


def summary_field(document: Mapping[str, Any], fields: Mapping[str, FieldDef]) -> str | None:
    """The field lists show as each item's main text: `summary`, else the first required text field,
    else the first text field (checks_wording.py refuses a `summary` that is not a string or text field)."""
    named = document.get("summary")
    if isinstance(named, str) and named in fields:
        return named
    texts = [n for n, f in fields.items() if f.type == "text"]
    return next((n for n in texts if fields[n].required), texts[0] if texts else None)


def _condition(raw: Any, path: Path) -> tuple[Any, Path]:
    """A `when`'s expression and the path of its text: the string itself, or the mapping's `if`."""
    return (raw.get("if"), (*path, "if")) if isinstance(raw, dict) else (raw, path)


def _condition_label(raw: Any) -> str | None:
    label = raw.get("label") if isinstance(raw, dict) else None
    return label if isinstance(label, str) and label else None


_QUOTED_TYPES = frozenset({"string", "text", "enum", "phone", "user", "unit"})


def _literal_fits(field: FieldDef, value: Any) -> bool:
    if field.type == "boolean":
        return isinstance(value, bool)
    if field.type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if field.type == "decimal":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return False  # text, dates and enums are written as quoted expressions: "'text'"


def default_prefix(workflow_id: str) -> str:
    """The number prefix used when none is given: the id's letters in capitals."""
    return re.sub(r"[^A-Z0-9]", "", workflow_id.upper())[:8] or "ITEM"


def compile_definition(
    document: Mapping[str, Any], smap: SourceMap, roles: Mapping[str, Any] | Catalogue
) -> tuple[WorkflowDefinition | None, list[Problem]]:
    """Compile `document` against the role catalogue `roles` (a Catalogue, or either shape of
    roles.yaml); the definition is None when the document is not a mapping."""
    if not isinstance(document, Mapping):
        return None, []
    catalogue = Catalogue.of(roles)
    compiler = _Compiler(document, smap, catalogue)
    states = compiler.states()
    initial = [name for name, state in states.items() if state.initial]
    transitions = compiler.transitions(states)
    graph = StateGraph(states, initial[0] if len(initial) == 1 else None, transitions)
    workflow_id = str(document.get("id", ""))
    create_roles = document.get("create_roles")
    definition = WorkflowDefinition(
        id=workflow_id,
        title=str(document.get("title", workflow_id)),
        number_prefix=str(document.get("number_prefix") or default_prefix(workflow_id)),
        create_roles=_strings(create_roles) if isinstance(create_roles, list) else tuple(catalogue.labels),
        fields=MappingProxyType(compiler.fields),
        states=MappingProxyType(states),
        transitions=transitions,
        graph=graph,
        source=smap.file,
        document=MappingProxyType(dict(document)),
        access=compiler.access(),
        departments=catalogue.departments,
        summary=summary_field(document, compiler.fields),
        item_sla=compiler.sla(document.get("item_sla"), ("item_sla",)),
        parameters=frozen(compiler.parameters),
        calendar=document["calendar"] if isinstance(document.get("calendar"), str) else None,
    )
    return definition, compiler.problems
