"""Charts of a report's tables, drawn on the server as SVG: horizontal bars, and lines for trends.

    chart(table, link=None) -> Markup    the table's chart (table.chart: bar | line | none)
    number(value, column)   -> str       a value as the page writes it: 12, 1,280.00, 95.0%, 3.5

The SVG uses presentation attributes only (fill=, stroke=, font-size=...): no style attribute,
no <style>, no script, so the site's Content-Security-Policy (web/security.py: no 'unsafe-inline')
needs no exception and nothing in a label can run. Every text is escaped (labels are staff's
own words: enum labels, building names, unit numbers). Each bar and point carries a <title> with
its exact value, which a mouse shows on hover and a screen reader reads.

The drawing is 360 units wide with width 100% (viewBox), so it keeps its proportions from a
phone (about 320 px: 13-unit text reads as 11-12 px) to a desktop column (the stylesheet caps
the width at 440 px). Horizontal bars keep long Chinese labels on one line to their left.

What is drawn: the rates when one of them has a target (回访率 against 100 %), else the columns
that share the first column's scale (counts with counts in the same unit), at most MAX_SERIES of
them; never the 合计 row, which would dwarf its parts. Rates are drawn on 0-100 % with the target as a dashed red line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from markupsafe import Markup, escape

from engine.reports.result import Cell, Column, Row, TableResult, Value

__all__ = ["FONTS", "MAX_SERIES", "chart", "drawable", "is_rate", "number", "target_of", "target_text"]

FONTS = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"
"""The CJK fonts the server (WenQuanYi in the Debian image) and the front desk's PCs have."""
WIDTH = 360
FONT = 14
SMALL = 12
PAD = 8
MAX_SERIES = 4
MAX_LABEL = 120
"""The widest a bar's label may be (about nine Chinese characters); longer ones end in …"""
COLOURS = ("#0b6e4f", "#3b7dd8", "#d08a1f", "#8e5ba6")
INK, MUTED, GRID, MISSED = "#1f2933", "#616e7c", "#d9e2ec", "#c62828"
EMPTY = Markup('<p class="chart-empty">这段时间没有可画成图的数字。</p>')

Link = Callable[[Cell], "str | None"]
"""The drill-down address of a cell's number, or None for no link."""

_TARGET = re.compile(r"^\s*(>=|<=|≥|≤|>|<)\s*(\d+(?:\.\d+)?)\s*%\s*$")


def is_rate(column: Column) -> bool:
    """Whether the column holds fractions in [0, 1], written as percentages."""
    return column.kind in ("rate", "on_time")


def number(value: Value, column: Column) -> str:
    """A value as staff read it: counts 1,234; sums 1,280.50; rates 95.0%; durations 3.5; nothing —."""
    if value is None:
        return "—"
    if is_rate(column):
        return f"{Decimal(value) * 100:.1f}%"
    if column.kind == "count":
        return f"{int(value):,}"
    if column.kind == "sum":
        return f"{Decimal(value):,.2f}"
    return f"{Decimal(value):.1f}"


def target_of(column: Column) -> tuple[float, bool] | None:
    """The column's target as (fraction, at least?), from its text (≥ 95%); None when it has none."""
    found = _TARGET.match(column.target or "")
    if not found or not is_rate(column):
        return None
    return float(found.group(2)) / 100, found.group(1) in (">=", "≥", ">")


def target_text(column: Column) -> str:
    """The target as people write it: ≥ 95%, ≤ 2% (the YAML may say >= and <=)."""
    text = column.target.strip().replace(">=", "≥").replace("<=", "≤")
    return re.sub(r"^([≥≤<>])\s*", r"\1 ", text)


def drawable(table: TableResult) -> bool:
    """Whether the table has a chart with something on it (a chart, rows, a value besides the 合计)."""
    if table.chart == "none" or not table.columns:
        return False
    series = _series(table.columns)
    return any(r.cells[i].value is not None for r in table.rows if not r.total for i in series)


def chart(table: TableResult, link: Link | None = None) -> Markup:
    """The table's chart as inline SVG (or a line saying there is nothing to draw)."""
    if table.chart == "none" or not table.columns:
        return Markup("")
    if not drawable(table):
        return EMPTY
    series = _series(table.columns)
    rows = [r for r in table.rows if not r.total]
    if table.chart == "line":
        return _line(table, rows, series, link)
    return _bars(table, rows, series, link)


# -- shared pieces ---------------------------------------------------------------------------------

def _series(columns: Sequence[Column]) -> list[int]:
    """The columns drawn: the rates when one has a target (the point of such a table), else those on the
    first column's scale."""
    if any(is_rate(c) and target_of(c) for c in columns):
        return [i for i, c in enumerate(columns) if is_rate(c)][:MAX_SERIES]

    def scale(c: Column) -> tuple[str, str]:
        return ("rate", "%") if is_rate(c) else (c.kind, c.unit)
    first = scale(columns[0])
    return [i for i, c in enumerate(columns) if scale(c) == first][:MAX_SERIES]


