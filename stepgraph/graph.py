"""Graph analysis of a workflow: scopes (main graph, loop bodies, parallel branches), cycles.

Validation reports what this finds; the compiler reads the scopes to lay states out.

A *scope* is the set of steps one state list holds in the compiled state machine: the main
graph (entered at the trigger), a loop's body (a Map's ``ItemProcessor``) or a parallel branch
(one of a Parallel's ``Branches``). SPEC §3: a step in a sub-graph cannot jump out of it; a
branch leaves only through its parallel step's ``join``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .exceptions import ValidationIssue
from .model import Step, Workflow

__all__ = ["Scope", "GraphAnalysis", "analyze_graph", "successors"]


@dataclass(eq=False)
class Scope:
    """Steps compiled into one state list.

    Attributes
    ----------
    kind:
        ``"main"``, ``"body"`` (a loop body) or ``"branch"`` (a parallel branch).
    entry:
        Id of the first step.
    owner:
        Id of the loop or parallel step that owns the scope (``None`` for the main graph).
    boundary:
        For a branch, the parallel's ``join`` step, where the branch ends.
    parent:
        The enclosing scope (``None`` for the main graph).
    members:
        Ids of the scope's steps, in the order they were reached.
    """

    kind: str
    entry: str
    owner: str | None = None
    boundary: str | None = None
    parent: "Scope | None" = None
    members: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """Human words for the scope, e.g. ``the body of loop 'each'``."""
        if self.kind == "main":
            return "the main graph"
        if self.kind == "body":
            return f"the body of loop '{self.owner}'"
        return f"branch '{self.entry}' of parallel '{self.owner}'"

    @property
    def in_loop(self) -> bool:
        """True when this scope or an enclosing one is a loop body (``item``/``index`` exist)."""
        scope: Scope | None = self
        while scope is not None:
            if scope.kind == "body":
                return True
            scope = scope.parent
        return False


@dataclass
class GraphAnalysis:
    """Result of :func:`analyze_graph`."""

    scopes: list[Scope]
    scope_of: dict[str, Scope]
    issues: list[ValidationIssue]
    steps: dict[str, Step] = field(default_factory=dict)
    _before: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @property
    def main(self) -> Scope | None:
        """The main graph's scope, or ``None`` when there is no trigger."""
        return next((s for s in self.scopes if s.kind == "main"), None)

    def runs_before(self, step_id: str) -> frozenset[str]:
        """Steps whose output ``step_id`` may read (SPEC §3, visibility).

        Those that run before it on some path in its own scope, and — for a step in a loop body
        or a parallel branch — those before the owning loop or parallel step, scope by scope
        outwards. Steps inside a sub-graph are never visible outside it, and the owner itself
        has not finished while its sub-graph runs.
        """
        if step_id in self._before:
            return self._before[step_id]
        scope = self.scope_of.get(step_id)
        if scope is None:
            return frozenset()
        members = set(scope.members)
        reverse: dict[str, set[str]] = {}
        for sid in scope.members:
            for nxt in successors(self.steps[sid]):
                if nxt in members:
                    reverse.setdefault(nxt, set()).add(sid)
        found: set[str] = set()
        queue = deque(reverse.get(step_id, ()))
        while queue:
            sid = queue.popleft()
            if sid not in found:
                found.add(sid)
                queue.extend(reverse.get(sid, ()))
        found.discard(step_id)
        if scope.owner is not None:
            found |= self.runs_before(scope.owner)
        self._before[step_id] = frozenset(found)
        return self._before[step_id]


def successors(step: Step) -> list[str]:
    """Ids a step hands control to *within its own scope* (loop bodies and branches excluded)."""
    from .steps import kind_of

    return kind_of(step).successors(step)


def _all_edges(step: Step) -> list[str]:
    from .steps import kind_of

    return kind_of(step).edges(step)


def _find_cycles(workflow: Workflow) -> list[ValidationIssue]:
    by_id = workflow.steps_by_id
    issues: list[ValidationIssue] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset[str]] = set()

    for start in by_id:
        if start in state:
            continue
        stack: list[tuple[str, iter]] = [(start, iter(_all_edges(by_id[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, edges = stack[-1]
            nxt = next(edges, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if nxt not in by_id:
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    issues.append(ValidationIssue(
                        f"cycle {' -> '.join(cycle)}; workflows are acyclic, use a loop step to repeat work",
                        node,
                        f"steps[{by_id[node].index}]",
                    ))
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(_all_edges(by_id[nxt]))))
    return issues


def analyze_graph(workflow: Workflow) -> GraphAnalysis:
    """Split a workflow into scopes and find cycles, leaks and unreachable steps.

    Parameters
    ----------
    workflow:
        The workflow; unknown ids in edges are ignored here (validation reports them).

    Returns
    -------
    GraphAnalysis
        ``scopes`` (main graph first), ``scope_of`` (step id → scope) and ``issues``.
    """
    from .steps import kind_of

    by_id = workflow.steps_by_id
    issues: list[ValidationIssue] = []
    scopes: list[Scope] = []
    scope_of: dict[str, Scope] = {}

    pending: deque[Scope] = deque()

    def claim(sid: str, scope: Scope, came_from: str | None) -> bool:
        """Put ``sid`` in ``scope``; report a leak when it already belongs to another scope."""
        if sid in scope_of:
            other = scope_of[sid]
            if other is not scope:
                issues.append(ValidationIssue(
                    f"step '{sid}' belongs to {other.describe()} but is also reached from {scope.describe()}; "
                    "a step in a loop body or parallel branch cannot jump out of it (or be entered from outside)",
                    came_from,
                    f"steps[{by_id[came_from].index}]" if came_from in by_id else "",
                ))
            return False
        scope_of[sid] = scope
        scope.members.append(sid)
        return True

    def open_scope(entry: str, kind: str, owner: str, boundary: str | None, parent: Scope) -> None:
        if any(s.owner == owner and s.kind == kind and s.entry == entry for s in scopes):
            return  # the same branch named twice; validation reports the repeat
        scope = Scope(kind=kind, entry=entry, owner=owner, boundary=boundary, parent=parent)
        scopes.append(scope)
        if claim(entry, scope, owner):
            pending.append(scope)

    def explore(scope: Scope) -> None:
        # A scope is walked to its end before any sub-scope it opens, and a sub-scope's entry is
        # claimed as soon as its owner is reached: a step that jumps out of (or into) a
        # sub-graph is then the one reported, not the loop or parallel step that owns it.
        queue: deque[str] = deque([scope.entry])
        while queue:
            sid = queue.popleft()
            step = by_id[sid]
            for sub in kind_of(step).sub_scopes(step):
                if sub.entry in by_id:
                    open_scope(sub.entry, sub.kind, sid, sub.boundary, scope)
            for nxt in successors(step):
                if nxt == scope.boundary or nxt not in by_id:
                    continue
                if claim(nxt, scope, sid):
                    queue.append(nxt)

    trigger = workflow.trigger
    if trigger is not None:
        main = Scope(kind="main", entry=trigger.step_id)
        scopes.append(main)
        claim(trigger.step_id, main, None)
        pending.append(main)
        while pending:
            explore(pending.popleft())
        for step in workflow.steps:
            if step.step_id not in scope_of and not kind_of(step).is_entry:
                issues.append(ValidationIssue(
                    "step is not reachable from the trigger", step.step_id, f"steps[{step.index}]"
                ))
    issues.extend(_find_cycles(workflow))
    return GraphAnalysis(scopes=scopes, scope_of=scope_of, issues=issues, steps=by_id)
