"""Compiler: a validated workflow → an Amazon States Language document (JSONata query language).

State names are the step ids, so the Step Functions console's graph reads like the workflow
file; helper states carry names with a space (``Store result`` …), which no step id can have.
Every execution ends by writing its result record, success and failure alike (SPEC §5)::

    … → Store result (s3:putObject) → Publish result (sns:publish, ends the run)
    … (a Catch) → Store failure (s3:putObject) → Publish failure (sns:publish) → Execution failed (Fail)

ARNs and names of deployed resources are ``${...}`` placeholders (:mod:`stepgraph.substitutions`),
filled by the stack's ``DefinitionSubstitutions`` or by the local engine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..exceptions import ValidationIssue, WorkflowValidationError
from ..expressions import jsonata
from ..graph import analyze_graph
from ..model import Workflow
from ..substitutions import RESULTS_BUCKET, RESULTS_TOPIC, placeholder
from . import document as doc
from .asl import HelperState, StateType, jsonata_string
from .scope import ScopeCompiler

__all__ = ["CompiledWorkflow", "compile_workflow", "definition_budget_issues", "SNS_INLINE_RESULT_LIMIT",
           "MAX_DEFINITION_BYTES", "result_key"]

#: Largest state machine definition Step Functions accepts, in bytes (SPEC §13; Step Functions
#: developer guide, "Quotas": a definition is at most 1 MB, 1,048,576 bytes).
MAX_DEFINITION_BYTES = 1_048_576

#: Result records longer than this many characters are announced on SNS with ``resultS3Uri``
#: instead of ``result``. SNS accepts 262,144 bytes; a character takes up to 4 bytes in UTF-8,
#: so 60,000 characters always fit with room for the other fields.
SNS_INLINE_RESULT_LIMIT = 60_000
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def result_key(workflow_name: str, execution_name: str) -> str:
    """S3 key of a result record: ``results/<workflowName>/<executionName>.json`` (SPEC §5)."""
    return f"results/{workflow_name}/{execution_name}.json"


@dataclass(frozen=True)
class CompiledWorkflow:
    """A compiled workflow.

    Attributes
    ----------
    name:
        The workflow's name.
    definition:
        The Amazon States Language document (a dict), with ``${...}`` placeholders.
    agent_ids:
        Agents the state machine invokes.
    tools:
        Tools its steps call.
    child_workflows:
        Workflows it runs as nested executions (``subflow`` steps): the stack grants it
        ``states:StartExecution`` on exactly those state machines.
    secrets:
        Secrets Manager secrets its steps' Lambdas read at call time (``{{secrets.<name>}}`` in an
        ``api_call``'s headers): the stack grants read on exactly those.
    deployments:
        Typed descriptors of what its steps need deployed besides the state machine (a
        :class:`~stepgraph.steps.trigger.ScheduleDeployment`, a
        :class:`~stepgraph.steps.trigger.WebhookDeployment` …); the stacks read these, never
        the workflow's raw parameters.
    """

    name: str
    definition: dict[str, Any]
    agent_ids: tuple[str, ...]
    tools: tuple[str, ...] = ()
    child_workflows: tuple[str, ...] = ()
    deployments: tuple[Any, ...] = ()
    secrets: tuple[str, ...] = ()

    def deployments_of(self, kind: type) -> tuple[Any, ...]:
        """The descriptors of one type, e.g. ``compiled.deployments_of(ScheduleDeployment)``."""
        return tuple(d for d in self.deployments if isinstance(d, kind))

    def to_json(self, *, indent: int | None = 2) -> str:
        """The definition as JSON text, as ``DefinitionBody.from_string`` takes it."""
        return json.dumps(self.definition, indent=indent, ensure_ascii=False)

    @property
    def substitution_keys(self) -> frozenset[str]:
        """Every ``${key}`` placeholder the definition holds."""
        return frozenset(_PLACEHOLDER.findall(self.to_json(indent=None)))

    def substitute(self, values: dict[str, str]) -> str:
        """Fill the placeholders (what Step Functions' definition substitutions do).

        Raises
        ------
        KeyError
            Naming the placeholders ``values`` lacks.
        """
        missing = sorted(self.substitution_keys - set(values))
        if missing:
            raise KeyError(f"no value for placeholders {missing} of state machine {self.name}")
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.to_json(indent=None))


def _record(workflow: Workflow, *, failed: bool) -> str:
    """JSONata of the result record (SPEC §5) at the first state of the tail.

    ``completedAt`` is the moment that state was entered, so the S3 body and the SNS message
    (built from the state's output) carry the very same record.
    """
    result = "null" if failed else doc.output_value(doc.LAST)
    error = f"${doc.ERROR}" if failed else "null"
    return (
        "{\"executionArn\": $states.context.Execution.Id, "
        "\"executionName\": $states.context.Execution.Name, "
        f"\"workflowName\": {jsonata(workflow.name)}, "
        f"\"sessionId\": {doc.session_id()}, "
        f"\"status\": {jsonata('failed' if failed else 'completed')}, "
        f"\"result\": {result}, \"error\": {error}, "
        "\"startedAt\": $states.context.Execution.StartTime, "
        "\"completedAt\": $states.context.State.EnteredTime}"
    )


def _tail(workflow: Workflow, *, fails: bool) -> dict[str, Any]:
    """The result tail: ``Store result`` → ``Publish result`` (end) and ``Store failure`` → ``Publish failure`` → ``Execution failed``.

    Two helper states on success, three on failure: the record is built inside the S3 Task
    (its ``Arguments`` and ``Output``), the SNS Task ends a completed run, and only a failed run
    needs the Fail state that gives the execution its error code. A workflow in which nothing
    can fail gets no failure tail (Step Functions refuses unreachable states).
    """
    key = f"'results/' & {jsonata(workflow.name)} & '/' & $states.context.Execution.Name & '.json'"
    s3_uri = f"'s3://{placeholder(RESULTS_BUCKET)}/' & {key}"
    message = (
        f"($body := $string($states.input); $length($body) <= {SNS_INLINE_RESULT_LIMIT} ? $body : "
        f"$string($merge([$sift($states.input, function($v, $k) {{ $k != 'result' }}), {{\"resultS3Uri\": {s3_uri}}}])))"
    )
    attributes = {
        "workflowName": {"DataType": "String", "StringValue": workflow.name},
        "status": {"DataType": "String", "StringValue": jsonata_string("$states.input.status")},
    }
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2.0, "JitterStrategy": "FULL"}]

    def store(failed: bool, nxt: str) -> dict[str, Any]:
        record = _record(workflow, failed=failed)
        return {
            "Type": StateType.TASK.value,
            "Comment": f"result record ({'failed' if failed else 'completed'}, SPEC §5) to "
                       "s3://<results bucket>/results/<workflowName>/<executionName>.json",
            "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Arguments": {
                "Bucket": placeholder(RESULTS_BUCKET),
                "Key": jsonata_string(key),
                "Body": jsonata_string(f"$string({record})"),
                "ContentType": "application/json",
            },
            "Output": jsonata_string(record),
            "Retry": retry,
            "Next": nxt,
        }

    def publish(**transition: Any) -> dict[str, Any]:
        return {
            "Type": StateType.TASK.value,
            "Comment": "announce the result record; subscribers filter on workflowName and status",
            "Resource": "arn:aws:states:::sns:publish",
            "Arguments": {
                "TopicArn": placeholder(RESULTS_TOPIC),
                "Message": jsonata_string(message),
                "MessageAttributes": attributes,
            },
            "Output": jsonata_string("$states.input"),
            "Retry": retry,
            **transition,
        }

    tail = {
        HelperState.STORE_RESULT.value: store(False, HelperState.PUBLISH_RESULT.value),
        HelperState.PUBLISH_RESULT.value: publish(End=True),
    }
    if not fails:
        return tail
    return {
        **tail,
        HelperState.STORE_FAILURE.value: store(True, HelperState.PUBLISH_FAILURE.value),
        HelperState.PUBLISH_FAILURE.value: publish(Next=HelperState.FAILED.value),
        HelperState.FAILED.value: {
            "Type": StateType.FAIL.value,
            "Error": jsonata_string("$states.input.error.code"),
            "Cause": jsonata_string("$string($states.input.error.message)"),
        },
    }


def definition_budget_issues(compiled: "CompiledWorkflow") -> list[ValidationIssue]:
    """Problems of a compiled definition against Step Functions' limits (SPEC §13).

    A state machine definition is at most 1,048,576 bytes (Step Functions quotas, "Maximum
    request size" of ``CreateStateMachine``/``UpdateStateMachine``: 1 MB); measured here as the
    UTF-8 JSON the stack ships, before placeholders are filled.
    """
    size = len(compiled.to_json(indent=None).encode("utf-8"))
    if size <= MAX_DEFINITION_BYTES:
        return []
    return [ValidationIssue(
        f"the compiled state machine is {size:,} bytes, over Step Functions' limit of {MAX_DEFINITION_BYTES:,} bytes "
        "per definition; split the workflow (a subflow step runs another workflow) or move a long loop body into "
        "its own workflow", None, "steps")]


def compile_workflow(workflow: Workflow) -> CompiledWorkflow:
    """Compile a validated workflow to Amazon States Language.

    Parameters
    ----------
    workflow:
        A workflow that passed :func:`stepgraph.validation.validate_workflow` (for example one
        returned by :func:`stepgraph.load_workflow`).

    Returns
    -------
    CompiledWorkflow
        The ASL document (``QueryLanguage: JSONata``) and what it needs deployed.

    Raises
    ------
    ValueError
        When the workflow has no trigger (it was not validated).
    WorkflowValidationError
        When the compiled definition is over Step Functions' 1,048,576-byte limit
        (:func:`definition_budget_issues`).

    Examples
    --------
    >>> from stepgraph import load_workflow, compile_workflow  # doctest: +SKIP
    >>> compiled = compile_workflow(load_workflow("workflows/customer-support.json"))
    >>> compiled.definition["StartAt"]
    'trigger'
    """
    graph = analyze_graph(workflow)
    main = graph.main
    if main is None:
        raise ValueError(f"workflow {workflow.name} has no trigger; validate it before compiling")
    scopes = ScopeCompiler(workflow, graph)
    body = scopes.compile_scope(main)
    states = {**body["States"], **_tail(workflow, fails=scopes.fails)}
    definition = {
        "Comment": workflow.description or f"stepgraph workflow {workflow.name}",
        "QueryLanguage": "JSONata",
        "StartAt": body["StartAt"],
        "States": states,
    }
    from ..steps import kind_of

    deployments = tuple(d for s in workflow.steps if (d := kind_of(s).deployment(s)) is not None)
    compiled = CompiledWorkflow(name=workflow.name, definition=definition, agent_ids=workflow.agent_ids,
                                tools=workflow.tool_names, child_workflows=workflow.child_workflows, deployments=deployments,
                                secrets=workflow.secret_names)
    problems = definition_budget_issues(compiled)
    if problems:
        raise WorkflowValidationError(problems, source=workflow.name)
    return compiled
