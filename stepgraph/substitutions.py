"""Names of the ``${...}`` placeholders a compiled state machine carries.

The compiler emits these placeholders instead of real ARNs; ``cdk deploy`` fills them through the
state machine's ``DefinitionSubstitutions`` and the local engine fills them with the names of
the emulated resources, so both run the very same Amazon States Language document.
"""

from __future__ import annotations

__all__ = [
    "RESULTS_BUCKET",
    "RESULTS_TOPIC",
    "INVOKE_AGENT_FUNCTION",
    "TOOL_FUNCTION",
    "API_CALL_FUNCTION",
    "APPROVAL_FUNCTION",
    "agent_runtime_key",
    "state_machine_key",
    "placeholder",
]

#: Name of the S3 bucket that receives result records.
RESULTS_BUCKET = "ResultsBucketName"
#: ARN of the SNS topic on which result records are announced.
RESULTS_TOPIC = "ResultsTopicArn"
#: ARN of the Lambda function ``lambdas/invoke_agent``.
INVOKE_AGENT_FUNCTION = "InvokeAgentFunctionArn"
#: ARN of the Lambda function ``lambdas/tool_call`` (runs registered tools).
TOOL_FUNCTION = "ToolFunctionArn"
#: ARN of the Lambda function ``lambdas/api_call`` (HTTP requests with an address guard).
API_CALL_FUNCTION = "ApiCallFunctionArn"
#: ARN of the Lambda function ``lambdas/approval`` (stores approval requests, resumes executions).
APPROVAL_FUNCTION = "ApprovalFunctionArn"


def agent_runtime_key(agent_id: str) -> str:
    """Return the substitution key of an agent's AgentCore runtime ARN.

    Examples
    --------
    >>> agent_runtime_key("support_agent")
    'AgentRuntimeArn_support_agent'
    """
    return f"AgentRuntimeArn_{agent_id}"


def state_machine_key(workflow_name: str) -> str:
    """Return the substitution key of a workflow's state machine ARN (a ``subflow`` step's child).

    Workflow names may hold ``-``, which a CloudFormation-friendly key avoids.

    Examples
    --------
    >>> state_machine_key("order-digest")
    'StateMachineArn_order_2Ddigest'
    """
    return "StateMachineArn_" + "".join(ch if ch.isalnum() else f"_{ord(ch):X}" for ch in workflow_name)


def placeholder(key: str) -> str:
    """Return ``${key}``, the form Step Functions' definition substitutions replace."""
    return "${" + key + "}"
