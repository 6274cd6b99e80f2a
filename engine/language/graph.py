"""A workflow's state diagram: its edges, and the Mermaid and Graphviz DOT text, labels in Chinese.

    diagram_edges(definition, focus=None) -> tuple[Edge, ...]   what every drawing draws
    mermaid(definition, focus=None) -> str                      a Mermaid stateDiagram-v2
    dot(definition, focus=None) -> str                          a Graphviz digraph

The three outputs (and engine/language/drawing.py's SVG) draw the same `diagram_edges`, so
`estateflow graph` and the workflow page agree. A step of one label into one state from many states
(撤回 or 登记缴费 "from anywhere": dunning has 19 of them) is one grouped edge from a note
"从任意状态（19 个）" instead of 19 lines. Steps a timer or a time limit fires (`timers`,
`sla.fire`, `item_sla.fire`) are marked timed: dashed in DOT and the SVG, "（定时）" in Mermaid,
whose state diagrams cannot dash an edge. Paused states carry 暂停计时 in all three.

Labels come from administrators' YAML, so each output escapes them by its own rules: Mermaid ends
a statement at `;` and reads `#...;` as an entity (both become entity codes), DOT reads `\\` and `"`
inside a quoted string (a trailing backslash would swallow the closing quote).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.language.definition import WorkflowDefinition

__all__ = ["GROUP_AT", "Edge", "diagram_edges", "dot", "group_text", "group_ids", "mermaid", "timed_steps"]

GROUP_AT = 4
"""A step of one label into one state from this many states or more is drawn as one grouped edge."""
PAUSED = "（暂停计时）"
TIMED = "（定时）"


@dataclass(frozen=True, slots=True)
class Edge:
    """One line of the diagram: from `sources` (one state, or many when `grouped`) to `target`."""

    sources: tuple[str, ...]
    target: str
    label: str
    timed: bool = False
    """A timer or a time limit fires it (it may be fired by hand too)."""
    grouped: bool = False
    """Drawn once, from a note naming how many states it leaves from."""

    @property
    def stays(self) -> bool:
        """A step that records without moving (`stay: true`): drawn as a loop on its state."""
        return not self.grouped and self.sources == (self.target,)


def timed_steps(definition: WorkflowDefinition) -> frozenset[tuple[str, str]]:
    """(state, transition name) pairs a timer or a time limit fires from that state."""
    found: set[tuple[str, str]] = set()
    whole_item = {rule.fire for rule in definition.item_sla if rule.fire}
    for state in definition.states.values():
        found.update((state.name, t.fire) for t in state.timers)
        found.update((state.name, rule.fire) for rule in state.sla if rule.fire)
        found.update((state.name, name) for name in whole_item)
    return frozenset(found)


def diagram_edges(definition: WorkflowDefinition, focus: str | None = None) -> tuple[Edge, ...]:
    """The edges to draw, in file order.

    Branches between one pair of states share an edge (labels joined by " / "); a label into one
    state from GROUP_AT states or more becomes one grouped edge. With `focus` (a state's name;
    an unknown name is ignored) only the edges into and out of that state.
    """
    timed = timed_steps(definition)
    steps: dict[tuple[str, str, str], bool] = {}
    for source, transition in definition.graph.edges():
        if focus in definition.states and focus not in (source, transition.dest):
            continue
        step = (source, transition.dest, transition.label)
        steps[step] = steps.get(step, False) or (source, transition.name) in timed
    sources_of: dict[tuple[str, str], list[str]] = {}
    for source, target, label in steps:
        if source != target:
            sources_of.setdefault((label, target), []).append(source)
    grouped = {pair for pair, sources in sources_of.items() if len(sources) >= GROUP_AT}
    # Ordered by first appearance: a grouped edge where its first step was, others per (pair, timed).
    drawn: dict[tuple[object, ...], Edge] = {}
    for (source, target, label), is_timed in steps.items():
        if (label, target) in grouped and source != target:
            group: tuple[object, ...] = ("group", label, target)
            if group not in drawn:
                members = [(s, target, label) for s in sources_of[(label, target)]]
                drawn[group] = Edge(tuple(sources_of[(label, target)]), target, label,
                                  any(steps[m] for m in members), grouped=True)
            continue
        pair: tuple[object, ...] = ("pair", source, target, is_timed)
        before = drawn.get(pair)
        text = label if before is None else f"{before.label} / {label}"
        drawn[pair] = Edge((source,), target, text, is_timed)
    return tuple(drawn.values())


def group_text(definition: WorkflowDefinition, edge: Edge) -> str:
    """What a grouped edge's note says: 从任意状态（N 个） when it leaves every other unfinished state."""
    others = {s.name for s in definition.states.values() if not s.final and s.name != edge.target}
    if others and others <= set(edge.sources):
        return f"从任意状态（{len(edge.sources)} 个）"
    return f"从 {len(edge.sources)} 个状态"


