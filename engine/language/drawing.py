"""A workflow's state diagram drawn as SVG on the server, for the workflow page and `estateflow graph --format svg`.

    svg(definition, counts={}, links={}, focus=None, title=None, focus_links={}) -> str

Safe to put inline in a page under the site's Content-Security-Policy (no 'unsafe-inline'):
presentation attributes only (fill=, stroke=, font-size=...), no style attribute or element, no
script, no on* handler, no reference outside the drawing but the `href`s passed in. Every text is
XML-escaped: labels are administrators' YAML.

What it shows (the legend explains each mark): states coloured by how many items sit in them
(white for none, deeper blue for more) with the count in the box; the initial state's border bold,
final states' double; paused states (暂停计时) with a dashed border and a pause mark; steps a timer or
a time limit fires dashed with a clock; a step into one state from many states (graph.GROUP_AT) once,
from a yellow note; steps that stay in their state as a loop line inside the box. With `focus`,
only that state's steps are drawn and the states it does not touch are dimmed. The layout is
engine/language/layout.py's; the edges are graph.diagram_edges, as Mermaid and DOT draw them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from engine.language.definition import WorkflowDefinition
from engine.language.graph import GROUP_AT, Edge, diagram_edges, group_text
from engine.language.layout import Box, Route, layout
from engine.language.lettering import FONT, LINE, PAD_Y, SMALL, text_width

__all__ = ["FONTS", "SHADES", "shade", "svg"]

FONTS = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"
SHADES = ("#ffffff", "#e6f0fa", "#c6dcf3", "#9cc1e9", "#6fa1db")
"""Box fills: none, then four steps of one blue as the count nears the workflow's largest."""
INK, MUTED, LINE_INK, NOTE_FILL, NOTE_INK, FOCUS_INK = "#1f2933", "#616e7c", "#52606d", "#fff8db", "#8a6d00", "#0b5cad"
DIM = "0.3"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _esc(text: str) -> str:
    """Text for an XML attribute or element: characters XML cannot hold dropped, the rest escaped."""
    return html.escape(_NOT_XML.sub("", text), quote=True)


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def shade(count: int, most: int) -> str:
    """The fill of a state holding `count` items when the fullest holds `most`."""
    if count <= 0 or most <= 0:
        return SHADES[0]
    return SHADES[min(4, max(1, -(-4 * count // most)))]


def _text(x: float, y: float, content: str, *, size: float = FONT, anchor: str = "middle", fill: str = INK,
          bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" fill="{fill}"{weight}>'
            f"{_esc(content)}</text>")


def _clock(x: float, y: float, colour: str = NOTE_INK) -> str:
    """A small clock centred at (x, y): the mark of a timed step."""
    return (f'<circle cx="{_n(x)}" cy="{_n(y)}" r="5.5" fill="#ffffff" stroke="{colour}" stroke-width="1.3"/>'
            f'<path d="M{_n(x)} {_n(y - 3.5)} V{_n(y)} H{_n(x + 2.8)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.3"/>')


def _pause(x: float, y: float) -> str:
    """Two bars centred at (x, y): the mark of a paused state."""
    return (f'<rect x="{_n(x - 4)}" y="{_n(y - 5)}" width="3" height="10" fill="{MUTED}"/>'
            f'<rect x="{_n(x + 1)}" y="{_n(y - 5)}" width="3" height="10" fill="{MUTED}"/>')


def _loop(x: float, y: float) -> str:
    """A small circling arrow centred at (x, y): the mark of a step that stays in its state."""
    return (f'<path d="M{_n(x + 4.5)} {_n(y - 2)} A5 5 0 1 0 {_n(x + 3)} {_n(y + 3.5)}" fill="none" '
            f'stroke="{MUTED}" stroke-width="1.3"/>'
            f'<path d="M{_n(x + 2)} {_n(y - 3.5)} L{_n(x + 5.5)} {_n(y - 3)} L{_n(x + 5.5)} {_n(y + 0.5)}" '
            f'fill="none" stroke="{MUTED}" stroke-width="1.3"/>')


def _path(points: tuple[tuple[float, float], ...]) -> str:
    """A smooth line through `points` (Catmull-Rom as cubic pieces), leaving its box and reaching the
    next one vertically, so arrowheads point straight into the box."""
    last = len(points) - 1

    def tangent(i: int) -> tuple[float, float]:
        if i in (0, last):  # vertical, along the way the line goes
            return 0.0, (points[min(i + 1, last)][1] - points[max(i - 1, 0)][1]) * 1.5
        return (points[i + 1][0] - points[i - 1][0]) / 2, (points[i + 1][1] - points[i - 1][1]) / 2

    d = f"M{_n(points[0][0])} {_n(points[0][1])}"
    for i in range(last):
        (x0, y0), (x1, y1) = points[i], points[i + 1]
        (tx0, ty0), (tx1, ty1) = tangent(i), tangent(i + 1)
        d += (f" C{_n(x0 + tx0 / 3)} {_n(y0 + ty0 / 3)} {_n(x1 - tx1 / 3)} {_n(y1 - ty1 / 3)} "
              f"{_n(x1)} {_n(y1)}")
    return d


def svg(definition: WorkflowDefinition, *, counts: Mapping[str, int] | None = None,
        links: Mapping[str, str] | None = None, focus: str | None = None, title: str | None = None,
        focus_links: Mapping[str, str] | None = None) -> str:
    """The diagram as a standalone SVG string (see the module docstring); `links[state]` wraps the
    state in a link, `focus_links[state]` adds a small 只看此状态 mark on its corner."""
    counts, links, focus_links = counts or {}, links or {}, focus_links or {}
    focus = focus if focus in definition.states else None
    edges = diagram_edges(definition, focus)
    placed = layout(definition, edges)
    # Focused: the states a drawn line joins to the focus stay bright; a grouped edge's many sources
    # (listed in its note's <title>) are dimmed with the rest, or hardly anything would be.
    touched = ({focus} | {s for e in edges for s in ((e.target,) if e.grouped else (*e.sources, e.target))}
               if focus else set(definition.states))
    most = max((counts.get(s, 0) for s in definition.states), default=0)
    legend, legend_height = _legend(definition, edges, placed.width, most, focus,
                                    linked=bool(links), focusable=bool(focus_links))
    width = max(placed.width, 520.0)
    height = placed.height + legend_height
    name = title or f"{definition.title} 流程图"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram" viewBox="0 0 {_n(width)} '
             f'{_n(height)}" width="{_n(width)}" height="{_n(height)}" role="img" aria-label="{_esc(name)}" '
             f'font-family="{_esc(FONTS)}">', f"<title>{_esc(name)}</title>",
             '<defs><marker id="ef-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
             f'orient="auto"><path d="M0 1 L10 5 L0 9 z" fill="{LINE_INK}"/></marker></defs>',
             *legend, f'<g transform="translate(0 {_n(legend_height)})">']
    for route in placed.routes:
        parts.append(_edge(definition, edges[route.index], route))
    for index, note in placed.notes.items():
        parts.append(_note(definition, edges[index], note))
    for route in placed.routes:
        parts.append(_label(edges[route.index], route))
    stays: dict[str, list[str]] = {}
    for edge in edges:
        if edge.stays:
            stays.setdefault(edge.target, []).append(edge.label)
    for state, box in placed.boxes.items():
        tip = _tip(definition, state, counts.get(state, 0), stays.get(state, []))
        parts.append(_state(definition, state, box, counts.get(state, 0), most, links.get(state), tip,
                            dimmed=state not in touched, focused=state == focus))
        if state in focus_links:
            parts.append(_focus_mark(definition, state, box, focus_links[state]))
    parts.append("</g></svg>")
    return "".join(parts)


def _edge(definition: WorkflowDefinition, edge: Edge, route: Route) -> str:
    states = definition.states
    start = "、".join(states[s].label for s in edge.sources)
    tip = f"{start} → {states[edge.target].label}：{edge.label}" + ("（定时）" if edge.timed else "")
    dash = ' stroke-dasharray="6 4"' if edge.timed else ""
    return (f'<path d="{_path(route.points)}" fill="none" stroke="{LINE_INK}" stroke-width="1.4"{dash} '
            f'marker-end="url(#ef-arrow)"><title>{_esc(tip)}</title></path>')


def _label(edge: Edge, route: Route) -> str:
    if route.label_at is None:
        return ""
    x, y = route.label_at
    w, h = route.label_size
    out = [f'<rect x="{_n(x - w / 2)}" y="{_n(y - h / 2)}" width="{_n(w)}" height="{_n(h)}" rx="3" '
           f'fill="#ffffff" opacity="0.92"/>']
    clock = SMALL * 1.3 if edge.timed else 0.0
    text_x = x + clock / 2
    top = y - LINE * len(route.label_lines) / 2
    for i, line in enumerate(route.label_lines):
        out.append(_text(text_x, top + LINE * i + SMALL, line, size=SMALL, fill=INK))
    if edge.timed:
        widest = max(text_width(t, SMALL) for t in route.label_lines)
        out.append(_clock(text_x - widest / 2 - SMALL * 0.7, top + LINE / 2 + 1))
    return "".join(out)


def _note(definition: WorkflowDefinition, edge: Edge, box: Box) -> str:
    names = "、".join(definition.states[s].label for s in edge.sources)
    tip = f"{group_text(definition, edge)}：{names} → {definition.states[edge.target].label}：{edge.label}"
    out = [f"<g><title>{_esc(tip)}</title>",
           f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.width)}" height="{_n(box.height)}" rx="10" '
           f'fill="{NOTE_FILL}" stroke="{NOTE_INK}" stroke-width="1" stroke-dasharray="3 2"/>']
    cx = box.x + box.width / 2
    for i, line in enumerate(box.lines):
        out.append(_text(cx, box.y + PAD_Y + LINE * i + SMALL, line, size=SMALL, fill=NOTE_INK))
    out.append("</g>")
    return "".join(out)


def _tip(definition: WorkflowDefinition, name: str, count: int, stays: list[str]) -> str:
    """A state's <title>: its label, count, marks, and the steps that keep it where it is."""
    state = definition.states[name]
    marks = "".join(m for m, on in (("（起始）", state.initial), ("（结束）", state.final),
                                    ("（暂停计时）", state.paused)) if on)
    return f"{state.label} · {count} 件{marks}" + (f"；原地操作：{'、'.join(stays)}" if stays else "")


def _state(definition: WorkflowDefinition, name: str, box: Box, count: int, most: int, href: str | None,
           tip: str, *, dimmed: bool, focused: bool) -> str:
    state = definition.states[name]
    stroke = FOCUS_INK if focused else LINE_INK
    thick = 3 if focused else 2.4 if state.initial else 1.2
    dash = ' stroke-dasharray="5 3"' if state.paused else ""
    opacity = f' opacity="{DIM}"' if dimmed else ""
    out = [f"<g{opacity}><title>{_esc(tip)}</title>",
           f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.width)}" height="{_n(box.height)}" rx="6" '
           f'fill="{shade(count, most)}" stroke="{stroke}" stroke-width="{_n(thick)}"{dash}/>']
    if state.final:
        out.append(f'<rect x="{_n(box.x + 3)}" y="{_n(box.y + 3)}" width="{_n(box.width - 6)}" '
                   f'height="{_n(box.height - 6)}" rx="4" fill="none" stroke="{LINE_INK}" stroke-width="1"/>')
    cx = box.x + box.width / 2
    for i, line in enumerate(box.lines):
        y = box.y + PAD_Y + LINE * i + FONT - 1
        if i == len(box.lines) - 1:
            out.append(f'<text x="{_n(cx)}" y="{_n(y)}" font-size="{FONT}" text-anchor="middle" fill="{INK}">'
                       f'{_esc(line)}<tspan fill="{MUTED}"> · </tspan><tspan font-weight="bold">{count}</tspan></text>')
        else:
            out.append(_text(cx, y, line))
    for loop in box.loops:
        y = box.y + PAD_Y + LINE * len(box.lines) + SMALL - 1
        half = (text_width(loop, SMALL) + SMALL * 1.4) / 2
        out.append(_loop(cx - half + 5, y - SMALL / 2 + 2))
        out.append(_text(cx - half + SMALL * 1.4, y, loop, size=SMALL, anchor="start", fill=MUTED))
    if state.paused:
        out.append(_pause(box.x + 9, box.y + 10))
    out.append("</g>")
    body = "".join(out)
    return f'<a href="{_esc(href)}">{body}</a>' if href else body


