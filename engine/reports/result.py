"""A computed report: what compute.py returns and the page, the exports and the CLI render.

Values are plain: int for counts, Decimal for sums, Decimal fractions in [0, 1] for rates and
on-time shares, Decimal for durations (in the measure's unit), None where nothing was counted
(a rate over no items). Row labels are what staff read (工程质量类, 3栋, 2026年第48周), never ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

__all__ = ["Cell", "Column", "Period", "ReportResult", "Row", "TableResult", "Value"]

Value = int | Decimal | None


@dataclass(frozen=True, slots=True)
class Period:
    """Inclusive local dates of the estate(s): an item belongs by the moment of its event."""

    start: date
    end: date
    label: str = ""
    """As staff read it: 2026年11月23日—11月29日, 2026年11月, 2026年第4季度."""


@dataclass(frozen=True, slots=True)
class Column:
    """A measure's column."""

    measure: str
    label: str
    kind: str
    """count | sum | duration | rate | on_time."""
    unit: str = ""
    """What the numbers are in, for the header: 件, 元, 小时, % ..."""
    target: str = ""
    """The target as written (≥ 95%), empty when none."""


@dataclass(frozen=True, slots=True)
class Cell:
    """A number and where it comes from."""

    value: Value
    met: bool | None = None
    """Against the measure's target: True met, False missed, None no target or nothing counted."""
    key: str = ""
    """Names the items behind the number for the drill-down (compute.items_behind); empty: none."""


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    """The dimension value as staff read it."""
    cells: tuple[Cell, ...]
    total: bool = False
    """The 合计 row."""


@dataclass(frozen=True, slots=True)
class TableResult:
    title: str
    dimension: str
    """The first column's title (投诉类别, 楼栋, 周)."""
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    chart: str = "bar"
    """bar | line | none."""


@dataclass(frozen=True, slots=True)
class ReportResult:
    report: str
    """The report id."""
    title: str
    estates: tuple[tuple[str, str], ...]
    """(id, name) of the estates counted."""
    period: Period
    generated_at: datetime
    generated_by: str
    """The display name of who asked (or 系统 for `report send`)."""
    tables: tuple[TableResult, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())
    """Plain-Chinese notes (an estate without this report's workflows, a period cut at today)."""