def group_ids(definition: WorkflowDefinition, edges: tuple[Edge, ...]) -> dict[int, str]:
    """A node id for each grouped edge (by its index in `edges`), never a state's name."""
    ids: dict[int, str] = {}
    for index, edge in enumerate(edges):
        if edge.grouped:
            name = f"from_many_{len(ids) + 1}"
            while name in definition.states:
                name += "_"
            ids[index] = name
    return ids


def _one_line(text: str) -> str:
    return " ".join(text.split())


_MERMAID = {'"': "#quot;", "#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", "\\": "#92;",
            "{": "#123;", "}": "#125;", "|": "#124;", "%": "#37;"}


def _mermaid_text(text: str) -> str:
    """A label Mermaid shows as written: entity codes for the characters its parser reads."""
    return "".join(_MERMAID.get(ch, ch) for ch in _one_line(text))


def _dot_text(text: str) -> str:
    r"""A label for a DOT quoted string: `\` and `"` escaped, line breaks as `\n`."""
    lines = [line.replace("\\", "\\\\").replace('"', '\\"') for line in text.splitlines() or [""]]
    return "\\n".join(lines)


def _state_text(definition: WorkflowDefinition, name: str) -> str:
    state = definition.states[name]
    return state.label + (PAUSED if state.paused else "")


def mermaid(definition: WorkflowDefinition, *, focus: str | None = None) -> str:
    """A Mermaid `stateDiagram-v2`: states by label, steps by label, timed steps marked （定时）."""
    edges = diagram_edges(definition, focus)
    groups = group_ids(definition, edges)
    lines = ["stateDiagram-v2", f"    %% {_mermaid_text(definition.title)} ({definition.id})"]
    for state in definition.states.values():
        lines.append(f'    state "{_mermaid_text(_state_text(definition, state.name))}" as {state.name}')
    for index, name in groups.items():
        lines.append(f'    state "{_mermaid_text(group_text(definition, edges[index]))}" as {name}')
        lines.append(f"    %% {name}: {', '.join(edges[index].sources)}")
    lines.append(f"    [*] --> {definition.initial_state.name}")
    for index, edge in enumerate(edges):
        source = groups.get(index, edge.sources[0])
        lines.append(f"    {source} --> {edge.target}: {_mermaid_text(edge.label + (TIMED if edge.timed else ''))}")
    for state in definition.states.values():
        if state.final:
            lines.append(f"    {state.name} --> [*]")
    return "\n".join(lines) + "\n"


def dot(definition: WorkflowDefinition, *, focus: str | None = None) -> str:
    """A Graphviz digraph of the same diagram: timed steps dashed, grouped steps from a note."""
    edges = diagram_edges(definition, focus)
    groups = group_ids(definition, edges)
    lines = [f'digraph "{_dot_text(definition.id)}" {{', f'    label="{_dot_text(definition.title)}";',
             "    rankdir=LR;"]
    for state in definition.states.values():
        shape = "doublecircle" if state.final else "box"
        styles = [s for s, on in (("bold", state.initial), ("dashed", state.paused)) if on]
        style = f', style="{",".join(styles)}"' if styles else ""
        lines.append(f'    "{state.name}" [label="{_dot_text(_state_text(definition, state.name))}", '
                     f"shape={shape}{style}];")
    for index, name in groups.items():
        sources = "、".join(definition.states[s].label for s in edges[index].sources)
        lines.append(f'    "{name}" [label="{_dot_text(group_text(definition, edges[index]))}", shape=note, '
                     f'style="dashed", tooltip="{_dot_text(sources)}"];')
    for index, edge in enumerate(edges):
        source = groups.get(index, edge.sources[0])
        style = ', style="dashed"' if edge.timed else ""
        lines.append(f'    "{source}" -> "{edge.target}" [label="{_dot_text(edge.label)}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"
