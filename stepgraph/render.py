"""Pictures of a workflow's graph: Mermaid text, Graphviz DOT, SVG, PNG and PDF (SPEC §8 ``render``).

Both drawings come from one layout read off :func:`stepgraph.graph.analyze_graph`: the main
graph at the top level, each loop body and parallel branch as a group (a Mermaid ``subgraph``,
a Graphviz ``cluster``) nested inside the scope of the step that owns it. Edges carry the words
of the workflow format: ``true``/``false`` out of a condition, ``approved``/``rejected`` out of a
human_approval, ``each item`` into a loop body, ``branch`` into a parallel branch, ``join`` out of
a branch and ``done`` out of a loop or join-less parallel. Steps that end the main graph lead to
an ``end`` node (their output is the workflow's ``result``).

Graphviz is optional: :func:`to_graphviz` needs the ``graphviz`` Python package, and SVG, PNG and
PDF output also need its ``dot`` program; Mermaid (``.mmd``) and DOT (``.dot``/``.gv``) text need
neither the program nor any network.
"""

from __future__ import annotations

import html
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Union

from .exceptions import StepgraphError
from .graph import Scope, analyze_graph
from .model import Step, Workflow
from .steps import KINDS, kind_of

if TYPE_CHECKING:  # pragma: no cover - typing only
    import graphviz

__all__ = [
    "Pen",
    "RenderError",
    "GraphvizNotFoundError",
    "FORMATS",
    "output_format",
    "to_mermaid",
    "to_graphviz",
    "render",
]

#: Output suffix → format name. ``mermaid`` and ``dot`` are text; the others are drawn by ``dot``.
FORMATS: dict[str, str] = {
    ".mmd": "mermaid",
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
}

_INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) "
    "or write Mermaid text instead (an output path ending in .mmd)"
)


class RenderError(StepgraphError):
    """A workflow could not be drawn: unknown output suffix, or Graphviz failed."""


class GraphvizNotFoundError(RenderError):
    """Graphviz is missing: the ``dot`` program (SVG/PNG/PDF) or the ``graphviz`` Python package."""


# ----------------------------------------------------------------------------- layout


_END = "n_end"
_DETAIL_WIDTH = 34
_DETAIL_LINES = 3


@dataclass(frozen=True)
class _Node:
    """One box of the picture: a step, the ``end`` node or an approval's rejection."""

    key: str
    kind: str  # a StepType value, "end" or "fail"
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class _Edge:
    source: str
    target: str
    label: str = ""
    style: str = "normal"  # normal | true | false | approved | rejected | each | branch | join | done | invisible


@dataclass
class _Group:
    """A loop body or a parallel branch; ``items`` holds node keys and nested groups, in order."""

    key: str
    scope: Scope
    title: str
    items: list[Union[str, "_Group"]] = field(default_factory=list)


@dataclass
class _Layout:
    name: str
    items: list[Union[str, _Group]]
    nodes: dict[str, _Node]
    edges: list[_Edge]


def _shorten(text: str) -> tuple[str, ...]:
    """Wrap a detail to a few short lines, ending with ``…`` when it is longer."""
    text = " ".join(str(text).split())
    if not text:
        return ()
    lines = textwrap.wrap(text, width=_DETAIL_WIDTH, break_on_hyphens=False) or [text]
    if len(lines) > _DETAIL_LINES:
        lines = lines[:_DETAIL_LINES]
        lines[-1] = lines[-1][: _DETAIL_WIDTH - 1].rstrip() + "…"
    return tuple(lines)


class _Keys:
    """Node ids for the picture: ``s_`` + the step id (``-`` → ``_``), unique, never a keyword."""

    def __init__(self) -> None:
        self._by_step: dict[str, str] = {}
        self._taken: set[str] = {_END}

    def __call__(self, step_id: str) -> str:
        if step_id not in self._by_step:
            base = "s_" + "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in step_id)
            key, n = base, 1
            while key in self._taken:
                n += 1
                key = f"{base}_{n}"
            self._taken.add(key)
            self._by_step[step_id] = key
        return self._by_step[step_id]


def _first(ids: tuple[str, ...]) -> str | None:
    return ids[0] if ids else None


