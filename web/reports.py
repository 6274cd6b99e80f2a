"""统计报表: the reports a user may open, their figures with a chart beside each table, the items
behind each number, and the Excel and CSV downloads.

    GET /reports                    the reports the user may open (engine.reports.published.available)
    GET /reports/<id>               estates and period picked, the tables and their charts
    GET /reports/<id>/items?key=    the items behind one number (engine.reports.compute.items_behind)
    GET /reports/<id>.xlsx|.csv     the same figures as a file (engine.reports.export), on the access log

Every request is checked here, on the server: a report the user may not open is a 404 like a
missing one, and so is an estate they do not work in (nobody learns another estate's figures or
that it exists). The engine counts only the items the user could open in the lists, and never
returns personal data; this module adds none. The figures are read-only GETs: no CSRF token.

The form: the estates the user works in (all when none is ticked), and a period: the report's
default range (its `periods` × `period` ending today), a quick choice (本周, 上月...) or any
from-to dates. Bad dates are said next to the date fields and the default range is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from engine.access import permissions
from engine.errors import DefinitionError, NotPermitted
from engine.language import fields
from engine.org import audit
from engine.reports import export, periods, published
from engine.reports.compute import compute, items_behind
from engine.reports.definition import ReportDefinition
from engine.reports.result import Cell, Period, ReportResult, TableResult
from engine.runtime.registry import REGISTRY
from engine.views import listing
from web import charts, db
from web.auth import actor

bp = Blueprint("reports", __name__)

QUICK = (("this-week", "本周"), ("last-week", "上周"), ("this-month", "本月"), ("last-month", "上月"),
         ("this-quarter", "本季度"), ("last-quarter", "上季度"))
CUSTOM = "custom"
"""The `period` value of the 查看 button: the from-to dates typed in."""
DEFAULT = "default"
"""The `period` value of the report's own range button (近8周)."""
STEP_NAMES = {"day": "天", "week": "周", "month": "个月", "quarter": "个季度"}
MAX_DAYS = 3 * 366
"""The longest range a page computes (three years): longer ones are the command line's job."""
NOT_FOUND = "没有这个报表，或您没有查看它的权限。"
FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "csv": "text/csv; charset=utf-8"}
FORMAT_NAMES = {"xlsx": "Excel", "csv": "CSV"}


@dataclass
class Asked:
    """What the form asked for, checked: the estates, the period, and what was wrong with it."""

    estates: list[str]
    """The estate ids ticked (empty: every estate of the user)."""
    period: Period
    quick: str
    """'' for the report's default range, a QUICK name, or CUSTOM."""
    date_from: str = ""
    date_to: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    """'from' / 'to' → the message shown next to that field."""

    def args(self) -> dict[str, Any]:
        """The query string that gives these figures again (the drill-down links, the downloads)."""
        return {"estate": self.estates, "from": self.period.start.isoformat(), "to": self.period.end.isoformat()}


def _today() -> date:
    return db.clock().now().astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _report(report_id: str, estates: Sequence[str]) -> ReportDefinition:
    """The report as published for the one estate counted (its override), else the base; 404 when the user
    may not open it."""
    session = db.session()
    if report_id not in {r.id for r in published.available(session, actor())}:
        abort(404, NOT_FOUND)
    counted = estates or [e for e, _name in listing.estates_of(session, actor())]
    try:
        report = published.current(session, report_id, counted[0] if len(counted) == 1 else "")
    except DefinitionError:  # the stored report no longer fits the workflows: `estateflow publish` says why
        report = None
    if report is None:
        abort(404, NOT_FOUND)
    return report


def _estates() -> list[str]:
    """The estates ticked; one the user does not work in is a 404, as another estate's item is."""
    mine = {estate_id for estate_id, _name in listing.estates_of(db.session(), actor())}
    asked = list(dict.fromkeys(e for e in request.args.getlist("estate") if e))
    if any(e not in mine for e in asked):
        abort(404, NOT_FOUND)
    return asked if set(asked) != mine else []


def _day(text: str) -> tuple[date | None, str]:
    """A date typed in, or why not."""
    text = text.strip()
    if not text:
        return None, "请填写日期"
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None, "日期格式不正确（应为 2026-03-02）"
    if not fields.MIN_DATE <= day <= fields.MAX_DATE:
        return None, fields.DATE_RANGE_MESSAGE
    return day, ""


