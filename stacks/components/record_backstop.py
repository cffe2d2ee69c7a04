"""The result-record backstop: executions that ended without writing their record get one."""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_bedrockagentcore as agentcore
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stepgraph_runtime import env

from .dead_letter_queue import DeadLetterQueue
from .encrypted_topic import grant_publish
from .nag import acknowledge_matching

__all__ = ["RecordBackstop", "BACKSTOP_STATUSES", "SESSION_STATUSES", "execution_arns"]

#: Endings the compiled recording tail may miss (SPEC §5; ``lambdas/record_backstop``).
BACKSTOP_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
#: Every ending: the rule hears them all when some workflow uses agents, whose sessions are stopped (SPEC §6).
SESSION_STATUSES = ("SUCCEEDED",) + BACKSTOP_STATUSES

#: Where result records live in the results bucket.
_RESULTS_PREFIX = "results/"


def execution_arns(scope: Construct, state_machine_name: str) -> str:
    """Return the ARN pattern of every execution of the state machine named ``state_machine_name``.

    Built from the name (``arn:<partition>:states:<region>:<account>:execution:<name>:*``), so a
    state machine's own role can name its executions without depending on the state machine.
    """
    return cdk.Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_name}:*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )


class RecordBackstop(Construct):
    """Write the result record of executions that ended without one (``lambdas/record_backstop``).

    An EventBridge rule on "Step Functions Execution Status Change" events from ``aws.states``
    with ``detail.status`` ``FAILED``, ``TIMED_OUT`` or ``ABORTED`` and ``detail.stateMachineArn``
    one of ``state_machines`` invokes the function. The rule target retries (``retry_attempts``,
    ``max_event_age``) and then sends the event to the dead-letter queue; so do the function's
    own failed asynchronous invocations. The function is idempotent (it checks for the record
    first), so retries never write a second record.

    The function gets ``RESULTS_BUCKET_NAME``, ``RESULTS_TOPIC_ARN`` and
    ``STATE_MACHINE_NAME_PREFIX`` and may:

    - ``s3:GetObject`` (``HeadObject`` is authorized by it) and ``s3:PutObject`` on
      ``results/*`` only, and ``s3:ListBucket`` on the bucket for keys under ``results/`` only:
      without ``ListBucket`` S3 answers ``HeadObject`` on a missing record with 403 instead of
      404, and the function could never tell "missing" from "denied";
    - ``sns:Publish`` on the results topic (and use its KMS key);
    - ``states:GetExecutionHistory`` on the executions of the listed state machines (to name
      the step that was running);
    - with ``session_runtimes``: ``bedrock-agentcore:StopRuntimeSession`` on exactly those
      runtimes (ARN and ``ARN/*``, the endpoints) and ``states:DescribeExecution`` on the
      executions (for an input the event left out). The rule then also hears ``SUCCEEDED``:
      every ending stops the execution's sessions, with no state added to the state machine.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    function:
        The ``lambdas/record_backstop`` function.
    state_machines:
        The state machines watched, by state machine name.
    name_prefix:
        ``STATE_MACHINE_NAME_PREFIX``: ``"<prefix>-"``, stripped from a state machine's name to
        get its workflow's name.
    results_bucket, results_topic:
        Where result records go.
    results_topic_key:
        The topic's customer-managed KMS key. Default: none.
    dead_letters:
        Where events that could not be handled go.
    retry_attempts:
        The rule target's retries. Default ``8``.
    max_event_age:
        How long the rule target keeps retrying an event. Default 6 hours.
    session_runtimes:
        Workflow name → the runtimes whose sessions its executions use
        (``stepgraph.handlers.session_agents``). Default: none.

    Attributes
    ----------
    function:
        The backstop function.
    rule:
        The EventBridge rule.
    dead_letters:
        The dead-letter queue.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        state_machines: Mapping[str, sfn.IStateMachine],
        name_prefix: str,
        results_bucket: s3.IBucket,
        results_topic: sns.ITopic,
        dead_letters: DeadLetterQueue,
        results_topic_key: kms.IKey | None = None,
        retry_attempts: int = 8,
        max_event_age: cdk.Duration | None = None,
        session_runtimes: Mapping[str, Sequence[agentcore.IBedrockAgentRuntime]] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        self.dead_letters = dead_letters
        function.add_environment(env.RESULTS_BUCKET_NAME, results_bucket.bucket_name)
        function.add_environment(env.RESULTS_TOPIC_ARN, results_topic.topic_arn)
        function.add_environment(env.STATE_MACHINE_NAME_PREFIX, name_prefix)
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadAndWriteResultRecords",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[results_bucket.arn_for_objects(_RESULTS_PREFIX + "*")],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="TellMissingRecordsFromDenied",
                actions=["s3:ListBucket"],
                resources=[results_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [_RESULTS_PREFIX + "*"]}},
            )
        )
        grant_publish(function, results_topic, results_topic_key)
        session_runtimes = {name: list(runtimes) for name, runtimes in (session_runtimes or {}).items() if runtimes}
        self._stop_sessions(function, state_machines, session_runtimes)
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadExecutionHistories",
                actions=["states:GetExecutionHistory"],
                resources=[execution_arns(self, name) for name in sorted(state_machines)],
            )
        )
        function.configure_async_invoke(on_failure=destinations.SqsDestination(dead_letters.queue), retry_attempts=2)
        acknowledge_matching(
            function.role,
            "AwsSolutions-IAM5",
            "The backstop reads and writes result records results/<workflow>/<execution>.json, whose "
            "names are known only when an execution ends; access is limited to the results/ prefix.",
            pattern=r"Resource::.*/results/\*",
        )
        acknowledge_matching(
            function.role,
            "AwsSolutions-IAM5",
            "GetExecutionHistory is granted on the executions (execution:<state machine name>:*) of "
            "this app's own state machines, named one by one; execution names are chosen at run time.",
            pattern=r"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            + "(" + "|".join(re.escape(name) for name in sorted(state_machines)) + r"):\*",
        )
        self.rule = events.Rule(
            self,
            "ExecutionEnded",
            description="Executions of stepgraph state machines that failed, timed out or were stopped",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": list(SESSION_STATUSES if session_runtimes else BACKSTOP_STATUSES),
                    "stateMachineArn": [machine.state_machine_arn for _, machine in sorted(state_machines.items())],
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letters.queue,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age if max_event_age is not None else cdk.Duration.hours(6),
            )
        )

    def _stop_sessions(self, function: lambda_.Function, state_machines: Mapping[str, sfn.IStateMachine],
                       session_runtimes: Mapping[str, Sequence[agentcore.IBedrockAgentRuntime]]) -> None:
        """Tell the function whose sessions to stop, and let it stop exactly those (``STEPGRAPH_SESSION_RUNTIMES``)."""
        from stepgraph_runtime.agentcore import RUNTIME_ENDPOINT

        stack = cdk.Stack.of(self)
        setting = {name: [[runtime.agent_runtime_arn, RUNTIME_ENDPOINT] for runtime in runtimes]
                   for name, runtimes in sorted(session_runtimes.items())}
        function.add_environment(env.SESSION_RUNTIMES, stack.to_json_string(setting))
        if not session_runtimes:
            return
        arns = {runtime.node.path: runtime.agent_runtime_arn for runtimes in session_runtimes.values() for runtime in runtimes}
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="StopSessionsOfEndedExecutions",
                actions=["bedrock-agentcore:StopRuntimeSession"],
                resources=[r for _, arn in sorted(arns.items()) for r in (arn, f"{arn}/*")],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadInputsLeftOutOfEvents",
                actions=["states:DescribeExecution"],
                resources=[execution_arns(self, name) for name in sorted(state_machines)],
            )
        )
        acknowledge_matching(
            function.role,
            "AwsSolutions-IAM5",
            "StopRuntimeSession is authorized on the runtime ARN and its endpoints (<runtime ARN>/*, "
            "such as DEFAULT); only the runtimes the workflows use are granted.",
            pattern=r"Resource::.*AgentRuntimeArn.*/\*",
        )