def _leaves(scope: Scope, by_id: dict[str, Step]) -> list[str]:
    """Members of a scope from which no edge stays inside it (where the scope can end)."""
    members = set(scope.members)
    leaves = []
    for sid in scope.members:
        step = by_id[sid]
        if not any(t in members for t in kind_of(step).successors(step)):
            leaves.append(sid)
    return leaves


class Pen:
    """What a step kind draws its edges with (:meth:`stepgraph.steps.base.StepKind.draw`).

    Bound to one step, its scope and the sub-graphs it owns; edge styles are the words of the
    workflow format (``true``, ``approved``, ``each``, ``branch``, ``join``, ``done`` …).
    """

    def __init__(self, step: Step, scope: Scope | None, children: list[Scope], key, nodes, edges, placement, resolve, by_id):
        self.step, self.scope, self.children = step, scope, children
        self._key, self._nodes, self._edges, self._placement, self._resolve, self._by_id = key, nodes, edges, placement, resolve, by_id

    def link(self, target: str | None, label: str = "", style: str = "normal") -> str | None:
        """An edge to ``target`` (or to where the scope ends when ``None``); returns the node reached."""
        node, how = self._resolve(self.scope, target)
        if node is None:
            return None
        if how == "join" and not label:
            label, style = "join", "join"
        self._edges.append(_Edge(self._key(self.step.step_id), node, label, style))
        return node

    def fail(self, code: str, label: str, style: str) -> None:
        """An edge to a ``fails`` box showing ``code``, placed next to the step."""
        k = self._key(self.step.step_id)
        fail = f"n_fail_{k}"
        self._nodes[fail] = _Node(fail, "fail", "fails", (code,))
        items = self._placement.get(k)
        if items is not None:
            items.insert(items.index(k) + 1, fail)
        self._edges.append(_Edge(k, fail, label, style))

    def into_sub_scopes(self, label: str, style: str) -> None:
        """An edge into each sub-graph the step owns (a loop body, parallel branches)."""
        for child in self.children:
            self._edges.append(_Edge(self._key(self.step.step_id), self._key(child.entry), label, style))

    def after_sub_scopes(self, target: str | None) -> None:
        """A ``done`` edge to what follows the sub-graphs, drawn below them."""
        done = self.link(target, "done", "done")
        if done is not None:  # draw the next step below the loop body / the branches
            for child in self.children:
                for leaf in _leaves(child, self._by_id):
                    self._edges.append(_Edge(self._key(leaf), done, style="invisible"))

    def join_without_branches(self, join: str) -> None:
        """A ``join`` edge from the step itself when no branch carries one."""
        if not self.children and join in self._by_id:
            self.link(join, "join", "join")


def _layout(workflow: Workflow) -> _Layout:
    """Read nodes, groups and edges off the workflow's scopes (see :func:`analyze_graph`)."""
    analysis = analyze_graph(workflow)
    by_id = workflow.steps_by_id
    key = _Keys()
    nodes: dict[str, _Node] = {}
    edges: list[_Edge] = []
    children: dict[str, list[Scope]] = {}
    for scope in analysis.scopes:
        if scope.owner is not None:
            children.setdefault(scope.owner, []).append(scope)
    groups = iter(range(1, 1_000_000))

    placement: dict[str, list] = {}

    def add_step(step: Step, items: list) -> None:
        k = key(step.step_id)
        nodes[k] = _Node(k, str(step.step_type), step.step_id, (str(step.step_type), *_shorten(kind_of(step).detail(step))))
        items.append(k)
        placement[k] = items

    def fill(scope: Scope, items: list) -> None:
        for sid in scope.members:
            add_step(by_id[sid], items)
            for child in children.get(sid, []):
                if not child.members:
                    continue  # an invalid workflow: the entry belongs to another scope
                title = child.describe().removeprefix("the ")
                group = _Group(f"g{next(groups)}", child, title)
                fill(child, group.items)
                items.append(group)

    top: list[Union[str, _Group]] = []
    if analysis.main is not None:
        fill(analysis.main, top)
    for step in workflow.steps:  # unreachable steps of an invalid workflow: draw them anyway
        if step.step_id not in analysis.scope_of and key(step.step_id) not in nodes:
            add_step(step, top)

    def resolve(scope: Scope | None, target: str | None) -> tuple[str | None, str]:
        """Node a transition lands on, and how: ``step``, ``join`` (branch end) or ``end``."""
        if target is not None and (scope is None or target != scope.boundary):
            return (key(target), "step") if target in by_id else (None, "step")
        if scope is None or scope.kind == "main":
            return _END, "end"
        if scope.kind == "branch" and scope.boundary in by_id:
            return key(scope.boundary), "join"
        return None, "end"  # a loop body (or a join-less branch) just ends

    for step in by_id.values():  # a repeated step id: the first one is drawn
        kind_of(step).draw(step, Pen(step, analysis.scope_of.get(step.step_id), children.get(step.step_id, []),
                                     key, nodes, edges, placement, resolve, by_id))
    if any(e.target == _END for e in edges):
        nodes[_END] = _Node(_END, "end", "end", ("result",))
        top.append(_END)
    return _Layout(workflow.name, top, nodes, edges)


