"""Each step type renders itself as one or more ASL states (JSONata query language).

Every state reads and writes the *state document* (see :mod:`stepgraph.expressions`):
``{"input", "trigger", "steps", "last"}`` plus ``item``/``index`` inside a loop body. A state in
the main graph that ends the workflow hands the document to the result-recording states; a state
that ends a loop body or a parallel branch outputs just its value (the item's or branch's result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import RETRYABLE_BY_DEFAULT, ErrorCode
from ..expressions import compile_condition, compile_expression, compile_template, jsonata, template_arguments
from ..validation import step_references, utc_timestamp
from ..graph import GraphAnalysis, Scope
from ..model import Step, StepType, Workflow, thaw
from ..substitutions import (
    API_CALL_FUNCTION,
    APPROVAL_FUNCTION,
    INVOKE_AGENT_FUNCTION,
    TOOL_FUNCTION,
    agent_runtime_key,
    placeholder,
)
from .asl import HelperState, StateType, error_object, jsonata_string, merge_step_output, output_value

__all__ = ["ScopeCompiler", "DEFAULT_AGENT_TIMEOUT_SECONDS", "LAMBDA_TRANSIENT_ERRORS"]

DEFAULT_AGENT_TIMEOUT_SECONDS = 300
DEFAULT_API_TIMEOUT_SECONDS = 30
DEFAULT_APPROVAL_TIMEOUT_HOURS = 24
DEFAULT_LOOP_CONCURRENCY = 10
#: Error the api_call Lambda raises for a 5xx answer or a failed connection: retried, then
#: recorded as ``TOOL_ERROR`` (it is not one of the six codes).
UPSTREAM_ERROR = "UPSTREAM_ERROR"
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

_SESSION_ID = (
    "($sid := $states.input.input.session_id; "
    "$exists($sid) and $sid != null and $sid != '' ? $string($sid) : $states.context.Execution.Name)"
)


@dataclass
class _Ctx:
    scope: Scope
    workflow: Workflow


class ScopeCompiler:
    """Renders the states of one scope (main graph, loop body or parallel branch).

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
        states: dict[str, Any] = {}
        for step_id in scope.members:
            states.update(self._render(self.by_id[step_id], scope))
        return {"StartAt": scope.entry, "States": states}

    def _compile_sub_scope(self, scope: Scope) -> dict[str, Any]:
        """A loop body or branch, plus its re-raising Fail state when a Catch leads there."""
        body = self.compile_scope(scope)
        if scope in self._raising_scopes:
            body["States"].update(self.raise_state(scope))
        return body

    def _child(self, owner: str, kind: str, entry: str) -> Scope:
        return next(s for s in self.graph.scopes if s.owner == owner and s.kind == kind and s.entry == entry)

    # ---------------------------------------------------------------- transitions

    def _target(self, scope: Scope, target: str | None) -> str | None:
        """State name to go to, or ``None`` when the scope ends here."""
        if target is None or target == scope.boundary:
            return None
        return target

    def _finish(self, state: dict[str, Any], scope: Scope, target: str | None, step_id: str, value: str) -> dict[str, Any]:
        """Add ``Output`` and ``Next``/``End`` to a state whose step produced ``value`` (JSONata)."""
        nxt = self._target(scope, target)
        if nxt is None and scope.kind != "main":
            state["Output"] = jsonata_string(output_value(value))
            state["End"] = True
            return state
        state["Output"] = jsonata_string(merge_step_output(step_id, value))
        state["Next"] = nxt if nxt is not None else HelperState.RECORD_RESULT.value
        return state

    def _catch(self, step: Step, scope: Scope, default_code: str) -> list[dict[str, Any]]:
        """A Catch that turns any error into an ``error`` object and ends the scope with it."""
        if scope.kind == "main":
            output = f"$merge([$states.input, {{\"error\": {error_object(step.step_id, default_code)}}}])"
            nxt = HelperState.RECORD_RESULT.value
        else:
            output = f"{{\"error\": {error_object(step.step_id, default_code)}}}"
            nxt = self._raise_to(scope)
        return [{"ErrorEquals": ["States.ALL"], "Output": jsonata_string(output), "Next": nxt}]

    def _raise_to(self, scope: Scope) -> str:
        """Name of the scope's re-raising Fail state, which is then added to the scope."""
        self._raising_scopes.add(scope)
        return self._raise_state_name(scope)

    @staticmethod
    def _raise_state_name(scope: Scope) -> str:
        return f"{scope.entry} (raise)"

    def raise_state(self, scope: Scope) -> dict[str, Any]:
        """Fail state re-raising an inner error to the loop or parallel step with its step id."""
        return {
            self._raise_state_name(scope): {
                "Type": StateType.FAIL.value,
                "Error": jsonata_string("$states.input.error.code"),
                "Cause": jsonata_string("$string({\"message\": $states.input.error.message, \"step\": $states.input.error.step})"),
            }
        }

    def _retry(self, step: Step, lambda_task: bool, retryable: tuple[str, ...] = RETRYABLE_BY_DEFAULT,
               default: tuple[str, ...] = (ErrorCode.RATE_LIMIT.value,)) -> list[dict[str, Any]]:
        """``Retry`` for a step: Lambda's transient errors, then the step's policy over ``retryable``.

        Without a ``retry`` block, the ``default`` codes get 3 attempts (2 s, then 4 s).
        """
        retriers: list[dict[str, Any]] = []
        if lambda_task:
            retriers.append({"ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS), "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0, "JitterStrategy": "FULL"})
        policy = step.retry
        if policy is not None:
            if policy.max_attempts > 1:
                # a Task's own time-out (States.Timeout) is a TIMEOUT too, and retried as one
                errors = list(retryable) + (["States.Timeout"] if ErrorCode.TIMEOUT.value in retryable else [])
                retriers.append({
                    "ErrorEquals": errors,
                    "IntervalSeconds": max(1, math.ceil(policy.backoff_seconds)),
                    "MaxAttempts": policy.max_attempts - 1,
                    "BackoffRate": policy.backoff_rate,
                })
        elif default:
            retriers.append({"ErrorEquals": list(default), "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2.0, "JitterStrategy": "FULL"})
        return retriers

    def _template(self, value: Any) -> Any:
        return template_arguments(thaw(value), workflow_name=self.workflow.name)

    def _lambda_task(self, step: Step, scope: Scope, function_key: str, payload: dict[str, Any], *,
                     default_code: str, timeout: int | None, retryable: tuple[str, ...] = RETRYABLE_BY_DEFAULT,
                     default_retry: tuple[str, ...] = (ErrorCode.RATE_LIMIT.value,),
                     result: str = "$states.result.Payload") -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": StateType.TASK.value,
            "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": placeholder(function_key), "Payload": payload},
        }
        if timeout is not None:
            state["TimeoutSeconds"] = timeout
        state["Retry"] = self._retry(step, lambda_task=True, retryable=retryable, default=default_retry)
        state["Catch"] = self._catch(step, scope, default_code)
        nxt = step.next_steps[0] if step.next_steps else None
        return self._finish(state, scope, nxt, step.step_id, result)

    # ---------------------------------------------------------------- step types

    def _render(self, step: Step, scope: Scope) -> dict[str, Any]:
        render = {
            StepType.TRIGGER: self._trigger,
            StepType.AGENT_EXECUTION: self._agent,
            StepType.CONDITION: self._condition,
            StepType.LOOP: self._loop,
            StepType.PARALLEL: self._parallel,
            StepType.HUMAN_APPROVAL: self._approval,
            StepType.TOOL_CALL: self._tool,
            StepType.DATA_TRANSFORM: self._transform,
            StepType.API_CALL: self._api,
            StepType.DELAY: self._delay,
        }[step.step_type]
        return render(step, scope)

    def _trigger(self, step: Step, scope: Scope) -> dict[str, Any]:
        trigger = "($t := $states.input.trigger; $exists($t) and $type($t) = 'object' ? $t : {\"kind\": \"api\"})"
        execution_input = "($type($states.input) = 'object' ? $states.input : {})"
        if step.param("input"):
            # a trigger's fixed input (e.g. a schedule's) fills what the execution input lacks
            execution_input = f"$merge([{jsonata(thaw(step.param('input')))}, {execution_input}])"
        document = (
            f"($trigger := {trigger}; "
            f"{{\"input\": {execution_input}, \"trigger\": $trigger, "
            f"\"steps\": {{{jsonata(step.step_id)}: $trigger}}, \"last\": $trigger}})"
        )
        nxt = step.next_steps[0] if step.next_steps else HelperState.RECORD_RESULT.value
        return {step.step_id: {"Type": StateType.PASS.value, "Comment": f"trigger ({step.param('kind', 'api')})",
                               "Output": jsonata_string(document), "Next": nxt}}

    def _agent(self, step: Step, scope: Scope) -> dict[str, Any]:
        agent_id = str(step.param("agent_id"))
        timeout = int(step.param("timeout_seconds", DEFAULT_AGENT_TIMEOUT_SECONDS))
        max_iterations = int(step.param("max_iterations", 10))
        if "payload" in step.parameters:
            payload: Any = self._template(step.param("payload"))
        else:
            loop_fields = ", \"item\": $states.input.item, \"index\": $states.input.index" if scope.in_loop else ""
            payload = jsonata_string(
                "{\"input\": $states.input.input, \"steps\": $states.input.steps, "
                f"\"step_id\": {jsonata(step.step_id)}, \"max_iterations\": {max_iterations}{loop_fields}}}"
            )
        arguments = {
            "agent_id": agent_id,
            "agent_runtime_arn": placeholder(agent_runtime_key(agent_id)),
            "qualifier": str(step.param("qualifier", "DEFAULT")),
            "session_id": jsonata_string(_SESSION_ID),
            "payload": payload,
            "timeout_seconds": timeout,
            "step_id": step.step_id,
            "workflow_name": self.workflow.name,
            "execution_name": jsonata_string("$states.context.Execution.Name"),
        }
        task_timeout = step.timeout_seconds or timeout + TASK_TIMEOUT_MARGIN_SECONDS
        state = self._lambda_task(step, scope, INVOKE_AGENT_FUNCTION, arguments,
                                  default_code=ErrorCode.AGENT_ERROR.value, timeout=task_timeout)
        state["Comment"] = f"agent {agent_id} on AgentCore Runtime"
        return {step.step_id: state}

    def _tool(self, step: Step, scope: Scope) -> dict[str, Any]:
        arguments = {
            "tool": str(step.param("tool")),
            "arguments": self._template(step.param("arguments", {})),
            "step_id": step.step_id,
            "workflow_name": self.workflow.name,
            "execution_name": jsonata_string("$states.context.Execution.Name"),
        }
        state = self._lambda_task(step, scope, TOOL_FUNCTION, arguments, default_code=ErrorCode.TOOL_ERROR.value,
                                  timeout=step.timeout_seconds)
        state["Comment"] = f"tool {step.param('tool')}"
        return {step.step_id: state}

    def _api(self, step: Step, scope: Scope) -> dict[str, Any]:
        timeout = int(step.param("timeout_seconds", DEFAULT_API_TIMEOUT_SECONDS))
        arguments: dict[str, Any] = {
            "url": self._template(step.param("url")),
            "method": str(step.param("method", "GET")).upper(),
            "headers": self._template(step.param("headers", {})),
            "timeout_seconds": timeout,
            "allowed_hosts": list(step.param("allowed_hosts", ())),
            "step_id": step.step_id,
            "workflow_name": self.workflow.name,
            "execution_name": jsonata_string("$states.context.Execution.Name"),
        }
        if "body" in step.parameters:
            arguments["body"] = self._template(step.param("body"))
        state = self._lambda_task(step, scope, API_CALL_FUNCTION, arguments, default_code=ErrorCode.TOOL_ERROR.value,
                                  timeout=step.timeout_seconds or timeout + TASK_TIMEOUT_MARGIN_SECONDS,
                                  retryable=(ErrorCode.RATE_LIMIT.value, ErrorCode.TIMEOUT.value, UPSTREAM_ERROR),
                                  default_retry=(ErrorCode.RATE_LIMIT.value, UPSTREAM_ERROR))
        state["Comment"] = f"{arguments['method']} request"
        return {step.step_id: state}

    def _transform(self, step: Step, scope: Scope) -> dict[str, Any]:
        if "jsonata" in step.parameters:
            bindings = ("$input := $states.input.input; $trigger := $states.input.trigger; "
                        "$steps := $states.input.steps; $last := $states.input.last; ")
            if scope.in_loop:
                bindings += "$item := $states.input.item; $index := $states.input.index; "
            value = f"({bindings}({step.param('jsonata')}))"
        else:
            value = compile_template(thaw(step.param("output")), workflow_name=self.workflow.name)
        state = {"Type": StateType.PASS.value}
        nxt = step.next_steps[0] if step.next_steps else None
        return {step.step_id: self._finish(state, scope, nxt, step.step_id, value)}

    def _delay(self, step: Step, scope: Scope) -> dict[str, Any]:
        state: dict[str, Any] = {"Type": StateType.WAIT.value}
        seconds = step.param("seconds")
        if seconds is not None:
            if isinstance(seconds, (int, float)):
                state["Seconds"] = int(math.ceil(seconds))
            else:
                expr = compile_expression(seconds, workflow_name=self.workflow.name)
                # a missing or non-numeric value waits 0 s: a Wait state cannot Catch a JSONata error
                state["Seconds"] = jsonata_string(
                    f"($s := {expr}; $n := $type($s) = 'number' ? $s : "
                    "(($type($s) = 'string' and $contains($s, /^\\s*[0-9]+(\\.[0-9]+)?\\s*$/)) ? $number($trim($s)) : 0); "
                    "$n > 0 ? $ceil($n) : 0)"
                )
        else:
            until = step.param("until")
            if "{{" in until:
                # a missing or malformed timestamp waits 0 s: a Wait state cannot Catch the error
                expr = compile_template(until, workflow_name=self.workflow.name)
                state["Timestamp"] = jsonata_string(
                    f"($t := {expr}; ($type($t) = 'string' and "
                    "$contains($t, /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/)) "
                    "? $fromMillis($toMillis($t)) : '1970-01-01T00:00:00Z')"  # normalised to UTC ...Z
                )
            else:
                state["Timestamp"] = utc_timestamp(until) or until
        nxt = step.next_steps[0] if step.next_steps else None
        return {step.step_id: self._finish(state, scope, nxt, step.step_id, "$states.input.last")}

    def _branch_end(self, step_id: str, scope: Scope, suffix: str) -> tuple[str, dict[str, Any]]:
        """A Pass that ends a sub-scope with the current ``last`` (for a Choice branch with no step)."""
        name = f"{step_id} ({suffix})"
        return name, {name: {"Type": StateType.PASS.value, "Output": jsonata_string("$states.input.last"), "End": True}}

    def _choice_target(self, step: Step, scope: Scope, ids: tuple[str, ...], suffix: str, extra: dict[str, Any]) -> str:
        target = self._target(scope, ids[0] if ids else None)
        if target is not None:
            return target
        if scope.kind == "main":
            return HelperState.RECORD_RESULT.value
        name, state = self._branch_end(step.step_id, scope, suffix)
        extra.update(state)
        return name

    def _condition(self, step: Step, scope: Scope) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        condition = compile_condition(step.param("condition"), workflow_name=self.workflow.name)
        true_target = self._choice_target(step, scope, step.next_steps, "true", extra)
        false_target = self._choice_target(step, scope, step.else_steps, "false", extra)
        # SPEC §3: a condition's output is its input, unchanged (readable as steps.<id>.output).
        # In JSONata, a Choice rule carries its own Output; the state's Output serves Default.
        output = jsonata_string(merge_step_output(step.step_id, "$states.input.last"))
        state = {
            "Type": StateType.CHOICE.value,
            "Comment": f"condition: {step.param('condition')}",
            "Choices": [{"Condition": jsonata_string(condition), "Next": true_target, "Output": output}],
            "Default": false_target,
            "Output": output,
        }
        return {step.step_id: state, **extra}

    def _scope_steps(self, scope: Scope) -> list[Step]:
        """Steps of a scope and of every scope nested in it."""
        found = [self.by_id[i] for i in scope.members]
        for child in self.graph.scopes:
            parent = child.parent
            while parent is not None and parent is not scope:
                parent = parent.parent
            if parent is scope:
                found += [self.by_id[i] for i in child.members]
        return found

    def _item_selector(self, body: Scope) -> dict[str, Any]:
        """Per-item document of a loop: only the outer data the body reads.

        Each iteration gets its own copy of what the selector names, so copying the whole
        execution input and every earlier output into each of 1,000 items would cost 1,000
        copies (and break Step Functions' 256 KiB payload limit). The body's references decide:
        ``input``/``context`` need the input, ``trigger`` the trigger, ``steps.<outer>`` just
        those outputs. A JSONata transform or a default agent payload may read anything.
        """
        steps = self._scope_steps(body)
        inner = {s.step_id for s in steps}
        needs_all = any(
            s.step_type is StepType.DATA_TRANSFORM and "jsonata" in s.parameters
            or s.step_type is StepType.AGENT_EXECUTION and "payload" not in s.parameters
            for s in steps
        )
        roots: set[str] = set()
        outer_steps: set[str] = set()
        if not needs_all:
            for s in steps:
                for ref in step_references(s):
                    roots.add(ref.root)
                    if ref.root == "steps" and ref.path and ref.path[0] not in inner:
                        outer_steps.add(str(ref.path[0]))
        wants_input = needs_all or bool(roots & {"input", "context"})
        if needs_all:
            outer = "$states.input.steps"
        elif outer_steps:
            outer = f"$sift($states.input.steps, function($v, $k) {{ $k in {jsonata(sorted(outer_steps))} }})"
        else:
            outer = "{}"
        return {
            "input": jsonata_string("$states.input.input" if wants_input else "{}"),
            "trigger": jsonata_string("$states.input.trigger" if needs_all or "trigger" in roots else "{}"),
            "steps": jsonata_string(f"($s := {outer}; $exists($s) ? $s : {{}})"),
            "last": jsonata_string("$states.context.Map.Item.Value"),
            "item": jsonata_string("$states.context.Map.Item.Value"),
            "index": jsonata_string("$states.context.Map.Item.Index"),
        }

    def _loop(self, step: Step, scope: Scope) -> dict[str, Any]:
        items = compile_expression(step.param("items"), workflow_name=self.workflow.name)
        body_scope = self._child(step.step_id, "loop", str(step.param("body")))
        processor = self._compile_sub_scope(body_scope)
        distributed = step.param("mode", "inline") == "distributed"
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"} if distributed else {"Mode": "INLINE"}
        state: dict[str, Any] = {
            "Type": StateType.MAP.value,
            "Comment": f"loop over {step.param('items')}",
            "Items": jsonata_string(f"($i := {items}; $type($i) = 'array' ? $i : ($type($i) = 'null' ? [] : [$i]))"),
            "ItemSelector": self._item_selector(body_scope),
            "ItemProcessor": processor,
            "MaxConcurrency": int(step.param("max_concurrency", DEFAULT_LOOP_CONCURRENCY)),
        }
        if distributed:
            if "tolerated_failure_percentage" in step.parameters:
                # a JSON number with a fraction: ASL parsers (moto's among them) read it as a NUMBER
                state["ToleratedFailurePercentage"] = float(step.param("tolerated_failure_percentage"))
            if "tolerated_failure_count" in step.parameters:
                state["ToleratedFailureCount"] = step.param("tolerated_failure_count")
        if step.timeout_seconds:
            state["TimeoutSeconds"] = step.timeout_seconds
        if step.retry is not None and step.retry.max_attempts > 1:
            state["Retry"] = self._retry(step, lambda_task=False)
        state["Catch"] = self._catch(step, scope, ErrorCode.AGENT_ERROR.value)
        nxt = step.next_steps[0] if step.next_steps else None
        return {step.step_id: self._finish(state, scope, nxt, step.step_id, "$states.result")}

    def _parallel(self, step: Step, scope: Scope) -> dict[str, Any]:
        join = step.param("join")
        branches = []
        entries = [e for e in step.next_steps if e != join]
        for entry in entries:
            branch_scope = self._child(step.step_id, "branch", entry)
            branches.append(self._compile_sub_scope(branch_scope))
        members = ", ".join(f"{{{jsonata(e)}: $states.result[{i}]}}" for i, e in enumerate(entries))
        state: dict[str, Any] = {"Type": StateType.PARALLEL.value, "Comment": f"branches {', '.join(entries)}", "Branches": branches}
        if step.timeout_seconds:
            state["TimeoutSeconds"] = step.timeout_seconds
        if step.retry is not None and step.retry.max_attempts > 1:
            state["Retry"] = self._retry(step, lambda_task=False)
        state["Catch"] = self._catch(step, scope, ErrorCode.AGENT_ERROR.value)
        value = f"$merge([{members}])"
        return {step.step_id: self._finish(state, scope, join if isinstance(join, str) else None, step.step_id, value)}

    def _approval(self, step: Step, scope: Scope) -> dict[str, Any]:
        hours = float(step.param("timeout_hours", DEFAULT_APPROVAL_TIMEOUT_HOURS))
        timeout = max(1, int(round(hours * 3600)))
        decision_state = f"{step.step_id} (decision)"
        payload = {
            "action": "request",
            "task_token": jsonata_string("$states.context.Task.Token"),
            "workflow_name": self.workflow.name,
            "execution_arn": jsonata_string("$states.context.Execution.Id"),
            "execution_name": jsonata_string("$states.context.Execution.Name"),
            "step_id": step.step_id,
            "approvers": list(step.param("approvers", ())),
            "message": self._template(step.param("message", f"Approval requested by {self.workflow.name}")),
            "timeout_seconds": timeout,
        }
        task: dict[str, Any] = {
            "Type": StateType.TASK.value,
            "Comment": f"waits for a decision by {', '.join(step.param('approvers', ()))}",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Arguments": {"FunctionName": placeholder(APPROVAL_FUNCTION), "Payload": payload},
            "TimeoutSeconds": timeout,
            "Retry": [{"ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS), "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}],
            "Catch": self._catch(step, scope, ErrorCode.TIMEOUT.value),
            "Output": jsonata_string(merge_step_output(step.step_id, "$states.result")),
            "Next": decision_state,
        }
        extra: dict[str, Any] = {}
        approve_target = self._choice_target(step, scope, step.next_steps, "approved", extra)
        if step.else_steps:
            reject_target = self._choice_target(step, scope, step.else_steps, "rejected", extra)
        else:
            reject_target = f"{step.step_id} (rejected)"
            error = (f"{{\"code\": {jsonata(ErrorCode.APPROVAL_REJECTED.value)}, "
                     "\"message\": 'rejected by ' & $string($states.input.last.approver) & "
                     "($states.input.last.comment ? ': ' & $states.input.last.comment : ''), "
                     f"\"step\": {jsonata(step.step_id)}}}")
            if scope.kind == "main":
                extra[reject_target] = {"Type": StateType.PASS.value,
                                        "Output": jsonata_string(f"$merge([$states.input, {{\"error\": {error}}}])"),
                                        "Next": HelperState.RECORD_RESULT.value}
            else:
                extra[reject_target] = {"Type": StateType.PASS.value, "Output": jsonata_string(f"{{\"error\": {error}}}"),
                                        "Next": self._raise_to(scope)}
        decision = {
            "Type": StateType.CHOICE.value,
            "Choices": [{"Condition": jsonata_string("$states.input.last.decision = 'approved'"), "Next": approve_target}],
            "Default": reject_target,
        }
        return {step.step_id: task, decision_state: decision, **extra}