def _asked(report: ReportDefinition, estates: list[str]) -> Asked:
    """The estates and period of this request; the report's default range when none (or a bad one) was given."""
    args = request.args
    today = _today()
    default = periods.span(report.period, report.periods, today)
    quick = args.get("period", "")
    typed_from, typed_to = args.get("from", ""), args.get("to", "")
    asked = Asked(estates, default, "", typed_from, typed_to)
    if quick in dict(QUICK):
        asked.period, asked.quick = periods.named(quick, today), quick
    elif quick == DEFAULT:
        pass  # the report's own range, set above
    elif quick == CUSTOM or typed_from or typed_to:
        start, why_from = _day(typed_from)
        end, why_to = _day(typed_to)
        asked.errors = {k: v for k, v in (("from", why_from), ("to", why_to)) if v}
        if start and end and end < start:
            asked.errors["to"] = "结束日期不能早于开始日期"
        elif start and end and (end - start).days >= MAX_DAYS:
            asked.errors["to"] = "时间段最长三年，更长的请用命令行导出"
        if start and end and not asked.errors:
            asked.period, asked.quick = periods.between(start, end), CUSTOM
    if not asked.errors:
        asked.date_from, asked.date_to = asked.period.start.isoformat(), asked.period.end.isoformat()
    # Dates or a default range that are exactly 上周 (say) light that choice up.
    asked.quick = _quick_of(asked.period, today) or asked.quick
    return asked


def _quick_of(period: Period, today: date) -> str | None:
    """The quick choice that is exactly `period` (上周...), if any."""
    for name, _label in QUICK:
        found = periods.named(name, today)
        if (found.start, found.end) == (period.start, period.end):
            return name
    return None


def _compute(report: ReportDefinition, asked: Asked) -> ReportResult:
    try:
        return compute(db.session(), actor(), report, estates=asked.estates or None, period=asked.period,
                       now=db.clock().now(), registry=REGISTRY, calendars=db.calendars())
    except NotPermitted:
        abort(404, NOT_FOUND)


def default_choice(report: ReportDefinition) -> str | None:
    """The label of the report's own range when no quick choice is the same (近8周, 今天), else None."""
    if report.periods == 1:
        return "今天" if report.period == "day" else None
    return f"近{report.periods}{STEP_NAMES.get(report.period, '')}"


# -- what the templates call -------------------------------------------------------------------

def items_link(report_id: str, period: Period, estates: Sequence[str] = ()) -> charts.Link:
    """The drill-down address of a cell of these figures (None for a number with nothing behind it)."""
    def link(cell: Cell) -> str | None:
        if not cell.key or not cell.value:
            return None
        dates: dict[str, Any] = {"from": period.start.isoformat(), "to": period.end.isoformat()}
        return url_for("reports.items", report_id=report_id, key=cell.key, estate=list(estates), **dates)
    return link


@bp.app_template_global()
def report_chart(table: TableResult, result: ReportResult, estates: Sequence[str] = ()) -> Markup:
    """The table's SVG chart, its bars and points linked to the items behind them."""
    return charts.chart(table, items_link(result.report, result.period, estates))


@bp.app_template_global()
def report_link(result: ReportResult, cell: Cell, estates: Sequence[str] = ()) -> str | None:
    """The address of the items behind a number (None: a zero, or nothing to list)."""
    return items_link(result.report, result.period, estates)(cell)


@bp.app_template_global()
def report_drawable(table: TableResult) -> bool:
    """Whether the table gets a chart beside it (it has a chart and a number to draw)."""
    return charts.drawable(table)


@bp.app_template_global()
def report_target(column: Any) -> str:
    """A column's target as people write it (≥ 95%)."""
    return charts.target_text(column)


@bp.app_template_global()
def report_number(cell: Cell, column: Any) -> str:
    """A cell's value as staff read it (95.0%, 1,280.00)."""
    return charts.number(cell.value, column)


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    """Whether the navigation offers 统计报表: to those who may open at least one report."""
    if not current_user.is_authenticated:
        return {}
    return {"nav_reports": bool(published.available(db.session(), current_user.actor))}


# -- pages -------------------------------------------------------------------------------------

@bp.get("/reports")
@login_required
def index() -> str:
    """The reports the user may open, by title."""
    return render_template("reports/index.html", reports=published.available(db.session(), actor()))


