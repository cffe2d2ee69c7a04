"""An SVG picture of a workflow's graph laid out in Python: no Graphviz, no network (the web console's graph).

The picture has the content of :func:`stepgraph.render.to_mermaid` — the same nodes, groups and
labelled edges, read from the same layout (:func:`stepgraph.render._layout`) — placed by a
small layered ("Sugiyama") layout: each node's row is the longest path to it from the trigger,
nodes in a row are ordered by the mean position of their predecessors (a few sweeps), and each
row is centred. Loop bodies and parallel branches are drawn as dashed boxes around their
members. Each step's ``<g>`` carries ``data-step-id`` (the step id) and
``id="step-<node key>"``, so a page can colour it by the step's state through CSS
(``data-state``).
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Union

from .model import Workflow
from .render import _COLOURS, _Group, _Layout, _layout

__all__ = ["to_svg", "NODE_WIDTH", "NODE_HEIGHT"]

#: Box size of a node, in SVG user units (pixels at 100 %).
NODE_WIDTH, NODE_HEIGHT = 200, 64
_GAP_X, _GAP_Y, _MARGIN, _GROUP_PAD = 36, 56, 24, 12
_EDGE_COLOURS = {"true": "#059669", "approved": "#059669", "false": "#dc2626", "rejected": "#dc2626",
                 "each": "#7c3aed", "done": "#7c3aed", "branch": "#0891b2", "join": "#0891b2"}
_GROUP_COLOURS = {"body": ("#faf5ff", "#7c3aed"), "branch": ("#ecfeff", "#0891b2")}


def _flatten(items: list[Union[str, _Group]], out: list[str], groups: list[tuple[_Group, list[str]]]) -> list[str]:
    """Node keys in drawing order; ``groups`` gets each group with every key inside it."""
    mine: list[str] = []
    for item in items:
        if isinstance(item, _Group):
            inner = _flatten(item.items, out, groups)
            groups.append((item, inner))
            mine += inner
        else:
            out.append(item)
            mine.append(item)
    return mine


def _ranks(keys: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path row of each node (Kahn's order; nodes on a cycle of an invalid workflow go last)."""
    incoming: dict[str, int] = {k: 0 for k in keys}
    outgoing: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        outgoing[source].append(target)
        incoming[target] += 1
    rank = {k: 0 for k in keys}
    ready = [k for k in keys if incoming[k] == 0]
    seen: set[str] = set()
    while ready:
        key = ready.pop(0)
        seen.add(key)
        for target in outgoing[key]:
            rank[target] = max(rank[target], rank[key] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    last = max(rank.values(), default=0)
    for key in keys:
        if key not in seen:
            last += 1
            rank[key] = last
    return rank


def _order(rows: dict[int, list[str]], edges: list[tuple[str, str]], sweeps: int = 4) -> None:
    """Reorder each row by the mean position of its predecessors (then successors), in place."""
    parents: dict[str, list[str]] = defaultdict(list)
    children: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        parents[target].append(source)
        children[source].append(target)
    numbers = sorted(rows)

    def position() -> dict[str, float]:
        return {k: i - (len(row) - 1) / 2 for row in rows.values() for i, k in enumerate(row)}

    for sweep in range(sweeps):
        neighbours, order = (parents, numbers) if sweep % 2 == 0 else (children, list(reversed(numbers)))
        for number in order:
            where = position()
            row = rows[number]
            first = {k: i for i, k in enumerate(row)}

            def key(k: str) -> tuple[float, int]:
                near = [where[n] for n in neighbours[k] if n in where]
                return (sum(near) / len(near) if near else where[k], first[k])

            row.sort(key=key)


def _text_lines(lines: tuple[str, ...], x: float, y: float) -> str:
    return "".join(f'<tspan x="{x:.0f}" y="{y + 13 * i:.0f}">{escape(line)}</tspan>' for i, line in enumerate(lines))


def to_svg(workflow: Workflow) -> str:
    """Draw a workflow's graph as a standalone SVG document, without Graphviz.

    Parameters
    ----------
    workflow:
        The workflow (validated or not; edges to unknown steps are left out).

    Returns
    -------
    str
        An ``<svg>`` element (UTF-8 text, ``viewBox`` in pixels): one ``<g class="node">`` per
        node with ``data-step-id`` and ``data-kind`` (step nodes) or ``data-kind="end"``/``"fail"``,
        a ``<title>`` per node, dashed group boxes for loop bodies and parallel branches, and
        labelled edges (``true``/``false``, ``approved``/``rejected``, ``each item``, ``branch``,
        ``join``, ``done``) in the colours of :func:`stepgraph.render.to_graphviz`.

    Examples
    --------
    >>> from stepgraph import parse_workflow
    >>> wf = parse_workflow({"name": "hi", "steps": [
    ...     {"step_id": "start", "step_type": "trigger", "next_steps": ["wait"]},
    ...     {"step_id": "wait", "step_type": "delay", "parameters": {"seconds": 5}}]}).workflow
    >>> 'data-step-id="wait"' in to_svg(wf)
    True
    """
    layout: _Layout = _layout(workflow)
    keys: list[str] = []
    groups: list[tuple[_Group, list[str]]] = []
    _flatten(layout.items, keys, groups)
    for key in layout.nodes:  # every node is placed, even one no item lists
        if key not in keys:
            keys.append(key)
    ranking = [(e.source, e.target) for e in layout.edges if e.source in layout.nodes and e.target in layout.nodes]
    rank = _ranks(keys, ranking)
    rows: dict[int, list[str]] = defaultdict(list)
    for key in keys:
        rows[rank[key]].append(key)
    _order(rows, ranking)
    widest = max((len(row) for row in rows.values()), default=1)
    inner_width = widest * NODE_WIDTH + (widest - 1) * _GAP_X
    width = inner_width + 2 * _MARGIN
    top = _MARGIN + 28  # room for the title
    centre: dict[str, tuple[float, float]] = {}
    for number, row in rows.items():
        row_width = len(row) * NODE_WIDTH + (len(row) - 1) * _GAP_X
        left = _MARGIN + (inner_width - row_width) / 2
        y = top + number * (NODE_HEIGHT + _GAP_Y) + NODE_HEIGHT / 2
        for i, key in enumerate(row):
            centre[key] = (left + i * (NODE_WIDTH + _GAP_X) + NODE_WIDTH / 2, y)
    height = top + (max(rows, default=0) + 1) * (NODE_HEIGHT + _GAP_Y) - _GAP_Y + _MARGIN

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-graph" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="graph-title" '
           f'font-family="system-ui, Helvetica, Arial, sans-serif" font-size="12">',
           f'<title id="graph-title">Graph of workflow {escape(layout.name)}</title>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>',
           f'<text x="{_MARGIN}" y="{_MARGIN + 12}" font-size="16" font-weight="bold" fill="#111827">{escape(layout.name)}</text>']
    for group, members in reversed(groups):  # outer groups first: inner ones are drawn over them
        placed = [centre[k] for k in members if k in centre]
        if not placed:
            continue
        depth = sum(1 for _, outer in groups if set(members) < set(outer))
        pad = _GROUP_PAD + 8 * sum(1 for _, inner in groups if set(inner) < set(members))
        x0 = min(x for x, _ in placed) - NODE_WIDTH / 2 - pad
        x1 = max(x for x, _ in placed) + NODE_WIDTH / 2 + pad
        y0 = min(y for _, y in placed) - NODE_HEIGHT / 2 - pad - 14
        y1 = max(y for _, y in placed) + NODE_HEIGHT / 2 + pad
        fill, stroke = _GROUP_COLOURS.get(group.scope.kind, ("#f9fafb", "#6b7280"))
        out.append(f'<g class="group" data-depth="{depth}"><rect x="{x0:.0f}" y="{y0:.0f}" width="{x1 - x0:.0f}" '
                   f'height="{y1 - y0:.0f}" rx="10" fill="{fill}" stroke="{stroke}" stroke-dasharray="5 4"/>'
                   f'<text x="{x0 + 8:.0f}" y="{y0 + 13:.0f}" font-size="11" fill="{stroke}">{escape(group.title)}</text></g>')
    for edge in layout.edges:
        if edge.style == "invisible" or edge.source not in centre or edge.target not in centre:
            continue
        (sx, sy), (tx, ty) = centre[edge.source], centre[edge.target]
        colour = _EDGE_COLOURS.get(edge.style, "#4b5563")
        dash = ' stroke-dasharray="6 4"' if edge.style in ("each", "branch") else ""
        if ty > sy:
            y_from, y_to = sy + NODE_HEIGHT / 2, ty - NODE_HEIGHT / 2
        else:  # same row or upwards (an invalid workflow): leave and enter at the sides
            y_from, y_to = sy, ty
        bend = max(24.0, abs(y_to - y_from) / 2)
        out.append(f'<path class="edge" data-style="{edge.style}" d="M{sx:.0f},{y_from:.0f} C{sx:.0f},{y_from + bend:.0f} '
                   f'{tx:.0f},{y_to - bend:.0f} {tx:.0f},{y_to:.0f}" fill="none" stroke="{colour}" stroke-width="1.4"'
                   f'{dash} marker-end="url(#arrow)"/>')
        if edge.label:
            lx, ly = (sx + tx) / 2, (y_from + y_to) / 2
            w = 7 * len(edge.label) + 8
            out.append(f'<g class="edge-label"><rect x="{lx - w / 2:.0f}" y="{ly - 9:.0f}" width="{w:.0f}" height="16" rx="3" '
                       f'fill="#ffffff" opacity="0.9"/><text x="{lx:.0f}" y="{ly + 3:.0f}" text-anchor="middle" '
                       f'font-size="10" fill="{colour}">{escape(edge.label)}</text></g>')
    for key in keys:
        node = layout.nodes[key]
        x, y = centre[key]
        fill, stroke = _COLOURS[node.kind]
        left, upper = x - NODE_WIDTH / 2, y - NODE_HEIGHT / 2
        is_step = node.kind not in ("end", "fail")
        attributes = f'data-step-id="{escape(node.title)}" data-kind="{escape(node.kind)}"' if is_step else f'data-kind="{node.kind}"'
        node_id = f"step-{key}" if is_step else key
        shape = (f'<rect class="box" x="{left:.0f}" y="{upper:.0f}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" '
                 f'rx="{32 if node.kind in ("trigger", "end") else 8}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        detail = node.lines[:3]
        out.append(f'<g class="node" id="{node_id}" {attributes}><title>{escape(node.title)}: {escape(" ".join(node.lines))}</title>'
                   f'{shape}<text x="{x:.0f}" y="{upper + 17:.0f}" text-anchor="middle" font-weight="bold" fill="#111827">'
                   f'{escape(node.title)}</text><text class="detail" text-anchor="middle" font-size="10" fill="#374151">'
                   f'{_text_lines(detail, x, upper + 31)}</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
