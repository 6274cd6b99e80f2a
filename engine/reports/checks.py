"""Check a report document: its JSON Schema (schemas/report.schema.json), then its meaning.

Meaning is checked against the workflows the report counts (compiled WorkflowDefinitions): every
workflow, field, state, transition and measure it names must exist, a field used as a dimension
must be the same in every counted workflow and never personal (reports never show personal data),
`where` conditions compile in the workflow language, `closed` lists final states only, a rate is
made of two count measures of the report. Every problem is collected at its key or value
(`FILE:LINE:COL: path: message`, engine.errors.Problem); nothing here raises.

    schema_problems(document, smap)                                   the schema's, in our words
    meaning_problems(document, smap, workflows, roles=, broken=)      the rest
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from engine.errors import ExpressionError, Path, Problem
from engine.language import schema
from engine.language.definition import FieldDef, WorkflowDefinition
from engine.language.expr import compile_expression
from engine.language.roles import unknown_role
from engine.language.schema import suggest
from engine.language.source import SourceMap

__all__ = [
    "BUILT_IN_DIMENSIONS", "DIMENSION_FIELD_TYPES", "KIND_KEYS", "RESERVED_IDS", "SCHEMA", "counted",
    "meaning_problems", "schema_problems",
]

SCHEMA = "report.schema.json"
RESERVED_IDS = frozenset({"send"})
"""`estateflow report send` is a subcommand, so no report may be called `send`."""
BUILT_IN_DIMENSIONS = {
    "estate": "小区", "building": "楼栋", "unit": "房号", "state": "状态", "department": "责任部门",
    "workflow": "事项类型", "transition": "环节", "total": "全部",
}
"""`by:` words that are no field id, with the first column's default title. They win over a field so named."""
PERIOD_LABEL = "周期"
DIMENSION_FIELD_TYPES = frozenset({"enum", "boolean", "user", "unit", "string", "integer"})
"""Field types a table may be broken down by: a few distinct values each (not texts, dates or amounts)."""
SUMMABLE = frozenset({"decimal", "integer"})
MEASURE_KINDS = ("count", "sum", "duration", "rate", "on_time")
KIND_KEYS: dict[str, frozenset[str]] = {
    "count": frozenset({"states", "where"}),
    "sum": frozenset({"event", "states", "where"}),
    "duration": frozenset({"unit", "statistic", "working_time", "where"}),
    "rate": frozenset({"target"}),
    "on_time": frozenset({"states", "where", "target"}),
}
"""The keys each kind of measure takes besides `label` and its own (a target only on rates and shares)."""
_EVENT_HINT = "an event: created, closed, open, missed, {entered: STATE} or {fired: TRANSITION}"
_REWORDED = {
    "workflows": "must be '*' (every workflow) or a list of workflow ids",
    "by": "must be a field id, estate, building, unit, state, department, workflow, transition, total, "
          "or {period: day|week|month|quarter}",
    "count": f"must be {_EVENT_HINT}",
    "on_time": f"must be {_EVENT_HINT}",
    "event": f"must be {_EVENT_HINT}",
    "entered": "must be a state id or a list of state ids",
    "fired": "must be a transition id or a list of transition ids",
}


def schema_problems(document: Any, smap: SourceMap) -> list[Problem]:
    """The schema's problems, worded for reports where engine.language.schema words them for workflows."""
    found = []
    for problem in schema.validate(document, smap, SCHEMA):
        last = problem.path[-1] if problem.path else ""
        if problem.code == "oneOf" and last in _REWORDED:
            problem = dataclasses.replace(problem, message=_REWORDED[str(last)])
        elif problem.code == "pattern" and last == "target":
            problem = dataclasses.replace(problem, message=f"{problem.message.split(' is ')[0]} is not a target: "
                                          "write \">= 95%\" or \"<= 2%\"")
        elif problem.code == "maxProperties" and last == "keep":
            problem = dataclasses.replace(problem, message="name one measure and its least value: {received: 2}")
        found.append(problem)
    return found


def counted(document: Mapping[str, Any], workflows: Mapping[str, WorkflowDefinition]) -> list[WorkflowDefinition]:
    """The definitions a report counts: those it lists that exist, or every one for '*'."""
    named = document.get("workflows")
    if named == "*":
        return list(workflows.values())
    return [workflows[w] for w in (named if isinstance(named, list) else ()) if isinstance(w, str) and w in workflows]


