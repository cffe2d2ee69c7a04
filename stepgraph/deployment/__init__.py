"""A deployed stepgraph app: its stack outputs, and what a person does with them (SPEC §8, §11)."""

from .act_state import ACT_STATE_VERSION, ActStateWarning, act_state_path, write_act_state
from .errors import (
    ActStateError,
    AgentInvocationError,
    AwsCallError,
    CredentialsError,
    DeploymentError,
    ExecutionWaitTimeoutError,
    LogGroupNotFoundError,
    NotDeployedError,
    RegionError,
    UnknownAgentError,
    UnknownTargetError,
    UnknownWorkflowError,
    aws_error,
)
# _invoker_module and _pascal are private: re-exported only because tests import them from here.
from .invoke import _invoker_module, execution_status, invoke_agent_runtime, invoke_workflow, new_session_id
from .logs import recent_logs
from .outputs import RUNTIME_ENDPOINT, Deployment, _pascal, load_deployment, stack_names

__all__ = [
    "ACT_STATE_VERSION",
    "ActStateError",
    "ActStateWarning",
    "AgentInvocationError",
    "AwsCallError",
    "CredentialsError",
    "Deployment",
    "DeploymentError",
    "ExecutionWaitTimeoutError",
    "LogGroupNotFoundError",
    "NotDeployedError",
    "RegionError",
    "UnknownAgentError",
    "UnknownTargetError",
    "UnknownWorkflowError",
    "act_state_path",
    "aws_error",
    "execution_status",
    "invoke_agent_runtime",
    "invoke_workflow",
    "load_deployment",
    "new_session_id",
    "recent_logs",
    "stack_names",
    "write_act_state",
]
