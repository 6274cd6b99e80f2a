"""Where each state and each line of a workflow diagram goes: a small layered (Sugiyama-style) layout.

Hand-written on purpose: no pure-Python layout library is small and well kept, and Graphviz would
need a system binary on every host (the web and worker images, the front desk's laptops running the
demo). Workflows are small (up to ~25 states, ~100 steps), so plain algorithms are fast enough.

Top to bottom, because a web page scrolls down and a long ladder (dunning: 12 steps before 起诉)
then stays legible at any width:
1. Ranks: the longest path from the initial state, with the edges that lead back (found by a
   depth-first walk in file order) reversed. Ranks come from the definition's whole state graph, so
   a focused view (only one state's edges) keeps every state in its row.
2. Rows: rank r is row 2r; the odd rows between them hold the edge labels. An edge spanning more
   than one row gets a waypoint in each row it crosses, its label being the waypoint of the middle
   odd row, so labels take room like boxes do and never overlap each other or a state.
3. Order within rows: barycentre sweeps down and up, keeping the order with the fewest crossings.
4. x: each node pulled towards the mean of its neighbours, placed by isotonic regression (pool
   adjacent violators) so the row keeps its order and gaps; a few rounds.
5. Edge points: ports spread along the box's bottom and top sides in the order of where the lines go.

Text widths and line breaks: engine/language/lettering.py.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.language.definition import WorkflowDefinition
from engine.language.graph import Edge, group_text
from engine.language.lettering import (
    EDGE_ROOM,
    FONT,
    LINE,
    PAD_X,
    PAD_Y,
    ROOM,
    SMALL,
    cut,
    text_width,
    wrap,
    wrap_steps,
)

__all__ = ["Box", "Layout", "Route", "layout", "ranks"]

COUNT_ROOM = FONT * 0.6 * 6
"""Room kept after a state's label for its count (" · 123")."""
GAPS = {("node", "node"): 28.0, ("node", "label"): 10.0, ("label", "label"): 10.0, ("point", "point"): 6.0}
MARGIN = 16
SWEEPS = 12
ROUNDS = 24
CENTRING = 0.8


@dataclass(frozen=True, slots=True)
class Box:
    """A state, or the note of a grouped edge: top-left corner, size, and its text lines."""

    x: float
    y: float
    width: float
    height: float
    lines: tuple[str, ...]
    loops: tuple[str, ...] = ()
    """Labels of the steps that stay in this state, drawn as one small loop line inside the box."""

    @property
    def centre(self) -> tuple[float, float]:
        """The middle of the box."""
        return self.x + self.width / 2, self.y + self.height / 2


@dataclass(frozen=True, slots=True)
class Route:
    """Where edge number `index` of the edges laid out runs: points from its start to its arrow."""

    index: int
    points: tuple[tuple[float, float], ...]
    label_at: tuple[float, float] | None
    label_lines: tuple[str, ...]
    label_size: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Layout:
    """The whole drawing's geometry: `boxes` by state name, `notes` by the grouped edge's index."""

    width: float
    height: float
    boxes: Mapping[str, Box]
    notes: Mapping[int, Box]
    routes: tuple[Route, ...]


@dataclass(slots=True)
class _Node:
    key: str
    kind: str  # node (a state or note), label (an edge's label), point (a waypoint)
    row: int
    width: float
    height: float
    lines: tuple[str, ...] = ()
    loops: tuple[str, ...] = ()
    x: float = 0.0
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)


