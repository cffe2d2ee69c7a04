"""Lays out the states of one scope (main graph, loop body, parallel branch) from the step kinds.

Each step kind (:mod:`stepgraph.steps`) renders its own states through the helpers here —
transitions (``Next``/``End``), the ``Catch`` that records a failure, ``Retry`` from the step's
policy, Lambda-backed tasks, Choice targets, sub-scopes — so every kind shares one rendering of
what is common, as CDK's ``State.renderNextEnd()``/``renderRetryCatch()`` do. Every state reads
the state document through a :class:`~stepgraph.compiler.document.Reader` (step outputs in
variables, the latest output as the state's input); a state outputs its step's value, which is
the next step's input, the item's or branch's result at the end of a sub-scope, and the
workflow's result at the end of the main graph, where it goes to the result tail.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..errors import RETRYABLE_BY_DEFAULT, ErrorCode
from ..expressions import compile_condition, compile_expression, jsonata, template_arguments
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
        from ..steps import kind_of

        self.workflow = workflow
        self.graph = graph
        self.by_id = workflow.steps_by_id
        self.trigger_id = workflow.trigger.step_id if workflow.trigger is not None else None
        #: Scopes in which some state leads to the re-raising Fail state.
        self._raising_scopes: set[Scope] = set()
        #: Some state of the main graph leads to the failure tail (else it is left out: unreachable).
        self.fails = False
        #: Steps whose output some step reads: only those get a variable.
        self.read_steps: set[str] = set()
        #: Steps whose expressions name their own output (validation allows it; it reads null).
        self._self_readers: set[str] = set()
        from ..validation import step_references

        for step in workflow.steps:
            if kind_of(step).reads_everything(step):
                self.read_steps |= graph.runs_before(step.step_id)
            for ref in step_references(step):
                if ref.root == "steps" and ref.path and isinstance(ref.path[0], str):
                    if ref.path[0] == step.step_id:
                        self._self_readers.add(step.step_id)  # reads null: it has not run yet
                    else:
                        self.read_steps.add(ref.path[0])
        self.read_steps.discard(self.trigger_id or "")
        self._readers: dict[tuple[int, bool], doc.Reader] = {}

    # ---------------------------------------------------------------- where values live

    def _distributed(self, scope: Scope) -> bool:
        return scope.kind == "body" and scope.owner is not None and self.by_id[scope.owner].parameters.get("mode") == "distributed"

    def reader(self, step: Step, scope: Scope, *, at_entry: bool | None = None) -> doc.Reader:
        """Where ``step``'s state finds each root (see :class:`~stepgraph.compiler.document.Reader`)."""
        entry = self.reads_at_entry(step, scope) if at_entry is None else at_entry
        key = (id(scope), entry)  # a reader depends on the scope, and on being its entry
        if key in self._readers:
            reader = self._readers[key]
            return dataclasses.replace(reader, own=step.step_id) if step.step_id in self._self_readers else reader
        loop = None
        depth = 0
        local: frozenset[str] | None = None
        current: Scope | None = scope
        while current is not None:
            if current.kind == "body":
                loop = loop or current.owner
                if self._distributed(current):
                    depth += 1
                    if local is None:
                        local = frozenset(s.step_id for s in self.scope_steps(current))
            current = current.parent
        mode = ("distributed" if self._distributed(scope) else "inline") if entry else None
        reader = doc.Reader(trigger_id=self.trigger_id, loop=loop, entry=mode, depth=depth, local=local)
        self._readers[key] = reader
        if step.step_id in self._self_readers:
            return dataclasses.replace(reader, own=step.step_id)
        return reader

    def reads_at_entry(self, step: Step, scope: Scope) -> bool:
        """True when the step's own state is the first of a loop body (no ``(item)`` Pass before it)."""
        return scope.kind == "body" and scope.entry == step.step_id and not self._needs_item_state(scope)

    def _needs_item_state(self, scope: Scope) -> bool:
        """A body whose entry is a Map or Parallel assigns the item in a Pass first.

        Those states assign their variables only when they end, while their own sub-scopes
        already read the item.
        """
        from ..steps import kind_of

        entry = self.by_id[scope.entry]
        return bool(kind_of(entry).sub_scopes(entry))

    def scope_entry_assign(self, scope: Scope, reader: doc.Reader) -> dict[str, Any]:
        """What the first state of a scope assigns besides its own output.

        A loop body: its item and index (and, distributed, what its ``ItemSelector`` carries);
        every scope: ``null`` for each variable its steps may assign, so a step that did not run
        on the path taken reads ``null``.
        """
        assign: dict[str, Any] = {}
        if scope.kind == "body" and scope.owner is not None:
            assign[doc.item_variable(scope.owner)] = doc.jsonata_string("$states.input.item")
            assign[doc.index_variable(scope.owner)] = doc.jsonata_string("$states.input.index")
            if self._distributed(scope):
                carried = self._carried(scope)
                inner = doc.Reader(depth=reader.depth)
                if carried["input"]:
                    assign[inner.carried_name(doc.INPUT)] = doc.jsonata_string(f"$states.input.{doc.INPUT}")
                if carried["trigger"]:
                    assign[inner.carried_name(doc.TRIGGER)] = doc.jsonata_string(f"$states.input.{doc.TRIGGER}")
                for step_id in carried["steps"]:
                    assign[inner.carried_name(doc.step_variable(step_id))] = doc.jsonata_string(
                        f"$states.input.{doc.STEPS_KEY}.`{step_id}`")
        for step_id in scope.members:
            if step_id != scope.entry and step_id in self.read_steps:
                assign[doc.step_variable(step_id)] = None
        return assign

    # ---------------------------------------------------------------- scopes

    def compile_scope(self, scope: Scope) -> dict[str, Any]:
        """Return ``{"StartAt", "States"}`` for a scope."""
        from ..steps import kind_of

        states: dict[str, Any] = {}
        start = scope.entry
        if scope.kind == "body" and self._needs_item_state(scope):
            start = doc.helper_state_name(scope.entry, "item")
            reader = self.reader(self.by_id[scope.entry], scope, at_entry=True)
            states[start] = {"Type": StateType.PASS.value, "Assign": self.scope_entry_assign(scope, reader),
                             "Output": doc.jsonata_string("$states.input.item"), "Next": scope.entry}
        for step_id in scope.members:
            step = self.by_id[step_id]
            states.update(kind_of(step).compile(step, scope, self))
        return {"StartAt": start, "States": states}

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

    def assign(self, step: Step, scope: Scope, value: Any) -> dict[str, Any]:
        """``Assign`` of a step's state: its output (when some step reads it), plus the scope's entry values.

        ``value`` is an ASL field value (a ``{% %}`` string or a JSON tree).
        """
        assign: dict[str, Any] = {}
        if scope.entry == step.step_id and (scope.kind != "body" or self.reads_at_entry(step, scope)):
            assign.update(self.scope_entry_assign(scope, self.reader(step, scope)))
        if step.step_id in self.read_steps:
            assign[doc.step_variable(step.step_id)] = value
        return assign

    def finish(self, state: dict[str, Any], step: Step, scope: Scope, target: str | None, value: str | None,
               *, output: Any = None) -> dict[str, Any]:
        """Add ``Assign``, ``Output`` and ``Next``/``End`` to the state of a step that produced a value.

        ``value`` is JSONata for the step's output; ``None`` means the step passes its input on
        (a condition, a delay). ``output`` may give the value as an ASL field value instead (a
        JSON tree whose templated leaves are ``{% %}``).
        """
        reader = self.reader(step, scope)
        if output is None:
            if value is None:
                value = reader.last()
                output = None if value == doc.LAST else doc.jsonata_string(value)
                own = doc.jsonata_string(value)
            else:
                output = own = doc.jsonata_string(value)
        else:
            own = output
        assign = self.assign(step, scope, own)
        if assign:
            state["Assign"] = assign
        if output is not None:
            state["Output"] = output
        nxt = self.target(scope, target)
        if nxt is None and scope.kind != "main":
            state["End"] = True
        else:
            state["Next"] = nxt if nxt is not None else HelperState.STORE_RESULT.value
        return state

    def failure_target(self, scope: Scope) -> str:
        """Where a failure goes: the failure tail in the main graph, the re-raising Fail state elsewhere."""
        if scope.kind == "main":
            self.fails = True
            return HelperState.STORE_FAILURE.value
        return self.raise_to(scope)

    def fail_with(self, scope: Scope, error: str) -> tuple[dict[str, Any], str]:
        """``(Assign, Next)`` of a transition that fails the scope with ``error`` (a JSONata object)."""
        return {doc.ERROR: doc.jsonata_string(error)}, self.failure_target(scope)

    def catch(self, step: Step, scope: Scope, default_code: str) -> list[dict[str, Any]]:
        """A Catch that assigns any error as ``$error`` (``{code, message, step}``) and ends the scope with it."""
        assign, nxt = self.fail_with(scope, error_object(step.step_id, default_code))
        return [{"ErrorEquals": ["States.ALL"], "Assign": assign, "Next": nxt}]

    def raise_to(self, scope: Scope) -> str:
        """Name of the scope's re-raising Fail state, which is then added to the scope."""
        self._raising_scopes.add(scope)
        return self._raise_state_name(scope)

    @staticmethod
    def _raise_state_name(scope: Scope) -> str:
        return doc.helper_state_name(scope.entry, "raise")

    def raise_state(self, scope: Scope) -> dict[str, Any]:
        """Fail state re-raising an inner error to the loop or parallel step with its step id."""
        error = f"${doc.ERROR}"
        return {
            self._raise_state_name(scope): {
                "Type": StateType.FAIL.value,
                "Error": doc.jsonata_string(f"{error}.code"),
                "Cause": doc.jsonata_string(f"$string({{\"message\": {error}.message, \"step\": {error}.step}})"),
            }
        }

    def branch_end(self, step_id: str, suffix: str) -> tuple[str, dict[str, Any]]:
        """A Pass that ends a sub-scope with its input, the latest output (a Choice branch with no step)."""
        name = doc.helper_state_name(step_id, suffix)
        return name, {name: {"Type": StateType.PASS.value, "End": True}}

    def choice_target(self, step: Step, scope: Scope, ids: tuple[str, ...], suffix: str, extra: dict[str, Any]) -> str:
        """Where a Choice rule goes for ``ids`` (a step, the result tail, or a new branch-ending Pass)."""
        target = self.target(scope, ids[0] if ids else None)
        if target is not None:
            return target
        if scope.kind == "main":
            return HelperState.STORE_RESULT.value
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

    def template(self, value: Any, step: Step, scope: Scope) -> Any:
        """ASL ``Arguments`` value for a template parameter (SPEC §4), read where ``step`` runs."""
        return template_arguments(thaw(value), workflow_name=self.workflow.name, reader=self.reader(step, scope))

    def expression(self, text: str, step: Step, scope: Scope) -> str:
        """JSONata of one expression (a loop's ``items``, a delay's ``seconds``), read where ``step`` runs."""
        return compile_expression(text, workflow_name=self.workflow.name, reader=self.reader(step, scope))

    def condition(self, text: str, step: Step, scope: Scope) -> str:
        """JSONata of a condition, read where ``step`` runs."""
        return compile_condition(text, workflow_name=self.workflow.name, reader=self.reader(step, scope))

    def steps_object(self, step: Step, scope: Scope) -> str:
        """JSONata of ``{step_id: output}`` for every step ``step`` may read (SPEC §3 visibility)."""
        reader = self.reader(step, scope)
        members = ", ".join(f"{jsonata(sid)}: {reader.step(sid)}" for sid in sorted(self.graph.runs_before(step.step_id)))
        return "{" + members + "}"

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
        return self.finish(state, step, scope, nxt, result)

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

    def _carried(self, body: Scope) -> dict[str, Any]:
        """What a distributed body reads from outside: ``{"input": bool, "trigger": bool, "steps": [ids]}``.

        Distributed Map children see no variables, so the Map's ``ItemSelector`` carries these.
        The body's references decide: ``input``/``context`` (and every agent step, whose session
        id comes from the input) need the input, ``trigger`` the trigger, ``steps.<outer>`` those
        outputs; a step whose kind may read anything gets every output visible to the loop.
        """
        from ..steps import kind_of
        from ..validation import step_references

        steps = self.scope_steps(body)
        inner = {s.step_id for s in steps}
        needs_all = any(kind_of(s).reads_everything(s) for s in steps)
        roots: set[str] = set()
        outer: set[str] = set()
        for s in steps:
            for ref in step_references(s):
                roots.add(ref.root)
                if ref.root == "steps" and ref.path and ref.path[0] not in inner:
                    outer.add(str(ref.path[0]))
        if needs_all and body.owner is not None:
            outer |= set(self.graph.runs_before(body.owner))
        wants_trigger = needs_all or "trigger" in roots or self.trigger_id in outer
        outer.discard(self.trigger_id or "")
        wants_input = needs_all or bool(roots & {"input", "context"}) or any(kind_of(s).agents_used(s) for s in steps)
        return {"input": wants_input, "trigger": wants_trigger, "steps": sorted(outer)}

    def item_selector(self, body: Scope, loop: Step, scope: Scope) -> dict[str, Any]:
        """Per-item input of a loop's body: the item and its index (read by the body's entry).

        Inline bodies read everything else from the variables of the scopes around them. A
        distributed body sees no variables (its children are separate executions), so the
        selector also carries what the body reads from outside (:meth:`_carried`), each value
        copied once per item — only what is read, never every output.
        """
        selector: dict[str, Any] = {
            "item": doc.jsonata_string("$states.context.Map.Item.Value"),
            "index": doc.jsonata_string("$states.context.Map.Item.Index"),
        }
        if self._distributed(body):
            reader = self.reader(loop, scope)
            carried = self._carried(body)
            if carried["input"]:
                selector[doc.INPUT] = doc.jsonata_string(reader.input())
            if carried["trigger"]:
                selector[doc.TRIGGER] = doc.jsonata_string(reader.trigger())
            if carried["steps"]:
                selector[doc.STEPS_KEY] = {sid: doc.jsonata_string(reader.step(sid)) for sid in carried["steps"]}
        return selector
