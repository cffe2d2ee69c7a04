"""stepgraph: agent workflows compiled to AWS Step Functions, agents on Amazon Bedrock AgentCore Runtime.

The pure-Python core (no aws-cdk-lib, no boto3): workflow file → model → validation →
Amazon States Language. ``stepgraph.local`` runs the compiled state machine offline.
"""

from .agents import AgentSpec, discover_agents
from .compiler import CompiledWorkflow, compile_workflow, result_key
from .errors import ErrorCode
from .exceptions import ProjectError, StepgraphError, ValidationIssue, WorkflowValidationError
from .loader import load_workflow, parse_workflow
from .model import RetryPolicy, Step, StepType, Workflow
from .project import Project, load_project
from .validation import validate_workflow

__all__ = (
    "AgentSpec",
    "CompiledWorkflow",
    "ErrorCode",
    "Project",
    "ProjectError",
    "RetryPolicy",
    "Step",
    "StepType",
    "StepgraphError",
    "ValidationIssue",
    "Workflow",
    "WorkflowValidationError",
    "compile_workflow",
    "discover_agents",
    "load_project",
    "load_workflow",
    "parse_workflow",
    "result_key",
    "validate_workflow",
)
