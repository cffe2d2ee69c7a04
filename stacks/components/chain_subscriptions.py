"""Chaining (SPEC §5): the chain function subscribed to the results topic, once per upstream workflow."""

from __future__ import annotations

from typing import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stepgraph_runtime import env

from stepgraph.chaining import filter_policy

from ..naming import pascal
from .dead_letter_queue import DeadLetterQueue

__all__ = ["ChainSubscriptions", "subscription_filter"]


def subscription_filter(policy: Mapping[str, Sequence[str]]) -> dict[str, sns.SubscriptionFilter]:
    """Return ``stepgraph.chaining.filter_policy``'s dict as CDK subscription filters.

    Examples
    --------
    >>> sorted(subscription_filter({"workflowName": ["a"], "status": ["completed"]}))
    ['status', 'workflowName']
    """
    return {attribute: sns.SubscriptionFilter.string_filter(allowlist=list(values)) for attribute, values in policy.items()}


class ChainSubscriptions(Construct):
    """Start downstream workflows when an upstream one ends (``on_complete``).

    ``lambdas/chain`` reads ``CHAIN_ROUTES``: ``{upstream: [{"workflow", "when",
    "state_machine_arn"}]}`` (``stepgraph.chaining.chain_routes`` plus each downstream state
    machine's ARN). It may call ``states:StartExecution`` on the downstream state machines and
    on nothing else.

    The results topic gets one subscription per upstream workflow, filtered on the message
    attributes ``workflowName`` and ``status`` with ``stepgraph.chaining.filter_policy`` (the
    very policy the local engine applies), so the function only hears results that start
    something. Every subscription has the dead-letter queue: a result SNS cannot deliver to the
    function (throttled, permission lost) waits there for 14 days instead of being dropped. The
    function's own asynchronous invocations send their failures (a ``StartExecution`` that
    still fails after Lambda's retries) to the same queue, whose depth has an alarm.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    function:
        The ``lambdas/chain`` function.
    routes:
        ``stepgraph.chaining.chain_routes(project.workflows)``: downstream targets by upstream.
    state_machines:
        State machines by workflow name; every downstream workflow must be one of them.
    results_topic:
        The topic announcing result records.
    dead_letters:
        Where undeliverable results and failed invocations go.
    retry_attempts:
        Lambda's retries of a failed asynchronous invocation (0–2). Default ``2``.

    Attributes
    ----------
    function:
        The chain function.
    subscriptions:
        The results topic subscriptions by upstream workflow name.
    dead_letters:
        The dead-letter queue.

    Raises
    ------
    KeyError
        When a downstream workflow has no state machine.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        routes: Mapping[str, Sequence[Mapping[str, str]]],
        state_machines: Mapping[str, sfn.IStateMachine],
        results_topic: sns.ITopic,
        dead_letters: DeadLetterQueue,
        retry_attempts: int = 2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        self.dead_letters = dead_letters
        missing = sorted({t["workflow"] for targets in routes.values() for t in targets} - set(state_machines))
        if missing:
            raise KeyError(f"on_complete names workflow(s) {missing} that have no state machine")
        env_routes = {
            upstream: [
                {"workflow": t["workflow"], "when": t.get("when", "completed"),
                 "state_machine_arn": state_machines[t["workflow"]].state_machine_arn}
                for t in targets
            ]
            for upstream, targets in sorted(routes.items())
        }
        function.add_environment(env.CHAIN_ROUTES, cdk.Stack.of(self).to_json_string(env_routes))
        for downstream in sorted({t["workflow"] for targets in routes.values() for t in targets}):
            state_machines[downstream].grant_start_execution(function)
        function.add_permission(
            "AllowResultsTopic",
            principal=iam.ServicePrincipal("sns.amazonaws.com"),
            source_arn=results_topic.topic_arn,
        )
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(dead_letters.queue),
            retry_attempts=retry_attempts,
        )
        self.subscriptions: dict[str, sns.Subscription] = {}
        for upstream, targets in sorted(routes.items()):
            self.subscriptions[upstream] = sns.Subscription(
                self,
                f"Upstream{pascal(upstream)}",
                topic=results_topic,
                endpoint=function.function_arn,
                protocol=sns.SubscriptionProtocol.LAMBDA,
                filter_policy=subscription_filter(filter_policy(upstream, [dict(t) for t in targets])),
                dead_letter_queue=dead_letters.queue,
            )
