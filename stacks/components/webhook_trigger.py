"""A ``webhook`` trigger (SPEC §3): an HMAC-checked Lambda function URL that starts a workflow."""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .encrypted_table import encrypted_table
from .nag import acknowledge, acknowledge_matching

__all__ = ["WebhookTrigger"]


class WebhookTrigger(Construct):
    """A public HTTPS endpoint that starts one workflow when a delivery is signed with its secret.

    ``lambdas/webhook`` sits behind a Lambda function URL with auth type ``NONE``: webhook
    senders (GitHub, Stripe, a partner's system) cannot sign requests with AWS SigV4, so the
    URL is reachable by anyone, and the **HMAC-SHA256 signature is the authentication**. The
    handler answers 401 and starts nothing unless ``X-Stepgraph-Signature`` is the HMAC of
    ``"<X-Stepgraph-Timestamp>.<X-Stepgraph-Delivery>.<body>"`` under the secret and the
    timestamp is within 5 minutes. A **replay cache** (the ``replays`` table: Powertools
    Idempotency's conditional write, records expiring with DynamoDB TTL after the signature
    window) makes a replayed delivery start nothing; the delivery id also names the execution.
    A function URL rather than API Gateway: one signed POST needs no routing, request models,
    API keys or usage plans, and the URL adds no cost or moving part.

    The secret lives in Secrets Manager, never in code or environment variables: the function
    gets only its ARN (``WEBHOOK_SECRET_ARN``) and ``secretsmanager:GetSecretValue`` /
    ``DescribeSecret`` on it. With ``secret_name`` the secret is an existing one
    (``Secret.from_secret_name_v2``; the grant then covers ``<name>-??????``, the suffix
    Secrets Manager appends); without it the stack owns a generated 64-character secret. The
    function may call ``states:StartExecution`` on its workflow's state machine only.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    function:
        The ``lambdas/webhook`` function of this workflow.
    state_machine:
        The workflow's state machine.
    workflow_name:
        The workflow's name (descriptions).
    secret_name:
        Name of an existing Secrets Manager secret holding the HMAC key. Default: none, create
        one.
    removal_policy:
        What ``cdk destroy`` does with a generated secret. Default ``RemovalPolicy.RETAIN``:
        senders keep signing with it.

    Attributes
    ----------
    function:
        The webhook function.
    url:
        Its function URL (``url.url`` is the address to give senders).
    secret:
        The HMAC key's secret.
    owns_secret:
        Whether the stack created the secret.
    replays:
        The replay cache table (partition key ``id``, TTL attribute ``expiration``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        state_machine: sfn.IStateMachine,
        workflow_name: str,
        secret_name: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        self.owns_secret = not secret_name
        if secret_name:
            self.secret: secretsmanager.ISecret = secretsmanager.Secret.from_secret_name_v2(self, "Secret", secret_name)
            acknowledge_matching(
                function.role,
                "AwsSolutions-IAM5",
                "An existing secret is referenced by name; Secrets Manager appends six random "
                "characters to a secret's ARN, so the grant names <name>-?????? (one secret, no "
                "other wildcard).",
                pattern=r"Resource::.*:secret:" + re.escape(secret_name) + r"-\?\?\?\?\?\?",
            )
        else:
            self.secret = secretsmanager.Secret(
                self,
                "Secret",
                description=f"HMAC-SHA256 key that signs deliveries to the {workflow_name} webhook",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=64, exclude_punctuation=True, include_space=False
                ),
                removal_policy=removal_policy,
            )
            acknowledge(
                self.secret,
                "AwsSolutions-SMG4",
                "The HMAC key is shared with the webhook's senders, who sign with it; rotating it "
                "automatically would make every sender's signatures fail. It is rotated by hand, "
                "together with the senders (put a new value, then update the senders).",
            )
        self.secret.grant_read(function)
        # Only records of the last few minutes; nothing worth keeping after the stack.
        self.replays = encrypted_table(self, "Replays", partition_key="id", ttl_attribute="expiration",
                                       removal_policy=cdk.RemovalPolicy.DESTROY)
        self.replays.grant(function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
        function.add_environment("REPLAY_TABLE_NAME", self.replays.table_name)
        function.add_environment("WEBHOOK_SECRET_ARN", self.secret.secret_arn)
        function.add_environment("STATE_MACHINE_ARN", state_machine.state_machine_arn)
        state_machine.grant_start_execution(function)
        # Auth NONE on purpose: the HMAC signature is the authentication (see the class docstring).
        self.url = function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