def ranks(definition: WorkflowDefinition) -> dict[str, int]:
    """Each state's rank: its longest path from the initial state, edges that lead back reversed."""
    following: dict[str, list[str]] = {name: [] for name in definition.states}
    for source, transition in definition.graph.edges():
        if source != transition.dest and transition.dest not in following[source]:
            following[source].append(transition.dest)
    forward: dict[str, list[str]] = {name: [] for name in definition.states}
    state: dict[str, int] = {}  # 1 on the walk's path, 2 done

    def walk(start: str) -> None:
        state[start] = 1
        stack = [(start, iter(following[start]))]
        while stack:
            node, nexts = stack[-1]
            step = next(nexts, None)
            if step is None:
                state[node] = 2
                stack.pop()
            elif state.get(step) == 1:
                forward[step].append(node)  # leads back: counted the other way round
            else:
                forward[node].append(step)
                if step not in state:
                    state[step] = 1
                    stack.append((step, iter(following[step])))

    for start in [definition.initial_state.name, *definition.states]:
        if start not in state:
            walk(start)
    rank: dict[str, int] = {}
    for name in _topological(forward):
        rank.setdefault(name, 0)
        for step in forward[name]:
            rank[step] = max(rank.get(step, 0), rank[name] + 1)
    return rank


def _topological(forward: Mapping[str, list[str]]) -> list[str]:
    incoming = {name: 0 for name in forward}
    for steps in forward.values():
        for step in steps:
            incoming[step] += 1
    ready = [name for name, n in incoming.items() if n == 0]
    done: list[str] = []
    while ready:
        name = ready.pop(0)
        done.append(name)
        for step in forward[name]:
            incoming[step] -= 1
            if incoming[step] == 0:
                ready.append(step)
    return done


@functools.lru_cache(maxsize=64)
def layout(definition: WorkflowDefinition, edges: tuple[Edge, ...]) -> Layout:
    """Lay out the states of `definition` and `edges` (graph.diagram_edges) top to bottom."""
    rank = ranks(definition)
    nodes: dict[str, _Node] = {}
    loops: dict[str, list[str]] = {}
    for edge in edges:
        if edge.stays:
            loops.setdefault(edge.target, []).append(edge.label)
    for name, state in definition.states.items():
        lines = wrap(state.label)
        stay = (cut(" / ".join(loops[name]), SMALL, ROOM * 1.4),) if name in loops else ()
        width = max([text_width(line) for line in lines[:-1]] + [text_width(lines[-1]) + COUNT_ROOM]
                    + [text_width(s, SMALL) + SMALL * 1.4 for s in stay])
        nodes[name] = _Node(name, "node", 2 * rank[name], width + 2 * PAD_X,
                            LINE * (len(lines) + len(stay)) + 2 * PAD_Y, lines, stay)
    for index, edge in enumerate(edges):
        if edge.grouped:  # the note sits in the state row above its target
            lines = wrap(group_text(definition, edge), SMALL, EDGE_ROOM)
            nodes[f"note:{index}"] = _Node(f"note:{index}", "node", nodes[edge.target].row - 2,
                                          max(text_width(t, SMALL) for t in lines) + 2 * PAD_X,
                                          LINE * len(lines) + 2 * PAD_Y, lines)
    if any(n.row < 0 for n in nodes.values()):
        for n in nodes.values():
            n.row += 2
    chains: dict[int, list[str]] = {}
    labels: dict[int, str] = {}
    for index, edge in enumerate(edges):
        if not edge.stays:
            chains[index], labels[index] = _chain(nodes, index, _start_key(edge, index), edge)
    rows = _order(nodes)
    _place_x(nodes, rows)
    return _geometry(definition, edges, nodes, rows, chains, labels)


