"""What one execution of a compiled workflow costs: state transitions, Lambda invocations, a price (SPEC §13).

Read from the compiled state machine (the very ASL that deploys), path by path: every Choice
(a ``condition``, an approval's decision) splits the path, and each path is priced on its own.
What is counted, per path:

* **transitions** — states entered (``*StateEntered`` events of the execution history): every
  step state, every helper state, each state of each loop iteration and parallel branch, the
  Map/Parallel state itself. Step Functions Standard bills one transition per state entered
  (retries would add theirs; the prediction assumes none).
* **Lambda invocations** — Task states whose resource is ``arn:aws:states:::lambda:invoke``
  (and ``.waitForTaskToken``): one ``TaskScheduled`` event each.
* **history events** — an estimate of the events the path writes (Step Functions keeps at most
  25,000 per execution): 2 per Pass/Choice/Wait, 5 per Task, 4 per Map/Parallel plus 2 per
  iteration.

A loop runs ``loop_items`` items (the size is known only at run time); inside a loop body or a
parallel branch the costliest successful path is assumed. Besides the successful paths, each
state of the main graph that has a Catch gives a failing path (that state fails once, without
retries, and the run goes to the failure tail). A ``subflow`` step's child execution is billed
separately (its own workflow's cost); it counts here as the one Task that waits for it.

Prices are for us-east-1 and are named constants below, each with its source and date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

__all__ = [
    "Assumptions",
    "PathCost",
    "CostReport",
    "estimate",
    "state_history_events",
    "HISTORY_EVENT_LIMIT",
    "STEP_FUNCTIONS_PER_TRANSITION",
    "LAMBDA_PER_REQUEST",
    "LAMBDA_PER_GB_SECOND_ARM",
    "S3_PER_PUT",
    "SNS_PER_PUBLISH",
    "AGENTCORE_PER_VCPU_HOUR",
    "AGENTCORE_PER_GB_HOUR",
]

#: Step Functions Standard: $0.025 per 1,000 state transitions (aws.amazon.com/step-functions/pricing, us-east-1, 2025).
STEP_FUNCTIONS_PER_TRANSITION = 0.025 / 1000
#: Lambda: $0.20 per 1M requests (aws.amazon.com/lambda/pricing, us-east-1, 2025).
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
#: Lambda on Arm (Graviton), first tier: $0.0000133334 per GB-second (aws.amazon.com/lambda/pricing, us-east-1, 2025).
LAMBDA_PER_GB_SECOND_ARM = 0.0000133334
#: S3 Standard: $0.005 per 1,000 PUT requests (aws.amazon.com/s3/pricing, us-east-1, 2025).
S3_PER_PUT = 0.005 / 1000
#: SNS standard topics: $0.50 per 1M publish requests (aws.amazon.com/sns/pricing, us-east-1, 2025).
SNS_PER_PUBLISH = 0.50 / 1_000_000
#: AgentCore Runtime: $0.0895 per vCPU-hour of active CPU (aws.amazon.com/bedrock/agentcore/pricing, us-east-1, 2025-10).
AGENTCORE_PER_VCPU_HOUR = 0.0895
#: AgentCore Runtime: $0.00945 per GB-hour of memory (aws.amazon.com/bedrock/agentcore/pricing, us-east-1, 2025-10).
AGENTCORE_PER_GB_HOUR = 0.00945
#: Events Step Functions keeps per execution (Step Functions developer guide, "Quotas").
HISTORY_EVENT_LIMIT = 25_000
#: Memory of every stepgraph Lambda (``stacks/components/powertools_function.py``), in GB.
LAMBDA_MEMORY_GB = 0.5
_LAMBDA = "arn:aws:states:::lambda:invoke"
_AGENT_FUNCTION = "${InvokeAgentFunctionArn}"
#: Longest path list kept; beyond it the cheapest-first order is cut (``CostReport.truncated``).
MAX_PATHS = 256


@dataclass(frozen=True)
class Assumptions:
    """What the compiled machine cannot say.

    Attributes
    ----------
    loop_items:
        Items each loop runs.
    agent_seconds:
        Seconds of active CPU an agent invocation costs on AgentCore Runtime; the invoking
        Lambda waits that long too.
    lambda_seconds:
        Seconds a tool, API or approval Lambda runs.
    agent_vcpus, agent_memory_gb:
        Size of an AgentCore Runtime session.
    """

    loop_items: int = 10
    agent_seconds: float = 10.0
    lambda_seconds: float = 0.5
    agent_vcpus: float = 1.0
    agent_memory_gb: float = 2.0


@dataclass
class PathCost:
    """One path through the machine and what it costs.

    Attributes
    ----------
    decisions:
        ``"<choice state> → <target>"`` for each Choice on the main path.
    states:
        Names of every state the path enters (nested ones included).
    transitions, lambda_invocations, agent_invocations, history_events:
        Counts for one execution along the path.
    s3_puts, sns_publishes:
        The result record's write and announcement.
    """

    decisions: list[str] = field(default_factory=list)
    states: set[str] = field(default_factory=set)
    transitions: int = 0
    lambda_invocations: int = 0
    agent_invocations: int = 0
    history_events: int = 0
    s3_puts: int = 0
    sns_publishes: int = 0
    outcome: str = "completed"

    def copy(self) -> "PathCost":
        return PathCost(list(self.decisions), set(self.states), self.transitions, self.lambda_invocations,
                        self.agent_invocations, self.history_events, self.s3_puts, self.sns_publishes, self.outcome)

    def add(self, other: "PathCost", times: int = 1) -> None:
        self.states |= other.states
        self.transitions += other.transitions * times
        self.lambda_invocations += other.lambda_invocations * times
        self.agent_invocations += other.agent_invocations * times
        self.history_events += other.history_events * times
        self.s3_puts += other.s3_puts * times
        self.sns_publishes += other.sns_publishes * times

    def prices(self, a: Assumptions) -> dict[str, float]:
        """US dollars per execution, by service."""
        other = self.lambda_invocations - self.agent_invocations
        gb_seconds = LAMBDA_MEMORY_GB * (self.agent_invocations * a.agent_seconds + other * a.lambda_seconds)
        hours = self.agent_invocations * a.agent_seconds / 3600
        return {
            "step_functions": self.transitions * STEP_FUNCTIONS_PER_TRANSITION,
            "lambda": self.lambda_invocations * LAMBDA_PER_REQUEST + gb_seconds * LAMBDA_PER_GB_SECOND_ARM,
            "s3": self.s3_puts * S3_PER_PUT,
            "sns": self.sns_publishes * SNS_PER_PUBLISH,
            "agentcore": hours * (a.agent_vcpus * AGENTCORE_PER_VCPU_HOUR + a.agent_memory_gb * AGENTCORE_PER_GB_HOUR),
        }

    def lambda_gb_seconds(self, a: Assumptions) -> float:
        other = self.lambda_invocations - self.agent_invocations
        return LAMBDA_MEMORY_GB * (self.agent_invocations * a.agent_seconds + other * a.lambda_seconds)

    def to_dict(self, a: Assumptions, executions: int) -> dict[str, Any]:
        prices = self.prices(a)
        per = sum(prices.values())
        return {
            "decisions": self.decisions, "outcome": self.outcome, "transitions": self.transitions,
            "lambda_invocations": self.lambda_invocations, "agent_invocations": self.agent_invocations,
            "lambda_gb_seconds": round(self.lambda_gb_seconds(a), 6), "history_events": self.history_events,
            "s3_puts": self.s3_puts, "sns_publishes": self.sns_publishes,
            "price_per_execution_usd": per, "price_usd": per * executions, "price_by_service_usd": prices,
        }


@dataclass
class CostReport:
    """Every path of a workflow with its cost (:func:`estimate`)."""

    workflow: str
    assumptions: Assumptions
    paths: list[PathCost]
    truncated: bool = False

    def to_dict(self, executions: int = 1) -> dict[str, Any]:
        """JSON-ready form, prices for one execution and for ``executions``."""
        return {"workflow": self.workflow, "executions": executions, "assumptions": vars(self.assumptions),
                "region": "us-east-1", "truncated": self.truncated,
                "paths": [p.to_dict(self.assumptions, executions) for p in self.paths]}


def state_history_events(state: dict[str, Any]) -> int:
    """History events one entry into ``state`` writes, its nested states aside (see the module docstring)."""
    kind = state.get("Type")
    if kind == "Task":
        return 6 if str(state.get("Resource", "")).endswith((".sync", ".sync:2")) else 5
    if kind in ("Map", "Parallel"):
        return 4
    if kind == "Fail":
        return 1
    return 2


def _walk(body: dict[str, Any], a: Assumptions, *, failures: bool = False) -> Iterator[PathCost]:
    """Every path through ``body``; with ``failures``, also each path where a state with a Catch fails (once, not retried)."""
    stack: list[tuple[str, PathCost]] = [(body["StartAt"], PathCost())]
    while stack:
        name, path = stack.pop()
        while True:
            state = body["States"][name]
            if failures and state.get("Catch"):
                fork = path.copy()
                fork.decisions.append(f"{name} fails")
                fork.states.add(name)
                fork.transitions += 1
                fork.history_events += state_history_events(state)
                if str(state.get("Resource", "")).startswith(_LAMBDA):
                    fork.lambda_invocations += 1
                    fork.agent_invocations += state.get("Arguments", {}).get("FunctionName") == _AGENT_FUNCTION
                stack.append((state["Catch"][0]["Next"], fork))
            path.states.add(name)
            path.transitions += 1
            path.history_events += state_history_events(state)
            kind = state["Type"]
            if kind == "Task":
                resource = str(state.get("Resource", ""))
                if resource.startswith(_LAMBDA):
                    path.lambda_invocations += 1
                    if state.get("Arguments", {}).get("FunctionName") == _AGENT_FUNCTION:
                        path.agent_invocations += 1
                elif resource.startswith("arn:aws:states:::aws-sdk:s3:putObject"):
                    path.s3_puts += 1
                elif resource.startswith("arn:aws:states:::sns:publish"):
                    path.sns_publishes += 1
            elif kind == "Map":
                inner = _costliest(_walk(state["ItemProcessor"], a))
                items = a.loop_items
                path.add(inner, items)
                path.history_events += 2 * items
            elif kind == "Parallel":
                for branch in state["Branches"]:
                    path.add(_costliest(_walk(branch, a)))
            if kind == "Choice":
                targets = [rule["Next"] for rule in state["Choices"]] + ([state["Default"]] if "Default" in state else [])
                unique = list(dict.fromkeys(targets))
                for target in unique[1:]:
                    fork = path.copy()
                    fork.decisions.append(f"{name} → {target}")
                    stack.append((target, fork))
                path.decisions.append(f"{name} → {unique[0]}")
                name = unique[0]
                continue
            if kind == "Fail":
                path.outcome = "failed"
                break
            if state.get("End") or kind == "Succeed" or "Next" not in state:
                break
            name = state["Next"]
        yield path


def _costliest(paths: Iterator[PathCost]) -> PathCost:
    chosen: PathCost | None = None
    states: set[str] = set()
    for path in paths:
        states |= path.states
        if chosen is None or (path.transitions, path.lambda_invocations) > (chosen.transitions, chosen.lambda_invocations):
            chosen = path
    assert chosen is not None
    return chosen


def estimate(definition: dict[str, Any], *, workflow: str = "", assumptions: Assumptions | None = None) -> CostReport:
    """Predict what each path of a compiled state machine costs per execution.

    Parameters
    ----------
    definition:
        The ASL document (:attr:`stepgraph.compiler.CompiledWorkflow.definition`).
    workflow:
        Its name, for the report.
    assumptions:
        Loop sizes, agent and Lambda durations (:class:`Assumptions`).

    Returns
    -------
    CostReport
        One :class:`PathCost` per path of the main graph, cheapest first.

    Examples
    --------
    >>> from stepgraph import compile_workflow, load_workflow  # doctest: +SKIP
    >>> report = estimate(compile_workflow(load_workflow("workflows/customer-support.json")).definition)
    >>> [p.transitions for p in report.paths]  # doctest: +SKIP
    [5, 5]
    """
    a = assumptions or Assumptions()
    paths: list[PathCost] = []
    truncated = False
    for path in _walk(definition, a, failures=True):
        paths.append(path)
        if len(paths) >= MAX_PATHS:
            truncated = True
            break
    paths.sort(key=lambda p: (p.outcome != "completed", p.transitions, p.lambda_invocations, p.decisions))
    return CostReport(workflow=workflow, assumptions=a, paths=paths, truncated=truncated)
