"""Reports sent by e-mail: `estateflow report send NAME --estate E --period last-week` (run by cron).

The report is computed as the system actor for the one estate, saved as XLSX and put in the
outbox: one row per role of the report's `send_to`, about no item (`item_id` null), the workbook
in `attachment`. Nothing is sent here: `estateflow send` (or the worker) drains the outbox like
any notification, expanding each role row at send time to the role's active holders in the
estate (stand-ins for those on leave) and mailing those with an address, the file attached
(engine/runtime/outbox.py, engine/runtime/senders.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.errors import EngineError
from engine.reports.compute import compute
from engine.reports.definition import ReportDefinition
from engine.reports.export import to_xlsx
from engine.reports.result import Column, Period, ReportResult, Row, Value
from engine.runtime.timers import CALENDARS, Calendars
from engine.store.models import Estate, Outbox

__all__ = ["attachment_name", "body", "send_report", "subject"]


def subject(title: str, period: Period) -> str:
    """投诉周报（2026年11月23日—29日）: the title and the period as staff read it."""
    return f"{title}（{period.label or f'{period.start.isoformat()}—{period.end.isoformat()}'}）"


def attachment_name(result: ReportResult) -> str:
    """投诉周报_花园小区_2026-11-23_2026-11-29.xlsx: readable by the people who receive it."""
    estates = "、".join(name for _estate, name in result.estates)
    return f"{result.title}_{estates}_{result.period.start.isoformat()}_{result.period.end.isoformat()}.xlsx"


def _figure(column: Column, value: Value, met: bool | None) -> str:
    """新增 12 件, 回访率 66.7%（目标 ≥ 100%，未达标）, 收回金额 1,200.50 元."""
    if value is None:
        shown = "无数据"
    elif column.kind in ("rate", "on_time"):
        shown = f"{float(value):.1%}"
    elif column.kind == "count":
        shown = f"{int(value)} {column.unit}".rstrip()
    else:
        number = f"{float(value):,.2f}" if column.kind == "sum" else f"{float(value):.1f}"
        shown = f"{number} {column.unit}".rstrip()
    if column.target:
        verdict = "" if met is None else "，达标" if met else "，未达标"
        shown += f"（目标 {column.target}{verdict}）"
    return f"{column.label} {shown}"


def _headline(result: ReportResult) -> list[str]:
    """The first table's 合计 row (or its only row), one figure per column."""
    for table in result.tables:
        rows: Sequence[Row] = [row for row in table.rows if row.total] or (table.rows if len(table.rows) == 1 else ())
        if rows:
            figures = [_figure(c, cell.value, cell.met) for c, cell in zip(table.columns, rows[0].cells, strict=True)]
            return [f"{table.title}，合计：", *(f"  {figure}" for figure in figures)]
    return []


def body(result: ReportResult) -> str:
    """A short plain-Chinese e-mail: what is attached, the headline figures, the report's notes."""
    estates = "、".join(name for _estate, name in result.estates)
    lines = [f"{estates}的{subject(result.title, result.period)}见附件（Excel，每张表一页）。", ""]
    headline = _headline(result)
    if headline:
        lines += [*headline, ""]
    if result.warnings:
        lines += ["说明：", *(f"  {warning}" for warning in result.warnings), ""]
    lines.append("本邮件由 estateflow 按计划自动发送，请勿直接回复。")
    return "\n".join(lines)


def send_report(session: Session, report: ReportDefinition, estate: str, period: Period, *,
                now: datetime, calendars: Calendars = CALENDARS) -> list[int]:
    """Put the report for `estate` over `period` in the outbox, one e-mail per role of `report.send_to`.

    Returns the new outbox ids (none when the report names no roles). The rows are due at once
    and belong to no item; the e-mail sender attaches the XLSX.

    Raises:
        EngineError: no estate `estate`.
    """
    if session.scalar(select(Estate.id).where(Estate.id == estate)) is None:
        raise EngineError(f"no estate '{estate}'")
    result = compute(session, Actor.system(), report, estates=[estate], period=period, now=now,
                     calendars=calendars)
    mail = {"subject": subject(result.title, result.period), "body": body(result),
            "attachment_name": attachment_name(result), "attachment": to_xlsx(result)}
    rows = [Outbox(item_id=None, estate_id=estate, created_at=now, role=role, user_id=None, status="pending",
                   attempts=0, next_attempt_at=now, **mail)
            for role in report.send_to]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]