def _chain(nodes: dict[str, _Node], index: int, start: str, edge: Edge) -> tuple[list[str], str]:
    """The nodes an edge runs through, top to bottom, with a waypoint in every row between; its label
    is the waypoint in the middle odd row. Returns the chain and the label node's key."""
    top, bottom = nodes[start], nodes[edge.target]
    upward = top.row > bottom.row
    if upward:
        top, bottom = bottom, top
    between = list(range(top.row + 1, bottom.row))
    odd = [r for r in between if r % 2]
    label_row = odd[len(odd) // 2] if odd else between[len(between) // 2]
    lines = wrap_steps(edge.label, SMALL, EDGE_ROOM)
    keys = [top.key]
    label_key = ""
    for row in between:
        key = f"edge:{index}:{row}"
        if row == label_row:
            width = max(text_width(t, SMALL) for t in lines) + (SMALL * 1.3 if edge.timed else 0) + 8
            nodes[key] = _Node(key, "label", row, width, LINE * len(lines) + 4, lines)
            label_key = key
        else:
            nodes[key] = _Node(key, "point", row, 8, 0)
        keys.append(key)
    keys.append(bottom.key)
    for upper, lower in zip(keys, keys[1:], strict=False):
        nodes[upper].down.append(lower)
        nodes[lower].up.append(upper)
    return keys, label_key


def _crossings(upper: list[str], lower_pos: Mapping[str, int], nodes: Mapping[str, _Node]) -> int:
    segments = [(i, lower_pos[d]) for i, key in enumerate(upper) for d in nodes[key].down if d in lower_pos]
    return sum(1 for a, (u1, l1) in enumerate(segments) for u2, l2 in segments[a + 1:]
               if (u1 - u2) * (l1 - l2) < 0)


def _order(nodes: dict[str, _Node]) -> list[list[str]]:
    """Nodes per row, ordered by barycentre sweeps; the order with the fewest crossings wins."""
    height = max(n.row for n in nodes.values()) + 1
    rows: list[list[str]] = [[] for _ in range(height)]
    for node in nodes.values():  # states in file order first, then notes and waypoints
        rows[node.row].append(node.key)

    def total(order: list[list[str]]) -> int:
        return sum(_crossings(order[r], {k: i for i, k in enumerate(order[r + 1])}, nodes) for r in range(height - 1))

    best, best_count = [list(r) for r in rows], total(rows)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        for r in range(1, height) if downward else range(height - 2, -1, -1):
            near = rows[r - 1] if downward else rows[r + 1]
            position = {k: i for i, k in enumerate(near)}
            current = {k: i for i, k in enumerate(rows[r])}

            def centre(key: str, position: dict[str, int] = position, current: dict[str, int] = current,
                       downward: bool = downward) -> float:
                linked = [position[k] for k in (nodes[key].up if downward else nodes[key].down) if k in position]
                return sum(linked) / len(linked) if linked else current[key]

            rows[r].sort(key=lambda k: (centre(k), current[k]))
        count = total(rows)
        if count < best_count:
            best, best_count = [list(r) for r in rows], count
    return best


def _gap(a: _Node, b: _Node) -> float:
    kinds = {a.kind, b.kind}
    if kinds == {"node"}:
        return GAPS[("node", "node")]
    if "node" in kinds:
        return GAPS[("node", "label")]
    return GAPS[("label", "label")] if "label" in kinds else GAPS[("point", "point")]


def _isotonic(targets: list[float], weights: list[float]) -> list[float]:
    """The non-decreasing sequence closest to `targets` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [weighted sum, weight, count]
    for t, w in zip(targets, weights, strict=True):
        blocks.append([t * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, w2, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w2
            blocks[-1][2] += c
    out: list[float] = []
    for s, w, c in blocks:
        out.extend([s / w] * int(c))
    return out


def _place_x(nodes: dict[str, _Node], rows: list[list[str]]) -> None:
    """Centres: packed first, then pulled towards their neighbours' mean, rows keeping order and gaps."""
    offsets: list[list[float]] = []
    for row in rows:
        x, offs = 0.0, []
        for i, key in enumerate(row):
            if i:
                x += (nodes[row[i - 1]].width + nodes[key].width) / 2 + _gap(nodes[row[i - 1]], nodes[key])
            offs.append(x)
        offsets.append(offs)
        for key, off in zip(row, offs, strict=True):
            nodes[key].x = off
    for round_ in range(ROUNDS):
        # A weak pull to the middle keeps rows from drifting apart (a narrower drawing).
        middle = sum(n.x for n in nodes.values()) / len(nodes)
        order = range(len(rows)) if round_ % 2 == 0 else range(len(rows) - 1, -1, -1)
        for r in order:
            row = rows[r]
            if not row:
                continue
            targets, weights = [], []
            for key, off in zip(row, offsets[r], strict=True):
                node = nodes[key]
                pulls = [(nodes[k].x, _weight(node, nodes[k])) for k in node.up + node.down] + [(middle, CENTRING)]
                total = sum(w for _, w in pulls)
                want = sum(x * w for x, w in pulls) / total if total else node.x
                targets.append(want - off)
                weights.append(total)
            for key, y, off in zip(row, _isotonic(targets, weights), offsets[r], strict=True):
                nodes[key].x = y + off
    left = min(n.x - n.width / 2 for n in nodes.values())
    for node in nodes.values():
        node.x += MARGIN - left


def _weight(a: _Node, b: _Node) -> float:
    # Long lines stay straight when waypoints pull hard on each other (as Graphviz weighs them).
    virtual = (a.kind != "node") + (b.kind != "node")
    return (1.0, 2.0, 8.0)[virtual]


def _geometry(definition: WorkflowDefinition, edges: tuple[Edge, ...], nodes: dict[str, _Node],
              rows: list[list[str]], chains: dict[int, list[str]], labels: dict[int, str]) -> Layout:
    tops, y = [], float(MARGIN)
    for r, row in enumerate(rows):
        tall = max((nodes[k].height for k in row), default=0.0)
        tall = max(tall, 26.0 if r % 2 else 0.0)
        tops.append((y, tall))
        y += tall + (14 if r % 2 else 10)
    height = y - 10 + MARGIN
    width = max(n.x + n.width / 2 for n in nodes.values()) + MARGIN

    def box(node: _Node) -> Box:
        top, tall = tops[node.row]
        return Box(node.x - node.width / 2, top + (tall - node.height) / 2, node.width, node.height,
                   node.lines, node.loops)

    drawn = {k: box(n) for k, n in nodes.items() if n.kind == "node"}
    ports = _ports(nodes, drawn, chains)
    routes = []
    for index, keys in sorted(chains.items()):
        points = [ports[(index, "start")]]
        for key in keys[1:-1]:
            top, tall = tops[nodes[key].row]
            points.append((nodes[key].x, top + tall / 2))
        points.append(ports[(index, "end")])
        if nodes[keys[0]].key != _start_key(edges[index], index):  # drawn upwards: arrow at the top
            points.reverse()
        label = nodes.get(labels[index])
        at = None if label is None else (label.x, tops[label.row][0] + tops[label.row][1] / 2)
        size = (0.0, 0.0) if label is None else (label.width, label.height)
        routes.append(Route(index, tuple(points), at, label.lines if label else (), size))
    boxes = {name: drawn[name] for name in definition.states}
    notes = {int(k.split(":")[1]): b for k, b in drawn.items() if k.startswith("note:")}
    return Layout(width, height, boxes, notes, tuple(routes))


def _start_key(edge: Edge, index: int) -> str:
    return f"note:{index}" if edge.grouped else edge.sources[0]


def _ports(nodes: Mapping[str, _Node], boxes: Mapping[str, Box],
           chains: Mapping[int, list[str]]) -> dict[tuple[int, str], tuple[float, float]]:
    """Where each chain leaves its top box (bottom side) and enters its bottom box (top side), spread
    along the side in the order of the lines' other ends, so lines do not meet at one point."""
    sides: dict[tuple[str, str], list[tuple[float, int, str]]] = {}
    for index, keys in chains.items():
        top, bottom = keys[0], keys[-1]
        sides.setdefault((top, "bottom"), []).append((nodes[keys[1]].x, index, "top"))
        sides.setdefault((bottom, "top"), []).append((nodes[keys[-2]].x, index, "bottom"))
    ports: dict[tuple[int, str], tuple[float, float]] = {}
    for (key, side), users in sides.items():
        b = boxes[key]
        users.sort()
        spread = min(b.width * 0.85, 16.0 * (len(users) - 1))
        for i, (_, index, end) in enumerate(users):
            x = b.x + b.width / 2 - spread / 2 + (spread * i / (len(users) - 1) if len(users) > 1 else 0)
            y = b.y + b.height if side == "bottom" else b.y
            ports[(index, "start" if end == "top" else "end")] = (x, y)
    return ports
