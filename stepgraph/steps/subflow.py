"""``subflow``: run another workflow of the app as a nested execution and wait for it — SPEC §3.

Compiles to Step Functions' native nested execution, ``arn:aws:states:::states:startExecution.sync:2``
("Start a new AWS Step Functions state machine from a running execution", Step Functions
developer guide): the parent waits for the child, and ``.sync:2`` returns the child's output
as JSON. The child's output is its result record (every execution ends with one), so the step's
output is the child's ``result``; a failed child fails the step with the child's error code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode
from ..model import Step
from ..substitutions import placeholder, state_machine_key
from .base import Checker, Params, StepKind, is_str, param

__all__ = ["Subflow"]

#: Longest execution name Step Functions accepts (StartExecution ``name``: 1–80 characters).
_MAX_EXECUTION_NAME = 80
_UUID_LENGTH = 36


@dataclass(frozen=True)
class SubflowParams(Params):
    workflow: Any = param(required=True, check=is_str, what="the name of a workflow of the app")
    input: Any = param(None, role="template", what="a template of the child's execution input")


class Subflow(StepKind):
    """A ``startExecution.sync:2`` Task starting the child workflow's state machine.

    Without an ``input`` the child receives the seed's chaining shape with ``parent`` instead
    of ``upstream``: ``{"data": <last output>, "sessionId", "trigger": {"kind": "api"},
    "parent": {"workflowName", "executionArn"}}``.
    """

    step_type = "subflow"
    position = 10
    params_type = SubflowParams
    mermaid_shape = ("[[", "]]")
    colours = ("#e0e7ff", "#4f46e5")
    graphviz_shape = {"shape": "component", "style": "filled"}

    def check(self, step: Step, c: Checker) -> None:
        name = step.parameters.get("workflow")
        if c.workflows is not None and c.valid("workflow") and name not in c.workflows:
            known = ", ".join(sorted(c.workflows)) or "none"
            c.add(f"unknown workflow '{name}' (workflows of the app: {known})", "workflow")

    def workflows_used(self, step: Step) -> tuple[str, ...]:
        return (str(step.parameters.get("workflow")),)

    def compile(self, step, scope, ctx):
        from ..compiler import document as doc
        from ..compiler.asl import StateType
        from ..expressions import jsonata

        p = self.params(step)
        if p.input is not None:
            child_input: Any = ctx.template(p.input, step, scope)
            if isinstance(child_input, str):
                child_input = doc.jsonata_string(f"($i := {child_input.removeprefix('{% ').removesuffix(' %}')}; "
                                                 "$type($i) = 'object' ? $i : {\"data\": $i})")
        else:
            child_input = doc.jsonata_string(
                f"{{\"data\": {doc.output_value(ctx.reader(step, scope).last())}, \"sessionId\": {doc.session_id(ctx.reader(step, scope))}, "
                "\"trigger\": {\"kind\": \"api\"}, "
                f"\"parent\": {{\"workflowName\": {jsonata(ctx.workflow.name)}, \"executionArn\": $states.context.Execution.Id}}}}"
            )
        prefix = step.step_id[: _MAX_EXECUTION_NAME - _UUID_LENGTH - 1]
        state: dict[str, Any] = {
            "Type": StateType.TASK.value,
            "Comment": f"runs workflow {p.workflow} and waits for its result",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Arguments": {
                "StateMachineArn": placeholder(state_machine_key(str(p.workflow))),
                "Name": doc.jsonata_string(f"{jsonata(prefix + '-')} & $uuid()"),
                "Input": child_input,
            },
        }
        if step.timeout_seconds:
            state["TimeoutSeconds"] = step.timeout_seconds
        state["Retry"] = ctx.retry(step, lambda_task=False, default=())
        if not state["Retry"]:
            del state["Retry"]
        state["Catch"] = ctx.catch(step, scope, ErrorCode.AGENT_ERROR.value)
        nxt = step.next_steps[0] if step.next_steps else None
        return {step.step_id: ctx.finish(state, step, scope, nxt, "$states.result.Output.result")}

    def detail(self, step: Step) -> str:
        return f"workflow: {step.param('workflow', '?')}"
