"""Computing reports from the store: the numbers of a week of complaints made with the real runtime.

The week is Monday 2026-11-23 to Sunday 2026-11-29 (ISO week 48), in Shanghai; the report is
computed on Tuesday 2026-12-01 10:00. The cases (category, what happened):

    F  噪音  created 11-16 (the week before), dispatched to 工程部 (赵师傅), still 处理中: open
    G  其他  created and closed the week before: never read
    A  噪音  3-1-502, 100.50 元, 紧急; created Mon 09:00, dispatched 10:00 to 工程部 (张师傅),
             closed Tue 09:00 with 满意: both limits met (24 h, 8 working hours)
    B  噪音  5-2-301, 20 元; created Mon 09:00, its 4 h limit fired by tick at 14:00 (missed),
             dispatched Wed 09:00 to 保洁部 (赵师傅), closed Thu 09:00 exactly at its 1 d limit (met)
    I  噪音  3-1-502, 5 元, a phone and a contact; created Tue 14:00, never touched: its limit is
             past due and still pending (tick has not run): missed
    E  其他  created Wed 10:00, withdrawn 11:00
    C  漏水  created Sunday 23:59: in the week, open
    D  漏水  created Monday 11-30 00:00: the next week
    H  噪音  in the other estate
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from engine.errors import NotPermitted
from engine.reports import periods
from engine.reports.definition import Dimension, Duration, Measure, Table, Target
from engine.reports.result import ReportResult
from engine.store.models import Estate
from tests.reports._compute_world import World, count, grid, report, table
from tests.reports._compute_world import condition as where

WEEK = periods.period("week", date(2026, 11, 26))
PHONE = "13812345678"

RECEIVED = count("received", "新增")
CLOSED = count("closed", "办结", "closed", states=("closed",))
OPEN = count("open", "未结", "open")
OVERDUE = count("overdue", "超时", "missed")
BASIC = (RECEIVED, CLOSED, OPEN, OVERDUE)


@pytest.fixture
def world(db: Any) -> World:
    return World(db)


@pytest.fixture
def week(world: World) -> dict[str, int]:
    """The cases of the module docstring; name → item id."""
    made: dict[str, Any] = {}
    made["F"] = world.create("2026-11-16 10:00", category="noise")
    world.fire(made["F"], "dispatch", "2026-11-16 11:00", department="engineering", handler="fixer2")
    made["G"] = world.create("2026-11-16 10:00", category="other")
    world.fire(made["G"], "dispatch", "2026-11-16 10:30", department="engineering", handler="fixer")
    world.fire(made["G"], "finish", "2026-11-20 10:00")
    world.tick("2026-11-18 09:00")
    made["A"] = world.create("2026-11-23 09:00", category="noise", unit="3-1-502", amount="100.50", urgent=True,
                             phone=PHONE, contact="王先生")
    made["B"] = world.create("2026-11-23 09:00", category="noise", unit="5-2-301", amount="20")
    world.fire(made["A"], "dispatch", "2026-11-23 10:00", department="engineering", handler="fixer")
    world.tick("2026-11-23 14:00")
    world.fire(made["A"], "finish", "2026-11-24 09:00", by="fixer", satisfaction="satisfied")
    made["H"] = world.create("2026-11-24 10:00", by="boss_other", estate="other", category="noise")
    made["I"] = world.create("2026-11-24 14:00", category="noise", unit="3-1-502", amount="5", phone=PHONE,
                             contact="王先生")
    world.fire(made["B"], "dispatch", "2026-11-25 09:00", department="cleaning", handler="fixer2")
    made["E"] = world.create("2026-11-25 10:00", category="other")
    world.fire(made["E"], "withdraw", "2026-11-25 11:00")
    world.fire(made["B"], "finish", "2026-11-26 09:00")
    made["C"] = world.create("2026-11-29 23:59", category="leak")
    made["D"] = world.create("2026-11-30 00:00", category="leak")
    return {name: item.id for name, item in made.items()}


def by_category(*measures: Measure, **extra: Any) -> Any:
    return report(measures, [table("按类别", Dimension("field", field="category"), *(m.id for m in measures),
                                   **extra)])


def only(result: ReportResult) -> dict[str, tuple[Any, ...]]:
    return grid(result.tables[0])


def test_new_closed_open_and_missed_per_category(world: World, week: dict[str, int]) -> None:
    result = world.compute(by_category(*BASIC), WEEK)
    assert only(result) == {
        "噪音": (3, 2, 2, 2),
        "漏水": (1, 0, 1, 0),
        "其他": (1, 0, 0, 0),
        "合计": (5, 2, 3, 2),
    }
    assert [row.label for row in result.tables[0].rows] == ["噪音", "漏水", "其他", "合计"]
    assert result.tables[0].rows[-1].total
    assert result.estates == (("demo", "示范小区"),)
    assert result.generated_by == "主管老李"
    assert [c.label for c in result.tables[0].columns] == ["新增", "办结", "未结", "超时"]


def test_withdrawn_cases_are_closed_when_any_final_state_counts(world: World, week: dict[str, int]) -> None:
    any_final = count("ended", "结束", "closed")
    assert only(world.compute(by_category(any_final), WEEK)) == {
        "噪音": (2,), "漏水": (0,), "其他": (1,), "合计": (3,)}


def test_sunday_23_59_is_in_the_week_and_monday_00_00_in_the_next(world: World, week: dict[str, int]) -> None:
    two = periods.span("week", 2, date(2026, 12, 1))
    trend = report([RECEIVED, OPEN], [table("趋势", Dimension("period", period="week"), "received", "open")])
    result = world.compute(trend, two)
    assert only(result) == {"2026年第48周": (5, 3), "2026年第49周": (1, 4), "合计": (6, 7)}
    days = report([RECEIVED], [table("每日", Dimension("period", period="day"), "received")])
    daily = only(world.compute(days, WEEK))
    assert daily["2026年11月29日"] == (1,)
    assert daily["2026年11月23日"] == (2,)
    assert list(daily)[:7] == [f"2026年11月{d}日" for d in range(23, 30)]


def test_a_sum_of_a_decimal_field(world: World, week: dict[str, int]) -> None:
    amount = Measure("amount", "金额", "sum", field="amount")
    result = only(world.compute(by_category(amount), WEEK))
    assert result == {"噪音": (Decimal("125.50"),), "漏水": (Decimal(0),), "其他": (Decimal(0),),
                      "合计": (Decimal("125.50"),)}


def test_durations_in_calendar_and_working_time(world: World, week: dict[str, int]) -> None:
    noise = where("category == 'noise'")
    hours = Measure("hours", "平均办结时长", "duration", where=noise, duration=Duration())
    working = Measure("working", "工作时长", "duration", where=noise, duration=Duration(working_time=True))
    longest = Measure("longest", "最长", "duration", duration=Duration(statistic="max", unit="days"))
    result = world.compute(report([hours, working, longest], [
        table("时长", Dimension("total"), "hours", "working", "longest")]), WEEK)
    # A 24 h (8 working hours), B 72 h (24 working hours); E (withdrawn after 1 h) is not noise.
    assert only(result) == {"合计": (Decimal("48.00"), Decimal("16.00"), Decimal("3.00"))}
    assert [c.unit for c in result.tables[0].columns] == ["小时", "小时", "天"]


def test_time_spent_in_a_state_reads_the_history(world: World, week: dict[str, int]) -> None:
    waiting = Measure("waiting", "待派单时长", "duration", event=CLOSED.event,
                      duration=Duration(in_states=("new",)))
    dispatched = Measure("to_work", "派单用时", "duration", duration=Duration(start="new", end="working"))
    result = world.compute(report([waiting, dispatched], [table("t", Dimension("total"), "waiting", "to_work")]),
                           WEEK)
    # Closed: A waited 1 h, B 48 h → 24.5; entered 处理中 in the week: A after 1 h, B after 48 h.
    assert only(result) == {"合计": (Decimal("24.50"), Decimal("24.50"))}


def test_a_rate_and_its_target(world: World, week: dict[str, int]) -> None:
    revisited = count("revisited", "已回访", "closed", states=("closed",), where="satisfaction != null")
    rate = Measure("revisit_rate", "回访率", "rate", numerator="revisited", denominator="closed",
                   target=Target(Decimal("0.95"), text="≥ 95%"))
    result = world.compute(by_category(revisited, CLOSED, rate), WEEK)
    assert only(result) == {
        "噪音": (1, 2, Decimal("0.5000")), "漏水": (0, 0, None), "其他": (0, 0, None),
        "合计": (1, 2, Decimal("0.5000"))}
    rows = result.tables[0].rows
    assert [row.cells[2].met for row in rows] == [False, None, None, False]
    assert result.tables[0].columns[2].target == "≥ 95%"


def test_on_time_from_the_stored_deadlines(world: World, week: dict[str, int]) -> None:
    timely = Measure("timely", "及时率", "on_time", event=CLOSED.event, target=Target(Decimal("0.5"), text="≥ 50%"))
    new_only = Measure("new_timely", "派单及时率", "on_time", event=CLOSED.event, deadline_states=("new",))
    result = world.compute(by_category(timely, new_only), WEEK)
    # A met both limits; B missed its 4 h (fired by tick) and met its 1 d (closed exactly on time).
    assert only(result)["噪音"] == (Decimal("0.5000"), Decimal("0.5000"))
    assert result.tables[0].rows[0].cells[0].met is True
    working = Measure("work_timely", "处理及时率", "on_time", event=CLOSED.event, deadline_states=("working",))
    assert only(world.compute(by_category(working), WEEK))["噪音"] == (Decimal("1.0000"),)


def test_other_dimensions_read_labels_never_ids(world: World, week: dict[str, int]) -> None:
    def rows(by: Dimension, measure: Measure = RECEIVED) -> dict[str, tuple[Any, ...]]:
        return only(world.compute(report([measure], [table("t", by, measure.id)]), WEEK))

    assert rows(Dimension("building")) == {"3栋": (2,), "5栋": (1,), "未指定楼栋": (2,), "合计": (5,)}
    assert rows(Dimension("unit")) == {"3-1-502": (2,), "5-2-301": (1,), "未指定房号": (2,), "合计": (5,)}
    assert rows(Dimension("field", field="handler")) == {
        "维修工张师傅": (1,), "维修工赵师傅": (1,), "未填写": (3,), "合计": (5,)}
    assert rows(Dimension("department")) == {"工程部": (1,), "保洁部": (1,), "未指定部门": (3,), "合计": (5,)}
    assert rows(Dimension("state")) == {"待派单": (2,), "已办结": (2,), "已撤销": (1,), "合计": (5,)}
    assert rows(Dimension("field", field="urgent")) == {"是": (1,), "否": (0,), "未填写": (4,), "合计": (5,)}
    assert rows(Dimension("workflow")) == {"测试投诉": (5,), "合计": (5,)}
    fired = count("fired", "操作次数", "fired", transitions=("dispatch", "finish", "withdraw"))
    assert rows(Dimension("transition"), fired) == {"派单": (2,), "办结": (2,), "撤销": (1,), "合计": (5,)}


def test_a_personal_field_never_labels_a_row(world: World, week: dict[str, int]) -> None:
    result = world.compute(report([RECEIVED], [table("t", Dimension("field", field="contact"), "received"),
                                               table("p", Dimension("field", field="phone"), "received")]), WEEK)
    labels = [row.label for t in result.tables for row in t.rows]
    assert not any("王" in label or "138" in label or "5678" in label for label in labels)


def test_keep_and_limit(world: World, week: dict[str, int]) -> None:
    repeat = report([RECEIVED], [table("重复", Dimension("unit"), "received", keep_measure="received",
                                       keep_at_least=2, total=False)])
    assert only(world.compute(repeat, WEEK)) == {"3-1-502": (2,), "未指定房号": (2,)}
    top = report([RECEIVED], [table("前二", Dimension("unit"), "received", limit=2, total=False)])
    assert list(only(world.compute(top, WEEK))) == ["3-1-502", "未指定房号"]
    one = report([RECEIVED], [table("前一", Dimension("field", field="category"), "received", limit=1)])
    assert only(world.compute(one, WEEK)) == {"噪音": (3,), "合计": (3,)}


def test_items_behind_a_cell_are_exactly_those_counted(world: World, week: dict[str, int]) -> None:
    revisited = count("revisited", "已回访", "closed", states=("closed",), where="satisfaction != null")
    rate = Measure("rate", "回访率", "rate", numerator="revisited", denominator="closed")
    subject = by_category(*BASIC, rate, revisited)
    result = world.compute(subject, WEEK)
    for row in result.tables[0].rows:
        for cell in row.cells[:4]:
            assert len(world.behind(subject, WEEK, cell.key)) == cell.value
    noise = result.tables[0].rows[0]
    assert world.behind(subject, WEEK, noise.cells[0].key) == sorted([week["A"], week["B"], week["I"]])
    assert world.behind(subject, WEEK, noise.cells[3].key) == sorted([week["B"], week["I"]])
    assert world.behind(subject, WEEK, noise.cells[4].key) == sorted([week["A"], week["B"]])  # the denominator
    total = result.tables[0].rows[-1]
    assert world.behind(subject, WEEK, total.cells[2].key) == sorted([week["C"], week["F"], week["I"]])
    with pytest.raises(KeyError):
        world.behind(subject, WEEK, "9.0.0")
    with pytest.raises(ValueError):
        world.behind(subject, WEEK, "x")


def test_an_executor_counts_only_the_items_they_could_open(world: World, week: dict[str, int]) -> None:
    # 张师傅 (engineering) sees A (his) and F (dispatched to engineering); nothing undispatched or cleaning's.
    result = world.compute(by_category(*BASIC), WEEK, who="fixer")
    assert only(result)["噪音"] == (1, 1, 1, 0)
    assert only(result)["合计"] == (1, 1, 1, 0)
    items = result.tables[0].rows[0].cells[2].key
    assert world.behind(by_category(*BASIC), WEEK, items, who="fixer") == [week["F"]]


def test_estates_are_those_the_user_works_in(world: World, week: dict[str, int]) -> None:
    per_estate = report([RECEIVED], [table("小区", Dimension("estate"), "received")])
    assert only(world.compute(per_estate, WEEK)) == {"示范小区": (5,), "合计": (5,)}
    assert only(world.compute(per_estate, WEEK, who="system")) == {"别的小区": (1,), "示范小区": (5,), "合计": (6,)}
    assert only(world.compute(per_estate, WEEK, who="boss_other", estates=["other"])) == {
        "别的小区": (1,), "合计": (1,)}
    with pytest.raises(NotPermitted) as refused:
        world.compute(per_estate, WEEK, estates=["other"])
    assert "小区" in refused.value.message


def test_a_report_filter_applies_to_every_measure(world: World, week: dict[str, int]) -> None:
    subject = report(BASIC, [table("t", Dimension("total"), *(m.id for m in BASIC))],
                     where=where("category != 'noise'"))
    assert only(world.compute(subject, WEEK)) == {"合计": (2, 0, 1, 0)}


DIMENSIONS = [Dimension("field", field="category"), Dimension("total"), Dimension("building"), Dimension("state"),
              Dimension("period", period="day"), Dimension("field", field="urgent"), Dimension("department")]


# Each example makes items with the runtime (about a second): a few dozen examples at most.
@settings(max_examples=min(settings().max_examples, 20))
@given(cases=st.lists(st.tuples(st.sampled_from(["noise", "leak", "other"]), st.integers(0, 13),
                                st.integers(0, 23), st.sampled_from(["stay", "dispatch", "finish", "withdraw"])),
                      min_size=1, max_size=5),
       dimension=st.sampled_from(DIMENSIONS), weeks=st.integers(1, 2))
def test_rates_stay_in_bounds_and_totals_add_up(world: World, cases: list[tuple[str, int, int, str]],
                                                dimension: Dimension, weeks: int) -> None:
    # Examples share the database: every item the earlier examples made only adds to the counts.
    for category, day, hour, fate in cases:
        at = f"2026-11-{16 + day:02d} {hour:02d}:00"
        item = world.create(at, category=category, urgent=hour % 2 == 0)
        if fate != "stay":
            later = f"2026-11-{16 + day:02d} {hour:02d}:30"
            if fate == "withdraw":
                world.fire(item, "withdraw", later)
            else:
                item = world.fire(item, "dispatch", later, department="engineering", handler="fixer")
                if fate == "finish":
                    world.fire(item, "finish", f"2026-11-{16 + day:02d} {hour:02d}:45")
    rate = Measure("rate", "办结率", "rate", numerator="closed", denominator="received")
    timely = Measure("timely", "及时率", "on_time", event=CLOSED.event)
    subject = report([*BASIC, rate, timely], [Table("t", dimension, ("received", "closed", "open", "overdue",
                                                                     "rate", "timely"))])
    result = world.compute(subject, periods.span("week", weeks, date(2026, 11, 29)))
    rows = result.tables[0].rows
    body, total = rows[:-1], rows[-1]
    assert total.total and total.label == "合计"
    for position in range(4 if body else 0):
        assert total.cells[position].value == sum(int(row.cells[position].value or 0) for row in body)
    for row in rows:
        for cell in row.cells[4:]:
            assert cell.value is None or Decimal(0) <= Decimal(cell.value) <= Decimal(1)


def test_fired_counts_firings_and_entered_counts_items(world: World) -> None:
    case = world.create("2026-11-24 09:00", category="leak")
    case = world.fire(case, "dispatch", "2026-11-24 10:00", department="engineering", handler="fixer")
    case = world.fire(case, "remark", "2026-11-24 11:00", by="fixer")
    case = world.fire(case, "remark", "2026-11-24 12:00", by="fixer")
    world.fire(case, "finish", "2026-11-25 09:00", by="fixer")
    remarks = count("remarks", "备注次数", "fired", transitions=("remark",))
    working = count("working", "进入处理", "entered", states=("working",))
    registered = count("registered", "登记", "entered", states=("new",))
    subject = report([remarks, working, registered], [table("t", Dimension("total"), "remarks", "working",
                                                            "registered")])
    result = world.compute(subject, WEEK)
    # Two firings of one item; a remark keeps the state, so 处理中 was entered once; creation enters 待派单.
    assert only(result) == {"合计": (2, 1, 1)}
    assert world.behind(subject, WEEK, result.tables[0].rows[0].cells[0].key) == [case.id]
    assert only(world.compute(subject, periods.period("week", date(2026, 12, 2)))) == {"合计": (0, 0, 0)}


def test_each_estate_counts_its_own_local_week(world: World) -> None:
    with world.db.engine.begin() as connection:
        connection.execute(update(Estate).where(Estate.id == "other").values(timezone="Europe/London"))
    # Monday 07:00 in Shanghai is still Sunday 23:00 in London: the week before there, the week after here.
    world.create("2026-11-30 07:00", category="noise")
    world.create("2026-11-30 07:00", by="boss_other", estate="other", category="noise")
    per_estate = report([RECEIVED], [table("小区", Dimension("estate"), "received")])
    assert only(world.compute(per_estate, WEEK, who="system")) == {"别的小区": (1,), "示范小区": (0,), "合计": (1,)}
