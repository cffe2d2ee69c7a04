"""Small reusable constructs the stacks are made of."""

from .agent_runtime import AgentRuntime, model_resource_arns
from .encrypted_topic import EncryptedTopic, grant_publish
from .logged_bucket import LoggedBucket
from .nag import MatchingAcknowledgments, acknowledge, acknowledge_matching
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
    "MatchingAcknowledgments",
    "MissingSubstitutionError",
    "PowertoolsFunction",
    "WorkflowResources",
    "WorkflowStateMachine",
    "acknowledge",
    "acknowledge_matching",
    "definition_substitutions",
    "grant_publish",
    "model_resource_arns",
    "powertools_layer",
    "powertools_parameter_name",
    "results_prefix",
)