def meaning_problems(document: Any, smap: SourceMap, workflows: Mapping[str, WorkflowDefinition], *,
                     roles: Mapping[str, str] | None = None, broken: frozenset[str] = frozenset()) -> list[Problem]:
    """Every problem of meaning of a schema-checked report, against `workflows` (id → definition).

    `roles`: the role catalogue's labels (None: send_to and dashboard are not checked); `broken`: ids of
    workflows whose own files have problems (named without being known, they get their own message).
    Problems under a path `schema_problems` refused should be dropped by the caller.
    """
    if not isinstance(document, dict):
        return []
    checker = _Checker(document, smap, workflows, counted(document, workflows))
    checker.run(roles, broken)
    return checker.problems


class _Checker:
    def __init__(self, document: dict[str, Any], smap: SourceMap, workflows: Mapping[str, WorkflowDefinition],
                 counted: list[WorkflowDefinition]) -> None:
        self.document, self.smap, self.workflows, self.counted = document, smap, workflows, counted
        self.problems: list[Problem] = []
        found = document.get("measures")
        self.measures: dict[str, Any] = {str(k): v for k, v in found.items() if isinstance(v, dict)} \
            if isinstance(found, dict) else {}

    def problem(self, path: Path, message: str, code: str, *, key: bool = False) -> None:
        self.problems.append(self.smap.problem(path, message, key=key, code=code))

    def run(self, roles: Mapping[str, str] | None, broken: frozenset[str]) -> None:
        if isinstance(self.document.get("id"), str) and self.document["id"] in RESERVED_IDS:
            self.problem(("id",), "'send' is reserved (estateflow report send): choose another id", "reserved_id")
        self._workflows(broken)
        for key in ("send_to", "dashboard"):
            names = self.document.get(key)
            for index, role in enumerate(names if isinstance(names, list) and roles is not None else ()):
                if isinstance(role, str) and roles is not None and role not in roles:
                    self.problem((key, index), unknown_role(role, roles, suggest(role, roles)), "unknown_role")
        if isinstance(self.document.get("where"), str):
            if len(self.counted) != 1 or self.document.get("workflows") == "*":
                self.problem(("where",), "a report's where needs exactly one workflow: with several, give each "
                             "measure its own where", "where")
            else:
                self._condition(("where",), self.document["where"])
        for measure_id, spec in self.measures.items():
            self._measure(measure_id, spec)
        tables = self.document.get("tables")
        for index, table in enumerate(tables if isinstance(tables, list) else ()):
            if isinstance(table, dict):
                self._table(index, table)

    # -- the report -------------------------------------------------------------------------------

    def _workflows(self, broken: frozenset[str]) -> None:
        named = self.document.get("workflows")
        for index, workflow in enumerate(named if isinstance(named, list) else ()):
            if not isinstance(workflow, str) or workflow in self.workflows:
                continue
            if workflow in broken:
                message = f"the workflow '{workflow}' has problems of its own: fix {workflow}.yaml first"
            else:
                known = ", ".join(sorted(self.workflows)) or "(none)"
                message = f"unknown workflow '{workflow}'{suggest(workflow, self.workflows)} (workflows: {known})"
            self.problem(("workflows", index), message, "unknown_workflow")

    def _condition(self, path: Path, source: str) -> None:
        """`where`: a condition compiling against the fields of every counted workflow."""
        if not self.counted:
            self.problem(path, "a where needs a workflow whose fields it reads", "where")
        for definition in self.counted:
            try:
                compile_expression(source, definition.fields, want="boolean")
            except ExpressionError as error:
                shown = source if len(source) <= 60 else source[:57] + "..."
                where = f" of {definition.id}" if len(self.counted) > 1 else ""
                self.problem(path, f"{error.message} (in expression {shown!r}{where})", "expression")
                return

    def _field(self, path: Path, name: str, what: str) -> list[FieldDef] | None:
        """The field `name` in every counted workflow (one type), or None after saying what is wrong."""
        specs = [d.fields.get(name) for d in self.counted]
        missing = [d.id for d, spec in zip(self.counted, specs, strict=True) if spec is None]
        if missing:
            everywhere = sorted(set.intersection(*(set(d.fields) for d in self.counted))) if self.counted else []
            hint = suggest(name, everywhere)
            lacking = f"unknown field '{name}'{hint}" if len(missing) == len(self.counted) else \
                f"the field '{name}' is not in every workflow counted ({', '.join(missing)} lacks it)"
            self.problem(path, f"{lacking}: {what}", "unknown_field")
            return None
        found = [s for s in specs if s is not None]
        types = sorted({s.type for s in found})
        if len(types) > 1:
            self.problem(path, f"the field '{name}' has different types in the workflows counted "
                         f"({', '.join(types)}): {what}", "field_type")
            return None
        return found

    def _states(self) -> dict[str, list[bool]]:
        """State id → whether it is final, in each counted workflow that has it."""
        found: dict[str, list[bool]] = {}
        for definition in self.counted:
            for state in definition.states.values():
                found.setdefault(state.name, []).append(state.final)
        return found

    def _state(self, path: Path, state: Any, *, final: bool = False) -> None:
        if not isinstance(state, str):
            return
        states = self._states()
        if state not in states:
            known = ", ".join(states) or "(none)"
            self.problem(path, f"unknown state '{state}'{suggest(state, states)} (states: {known})", "unknown_state")
        elif final and not all(states[state]):
            finals = ", ".join(s for s, flags in states.items() if all(flags))
            self.problem(path, f"'{state}' is not a final state: closed counts items entering a final state "
                         f"({finals}); use {{entered: {state}}} for other states", "not_final")

    # -- measures ---------------------------------------------------------------------------------

    def _measure(self, measure_id: str, spec: dict[str, Any]) -> None:
        path: Path = ("measures", measure_id)
        kinds = [k for k in MEASURE_KINDS if k in spec]
        if len(kinds) != 1:
            given = f" (given: {', '.join(kinds)})" if kinds else ""
            self.problem(path, f"give exactly one of: {', '.join(MEASURE_KINDS)}{given}", "measure_kind", key=True)
            return
        kind = kinds[0]
        for key in spec:
            if key not in KIND_KEYS[kind] | {"label", kind}:
                self.problem((*path, key), f"'{key}' does not apply to {_a(kind)} measure"
                             + (" (a target is for rate and on_time)" if key == "target" else ""),
                             "measure_key", key=True)
        event = spec.get("event", "created") if kind == "sum" else spec.get(kind)
        if kind in ("count", "on_time"):
            self._event((*path, kind), event)
        elif kind == "sum":
            self._event((*path, "event"), event)
            self._sum((*path, "sum"), spec.get("sum"))
        elif kind == "duration":
            self._duration((*path, "duration"), spec.get("duration"))
        else:
            self._rate((*path, "rate"), spec.get("rate"))
        states = spec.get("states")
        if isinstance(states, list) and kind in ("count", "sum"):
            if event != "closed":
                self.problem((*path, "states"), "states: only with the event closed (for entered, list the "
                             "states in the event: {entered: [a, b]})", "states", key=True)
            else:
                for index, state in enumerate(states):
                    self._state((*path, "states", index), state, final=True)
        elif isinstance(states, list):
            for index, state in enumerate(states):
                self._state((*path, "states", index), state)
        if isinstance(spec.get("where"), str):
            self._condition((*path, "where"), spec["where"])

    def _event(self, path: Path, event: Any) -> None:
        if not isinstance(event, dict):
            return
        if "entered" in event:
            names = event["entered"]
            for index, state in enumerate(names) if isinstance(names, list) else [(None, names)]:
                self._state((*path, "entered") if index is None else (*path, "entered", index), state)
        if "fired" in event:
            names = event["fired"]
            known = {t.name for d in self.counted for t in d.transitions}
            for index, name in enumerate(names) if isinstance(names, list) else [(None, names)]:
                if isinstance(name, str) and name not in known:
                    where = (*path, "fired") if index is None else (*path, "fired", index)
                    self.problem(where, f"unknown transition '{name}'{suggest(name, known)}", "unknown_transition")

    def _sum(self, path: Path, name: Any) -> None:
        if not isinstance(name, str):
            return
        found = self._field(path, name, "sum needs a decimal field of every workflow counted")
        if found and found[0].type not in SUMMABLE:
            self.problem(path, f"'{name}' is {_a(found[0].type)} field: sum needs a decimal (or integer) field", "sum")

    def _duration(self, path: Path, spec: Any) -> None:
        if not isinstance(spec, dict):
            return
        if "in" in spec and ("from" in spec or "to" in spec):
            self.problem(path, "give either from/to or in, not both", "duration")
        states = spec.get("in")
        for index, state in enumerate(states if isinstance(states, list) else ()):
            self._state((*path, "in", index), state)
        start, end = spec.get("from"), spec.get("to")
        if start == "closed" or end == "created":
            wrong = "from" if start == "closed" else "to"
            self.problem((*path, wrong), "a duration runs from created (or a state) to closed (or a state)",
                         "duration")
        elif isinstance(start, str) and start != "created":
            self._state((*path, "from"), start)
        if isinstance(end, str) and end not in ("closed", "created"):
            self._state((*path, "to"), end)

    def _rate(self, path: Path, parts: Any) -> None:
        for index, part in enumerate(parts if isinstance(parts, list) else ()):
            if not isinstance(part, str):
                continue
            spec = self.measures.get(part)
            if spec is None:
                self.problem((*path, index), f"unknown measure '{part}'{suggest(part, self.measures)}: a rate "
                             "divides two count measures of this report", "unknown_measure")
            elif "count" not in spec:
                self.problem((*path, index), f"'{part}' is not a count measure: a rate divides two count "
                             "measures of this report", "rate")

    # -- tables -----------------------------------------------------------------------------------

    def _table(self, index: int, table: dict[str, Any]) -> None:
        path: Path = ("tables", index)
        names = [m for m in table.get("measures") or () if isinstance(m, str)] \
            if isinstance(table.get("measures"), list) else []
        for position, name in enumerate(names):
            if name not in self.measures:
                self.problem((*path, "measures", position), f"unknown measure '{name}'"
                             f"{suggest(name, self.measures)} (measures: {', '.join(self.measures)})",
                             "unknown_measure")
        keep = table.get("keep")
        for name in keep if isinstance(keep, dict) else ():
            if name not in names:
                self.problem((*path, "keep", name), f"'{name}' is not a measure of this table "
                             f"(its measures: {', '.join(names)})", "keep", key=True)
        by = table.get("by")
        if by == "transition":
            self._fired_only((*path, "by"), names)
        elif isinstance(by, str) and by not in BUILT_IN_DIMENSIONS:
            self._dimension_field((*path, "by"), by)

    def _fired_only(self, path: Path, names: Sequence[str]) -> None:
        """`by: transition` breaks firings down: every measure of the table must read fired events."""
        for name in names:
            spec = self.measures.get(name, {})
            parts = [self.measures.get(p, {}) for p in spec.get("rate", ()) if isinstance(p, str)] \
                if "rate" in spec else [spec]
            events = [p.get("count", p.get("on_time", p.get("event"))) for p in parts]
            if not all(isinstance(e, dict) and "fired" in e for e in events):
                self.problem(path, f"by transition needs measures of fired events ({{fired: ...}}); "
                             f"'{name}' counts other events", "transition_dimension")
                return

    def _dimension_field(self, path: Path, name: str) -> None:
        built_in = ", ".join(BUILT_IN_DIMENSIONS)
        found = self._field(path, name, f"a table is by a field of every workflow counted, or by {built_in}, "
                            "or {period: ...}")
        if not found:
            return
        if any(spec.personal for spec in found):
            self.problem(path, f"'{name}' is personal data: reports never show personal data, so it cannot be a "
                         "dimension", "personal")
        elif found[0].type not in DIMENSION_FIELD_TYPES:
            self.problem(path, f"'{name}' is {_a(found[0].type)} field: a table is by an enum, boolean, user, unit, "
                         "string or integer field", "dimension_type")


def _a(word: str) -> str:
    """'an enum', 'a text': the article before a kind or type."""
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def problems_under(found: list[Problem], refused: set[Path]) -> Iterator[Problem]:
    """The problems not under a path the schema already refused (they would only repeat it)."""
    for problem in found:
        if not any(problem.path[:n] in refused for n in range(1, len(problem.path) + 1)):
            yield problem
