"""The shipped reports (workflows/reports/*.yaml) count what the department did, cell by cell.

A small department lives one week through the real runtime (tests/reports/_shipped_world.py:
complaints, repairs, a service request, dunning), then each shipped report is computed for a fixed
period and every row and cell is compared with figures this file works out by itself from what the
script did (its `Made` records): who was created when, what was closed, revisited, redone, late.
The report engine is never asked for the expected numbers; only the period's week labels come
from engine/reports/periods.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from engine.access.actor import Actor
from engine.clock import FixedClock
from engine.reports.compute import compute
from engine.reports.definition import ReportDefinition
from engine.reports.loader import load_reports
from engine.reports.periods import between, steps
from engine.reports.result import Period, ReportResult
from engine.store.models import ItemDeadline
from tests.reports._shipped_world import AFTER, ESTATE, ESTATE_NAME, SHIPPED, Department, Made, department_week

TZ = ZoneInfo("Asia/Shanghai")
WEEK = between(date(2026, 3, 2), date(2026, 3, 8))
MARCH = between(date(2026, 3, 1), date(2026, 3, 31))
Q1 = between(date(2026, 1, 1), date(2026, 3, 31))
EIGHT_WEEKS = between(date(2026, 1, 12), date(2026, 3, 8))

CATEGORY = {"engineering": "工程质量类", "design": "规划设计类", "sales": "销售管理类", "property": "物业管理类",
            "service": "客户服务类", "other": "其他类"}
SEVERITY = {"major": "重大投诉", "important": "重要投诉", "minor": "轻微投诉"}
DEPARTMENT = {"engineering": "工程部", "security": "安保部", "cleaning": "保洁部", "customer_service": "客服部"}
TRADE = {"plumbing": "给排水", "electrical": "强电/电气", "door_window": "门窗", "wall_floor": "墙地面",
         "facility": "设施设备", "gas": "燃气", "hvac": "空调", "access_intercom": "门禁/对讲",
         "elevator": "电梯（公共）", "drain": "管道疏通", "other": "其他"}
AREA = {"in_unit": "户内", "public": "公共区域"}
FEE_TYPE = {"property": "物业服务费", "parking": "车位管理费", "utilities": "代收水电费", "other": "其他费用"}
TITLE = {"complaint": "业主投诉", "repair": "报修", "intake": "来电来访登记", "dunning": "欠费催缴",
         "renovation": "装修审批"}
NO_DEPARTMENT, MISSING, TOTAL = "未指定部门", "未填写", "合计"


# -- the figures, worked out from what the script did -------------------------------------------


def bounds(period: Period) -> tuple[datetime, datetime]:
    return (datetime.combine(period.start, time(), TZ), datetime.combine(period.end + timedelta(days=1), time(), TZ))


def within(moment: datetime | None, period: Period) -> bool:
    start, end = bounds(period)
    return moment is not None and start <= moment < end


def created(period: Period) -> Callable[[Made], bool]:
    return lambda m: within(m.created, period)


def closed(period: Period, *states: str) -> Callable[[Made], bool]:
    return lambda m: within(m.closed, period) and (not states or m.state in states)


def open_at_end(period: Period) -> Callable[[Made], bool]:
    end = bounds(period)[1]
    return lambda m: m.created < end and (m.closed is None or m.closed >= end)


def late(period: Period) -> Callable[[Made], bool]:
    """Late in the period: every limit the script let run out fell due in the week of 2 March (the
    complaint of the week before ran out in February, counted by hand in the trend)."""
    covers = period.start <= WEEK.start and WEEK.end <= period.end
    return lambda m: m.late and covers


def rate(part: int, whole: int) -> Decimal | None:
    return None if whole == 0 else (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Count:
    """How many items satisfy `test` (or, with `times`, how many firings they had)."""

    test: Callable[[Made], bool]
    times: Callable[[Made], int] | None = None

    def of(self, items: Sequence[Made]) -> Any:
        if self.times is not None:
            return sum(self.times(m) for m in items if self.test(m))
        return sum(1 for m in items if self.test(m))

    def hit(self, m: Made) -> bool:
        return self.test(m) and (self.times is None or self.times(m) > 0)


@dataclass(frozen=True)
class Sum:
    test: Callable[[Made], bool]
    amount: Callable[[Made], Decimal]

    def of(self, items: Sequence[Made]) -> Any:
        return sum((self.amount(m) for m in items if self.test(m)), Decimal(0))

    def hit(self, m: Made) -> bool:
        return self.test(m)


@dataclass(frozen=True)
class Rate:
    """|part ∩ whole| / |whole| over items."""

    part: Callable[[Made], bool]
    whole: Callable[[Made], bool]

    def of(self, items: Sequence[Made]) -> Any:
        whole = [m for m in items if self.whole(m)]
        return rate(sum(1 for m in whole if self.part(m)), len(whole))

    def hit(self, m: Made) -> bool:
        return self.whole(m) or self.part(m)


Measure = Count | Sum | Rate


def expected(items: Iterable[Made], label: Callable[[Made], str], measures: Sequence[Measure], *,
             fixed: Sequence[str] = (), order: Sequence[str] = (), last: Sequence[str] = (), total: bool = True,
             keep: tuple[int, int] | None = None, largest_first: bool = False) -> list[tuple[str, list[Any]]]:
    """The rows a table should show: the fixed rows in order, then every other label with an event
    (in `order` where given, else by label; the `last` ones at the end), then 合计 (counts and sums
    added, rates over the union)."""
    items = list(items)
    seen = {label(m) for m in items if any(x.hit(m) for x in measures)}
    rank = {text: i for i, text in enumerate(order)}
    others = sorted(seen - set(fixed) - set(last), key=lambda t: (rank.get(t, len(rank)), t)) \
        + [x for x in last if x in seen and x not in fixed]
    rows = [(text, [x.of([m for m in items if label(m) == text]) for x in measures]) for text in [*fixed, *others]]
    if keep is not None:
        rows = [r for r in rows if r[1][keep[0]] >= keep[1]]
    if largest_first:
        rows.sort(key=lambda r: -r[1][0])
    if total:
        kept = {r[0] for r in rows}
        union = [m for m in items if label(m) in kept]
        rows.append((TOTAL, [sum(r[1][i] for r in rows) if not isinstance(x, Rate) else x.of(union)
                             for i, x in enumerate(measures)]))
    return rows


def table(result: ReportResult, title: str) -> list[tuple[str, list[Any]]]:
    [found] = [t for t in result.tables if t.title == title]
    return [(row.label, [cell.value for cell in row.cells]) for row in found.rows]


def columns(result: ReportResult, title: str) -> list[str]:
    [found] = [t for t in result.tables if t.title == title]
    return [c.label for c in found.columns]


# -- running the reports -------------------------------------------------------------------------


@pytest.fixture
def week(db: Any, clock: FixedClock) -> Department:
    return department_week(db, clock)


@pytest.fixture(scope="module")
def reports() -> dict[str, ReportDefinition]:
    return load_reports(SHIPPED)


def run(d: Department, report: ReportDefinition, period: Period, who: str = "cs_manager") -> ReportResult:
    """The report as the department manager (who sees every workflow of the estate) computes it."""
    actor: Actor = d.actor(who)
    with d.db.factory() as session:
        return compute(session, actor, report, estates=[ESTATE], period=period, now=AFTER)


def complaints(d: Department) -> list[Made]:
    return d.of("complaint")


def department(m: Made) -> str:
    value = m.values.get("department")
    return DEPARTMENT[value] if value else NO_DEPARTMENT


def person(d: Department, field: str) -> Callable[[Made], str]:
    return lambda m: d.name(m.values[field]) if m.values.get(field) else MISSING


def building(m: Made) -> str:
    return f"{m.unit.split('-')[0]}栋" if m.unit else "未指定楼栋"


# -- 投诉周报 -----------------------------------------------------------------------------------


def test_complaints_weekly_counts_new_closed_open_and_late_complaints_per_dimension(
        week: Department, reports: dict[str, ReportDefinition]) -> None:
    result = run(week, reports["complaints_weekly"], WEEK)
    four: list[Measure] = [Count(created(WEEK)), Count(closed(WEEK, "archived")), Count(open_at_end(WEEK)), Count(late(WEEK))]
    items = complaints(week)

    assert columns(result, "按投诉类别") == ["新增", "办结", "未结", "超时"]
    assert table(result, "按投诉类别") == expected(items, lambda m: CATEGORY[m.values["category"]], four,
                                               fixed=list(CATEGORY.values()))
    # The figures themselves, as the supervisor reads them: 3 engineering complaints this week (one
    # handled again after an unsatisfied revisit, one never passed on), one closed; the withdrawn
    # property complaint counts as new, not as closed; last week's property complaint is still open.
    assert table(result, "按投诉类别")[0] == ("工程质量类", [3, 1, 2, 2])
    assert table(result, "按投诉类别")[3] == ("物业管理类", [1, 0, 1, 0])
    assert table(result, "按投诉类别")[-1] == (TOTAL, [6, 3, 3, 2])
    assert table(result, "按投诉级别") == expected(items, lambda m: SEVERITY[m.values["severity"]], four,
                                               fixed=list(SEVERITY.values()))
    assert table(result, "按责任部门") == expected(items, department, four, order=list(DEPARTMENT.values()), last=[NO_DEPARTMENT])
    assert table(result, "按楼栋") == expected(items, building, four)


def test_complaints_weekly_finds_repeat_complaints_and_unsatisfied_revisits(
        week: Department, reports: dict[str, ReportDefinition]) -> None:
    result = run(week, reports["complaints_weekly"], WEEK)
    items = complaints(week)

    repeat = expected(items, lambda m: m.unit or "", [Count(created(WEEK))], keep=(0, 2), largest_first=True,
                      total=False)
    assert table(result, "重复投诉（同一房号两次及以上）") == repeat == [("1-1-101", [3]), ("2-1-201", [2])]

    unsatisfied = Count(lambda m: within(m.unsatisfied_revisit, WEEK))
    assert table(result, "回访不满意（按投诉类别）") == expected(
        items, lambda m: CATEGORY[m.values["category"]], [unsatisfied], fixed=list(CATEGORY.values()))
    assert table(result, "回访不满意（按责任部门）") == expected(items, department, [unsatisfied], order=list(DEPARTMENT.values()),
                                                            last=[NO_DEPARTMENT])
    assert table(result, "回访不满意（按责任部门）") == [("工程部", [1]), (TOTAL, [1])]


def test_complaints_trend_counts_each_of_eight_weeks(week: Department, reports: dict[str, ReportDefinition]) -> None:
    report = reports["complaints_trend"]
    assert (report.period, report.periods) == ("week", 8)
    result = run(week, report, EIGHT_WEEKS)

    rows = []
    for step in steps("week", EIGHT_WEEKS):
        # The week before: last week's complaint was registered, and both its limits ran out.
        late_then = 1 if step.start == date(2026, 2, 23) else 0
        items = complaints(week)
        rows.append((step.label, [Count(created(step)).of(items), Count(closed(step, "archived")).of(items),
                                  Count(late(step)).of(items) + late_then]))
    rows.append((TOTAL, [sum(r[1][i] for r in rows) for i in range(3)]))
    assert table(result, "近八周投诉趋势") == rows
    assert rows[-2][1] == [6, 3, 2] and rows[-3][1] == [1, 0, 1]


# -- 月度服务汇总 and the managers' dashboard ---------------------------------------------------


def test_every_closed_item_had_a_decided_time_limit(week: Department) -> None:
    """The on-time figures below read "not late" as "on time": true only if each closed item had a limit."""
    with week.db.engine.connect() as connection:
        limited = set(connection.execute(select(ItemDeadline.item_id).where(ItemDeadline.kind == "escalate")
                                         .group_by(ItemDeadline.item_id).having(func.count() > 0)).scalars())
    assert {m.id for m in week.items if m.closed is not None} <= limited


def test_the_late_items_are_those_whose_limits_tick_escalated_in_the_week(week: Department) -> None:
    """The script's `late` marks agree with the store: each is an item tick escalated in the week."""
    with week.db.engine.connect() as connection:
        rows = connection.execute(select(ItemDeadline.item_id, ItemDeadline.due_at)
                                  .where(ItemDeadline.kind == "escalate", ItemDeadline.status == "done")).all()
    aware = [(item, due if due.tzinfo else due.replace(tzinfo=UTC)) for item, due in rows]
    assert {item for item, due in aware if within(due, WEEK)} == {m.id for m in week.items if m.late}
    assert {m.workflow for m in week.items if m.late} == {"complaint", "repair"}