@bp.get("/reports/<report_id>")
@login_required
def show(report_id: str) -> str:
    """A report's figures for the estates and period asked (the report's default range first)."""
    estates = _estates()
    report = _report(report_id, estates)
    asked = _asked(report, estates)
    result = _compute(report, asked)
    return render_template("reports/show.html", report=report, result=result, asked=asked, quick=QUICK,
                           custom=CUSTOM, default=DEFAULT, default_label=default_choice(report),
                           estates=listing.estates_of(db.session(), actor()))


@bp.get("/reports/<report_id>/items")
@login_required
def items(report_id: str) -> str:
    """The items behind one number of the figures (the same estates and period), newest first."""
    estates = _estates()
    report = _report(report_id, estates)
    start, _ = _day(request.args.get("from", ""))
    end, _ = _day(request.args.get("to", ""))
    key = request.args.get("key", "")
    if start is None or end is None or end < start or not key:
        abort(404, NOT_FOUND)
    asked = Asked(estates, periods.between(start, end), CUSTOM)
    session, who, now = db.session(), actor(), db.clock().now()
    try:
        ids = items_behind(session, who, report, estates=estates or None, period=asked.period, key=key, now=now,
                           registry=REGISTRY, calendars=db.calendars())
    except (KeyError, ValueError, NotPermitted):
        abort(404, NOT_FOUND)
    result = _compute(report, asked)
    where = _cell_of(result, key)
    page = _page_of(sorted(set(ids), reverse=True))
    return render_template("reports/items.html", report=report, result=result, asked=asked, where=where,
                           page=page, custom=CUSTOM, query={"report_id": report.id, **asked.args(), "key": key})


def _cell_of(result: ReportResult, key: str) -> tuple[str, str, str, str] | None:
    """(table title, row label, column label, the number) of the cell named `key`, for the heading."""
    for table in result.tables:
        for row in table.rows:
            for column, cell in zip(table.columns, row.cells, strict=False):
                if cell.key == key:
                    return table.title, row.label, column.label, charts.number(cell.value, column)
    return None


def _page_of(ids: list[int]) -> listing.Page:
    """One page of the items `ids` (newest first), as the lists show them; the lists' visibility again."""
    per_page = current_app.config["PER_PAGE"]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    if page > len(ids) // per_page + 1:
        abort(404)
    chosen = ids[(page - 1) * per_page: page * per_page]
    session, who = db.session(), actor()
    records = session.execute(
        listing.base_query().where(listing.items.c.id.in_(chosen),
                                   *permissions.in_estates(who, listing.items.c.estate_id),
                                   listing.visible(who, listing.versions_of(session)))
        .order_by(listing.items.c.id.desc())).all() if chosen else []
    rows = listing.rows_of(session, list(records), REGISTRY, db.clock().now())
    return listing.Page(rows, page, per_page, page * per_page < len(ids), len(ids))


@bp.get("/reports/<report_id>.<any(xlsx, csv):kind>")
@login_required
def download(report_id: str, kind: str) -> Response:
    """The figures of the page as an Excel workbook or a CSV file (UTF-8 with BOM), written to the access log."""
    estates = _estates()
    report = _report(report_id, estates)
    asked = _asked(report, estates)
    if asked.errors:
        abort(404, NOT_FOUND)
    result = _compute(report, asked)
    tz = current_app.config["TIMEZONE"]
    body = export.to_xlsx(result, tz=tz) if kind == "xlsx" else export.to_csv(result, tz=tz)
    who = actor()
    with db.write() as writing:
        # Figures carry no personal data, but who took which figures out of the system is on record.
        audit.accessed(writing, who, "export", estate_id=asked.estates[0] if len(asked.estates) == 1 else None,
                       detail=f"导出统计报表：{result.title}（{result.period.label}，{FORMAT_NAMES[kind]}）",
                       clock=db.clock())
    response = Response(body, mimetype=FORMATS[kind])
    response.headers["Content-Disposition"] = disposition(result, kind)
    return response


def disposition(result: ReportResult, kind: str) -> str:
    """`attachment` with an ASCII name for old clients and the Chinese one (RFC 5987 `filename*`)."""
    places = "、".join(name for _id, name in result.estates)
    chinese = f"{result.title}_{places}_{result.period.start}至{result.period.end}.{kind}".replace("/", "-")
    return f'attachment; filename="{export.file_name(result, kind)}"; filename*=UTF-8\'\'{quote(chinese, safe="")}'

