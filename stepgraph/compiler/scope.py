"""Lays out the states of one scope (main graph, loop body, parallel branch) from the step kinds.

Each step kind (:mod:`stepgraph.steps`) renders its own states through the helpers here —
transitions (``Next``/``End``), the ``Catch`` that records a failure, ``Retry`` from the step's
policy, Lambda-backed tasks, Choice targets, sub-scopes — so every kind shares one rendering of
what is common, as CDK's ``State.renderNextEnd()``/``renderRetryCatch()`` do. Every state reads
and writes the state document (:mod:`stepgraph.compiler.document`): a state in the main graph
that ends the workflow hands the document to the result tail; a state that ends a loop body or a
parallel branch outputs just its value (the item's or the branch's result).
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import RETRYABLE_BY_DEFAULT, ErrorCode
from ..expressions import jsonata, template_arguments
from ..graph import GraphAnalysis, Scope
from ..model import Step, Workflow, thaw
from ..substitutions import placeholder
from . import document as doc
from .asl import HelperState, StateType, error_object

__all__ = ["ScopeCompiler", "LAMBDA_TRANSIENT_ERRORS", "TASK_TIMEOUT_MARGIN_SECONDS"]

#: Extra seconds a Task waits beyond the Lambda's own time-out, so the Lambda reports TIMEOUT
#: itself (with a clear message) before Step Functions gives up with ``States.Timeout``.
TASK_TIMEOUT_MARGIN_SECONDS = 15
#: Errors of the Lambda service itself that AWS recommends retrying (Step Functions developer
#: guide, "Handle transient Lambda service exceptions").
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


class ScopeCompiler:
    """Renders the states of the scopes of one workflow; step kinds call its helpers.

    Parameters
    ----------
    workflow:
        The validated workflow.
    graph:
        Its analysis (scopes).
    """

    def __init__(self, workflow: Workflow, graph: GraphAnalysis):
        self.workflow = workflow
        self.graph = graph
        self.by_id = workflow.steps_by_id
        #: Scopes in which some state leads to the re-raising Fail state.
        self._raising_scopes: set[Scope] = set()

    # ---------------------------------------------------------------- scopes

    def compile_scope(self, scope: Scope) -> dict[str, Any]:
        """Return ``{"StartAt", "States"}`` for a scope."""
        from ..steps import kind_of

        states: dict[str, Any] = {}
        for step_id in scope.members:
            step = self.by_id[step_id]
            states.update(kind_of(step).compile(step, scope, self))
        return {"StartAt": scope.entry, "States": states}

    def compile_sub_scope(self, scope: Scope) -> dict[str, Any]:
        """A loop body or branch, plus its re-raising Fail state when a Catch leads there."""
        body = self.compile_scope(scope)
        if scope in self._raising_scopes:
            body["States"].update(self.raise_state(scope))
        return body

    def child(self, owner: str, kind: str, entry: str) -> Scope:
        """The sub-scope of ``kind`` (``loop``/``branch``) that step ``owner`` opens at ``entry``."""
        return next(s for s in self.graph.scopes if s.owner == owner and s.kind == kind and s.entry == entry)

    # ---------------------------------------------------------------- transitions

    def target(self, scope: Scope, target: str | None) -> str | None:
        """State name to go to, or ``None`` when the scope ends here."""
        if target is None or target == scope.boundary:
            return None
        return target

    def finish(self, state: dict[str, Any], scope: Scope, target: str | None, step_id: str, value: str) -> dict[str, Any]:
        """Add ``Output`` and ``Next``/``End`` to a state whose step produced ``value`` (JSONata)."""
        nxt = self.target(scope, target)
        if nxt is None and scope.kind != "main":
            state["Output"] = doc.jsonata_string(doc.output_value(value))
            state["End"] = True
            return state
        state["Output"] = doc.jsonata_string(doc.merge_step_output(step_id, value))
        state["Next"] = nxt if nxt is not None else HelperState.RECORD_RESULT.value
        return state

    def fail_with(self, scope: Scope, error: str) -> tuple[str, str]:
        """``(Output, Next)`` of a transition that fails the scope with ``error`` (JSONata object)."""
        if scope.kind == "main":
            return doc.jsonata_string(doc.with_error(error, keep_document=True)), HelperState.RECORD_RESULT.value
        return doc.jsonata_string(doc.with_error(error, keep_document=False)), self.raise_to(scope)

    def catch(self, step: Step, scope: Scope, default_code: str) -> list[dict[str, Any]]:
        """A Catch that turns any error into an ``error`` object and ends the scope with it."""
        output, nxt = self.fail_with(scope, error_object(step.step_id, default_code))
        return [{"ErrorEquals": ["States.ALL"], "Output": output, "Next": nxt}]

    def raise_to(self, scope: Scope) -> str:
        """Name of the scope's re-raising Fail state, which is then added to the scope."""
        self._raising_scopes.add(scope)
        return self._raise_state_name(scope)

    @staticmethod
    def _raise_state_name(scope: Scope) -> str:
        return doc.helper_state_name(scope.entry, "raise")

    def raise_state(self, scope: Scope) -> dict[str, Any]:
        """Fail state re-raising an inner error to the loop or parallel step with its step id."""
        error = doc.field(doc.ERROR)
        return {
            self._raise_state_name(scope): {
                "Type": StateType.FAIL.value,
                "Error": doc.jsonata_string(f"{error}.code"),
                "Cause": doc.jsonata_string(f"$string({{\"message\": {error}.message, \"step\": {error}.step}})"),
            }
        }

    def branch_end(self, step_id: str, suffix: str) -> tuple[str, dict[str, Any]]:
        """A Pass that ends a sub-scope with the current ``last`` (for a Choice branch with no step)."""
        name = doc.helper_state_name(step_id, suffix)
        return name, {name: {"Type": StateType.PASS.value, "Output": doc.jsonata_string(doc.field(doc.LAST)), "End": True}}

    def choice_target(self, step: Step, scope: Scope, ids: tuple[str, ...], suffix: str, extra: dict[str, Any]) -> str:
        """Where a Choice rule goes for ``ids`` (a step, the result tail, or a new branch-ending Pass)."""
        target = self.target(scope, ids[0] if ids else None)
        if target is not None:
            return target
        if scope.kind == "main":
            return HelperState.RECORD_RESULT.value
        name, state = self.branch_end(step.step_id, suffix)
        extra.update(state)
        return name

    # ---------------------------------------------------------------- tasks

    def retry(self, step: Step, lambda_task: bool, retryable: tuple[str, ...] = RETRYABLE_BY_DEFAULT,
              default: tuple[str, ...] = (ErrorCode.RATE_LIMIT.value,),
              timeouts: tuple[str, ...] = ("States.Timeout",)) -> list[dict[str, Any]]:
        """``Retry`` for a step: Lambda's transient errors, then the step's policy over ``retryable``.

        Without a ``retry`` block, the ``default`` codes get 3 attempts (2 s, then 4 s).
        ``timeouts`` are the Step Functions errors retried as ``TIMEOUT`` (a callback task adds
        ``States.HeartbeatTimeout``).
        """
        retriers: list[dict[str, Any]] = []
        if lambda_task:
            retriers.append({"ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS), "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0, "JitterStrategy": "FULL"})
        policy = step.retry
        if policy is not None:
            if policy.max_attempts > 1:
                # a Task's own time-out (States.Timeout) is a TIMEOUT too, and retried as one
                errors = list(retryable) + (list(timeouts) if ErrorCode.TIMEOUT.value in retryable else [])
                retriers.append({
                    "ErrorEquals": errors,
                    "IntervalSeconds": max(1, math.ceil(policy.backoff_seconds)),
                    "MaxAttempts": policy.max_attempts - 1,
                    "BackoffRate": policy.backoff_rate,
                })
        elif default:
            retriers.append({"ErrorEquals": list(default), "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2.0, "JitterStrategy": "FULL"})
        return retriers

    def template(self, value: Any) -> Any:
        """ASL ``Arguments`` value for a template parameter (SPEC §4)."""
        return template_arguments(thaw(value), workflow_name=self.workflow.name)

    def execution_fields(self, step: Step) -> dict[str, Any]:
        """What every Lambda-backed step sends besides its own arguments: step, workflow, execution."""
        return {
            "step_id": step.step_id,
            "workflow_name": self.workflow.name,
            "execution_name": doc.jsonata_string("$states.context.Execution.Name"),
        }

    @staticmethod
    def task_token() -> str:
        """ASL value of the running task's token (``$states.context.Task.Token``; callback tasks only)."""
        return doc.jsonata_string("$states.context.Task.Token")

    def lambda_task(self, step: Step, scope: Scope, function_key: str, payload: dict[str, Any], *,
                    default_code: str, timeout: int | None, retryable: tuple[str, ...] = RETRYABLE_BY_DEFAULT,
                    default_retry: tuple[str, ...] = (ErrorCode.RATE_LIMIT.value,),
                    result: str | None = None, callback: bool = False, heartbeat: int | None = None) -> dict[str, Any]:
        """A ``lambda:invoke`` Task calling the function behind ``function_key`` with ``payload``.

        With ``callback`` it is ``lambda:invoke.waitForTaskToken``: the Task ends when someone
        sends its token's result (the output is that result), fails at once when the Lambda
        itself fails, and with ``heartbeat`` fails with ``States.HeartbeatTimeout`` when no
        heartbeat came for that many seconds. ``result`` defaults to the Lambda's ``Payload``
        (``$states.result`` for a callback).
        """
        # the step's own code travels with the call: an ending no Catch sees (States.DataLimitExceeded)
        # is recorded by the backstop with it, read back from the TaskScheduled history event
        state: dict[str, Any] = {
            "Type": StateType.TASK.value,
            "Resource": "arn:aws:states:::lambda:invoke" + (".waitForTaskToken" if callback else ""),
            "Arguments": {"FunctionName": placeholder(function_key), "Payload": {**payload, "error_code": default_code}},
        }
        if timeout is not None:
            state["TimeoutSeconds"] = timeout
        if heartbeat is not None:
            state["HeartbeatSeconds"] = heartbeat
        if result is None:
            result = "$states.result" if callback else "$states.result.Payload"
        timeouts = ("States.Timeout", "States.HeartbeatTimeout") if callback else ("States.Timeout",)
        state["Retry"] = self.retry(step, lambda_task=True, retryable=retryable, default=default_retry, timeouts=timeouts)
        state["Catch"] = self.catch(step, scope, default_code)
        nxt = step.next_steps[0] if step.next_steps else None
        return self.finish(state, scope, nxt, step.step_id, result)

    # ---------------------------------------------------------------- loop items

    def scope_steps(self, scope: Scope) -> list[Step]:
        """Steps of a scope and of every scope nested in it."""
        found = [self.by_id[i] for i in scope.members]
        for child in self.graph.scopes:
            parent = child.parent
            while parent is not None and parent is not scope:
                parent = parent.parent
            if parent is scope:
                found += [self.by_id[i] for i in child.members]
        return found

    def item_selector(self, body: Scope) -> dict[str, Any]:
        """Per-item document of a loop: only the outer data the body reads.

        Each iteration gets its own copy of what the selector names, so copying the whole
        execution input and every earlier output into each of 1,000 items would cost 1,000
        copies (and break Step Functions' 256 KiB payload limit). The body's references decide:
        ``input``/``context`` need the input, ``trigger`` the trigger, ``steps.<outer>`` just
        those outputs. A step whose kind may read anything (a JSONata transform, a default
        agent payload) gets the whole document.
        """
        from ..steps import kind_of
        from ..validation import step_references

        steps = self.scope_steps(body)
        inner = {s.step_id for s in steps}
        needs_all = any(kind_of(s).reads_everything(s) for s in steps)
        roots: set[str] = set()
        outer_steps: set[str] = set()
        if not needs_all:
            for s in steps:
                for ref in step_references(s):
                    roots.add(ref.root)
                    if ref.root == "steps" and ref.path and ref.path[0] not in inner:
                        outer_steps.add(str(ref.path[0]))
        wants_input = needs_all or bool(roots & {"input", "context"})
        all_steps = doc.field(doc.STEPS)
        if needs_all:
            outer = all_steps
        elif outer_steps:
            outer = f"$sift({all_steps}, function($v, $k) {{ $k in {jsonata(sorted(outer_steps))} }})"
        else:
            outer = "{}"
        return {
            doc.INPUT: doc.jsonata_string(doc.field(doc.INPUT) if wants_input else "{}"),
            doc.TRIGGER: doc.jsonata_string(doc.field(doc.TRIGGER) if needs_all or "trigger" in roots else "{}"),
            doc.STEPS: doc.jsonata_string(f"($s := {outer}; $exists($s) ? $s : {{}})"),
            doc.LAST: doc.jsonata_string("$states.context.Map.Item.Value"),
            doc.ITEM: doc.jsonata_string("$states.context.Map.Item.Value"),
            doc.INDEX: doc.jsonata_string("$states.context.Map.Item.Index"),
        }