def test_service_monthly_sums_up_every_workflow(week: Department, reports: dict[str, ReportDefinition]) -> None:
    result = run(week, reports["service_monthly"], MARCH)
    done = closed(MARCH)
    measures: list[Measure] = [Count(created(MARCH)), Count(done), Rate(lambda m: not m.late, done), Count(open_at_end(MARCH)),
                Count(late(MARCH))]

    assert columns(result, "按事项类型") == ["受理", "办结", "按时办结率", "月末未结", "超时"]
    by_workflow = expected(week.items, lambda m: TITLE[m.workflow], measures)
    assert table(result, "按事项类型") == by_workflow
    assert dict(by_workflow)["报修"] == [5, 4, Decimal("0.75"), 1, 2]
    assert table(result, "按项目") == expected(week.items, lambda m: ESTATE_NAME, measures, fixed=[ESTATE_NAME])


def test_service_kpis_shows_this_months_rates_against_their_targets(
        week: Department, reports: dict[str, ReportDefinition]) -> None:
    report = reports["service_kpis"]
    assert {"cs_supervisor", "project_manager", "cs_manager"} <= set(report.dashboard)
    result = run(week, report, MARCH)
    complaints_closed = closed(MARCH, "archived")
    repairs_closed = closed(MARCH, "closed")
    satisfied = lambda m: m.satisfied is True and within(m.closed, MARCH)  # noqa: E731
    visited = lambda m: m.revisits > 0  # noqa: E731 - every revisit of the script was in March
    [row] = table(result, "本月服务指标")
    assert row == ("合计", [
        Rate(lambda m: m.satisfied is True, complaints_closed).of(complaints(week)),
        Rate(lambda m: m.satisfied is not False, repairs_closed).of([*week.of("repair"), *week.of("intake")]),
        Rate(satisfied, visited).of(week.items),
        Rate(lambda m: not m.late, closed(MARCH)).of(
            [m for m in week.items if m.workflow in ("complaint", "repair", "intake")]),
    ])
    assert row[1] == [Decimal("0.6667"), Decimal("0.8"), Decimal("0.8571"), Decimal("0.8889")]
    [found] = result.tables
    assert [c.met for c in found.rows[0].cells] == [False, False, False, False]


