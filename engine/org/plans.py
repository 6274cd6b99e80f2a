"""What an import will do, before it does it: the preview the admin page shows and `--dry-run` prints.

    ImportPlan(kind, filename, rows, problems, source)    every row: add, update or unchanged, with its changes
    PlannedRow(number, key, action, changes)              one spreadsheet row
    Problems(filename)                                    collects `FILE:ROW: column: message` problems

engine/org/imports.py makes plans (units) and applies them; engine/org/staff_imports.py
makes the plans of users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engine.errors import RowProblem, TableError
from engine.org.tables import Row

__all__ = ["ACTIONS", "ImportPlan", "PlannedRow", "Problems"]

ACTIONS = {"add": "新增", "update": "修改", "unchanged": "不变"}
"""A row's action → its label on the preview page."""
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One row of the file: what will happen to it. `changes` maps a field to [old, new]; `key` names the
    record (小区 房号, or the username)."""

    number: int
    key: str
    action: str
    changes: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def action_label(self) -> str:
        """新增, 修改 or 不变."""
        return ACTIONS[self.action]


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """A whole file's plan: `rows` (in file order) and `problems`; nothing is written while it has problems."""

    kind: str
    """'units' or 'users'."""
    filename: str
    rows: tuple[PlannedRow, ...]
    problems: tuple[RowProblem, ...]
    source: tuple[Row, ...]
    """The rows read: `apply` plans them again inside its own transaction, so nothing stale is written."""

    def count(self, action: str) -> int:
        """How many rows will be added, updated or left unchanged."""
        return sum(1 for r in self.rows if r.action == action)

    @property
    def summary(self) -> str:
        """`N added, M updated, K unchanged`, counting rows."""
        return f"{self.count('add')} added, {self.count('update')} updated, {self.count('unchanged')} unchanged"

    def check(self) -> None:
        """Raise TableError when there is any problem."""
        if self.problems:
            raise TableError(self.problems)


class Problems:
    """Problems of one file, each with its row and column."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.found: list[RowProblem] = []

    def add(self, row: int, column: str, message: str) -> None:
        """Note a problem."""
        self.found.append(RowProblem(self.filename, row, column, message))

    def checked(self, row: int, column: str, check: Callable[..., T], *args: Any) -> T | None:
        """`check(*args)`, or None with its ValueError's message noted."""
        try:
            return check(*args)
        except ValueError as error:
            self.add(row, column, str(error))
            return None

    def missing_columns(self, present: set[str], required: tuple[str, ...]) -> bool:
        """Note each required column the header lacks (as problems of row 1); whether any was missing."""
        missing = [c for c in required if c not in present]
        for column in missing:
            self.add(1, column, "缺少这一列")
        return bool(missing)
