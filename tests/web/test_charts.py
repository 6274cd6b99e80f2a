"""The report charts (web/charts.py): SVG drawn with presentation attributes, every label escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from engine.reports.result import Cell, Column, Row, TableResult
from web.charts import FONTS, chart, drawable, number, target_of, target_text

SVG = "{http://www.w3.org/2000/svg}"
RECEIVED = Column("received", "新增", "count", "件")
CLOSED = Column("closed", "办结", "count", "件")
REVISIT_RATE = Column("revisit_rate", "回访率", "rate", "%", "≥ 90%")
TO_CLOSE = Column("to_close", "平均办结时长", "duration", "小时")
COLLECTED = Column("collected", "收回金额", "sum", "元")


def table(rows: list[tuple[str, tuple[object, ...]]], columns: tuple[Column, ...] = (RECEIVED, CLOSED),
          chart_kind: str = "bar", total: bool = True) -> TableResult:
    made = [Row(label, tuple(Cell(v, key=f"{label}:{i}") for i, v in enumerate(values)))  # type: ignore[arg-type]
            for label, values in rows]
    if total:
        sums = tuple(Cell(sum(v for _, vs in rows if (v := vs[i]) is not None)) for i in range(len(columns)))  # type: ignore[misc]
        made.append(Row("合计", sums, total=True))
    return TableResult("按投诉类别", "投诉类别", columns, tuple(made), chart=chart_kind)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def bars(svg: ET.Element) -> list[ET.Element]:
    return list(svg.iter(f"{SVG}rect"))


def test_a_bar_chart_is_svg_with_a_title_per_bar_and_the_cjk_fonts():
    svg = parse(chart(table([("工程质量类", (12, 8)), ("服务态度类", (5, 5))])))
    assert svg.get("viewBox", "").startswith("0 0 360 ") and svg.get("width") == "100%"
    assert svg.get("font-family") == FONTS and "WenQuanYi Micro Hei" in FONTS
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "工程质量类 · 新增：12 件" in titles and "服务态度类 · 办结：5 件" in titles
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "工程质量类" in texts and "新增" in texts and "办结" in texts  # labels and the legend
    assert "合计" not in texts  # the total row would dwarf its parts


def test_bars_are_as_long_as_their_values():
    svg = parse(chart(table([("甲", (10, 5)), ("乙", (4, 0))])))
    widths = {r.find(f"{SVG}title").text: float(r.get("width")) for r in bars(svg)
              if r.find(f"{SVG}title") is not None}
    longest = widths["甲 · 新增：10 件"]
    assert longest > 0
    assert widths["甲 · 办结：5 件"] == pytest.approx(longest / 2, abs=0.1)
    assert widths["乙 · 新增：4 件"] == pytest.approx(longest * 0.4, abs=0.1)
    assert widths["乙 · 办结：0 件"] == 0


def test_labels_are_escaped_and_nothing_can_run():
    label = '<script>alert("x")</script> & \'引号\''
    markup = str(chart(table([(label, (3, 1))])))
    assert "<script" not in markup and "&lt;script&gt;" in markup and "&amp;" in markup
    svg = parse(markup)  # still well-formed XML
    assert any(t.text == f"{label} · 新增：3 件" for t in svg.iter(f"{SVG}title"))
    assert "style" not in markup.lower().replace("font-family", "")
    assert not re.search(r"\son\w+=", markup)  # no event handlers


def test_no_style_attribute_or_element_anywhere():
    charts = [chart(table([("甲", (1, 2))])), chart(table([("2026年第47周", (1, 2)), ("2026年第48周", (3, 4))],
                                                     chart_kind="line"))]
    for markup in charts:
        svg = parse(markup)
        assert all("style" not in element.attrib for element in svg.iter())
        assert not list(svg.iter(f"{SVG}style")) and not list(svg.iter(f"{SVG}script"))


def test_rates_are_percentages_with_the_target_line_and_misses_marked():
    rates = TableResult("回访率", "类型", (REVISIT_RATE,), (
        Row("投诉", (Cell(Decimal("1"), met=True, key="a"),)),
        Row("报修", (Cell(Decimal("0.85"), met=False, key="b"),)),
    ))
    markup = str(chart(rates))
    svg = parse(markup)
    assert "100.0%" in markup and "85.0%" in markup
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "报修 · 回访率：85.0%（未达标）" in titles and "投诉 · 回访率：100.0%（达标）" in titles
    full = next(r for r in bars(svg) if r.find(f"{SVG}title").text.startswith("投诉"))
    short = next(r for r in bars(svg) if r.find(f"{SVG}title").text.startswith("报修"))
    assert float(short.get("width")) == pytest.approx(float(full.get("width")) * 0.85, abs=0.1)
    assert short.get("fill") == "#c62828"  # missed: red
    target = [line for line in svg.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(target) == 1
    x0 = float(full.get("x"))
    assert float(target[0].get("x1")) == pytest.approx(x0 + float(full.get("width")) * 0.9, abs=0.1)
    assert "目标 ≥ 90%" in [t.text for t in svg.iter(f"{SVG}text")]


def test_an_empty_table_says_there_is_nothing_to_draw():
    empty, blank = table([], total=False), table([("甲", (None, None))])
    assert "没有可画成图的数字" in chart(empty) and "没有可画成图的数字" in chart(blank)
    assert not drawable(empty) and not drawable(blank) and drawable(table([("甲", (0, 0))]))
    none = TableResult("明细", "房号", (RECEIVED,), (Row("1-1-101", (Cell(1),)),), chart="none")
    assert chart(none) == "" and not drawable(none)


def test_none_values_draw_no_bar_and_read_as_a_dash():
    rates = TableResult("回访率", "类型", (REVISIT_RATE,), (
        Row("投诉", (Cell(Decimal("0.5")),)), Row("服务", (Cell(None),)),
    ))
    svg = parse(chart(rates))
    widths = [float(r.get("width")) for r in bars(svg)]
    assert widths[1] == 0 and widths[0] > 0
    assert "—" in [t.text for t in svg.iter(f"{SVG}text")]


def test_a_trend_is_a_line_with_a_point_per_period_higher_for_larger_values():
    weeks = table([("2026年第46周", (2,)), ("2026年第47周", (None,)), ("2026年第48周", (6,))],
                  columns=(RECEIVED,), chart_kind="line")
    svg = parse(chart(weeks))
    points = list(svg.iter(f"{SVG}circle"))
    assert [p.find(f"{SVG}title").text for p in points] == ["2026年第46周 · 新增：2 件", "2026年第48周 · 新增：6 件"]
    low, high = (float(p.get("cy")) for p in points)
    assert high < low  # SVG's y grows downwards
    assert not list(svg.iter(f"{SVG}polyline"))  # the missing week breaks the line: no two neighbours
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "第48周" in texts  # the shared year is left out of the axis labels


def test_the_axis_of_counts_has_whole_numbers():
    weeks = table([(f"2026年第{w}周", (v,)) for w, v in zip(range(41, 49), (3, 5, 2, 1, 7, 4, 6, 9), strict=True)],
                  columns=(RECEIVED,), chart_kind="line", total=False)
    svg = parse(chart(weeks))
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks and all(t.isdigit() for t in ticks)
    assert len(list(svg.iter(f"{SVG}polyline"))) == 1


def test_numbers_link_to_the_items_behind_them():
    svg = str(chart(table([("甲", (2, 0))]), link=lambda cell: f"/reports/x/items?key={cell.key}&a=1"))
    assert 'href="/reports/x/items?key=甲:0&amp;a=1"' in svg
    assert "key=甲:1" not in svg  # a zero has nothing behind it


def test_only_the_columns_on_the_first_columns_scale_are_drawn():
    mixed = table([("甲", (4, 3, Decimal("2.5")))], columns=(RECEIVED, CLOSED, TO_CLOSE))
    titles = [t.text for t in parse(chart(mixed)).iter(f"{SVG}title")]
    assert any("新增" in t for t in titles) and any("办结" in t for t in titles)
    assert not any("平均办结时长" in t for t in titles)


def test_a_rate_with_a_target_is_drawn_rather_than_the_counts_beside_it():
    revisits = table([("投诉", (4, Decimal("0.5")))], columns=(CLOSED, REVISIT_RATE), total=False)
    titles = [t.text for t in parse(chart(revisits)).iter(f"{SVG}title")]
    assert "投诉 · 回访率：50.0%" in titles and not any("办结" in t for t in titles)


@pytest.mark.parametrize(("value", "column", "text"), [
    (1234, RECEIVED, "1,234"), (Decimal("0.95"), REVISIT_RATE, "95.0%"), (Decimal("1"), REVISIT_RATE, "100.0%"),
    (Decimal("3.456"), TO_CLOSE, "3.5"), (Decimal("1280.5"), COLLECTED, "1,280.50"), (None, RECEIVED, "—"),
])
def test_numbers_read_as_staff_write_them(value, column, text):
    assert number(value, column) == text


def test_targets_are_read_from_their_text():
    assert target_of(REVISIT_RATE) == (0.9, True)
    assert target_of(Column("complaint_rate", "投诉率", "rate", "%", "<= 2%")) == (0.02, False)
    assert target_of(RECEIVED) is None


@pytest.mark.parametrize(("written", "shown"), [(">= 90%", "≥ 90%"), (">=98%", "≥ 98%"), ("≥ 95%", "≥ 95%"),
                                                ("<= 2%", "≤ 2%")])
def test_targets_read_as_people_write_them(written, shown):
    assert target_text(Column("r", "回访率", "rate", "%", written)) == shown