# -- 季度回访分析 -------------------------------------------------------------------------------


def test_revisits_quarterly_rates_per_type_satisfaction_and_unreachable(
        week: Department, reports: dict[str, ReportDefinition]) -> None:
    result = run(week, reports["revisits_quarterly"], Q1)
    months = steps("month", Q1)

    def reached(m: Made) -> bool:
        """Closed after a revisit that reached the resident (not after three unanswered calls)."""
        return m.satisfied is not False

    def by_month(workflows: set[str], state: str) -> list[tuple[str, list[Any]]]:
        items = [m for m in week.items if m.workflow in workflows]
        rows = [(s.label, [Count(closed(s, state)).of(items),
                           sum(1 for m in items if closed(s, state)(m) and reached(m)),
                           Rate(reached, closed(s, state)).of(items)]) for s in months]
        union = Rate(reached, closed(Q1, state)).of(items)
        return [*rows, (TOTAL, [sum(r[1][0] for r in rows), sum(r[1][1] for r in rows), union])]

    assert table(result, "投诉回访率（目标100%）") == by_month({"complaint"}, "archived")
    assert table(result, "投诉回访率（目标100%）")[-1] == (TOTAL, [3, 2, Decimal("0.6667")])
    assert table(result, "报修及服务回访率（目标90%）") == by_month({"repair", "intake"}, "closed")
    assert table(result, "报修及服务回访率（目标90%）")[-1] == (TOTAL, [5, 4, Decimal("0.8")])

    revisits = [m for m in week.items if m.workflow in ("complaint", "repair", "intake")]
    assert table(result, "满意率（按回访类型）") == expected(revisits, lambda m: TITLE[m.workflow], [
        Count(lambda m: True, times=lambda m: m.revisits),
        Count(lambda m: m.satisfied is True),
        Rate(lambda m: m.satisfied is True, lambda m: m.revisits > 0),
    ])
    assert table(result, "联系不上的回访（按回访类型）") == expected(revisits, lambda m: TITLE[m.workflow], [
        Count(lambda m: True, times=lambda m: m.failed_calls),
        Count(lambda m: m.satisfied is False),
    ])
    assert table(result, "联系不上的回访（按回访类型）") == [("业主投诉", [3, 1]), ("报修", [3, 1]), (TOTAL, [6, 2])]


