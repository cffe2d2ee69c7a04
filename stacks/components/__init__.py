"""Small reusable constructs the stacks are made of."""

from .agent_runtime import AgentRuntime, model_resource_arns
from .encrypted_topic import EncryptedTopic
from .logged_bucket import LoggedBucket
from .powertools_function import PowertoolsFunction, powertools_layer, powertools_parameter_name
from .workflow_state_machine import (
    MissingSubstitutionError,
    WorkflowResources,
    WorkflowStateMachine,
    definition_substitutions,
    results_prefix,
)

__all__ = (
    "AgentRuntime",
    "EncryptedTopic",
    "LoggedBucket",
    "MissingSubstitutionError",
    "PowertoolsFunction",
    "WorkflowResources",
    "WorkflowStateMachine",
    "definition_substitutions",
    "model_resource_arns",
    "powertools_layer",
    "powertools_parameter_name",
    "results_prefix",
)
