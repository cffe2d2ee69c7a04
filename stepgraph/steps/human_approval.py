"""``human_approval``: wait for a listed approver's decision (a task token) — SPEC §3, §14."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode
from stepgraph_runtime import env

from ..handlers import Bundle, HandlerSpec
from ..model import Step
from ..substitutions import APPROVAL_FUNCTION, placeholder
from .base import Params, StepKind, is_num, is_str, param

__all__ = ["HumanApproval"]


@dataclass(frozen=True)
class ApprovalParams(Params):
    approvers: Any = param(required=True, check=lambda v: isinstance(v, tuple) and bool(v) and all(is_str(x) for x in v),
                           what="a non-empty list of approver names or e-mail addresses")
    message: Any = param(None, role="template", check=lambda v: isinstance(v, str), what="a template string")
    timeout_hours: Any = param(24, check=lambda v: is_num(v) and 0 < v <= 8760,
                               what="a number of hours above 0 and at most 8760 (one year)")


class HumanApproval(StepKind):
    """A ``lambda:invoke.waitForTaskToken`` Task, then a Choice on the decision.

    ``lambdas/approval`` stores the request (the task token never leaves the approvals table)
    and notifies the approvers; the decision resumes the execution. Approve follows
    ``next_steps``, reject ``else_steps`` — or, without them, fails with ``APPROVAL_REJECTED``.
    No decision within ``timeout_hours`` is ``TIMEOUT``. Output: ``{decision, comment,
    approver, decided_at}``.
    """

    step_type = "human_approval"
    position = 5
    params_type = ApprovalParams
    takes_else = True
    next_label = "approved"
    else_label = "rejected"
    mermaid_shape = ("{", "}")
    colours = ("#fce7f3", "#db2777")
    graphviz_shape = {"shape": "diamond", "style": "filled", "margin": "0.02,0.02"}
    handler = HandlerSpec(
        "approval", "Approval", "stepgraph-approval", "Opens a human approval: stores the request and notifies approvers",
        substitution_key=APPROVAL_FUNCTION, environment=(env.APPROVALS_TABLE_NAME, env.APPROVALS_TOPIC_ARN),
        timeout_seconds=60,
    )

    def compile(self, step, scope, ctx):
        from ..compiler import document as doc
        from ..compiler.asl import StateType
        from ..compiler.scope import LAMBDA_TRANSIENT_ERRORS
        from ..expressions import jsonata

        p = self.params(step)
        timeout = max(1, int(round(float(p.timeout_hours) * 3600)))
        decision_state = doc.helper_state_name(step.step_id, "decision")
        payload = {
            "action": "request",
            "task_token": doc.jsonata_string("$states.context.Task.Token"),
            "workflow_name": ctx.workflow.name,
            "execution_arn": doc.jsonata_string("$states.context.Execution.Id"),
            "execution_name": doc.jsonata_string("$states.context.Execution.Name"),
            "step_id": step.step_id,
            "approvers": list(p.approvers),
            "message": ctx.template(p.message if p.message is not None else f"Approval requested by {ctx.workflow.name}", step, scope),
            "timeout_seconds": timeout,
        }
        task: dict[str, Any] = {
            "Type": StateType.TASK.value,
            "Comment": f"waits for a decision by {', '.join(p.approvers)}",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Arguments": {"FunctionName": placeholder(APPROVAL_FUNCTION), "Payload": payload},
            "TimeoutSeconds": timeout,
            "Retry": [{"ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS), "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}],
            "Catch": ctx.catch(step, scope, ErrorCode.TIMEOUT.value),
        }
        task = ctx.finish(task, step, scope, decision_state, "$states.result")
        extra: dict[str, Any] = {}
        approve_target = ctx.choice_target(step, scope, step.next_steps, "approved", extra)
        last = doc.LAST  # the decision state's input is the approval's output
        if step.else_steps:
            reject_target = ctx.choice_target(step, scope, step.else_steps, "rejected", extra)
        else:
            reject_target = doc.helper_state_name(step.step_id, "rejected")
            error = (f"{{\"code\": {jsonata(ErrorCode.APPROVAL_REJECTED.value)}, "
                     f"\"message\": 'rejected by ' & $string({last}.approver) & "
                     f"({last}.comment ? ': ' & {last}.comment : ''), "
                     f"\"step\": {jsonata(step.step_id)}}}")
            assign, nxt = ctx.fail_with(scope, error)
            extra[reject_target] = {"Type": StateType.PASS.value, "Assign": assign, "Next": nxt}
        decision = {
            "Type": StateType.CHOICE.value,
            "Choices": [{"Condition": doc.jsonata_string(f"{last}.decision = 'approved'"), "Next": approve_target}],
            "Default": reject_target,
        }
        return {step.step_id: task, decision_state: decision, **extra}

    def output_fields(self, step: Step):
        return {"decision": frozenset({"approved", "rejected"}), "comment": None, "approver": None, "decided_at": None}

    def detail(self, step: Step) -> str:
        approvers = step.param("approvers", ())
        names = ", ".join(str(a) for a in approvers) if isinstance(approvers, (tuple, list)) else str(approvers)
        return f"approvers: {names}"

    def draw(self, step: Step, pen) -> None:
        pen.link(step.next_steps[0] if step.next_steps else None, "approved", "approved")
        if step.else_steps:
            pen.link(step.else_steps[0], "rejected", "rejected")
        else:
            pen.fail(ErrorCode.APPROVAL_REJECTED.value, "rejected", "rejected")