# -- 报修及时率与修复质量 -----------------------------------------------------------------------


def test_repairs_quality_timeliness_first_time_fix_and_redo_rates(
        week: Department, reports: dict[str, ReportDefinition]) -> None:
    result = run(week, reports["repairs_quality"], MARCH)
    repairs = week.of("repair")
    done = closed(MARCH, "closed")
    first_time = Rate(lambda m: m.redone == 0, done)
    redone = Count(lambda m: done(m) and m.redone > 0)
    redo_rate = Rate(lambda m: m.redone > 0, done)
    timely = Rate(lambda m: not m.late, closed(MARCH))
    full: list[Measure] = [Count(created(MARCH)), Count(done), timely, first_time, redone, redo_rate]

    trades = expected(repairs, lambda m: TRADE[m.values["trade"]], full, fixed=list(TRADE.values()))
    assert table(result, "按报修类别") == trades
    assert trades[0] == ("给排水", [2, 2, Decimal("1"), Decimal("0.5"), 1, Decimal("0.5")])
    assert trades[-1] == (TOTAL, [5, 4, Decimal("0.75"), Decimal("0.75"), 1, Decimal("0.25")])
    assert table(result, "按报修区域") == expected(repairs, lambda m: AREA[m.values["area"]], full,
                                               fixed=list(AREA.values()))
    assert table(result, "按维修人员") == expected(repairs, person(week, "engineer"), full[1:])