# ----------------------------------------------------------------------------- Mermaid

#: Mermaid node shapes: (opening, closing) around the quoted label.
_MERMAID_SHAPES: dict[str, tuple[str, str]] = {
    **{name: kind.mermaid_shape for name, kind in KINDS.items()},
    "end": ("((", "))"),
    "fail": ("([", "])"),
}

#: Fill and stroke colours per node kind, shared by both drawings.
_COLOURS: dict[str, tuple[str, str]] = {
    **{name: kind.colours for name, kind in KINDS.items()},
    "end": ("#e5e7eb", "#111827"),
    "fail": ("#fee2e2", "#dc2626"),
}

_MERMAID_ARROWS = {"each": "-.->", "branch": "-.->"}


def _mermaid_text(text: str) -> str:
    """Make text safe inside a Mermaid ``"..."`` label (entity codes, no raw quotes or tags)."""
    text = " ".join(str(text).split())
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("&", "#amp;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(char, code)
    return text


def _mermaid_items(layout: _Layout, items: list, indent: str, out: list[str]) -> None:
    for item in items:
        if isinstance(item, _Group):
            out.append(f'{indent}subgraph {item.key} ["{_mermaid_text(item.title)}"]')
            _mermaid_items(layout, item.items, indent + "    ", out)
            out.append(f"{indent}end")
            continue
        node = layout.nodes[item]
        opening, closing = _MERMAID_SHAPES[node.kind]
        label = "<br/>".join(_mermaid_text(line) for line in (node.title, *node.lines))
        out.append(f'{indent}{node.key}{opening}"{label}"{closing}')


def to_mermaid(workflow: Workflow) -> str:
    """Draw a workflow as a Mermaid ``flowchart TD``.

    Parameters
    ----------
    workflow:
        The workflow (validated or not; edges to unknown steps are left out).

    Returns
    -------
    str
        Mermaid text, ending with a newline: a front-matter title (the workflow name), one node
        per step (id, type and a short detail, a shape and colour per step type), ``subgraph``
        groups for loop bodies and parallel branches, labelled edges, and an ``end`` node.

    Examples
    --------
    >>> from stepgraph import parse_workflow
    >>> wf = parse_workflow({"name": "hi", "steps": [
    ...     {"step_id": "start", "step_type": "trigger", "next_steps": ["wait"]},
    ...     {"step_id": "wait", "step_type": "delay", "parameters": {"seconds": 5}}]}).workflow
    >>> print(to_mermaid(wf))  # doctest: +ELLIPSIS
    ---
    title: "hi"
    ---
    flowchart TD
        s_start(["start<br/>trigger<br/>api"])
        s_wait{{"wait<br/>delay<br/>wait 5 s"}}
        n_end(("end<br/>result"))
        s_start --> s_wait
        s_wait --> n_end
    ...
    """
    layout = _layout(workflow)
    out = ["---", f"title: {json.dumps(layout.name)}", "---", "flowchart TD"]
    _mermaid_items(layout, layout.items, "    ", out)
    for edge in layout.edges:
        if edge.style == "invisible":
            continue
        arrow = _MERMAID_ARROWS.get(edge.style, "-->")
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        out.append(f"    {edge.source} {arrow}{label} {edge.target}")
    kinds: dict[str, list[str]] = {}
    for node in layout.nodes.values():
        kinds.setdefault(node.kind, []).append(node.key)
    for kind, keys in kinds.items():
        fill, stroke = _COLOURS[kind]
        out.append(f"    classDef k_{kind} fill:{fill},stroke:{stroke},color:#111827")
        out.append(f"    class {','.join(keys)} k_{kind}")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- Graphviz

_FONT = "Helvetica"

#: Graphviz node attributes per kind (besides the shared colours).
_GRAPHVIZ_SHAPES: dict[str, dict[str, str]] = {
    **{name: kind.graphviz_shape for name, kind in KINDS.items()},
    "end": {"shape": "doublecircle", "style": "filled"},
    "fail": {"shape": "octagon", "style": "filled"},
}

#: Graphviz edge attributes per edge style.
_GRAPHVIZ_EDGES: dict[str, dict[str, str]] = {
    "normal": {},
    "true": {"color": "#059669", "fontcolor": "#059669"},
    "false": {"color": "#dc2626", "fontcolor": "#dc2626"},
    "approved": {"color": "#059669", "fontcolor": "#059669"},
    "rejected": {"color": "#dc2626", "fontcolor": "#dc2626"},
    "each": {"style": "dashed", "color": "#7c3aed", "fontcolor": "#7c3aed"},
    "branch": {"style": "dashed", "color": "#0891b2", "fontcolor": "#0891b2"},
    "join": {"color": "#0891b2", "fontcolor": "#0891b2"},
    "done": {"color": "#7c3aed", "fontcolor": "#7c3aed"},
    "invisible": {"style": "invis"},
}

_CLUSTER_COLOURS = {"body": ("#faf5ff", "#7c3aed"), "branch": ("#ecfeff", "#0891b2")}


def _graphviz_label(node: _Node) -> str:
    """An HTML-like label: the id in bold, the type and detail smaller and grey."""
    rest = "".join(
        f'<BR/><FONT POINT-SIZE="{10 if i == 0 else 9}" COLOR="{"#374151" if i == 0 else "#4b5563"}">{html.escape(line)}</FONT>'
        for i, line in enumerate(node.lines)
    )
    return f"<<B>{html.escape(node.title)}</B>{rest}>"


def _graphviz_items(layout: _Layout, items: list, graph: "graphviz.Digraph") -> None:
    for item in items:
        if isinstance(item, _Group):
            fill, colour = _CLUSTER_COLOURS.get(item.scope.kind, ("#f9fafb", "#6b7280"))
            with graph.subgraph(name=f"cluster_{item.key}") as cluster:
                cluster.attr(label=item.title, style="rounded,dashed,filled", fillcolor=fill, color=colour,
                             fontcolor=colour, fontname=_FONT, fontsize="11", labeljust="l", margin="12")
                _graphviz_items(layout, item.items, cluster)
            continue
        node = layout.nodes[item]
        fill, stroke = _COLOURS[node.kind]
        graph.node(node.key, _graphviz_label(node), fillcolor=fill, color=stroke, **_GRAPHVIZ_SHAPES[node.kind])


def to_graphviz(workflow: Workflow) -> "graphviz.Digraph":
    """Draw a workflow as a Graphviz digraph (top to bottom, Helvetica).

    Parameters
    ----------
    workflow:
        The workflow (validated or not; edges to unknown steps are left out).

    Returns
    -------
    graphviz.Digraph
        The same content as :func:`to_mermaid`: loop bodies and parallel branches are nested
        ``cluster_...`` subgraphs; shapes and colours follow the step type. ``.source`` is the
        DOT text; ``.pipe(format="svg")`` draws it (needs the ``dot`` program).

    Raises
    ------
    GraphvizNotFoundError
        When the ``graphviz`` Python package is not installed.

    Examples
    --------
    >>> from stepgraph import parse_workflow
    >>> wf = parse_workflow({"name": "hi", "steps": [
    ...     {"step_id": "start", "step_type": "trigger", "next_steps": ["wait"]},
    ...     {"step_id": "wait", "step_type": "delay", "parameters": {"seconds": 5}}]}).workflow
    >>> "s_start -> s_wait" in to_graphviz(wf).source
    True
    """
    try:
        import graphviz
    except ImportError as exc:  # pragma: no cover - graphviz is in the "local" extra
        raise GraphvizNotFoundError(
            "drawing with Graphviz needs the graphviz Python package (pip install 'stepgraph[local]' "
            "or pip install graphviz); Mermaid text (.mmd) needs nothing"
        ) from exc
    layout = _layout(workflow)
    graph = graphviz.Digraph(
        name=layout.name,
        graph_attr={
            "rankdir": "TB", "fontname": _FONT, "label": layout.name, "labelloc": "t", "fontsize": "16",
            "bgcolor": "white", "nodesep": "0.35", "ranksep": "0.45", "newrank": "true", "pad": "0.3", "ordering": "out",
        },
        node_attr={"fontname": _FONT, "fontsize": "12", "penwidth": "1.3", "margin": "0.15,0.06"},
        edge_attr={"fontname": _FONT, "fontsize": "10", "color": "#4b5563", "arrowsize": "0.8"},
    )
    _graphviz_items(layout, layout.items, graph)
    for edge in layout.edges:
        attrs = dict(_GRAPHVIZ_EDGES[edge.style])
        if edge.label:
            attrs["label"] = f" {edge.label} "
        graph.edge(edge.source, edge.target, **attrs)
    return graph


# ----------------------------------------------------------------------------- files


def output_format(path: str | Path) -> str:
    """The format a path's suffix asks for: ``mermaid``, ``dot``, ``svg``, ``png`` or ``pdf``.

    Raises
    ------
    RenderError
        When the suffix is none of ``.mmd``, ``.svg``, ``.png``, ``.pdf``, ``.dot``, ``.gv``.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        supported = ", ".join(FORMATS)
        raise RenderError(f"{path}: cannot tell the picture format from {suffix or 'no suffix'!r}; use one of {supported}")
    return FORMATS[suffix]


def render(workflow: Workflow, path: str | Path) -> Path:
    """Write a picture of a workflow's graph; the suffix of ``path`` picks the format.

    ``.mmd`` writes Mermaid text, ``.dot``/``.gv`` DOT text, and ``.svg``/``.png``/``.pdf`` a
    drawing made by Graphviz's ``dot`` program. Missing parent folders are created.

    Parameters
    ----------
    workflow:
        The workflow to draw.
    path:
        Output file.

    Returns
    -------
    Path
        ``path``, written.

    Raises
    ------
    GraphvizNotFoundError
        When ``.svg``/``.png``/``.pdf`` is asked for and ``dot`` is not installed (the message
        says how to install it, or to use ``.mmd``).
    RenderError
        When the suffix is unknown (the message lists the supported ones) or ``dot`` fails.

    Examples
    --------
    >>> from stepgraph import load_workflow
    >>> render(load_workflow("workflows/customer-support.json"), "build/support.svg")  # doctest: +SKIP
    PosixPath('build/support.svg')
    """
    target = Path(path)
    fmt = output_format(target)
    if fmt == "mermaid":
        content: bytes = to_mermaid(workflow).encode("utf-8")
    else:
        graph = to_graphviz(workflow)  # reports a missing graphviz package
        import graphviz
        if fmt == "dot":
            content = graph.source.encode("utf-8")
        else:
            if fmt == "png":
                graph.attr(dpi="144")
            try:
                content = graph.pipe(format=fmt)
            except graphviz.ExecutableNotFound as exc:
                raise GraphvizNotFoundError(f"{target}: drawing {fmt.upper()} needs Graphviz's dot program, which is not on PATH; {_INSTALL_HINT}") from exc
            except graphviz.CalledProcessError as exc:
                detail = (exc.stderr or b"").decode("utf-8", "replace").strip() if isinstance(exc.stderr, bytes) else str(exc.stderr or exc)
                raise RenderError(f"{target}: Graphviz's dot failed: {detail}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return target
