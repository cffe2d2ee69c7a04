"""Every environment variable name the Lambda handlers read, defined once (Powertools ``shared/constants.py`` style).

The stacks set them (``function.add_environment(env.PAYLOADS_BUCKET, ...)``), the local engine
sets them for the in-process handlers, and the handlers read them: all three import the names
from here.
"""

from __future__ import annotations

__all__ = [
    "APPROVALS_TABLE_NAME",
    "APPROVALS_TOPIC_ARN",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
    "AWS_ENDPOINT_URL_SFN",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "CHAIN_ROUTES",
    "CONSOLE_AUTH",
    "FETCH_JSON_ALLOWED_HOSTS",
    "OFFLOAD_BYTES",
    "PAYLOADS_BUCKET",
    "POWERTOOLS_SERVICE_NAME",
    "RESULTS_BUCKET_NAME",
    "RESULTS_TOPIC_ARN",
    "SESSION_RUNTIMES",
    "STATE_MACHINE_ARN",
    "STATE_MACHINE_NAME_PREFIX",
    "WEBHOOK_SECRET_ARN",
    "service_name",
]

# --------------------------------------------------------------------------- set by the stacks

#: Bucket that holds offloaded step outputs under ``payloads/<workflow>/<execution>/`` (SPEC §13).
PAYLOADS_BUCKET = "PAYLOADS_BUCKET"
#: Bucket of result records (``results/<workflow>/<execution>.json``); read by ``lambdas/record_backstop``.
RESULTS_BUCKET_NAME = "RESULTS_BUCKET_NAME"
#: Topic on which result records are announced; read by ``lambdas/record_backstop``.
RESULTS_TOPIC_ARN = "RESULTS_TOPIC_ARN"
#: ``"<prefix>-"``: a state machine named ``<prefix>-<workflow>`` runs workflow ``<workflow>``.
STATE_MACHINE_NAME_PREFIX = "STATE_MACHINE_NAME_PREFIX"
#: JSON routes of ``lambdas/chain`` (``{"<upstream>": [{"workflow", "when", "state_machine_arn"}]}``).
CHAIN_ROUTES = "CHAIN_ROUTES"
#: DynamoDB table of approval requests (``lambdas/approval``).
APPROVALS_TABLE_NAME = "APPROVALS_TABLE_NAME"
#: Topic on which approvers are notified (``lambdas/approval``; optional).
APPROVALS_TOPIC_ARN = "APPROVALS_TOPIC_ARN"
#: The state machine a webhook starts (``lambdas/webhook``).
STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
#: The Secrets Manager secret holding a webhook's HMAC key (``lambdas/webhook``).
WEBHOOK_SECRET_ARN = "WEBHOOK_SECRET_ARN"
#: The DynamoDB table streamed text chunks go to (the HTTP API's live deltas); set by the API stack
#: on ``lambdas/invoke_agent``, and by the local engine when the API serves.
STREAM_DELTAS_TABLE = "STREAM_DELTAS_TABLE"
#: JSON ``{"<workflow>": [["<runtime ARN>", "<qualifier>"], ...]}``: the AgentCore runtimes whose
#: sessions ``lambdas/record_backstop`` stops when an execution of the workflow ends (its own and its
#: subflows' agents).
SESSION_RUNTIMES = "STEPGRAPH_SESSION_RUNTIMES"
#: JSON ``{"domain_url", "client_id"}``: how the deployed web console signs in (the Cognito hosted
#: UI); set by the API stack on the API function, read by ``stepgraph.api.console``.
CONSOLE_AUTH = "STEPGRAPH_CONSOLE_AUTH"
#: Names the logs, traces and metrics of a handler (set by ``PowertoolsFunction``).
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"

# --------------------------------------------------------------------------- optional settings

#: Step outputs whose JSON is larger than this many bytes are offloaded (default 64 KiB).
OFFLOAD_BYTES = "STEPGRAPH_OFFLOAD_BYTES"
#: Hosts the ``fetch_json`` tool may reach although they resolve to private addresses (comma-separated).
FETCH_JSON_ALLOWED_HOSTS = "STEPGRAPH_FETCH_JSON_ALLOWED_HOSTS"

# --------------------------------------------------------------------------- set by AWS (read only)

#: botocore's per-service endpoint override; the local engine points it at its AgentCore gateway.
AWS_ENDPOINT_URL_BEDROCK_AGENTCORE = "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"
#: botocore's Step Functions endpoint override; the local engine gives async agents its gateway's URL.
AWS_ENDPOINT_URL_SFN = "AWS_ENDPOINT_URL_SFN"
#: botocore's endpoint override for every service.
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
#: The Lambda's region (set by Lambda).
AWS_REGION = "AWS_REGION"
#: The SDKs' fallback region.
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
#: ``host:port`` of the Lambda runtime API, which the address guard refuses (set by Lambda).
AWS_LAMBDA_RUNTIME_API = "AWS_LAMBDA_RUNTIME_API"


def service_name(default: str = "stepgraph") -> str:
    """``POWERTOOLS_SERVICE_NAME``, or ``default``: the service a handler's logger and tracer report."""
    import os

    return os.environ.get(POWERTOOLS_SERVICE_NAME, default)