# -- 欠费催缴 and 装修 --------------------------------------------------------------------------


def test_dunning_collected_outstanding_by_rung_and_lawyers(
        week: Department, reports: dict[str, ReportDefinition]) -> None:
    result = run(week, reports["dunning"], MARCH)
    cases = week.of("dunning")
    amount = lambda m: Decimal(m.values["amount"])  # noqa: E731
    [overview] = table(result, "催缴概况")
    assert overview == (TOTAL, [
        Count(created(MARCH)).of(cases), Sum(created(MARCH), amount).of(cases),
        Count(closed(MARCH, "paid")).of(cases), Sum(closed(MARCH, "paid"), lambda m: m.collected).of(cases),
        sum(m.firings.get("pay", 0) for m in cases), 0, 0, 0])
    assert overview[1] == [2, Decimal("4200"), 1, Decimal("2400"), 3, 0, 0, 0]

    still = open_at_end(MARCH)
    rungs: list[Measure] = [Count(still), Sum(still, amount), Sum(still, lambda m: m.balance or Decimal(0))]
    rung = {"reminding": "电话/短信提醒中", "paid": "已结清"}
    assert table(result, "按催缴阶段（期末在催）") == expected(cases, lambda m: rung[m.state], rungs)
    assert table(result, "按催缴阶段（期末在催）")[0] == ("电话/短信提醒中", [1, Decimal("1800"), Decimal("1300")])
    assert table(result, "按费用类别（期末在催）") == expected(cases, lambda m: FEE_TYPE[m.values["fee_type"]], rungs,
                                                         fixed=list(FEE_TYPE.values()))


