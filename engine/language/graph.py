"""Draw a workflow's state diagram as Mermaid or Graphviz DOT text, labels in Chinese."""

from __future__ import annotations

from engine.language.definition import WorkflowDefinition


def _quote(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def _edges(definition: WorkflowDefinition) -> list[tuple[str, str, str]]:
    """(source, target, label) once per pair, from the state graph's Machine, in file order;
    branches of one name share a label."""
    edges: dict[tuple[str, str], list[str]] = {}
    for source, transition in definition.graph.edges():
        labels = edges.setdefault((source, transition.dest), [])
        if transition.label not in labels:
            labels.append(transition.label)
    return [(source, target, " / ".join(labels)) for (source, target), labels in edges.items()]


def mermaid(definition: WorkflowDefinition) -> str:
    """A Mermaid `stateDiagram-v2`: states by label, transitions by label, timers dashed."""
    lines = ["stateDiagram-v2", f"    %% {definition.title} ({definition.id})"]
    for state in definition.states.values():
        suffix = "（暂停计时）" if state.paused else ""
        lines.append(f'    state "{_quote(state.label)}{suffix}" as {state.name}')
    lines.append(f"    [*] --> {definition.initial_state.name}")
    for source, target, label in _edges(definition):
        lines.append(f"    {source} --> {target}: {_quote(label)}")
    for state in definition.states.values():
        if state.final:
            lines.append(f"    {state.name} --> [*]")
    return "\n".join(lines) + "\n"


def dot(definition: WorkflowDefinition) -> str:
    """A Graphviz digraph of the same diagram."""
    lines = [f'digraph "{definition.id}" {{', f'    label="{_quote(definition.title)}";', "    rankdir=LR;"]
    for state in definition.states.values():
        shape = "doublecircle" if state.final else "box"
        style = ', style="bold"' if state.initial else ""
        lines.append(f'    {state.name} [label="{_quote(state.label)}", shape={shape}{style}];')
    for source, target, label in _edges(definition):
        lines.append(f'    {source} -> {target} [label="{_quote(label)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
