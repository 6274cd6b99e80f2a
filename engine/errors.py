"""Every error the engine raises, in one place.

The callers (the CLI, later the web UI and the API) only render these; they never
parse messages. Each error carries the data a caller needs as attributes.

    EngineError
    ├── DefinitionError(problems)        a workflow file is wrong; one Problem per mistake
    ├── ExpressionError(message, column) an expression or a notification template does not compile
    ├── TableError(problems)             an imported spreadsheet has bad rows; one RowProblem per mistake
    ├── UnmappedStates(states)           moving items to a new version: states with nowhere to go
    └── TransitionError(code)            creating an item or firing a transition was refused
        ├── ItemNotFound                 not_found (also: an item of another estate)
        ├── UnknownTransition            unknown_transition
        ├── NotPermitted                 not_permitted
        ├── InvalidFields(fields)        invalid_fields
        ├── GuardFailed                  guard_failed
        └── Conflict(expected, actual)   conflict (a stale version)

A `Problem` is data, not text: `str(problem)` renders
`file:line:column: path.to.key: message` from its attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One mistake in a definition file, with where it is."""

    file: str
    line: int
    column: int
    path: Path = field(compare=False)
    """Keys and list indexes; mixed str and int, so it takes no part in ordering."""
    message: str
    code: str = field(default="invalid", compare=False)

    @property
    def dotted_path(self) -> str:
        """The YAML path as administrators write it: `states.handling.sla.0.within`."""
        return ".".join(str(part) for part in self.path) or "(document)"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.dotted_path}: {self.message}"


class EngineError(Exception):
    """The root of every error the engine raises on purpose."""

    exit_code = 1
    """The command line's exit status when this error ends a command (engine/cli/common.py `fail`)."""


class DefinitionError(EngineError):
    """A workflow definition (or overlay, or role catalogue) has problems."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class ExpressionError(EngineError):
    """A `when`/`set` expression or a notification template cannot be compiled.

    `column` is the 0-based offset in its source. The compiler turns it into a Problem
    of the DefinitionError it reports.
    """

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True, slots=True, order=True)
class RowProblem:
    """One mistake in an imported spreadsheet: `row` as the spreadsheet numbers it (the header is row 1)."""

    file: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.column}: {self.message}"


class TableError(EngineError):
    """An imported spreadsheet (engine/org/imports.py) has problems; nothing was written."""

    def __init__(self, problems: Iterable[RowProblem]) -> None:
        self.problems = sorted(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class UnmappedStates(EngineError):
    """Moving items to a new version (engine/runtime/item_migration.py) was refused before any write:
    `states` maps each old state with no target in the new version to the numbers of its open items."""

    code = "unmapped_states"

    def __init__(self, states: Mapping[str, Sequence[str]]) -> None:
        self.states = {state: list(numbers) for state, numbers in states.items()}
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"state {state} has no target in the new version (give --map {state}=NEW): "
                         + ", ".join(numbers) for state, numbers in self.states.items())


class TransitionError(EngineError):
    """Creating an item or firing a transition was refused; nothing was written."""

    code = "error"

    def __init__(self, message: str, **data: object) -> None:
        self.message = message
        self.data = data
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ItemNotFound(TransitionError):
    """The item does not exist, or belongs to an estate the actor does not work in."""

    code = "not_found"


class UnknownTransition(TransitionError):
    """No transition of that name leaves the item's current state."""

    code = "unknown_transition"


class NotPermitted(TransitionError):
    """The actor's roles may not fire the transition (or create the item)."""

    code = "not_permitted"


class InvalidFields(TransitionError):
    """Submitted or required data is wrong; `fields` maps each field name to why."""

    code = "invalid_fields"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        self.fields = dict(fields)
        text = message or "; ".join(f"{name}: {why}" for name, why in sorted(self.fields.items()))
        super().__init__(text, fields=self.fields)


class GuardFailed(TransitionError):
    """Every `when` condition of the candidate transitions was false."""

    code = "guard_failed"


class Conflict(TransitionError):
    """The caller saw `expected` but the item is now at version `actual`."""

    code = "conflict"

    def __init__(self, expected: int | None, actual: int | None, message: str | None = None) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            message or f"the item changed meanwhile (you saw version {expected}, it is now {actual})",
            expected=expected,
            actual=actual,
        )


ERROR_CODES = {
    cls.code: cls
    for cls in (ItemNotFound, UnknownTransition, NotPermitted, InvalidFields, GuardFailed, Conflict)
}