def test_renovation_permits_violations_and_deposits(week: Department, reports: dict[str, ReportDefinition]) -> None:
    result = run(week, reports["renovation"], MARCH)
    works = week.of("renovation")
    still = open_at_end(MARCH)

    def permitted(m: Made) -> bool:
        """Fees paid and the permit issued (the script records the deposit then)."""
        return "deposit_amount" in m.values

    def money(name: str) -> Callable[[Made], Decimal]:
        return lambda m: Decimal(m.values.get(name, 0))

    applied = Count(created(MARCH))
    permits_open = Count(lambda m: still(m) and permitted(m))
    violations = Count(created(MARCH), times=lambda m: m.firings.get("record_violation", 0))
    held = Sum(lambda m: still(m) and permitted(m), money("deposit_amount"))
    refunded = Sum(closed(MARCH), money("refund_amount"))
    overview: list[Measure] = [applied, Count(created(MARCH), times=lambda m: m.firings.get("issue_permit", 0)), permits_open,
                violations, Count(created(MARCH), times=lambda m: m.firings.get("stop_work", 0)), held,
                Count(closed(MARCH, "closed")), refunded, Sum(closed(MARCH), money("deductions"))]

    assert table(result, "装修概况") == expected(works, lambda m: TOTAL, overview, total=False)
    assert table(result, "装修概况") == [(TOTAL, [3, 2, 1, 2, 0, Decimal(3000), 1, Decimal(4800), Decimal(200)])]
    assert table(result, "按楼栋") == expected(works, building, [applied, permits_open, violations, held, refunded])


# -- 工作量统计 ---------------------------------------------------------------------------------


def test_workload_per_person_in_charge(week: Department, reports: dict[str, ReportDefinition]) -> None:
    result = run(week, reports["workload"], MARCH)
    items = [m for m in week.items if m.workflow in ("complaint", "intake")]
    in_march = lambda m: within(m.created, MARCH)  # noqa: E731 - every step of the script's month items was in March
    done = closed(MARCH)
    measures: list[Measure] = [
        Count(in_march, times=lambda m: m.firings.get("dispatch", 0)),
        Count(in_march, times=lambda m: sum(m.firings.get(t, 0) for t in ("feed_back", "finish", "to_repair"))),
        Count(done), Rate(lambda m: not m.late, done), Count(open_at_end(MARCH)), Count(late(MARCH)),
    ]
    people = expected(items, person(week, "handler"), measures, last=[MISSING])
    assert table(result, "按责任人") == people
    assert dict(people)["李师傅"] == [1, 1, 0, None, 1, 1]
    assert dict(people)["赵保洁"] == [1, 1, 1, Decimal("1"), 1, 0]
    assert table(result, "按责任部门") == expected(items, department, measures, order=list(DEPARTMENT.values()),
                                                     last=[NO_DEPARTMENT])


# -- every shipped report -----------------------------------------------------------------------


def test_every_shipped_report_keeps_rates_in_range_and_its_totals_add_up(
        week: Department, reports: dict[str, ReportDefinition]) -> None:
    assert sorted(reports) == ["complaints_trend", "complaints_weekly", "dunning", "renovation", "repairs_quality",
                               "revisits_quarterly", "service_kpis", "service_monthly", "workload"]
    for report in reports.values():
        result = run(week, report, Q1)
        for found in result.tables:
            kinds = [c.kind for c in found.columns]
            for row in found.rows:
                for kind, cell in zip(kinds, row.cells, strict=True):
                    if kind in ("rate", "on_time") and cell.value is not None:
                        assert 0 <= cell.value <= 1, (report.id, found.title, row.label)
            parts = [r for r in found.rows if not r.total]
            for total in (r for r in found.rows if r.total and parts):  # (a `by: total` table is its 合计 alone)
                for index, kind in enumerate(kinds):
                    if kind in ("count", "sum"):
                        assert total.cells[index].value == sum(
                            (r.cells[index].value or 0 for r in parts), Decimal(0)), (report.id, found.title)