def _focus_mark(definition: WorkflowDefinition, name: str, box: Box, href: str) -> str:
    """A small target on the box's top-right corner: show only this state's steps."""
    x, y = box.x + box.width, box.y
    return (f'<a href="{_esc(href)}"><title>{_esc("只看「" + definition.states[name].label + "」的进出步骤")}</title>'
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="8" fill="#ffffff" stroke="{FOCUS_INK}" stroke-width="1.3"/>'
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="{FOCUS_INK}"/></a>')


def _legend(definition: WorkflowDefinition, edges: tuple[Edge, ...], width: float, most: int,
            focus: str | None, *, linked: bool, focusable: bool) -> tuple[list[str], float]:
    """The marks this drawing uses, explained on lines across the top."""
    items: list[tuple[float, str]] = []  # (width, markup drawn from x=0, y=0 as the line's middle)

    def item(mark: str, mark_width: float, text: str) -> None:
        items.append((mark_width + 6 + text_width(text, SMALL),
                      mark + _text(mark_width + 6, SMALL / 2 - 1, text, size=SMALL, anchor="start", fill=MUTED)))

    swatches = "".join(f'<rect x="{i * 16}" y="-7" width="14" height="14" rx="2" fill="{c}" stroke="{LINE_INK}" '
                       f'stroke-width="0.8"/>' for i, c in enumerate(SHADES))
    click = "，点击状态查看事项" if linked else ""
    item(swatches, 16 * len(SHADES) - 2, f"事项数：0 → {most}（数字写在框内{click}）")
    item(f'<rect x="0" y="-8" width="20" height="16" rx="3" fill="#ffffff" stroke="{LINE_INK}" stroke-width="2.4"/>'
         f'<rect x="26" y="-8" width="20" height="16" rx="3" fill="#ffffff" stroke="{LINE_INK}"/>'
         f'<rect x="28.5" y="-5.5" width="15" height="11" rx="2" fill="none" stroke="{LINE_INK}"/>', 46,
         "起始 / 结束状态")
    if any(s.paused for s in definition.states.values()):
        item(f'<rect x="0" y="-8" width="26" height="16" rx="3" fill="#ffffff" stroke="{LINE_INK}" '
             f'stroke-dasharray="5 3"/>' + _pause(13, 0), 26, "暂停计时")
    if any(e.timed for e in edges):
        item(f'<path d="M0 0 H26" stroke="{LINE_INK}" stroke-width="1.4" stroke-dasharray="6 4"/>' + _clock(34, 0),
             40, "到时自动（定时、超时升级）")
    if any(e.grouped for e in edges):
        item(f'<rect x="0" y="-8" width="26" height="16" rx="8" fill="{NOTE_FILL}" stroke="{NOTE_INK}" '
             f'stroke-dasharray="3 2"/>', 26, f"多个状态都可进行的同一步骤（{GROUP_AT} 个以上合并，悬停看是哪些）")
    if any(e.stays for e in edges):
        item(_loop(6, 0), 12, "不改变状态的步骤")
    if focus:
        item(f'<circle cx="8" cy="0" r="8" fill="#ffffff" stroke="{FOCUS_INK}" stroke-width="1.3"/>'
             f'<circle cx="8" cy="0" r="3" fill="{FOCUS_INK}"/>',
             16, f"只显示「{definition.states[focus].label}」的进出步骤，其余状态变淡")
    elif focusable:
        item(f'<circle cx="8" cy="0" r="8" fill="#ffffff" stroke="{FOCUS_INK}" stroke-width="1.3"/>'
             f'<circle cx="8" cy="0" r="3" fill="{FOCUS_INK}"/>', 16, "点圆点只看该状态的进出步骤")
    room = max(width, 520.0) - 32
    out, x, y = [], 16.0, 16.0 + 8
    for w, markup in items:
        if x > 16 and x + w > room + 16:
            x, y = 16.0, y + 22
        out.append(f'<g transform="translate({_n(x)} {_n(y)})">{markup}</g>')
        x += w + 22
    return out, y + 16