def _text_width(text: str, size: float = FONT) -> float:
    """About how wide `text` is drawn: Chinese characters a full em, Latin letters and digits ~0.6."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def _fit(text: str, room: float, size: float = FONT) -> str:
    """`text`, cut with … to fit `room` (the full text stays in the <title>)."""
    if _text_width(text, size) <= room:
        return text
    while text and _text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, content: str, *, size: float = FONT, anchor: str = "start", fill: str = INK) -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" fill="{fill}">'
            f"{escape(content)}</text>")


def _svg(title: str, height: float, body: list[str]) -> Markup:
    head = (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_n(height)}" '
            f'width="100%" role="img" aria-label="{escape(title)}" font-family="{escape(FONTS)}">'
            f"<title>{escape(title)}</title>")
    return Markup(head + "".join(body) + "</svg>")


def _tip(row: Row, column: Column, cell: Cell) -> str:
    """The <title> of a bar or point: what it is and its exact value."""
    unit = f" {column.unit}" if column.unit and not is_rate(column) else ""
    verdict = "" if cell.met is None or not column.target else "（达标）" if cell.met else "（未达标）"
    return f"<title>{escape(f'{row.label} · {column.label}：{number(cell.value, column)}{unit}{verdict}')}</title>"


def _linked(mark: str, cell: Cell, link: Link | None) -> str:
    href = link(cell) if link and cell.key and cell.value else None
    return f'<a href="{escape(href)}">{mark}</a>' if href else mark


def _legend(columns: Sequence[Column], series: list[int], top: float) -> tuple[list[str], float]:
    """Swatches and labels of the series, wrapping; returns the marks and the height used."""
    if len(series) < 2:
        return [], 0.0
    marks, x, y = [], float(PAD), top
    for n, i in enumerate(series):
        label = columns[i].label
        width = 16 + _text_width(label, SMALL) + 12
        if x + width > WIDTH - PAD and x > PAD:
            x, y = float(PAD), y + 18
        marks.append(f'<rect x="{_n(x)}" y="{_n(y + 2)}" width="11" height="11" fill="{COLOURS[n]}"/>')
        marks.append(_text(x + 15, y + 12, label, size=SMALL, fill=MUTED))
        x += width
    return marks, y - top + 22


def _scale_top(peak: float, rate: bool) -> tuple[float, float]:
    """The top of the value axis and its tick step: 100 % for rates, else a round number above `peak`."""
    if rate:
        return max(1.0, peak), 0.25 if peak <= 1 else max(1.0, peak) / 4
    if peak <= 0:
        return 1.0, 1.0
    rough = peak / 4
    power = 10 ** math.floor(math.log10(rough))
    # Counts and sums step by 1, 2 or 5 times a power of ten: whole numbers on a count's axis.
    step = max(1.0, next(m * power for m in (1, 2, 5, 10) if m * power >= rough))
    return step * math.ceil(peak / step), step


def _value(cell: Cell) -> float | None:
    return None if cell.value is None else float(cell.value)


# -- horizontal bars -------------------------------------------------------------------------------

def _bars(table: TableResult, rows: list[Row], series: list[int], link: Link | None) -> Markup:
    columns = table.columns
    rate = is_rate(columns[series[0]])
    target = target_of(columns[series[0]]) if len(series) == 1 else None
    values = [v for r in rows for i in series if (v := _value(r.cells[i])) is not None]
    top_value, _step = _scale_top(max(values, default=0.0), rate)
    label_w = min(MAX_LABEL, max(_text_width(r.label) for r in rows))
    value_w = max(_text_width(number(r.cells[i].value, columns[i]), SMALL) for r in rows for i in series)
    x0, x1 = PAD + label_w + 6, WIDTH - PAD - value_w - 4
    body, used = _legend(columns, series, PAD)
    y = PAD + used + (16 if target else 0)
    bar, gap = (16, 10) if len(series) == 1 else (11, 12)
    first_y = y
    tx = x0 + (x1 - x0) * min(target[0], top_value) / top_value if target else 0.0
    for row in rows:
        group = bar * len(series) + 2 * (len(series) - 1)
        body.append(f"<g>{_tip_group(row)}" + _text(PAD, y + group / 2 + FONT * 0.35, _fit(row.label, label_w)))
        for n, i in enumerate(series):
            cell, column = row.cells[i], columns[i]
            v = _value(cell)
            width = 0.0 if v is None else (x1 - x0) * min(v, top_value) / top_value
            fill = MISSED if target and cell.met is False else COLOURS[n]
            rect = (f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(max(width, 0.0))}" height="{bar}" '
                    f'fill="{fill}">{_tip(row, column, cell)}</rect>')
            body.append(_linked(rect, cell, link))
            text_x = x0 + width + 4
            if target and text_x - 8 < tx < text_x + _text_width(number(cell.value, column), SMALL) + 4:
                text_x = tx + 4  # past the target line, not across it
            body.append(_text(text_x, y + bar / 2 + SMALL * 0.35, number(cell.value, column), size=SMALL,
                              fill=MUTED))
            y += bar + 2
        body.append("</g>")
        y += gap - 2
    body.insert(0, f'<line x1="{_n(x0)}" y1="{_n(first_y - 3)}" x2="{_n(x0)}" y2="{_n(y - gap + 3)}" '
                   f'stroke="{GRID}" stroke-width="1"/>')
    if target:
        body.append(f'<line x1="{_n(tx)}" y1="{_n(first_y - 4)}" x2="{_n(tx)}" y2="{_n(y - gap + 4)}" '
                    f'stroke="{MISSED}" stroke-width="1.5" stroke-dasharray="4 3"/>')
        anchor = "end" if tx > WIDTH * 0.7 else "middle"
        body.append(_text(tx, first_y - 6, f"目标 {target_text(columns[series[0]])}", size=SMALL, anchor=anchor,
                          fill=MISSED))
    return _svg(table.title, y - gap + PAD + 4, body)


def _tip_group(row: Row) -> str:
    return f"<title>{escape(row.label)}</title>"


# -- lines over periods ----------------------------------------------------------------------------

def _short_labels(labels: list[str]) -> list[str]:
    """Period labels without the year they all share: 2026年第48周 → 第48周."""
    year = re.match(r"^\d{4}年", labels[0]) if labels else None
    if year and all(label.startswith(year.group(0)) and len(label) > len(year.group(0)) for label in labels):
        return [label[len(year.group(0)):] for label in labels]
    return labels


def _line(table: TableResult, rows: list[Row], series: list[int], link: Link | None) -> Markup:
    columns = table.columns
    rate = is_rate(columns[series[0]])
    target = target_of(columns[series[0]]) if len(series) == 1 else None
    values = [v for r in rows for i in series if (v := _value(r.cells[i])) is not None]
    top_value, step = _scale_top(max(values, default=0.0), rate)
    ticks = [step * k for k in range(int(round(top_value / step)) + 1)]
    tick_text = [f"{t * 100:.0f}%" if rate else _n(t) for t in ticks]
    body, used = _legend(columns, series, PAD)
    x0 = PAD + max(_text_width(t, SMALL) for t in tick_text) + 6
    x1 = WIDTH - PAD - 10
    y0, y1 = PAD + used + 10, PAD + used + 10 + 150  # plot top and bottom

    def ypos(v: float) -> float:
        return y1 - (y1 - y0) * min(v, top_value) / top_value

    for t, text in zip(ticks, tick_text, strict=True):
        body.append(f'<line x1="{_n(x0)}" y1="{_n(ypos(t))}" x2="{_n(x1)}" y2="{_n(ypos(t))}" '
                    f'stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(x0 - 4, ypos(t) + SMALL * 0.35, text, size=SMALL, anchor="end", fill=MUTED))
    n = len(rows)
    xs = [(x0 + x1) / 2] if n == 1 else [x0 + 8 + (x1 - x0 - 16) * k / (n - 1) for k in range(n)]
    # Every k-th period label counted back from the latest, so they never overlap (the points' titles name
    # every period).
    labels = _short_labels([r.label for r in rows])
    room = (x1 - x0) / max(n, 1)
    every = max(1, math.ceil((max(_text_width(lb, SMALL) for lb in labels) + 6) / room))
    for k, (x, label) in enumerate(zip(xs, labels, strict=True)):
        if (n - 1 - k) % every == 0:
            body.append(_text(x, y1 + 16, label, size=SMALL, anchor="middle", fill=MUTED))
    if target:
        ty = ypos(target[0])
        body.append(f'<line x1="{_n(x0)}" y1="{_n(ty)}" x2="{_n(x1)}" y2="{_n(ty)}" stroke="{MISSED}" '
                    f'stroke-width="1.5" stroke-dasharray="4 3"/>')
        body.append(_text(x1, ty - 4, f"目标 {target_text(columns[series[0]])}", size=SMALL, anchor="end", fill=MISSED))
    for s, i in enumerate(series):
        colour = COLOURS[s]
        points = [(x, _value(r.cells[i])) for x, r in zip(xs, rows, strict=True)]
        for segment in _segments(points):
            if len(segment) > 1:
                path = " ".join(f"{_n(x)},{_n(ypos(v))}" for x, v in segment)
                body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, row in zip(xs, rows, strict=True):
            cell = row.cells[i]
            v = _value(cell)
            if v is None:
                continue
            fill = MISSED if target and cell.met is False else colour
            dot = (f'<circle cx="{_n(x)}" cy="{_n(ypos(v))}" r="4" fill="{fill}" stroke="#fff" stroke-width="1">'
                   f"{_tip(row, columns[i], cell)}</circle>")
            body.append(_linked(dot, cell, link))
            if len(series) == 1 and n <= 12:
                body.append(_text(x, ypos(v) - 8, number(cell.value, columns[i]), size=SMALL - 1,
                                  anchor="middle", fill=INK))
    return _svg(table.title, y1 + 16 + PAD + 2, body)


def _segments(points: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """The runs of points with a value: a period with nothing counted breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, v in points:
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, v))
    return [run for run in runs if run]
